//! The tutorial's three images in miniature ("shrink your Python image": my-app v1 529 MB, v2
//! 529 MB, v3 353 MB), with one byte here for each kilobyte there, so tests can assert every
//! number of a comparison to the byte.
//!
//! - **v1**, the naive Dockerfile: `COPY . /app` first (with `.git` and a data file), then
//!   `apt-get install gcc` (apt lists and the toolchain stay), `pip install --user` (its cache
//!   stays). 584,750 B stored, all visible.
//! - **v2**, the same content reordered for the layer cache: apt first, `COPY requirements.txt`,
//!   pip, then `COPY . /app`, which rewrites requirements.txt: 50 B more stored (wasted).
//! - **v3**, multi-stage: the base, plus `/root/.local` and `/app/main.py` copied from the build
//!   stage. 358,500 B.
//!
//! | path | bytes | v1 | v2 | v3 |
//! |---|---:|---|---|---|
//! | base: `/usr/bin/bash`, `/usr/lib/x86_64-linux-gnu/libc.so.6`, `/usr/local/lib/libpython3.8.so`, `/usr/local/lib/python3.8/stdlib.zip`, `/etc/passwd`, `/var/lib/dpkg/status` | 200,000 | ✓ | ✓ | ✓ |
//! | `/app`: `main.py` 300, `requirements.txt` 50, `data.csv` 20,000 | 20,350 | ✓ | ✓ | main.py |
//! | `/app/.git`: `HEAD` 23, `config` 177, `objects/pack/pack-1.pack` 30,000 | 30,200 | ✓ | ✓ | |
//! | `/var/lib/apt/lists`: `…_InRelease` 20,000, `…_Packages` 60,000 | 80,000 | ✓ | ✓ | |
//! | toolchain: `/usr/lib/gcc/x86_64-linux-gnu/8/cc1` 70,000, `/usr/bin/x86_64-linux-gnu-gcc-8` 9,000 | 79,000 | ✓ | ✓ | |
//! | `/usr/lib/x86_64-linux-gnu/libisl.so.19` (gcc's dependency) | 5,000 | ✓ | ✓ | |
//! | `/root/.local`: pandas 100,000, numpy 50,000, fastapi 5,000, uvicorn 3,000, `bin/uvicorn` 200 | 158,200 | ✓ | ✓ | ✓ |
//! | `/root/.cache/pip/wheels/ab/pandas-0.25.3-cp38-cp38-linux_x86_64.whl` | 12,000 | ✓ | ✓ | |

use super::{Image, Layer, image, layer};
use crate::index::Progress;
use crate::model::{Analysis, AnalysisBuilder, AnalysisOptions, ImageMeta, LayerEntries};
use crate::source::{ReadOptions, Sink, archive};

pub const BASE: &str =
    "/bin/sh -c #(nop) ADD file:4f1b0c2d6e8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c in / ";
pub const COPY_ALL: &str =
    "/bin/sh -c #(nop) COPY dir:aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888 in /app ";
pub const COPY_REQUIREMENTS: &str = "/bin/sh -c #(nop) COPY file:bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888cccc9999 in /app/requirements.txt ";
pub const APT: &str = "/bin/sh -c apt-get update && apt-get install gcc -y && apt-get clean";
pub const WORKDIR: &str = "/bin/sh -c #(nop) WORKDIR /app";
pub const PIP: &str = "/bin/sh -c pip install --user -r requirements.txt";
pub const ENTRYPOINT_8080: &str = "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/sh\" \"-c\" \"uvicorn main:app --reload --host 0.0.0.0 --port 8080\"]";
pub const ENTRYPOINT_1234: &str = "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/sh\" \"-c\" \"uvicorn main:app --reload --host 0.0.0.0 --port 1234\"]";
pub const COPY_LOCAL: &str = "/bin/sh -c #(nop) COPY dir:cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888cccc9999dddd0000 in /root/.local ";
pub const COPY_MAIN: &str = "/bin/sh -c #(nop) COPY file:dddd4444eeee5555ffff6666aaaa7777bbbb8888cccc9999dddd0000eeee1111 in /app/main.py ";
pub const ENV_PATH: &str = "/bin/sh -c #(nop)  ENV PATH=/root/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const SITE: &str = "/root/.local/lib/python3.8/site-packages";

/// `python:3.8.0-slim` in miniature: 200,000 B.
pub fn base() -> Layer {
    layer()
        .file("/usr/bin/bash", 1_000)
        .file("/usr/lib/x86_64-linux-gnu/libc.so.6", 2_000)
        .file("/usr/local/lib/libpython3.8.so", 16_000)
        .file("/usr/local/lib/python3.8/stdlib.zip", 180_000)
        .file("/etc/passwd", 100)
        .file("/var/lib/dpkg/status", 900)
}

/// `COPY . /app`: the build context with `.git` and a data file, 50,550 B.
pub fn context() -> Layer {
    layer()
        .file("/app/main.py", 300)
        .file("/app/requirements.txt", 50)
        .file("/app/data.csv", 20_000)
        .file("/app/.git/HEAD", 23)
        .file("/app/.git/config", 177)
        .file("/app/.git/objects/pack/pack-1.pack", 30_000)
}

/// `RUN apt-get update && apt-get install gcc -y && apt-get clean`: 164,000 B (lists 80,000,
/// toolchain 79,000, libisl 5,000).
pub fn apt() -> Layer {
    layer()
        .file(
            "/var/lib/apt/lists/deb.debian.org_debian_dists_buster_InRelease",
            20_000,
        )
        .file(
            "/var/lib/apt/lists/deb.debian.org_debian_dists_buster_main_binary-amd64_Packages",
            60_000,
        )
        .file("/usr/lib/gcc/x86_64-linux-gnu/8/cc1", 70_000)
        .file("/usr/bin/x86_64-linux-gnu-gcc-8", 9_000)
        .file("/usr/lib/x86_64-linux-gnu/libisl.so.19", 5_000)
}

/// The installed packages, 158,200 B.
fn local(l: Layer) -> Layer {
    l.file(&format!("{SITE}/pandas/_libs.so"), 100_000)
        .file(&format!("{SITE}/numpy/core.so"), 50_000)
        .file(&format!("{SITE}/fastapi/__init__.py"), 5_000)
        .file(&format!("{SITE}/uvicorn/main.py"), 3_000)
        .file("/root/.local/bin/uvicorn", 200)
}

/// `RUN pip install --user -r requirements.txt`: the packages and pip's cache, 170,200 B.
pub fn pip() -> Layer {
    local(layer()).file(
        "/root/.cache/pip/wheels/ab/pandas-0.25.3-cp38-cp38-linux_x86_64.whl",
        12_000,
    )
}

/// The naive Dockerfile: 584,750 B stored, 584,750 visible.
pub fn v1() -> Image {
    image()
        .repo_tag("my-app:v1")
        .step(BASE, base())
        .step(COPY_ALL, context())
        .step(APT, apt())
        .empty_step(WORKDIR)
        .step(PIP, pip())
        .empty_step(ENTRYPOINT_8080)
}

/// Reordered for the layer cache: 584,800 B stored (requirements.txt twice), 584,750 visible.
pub fn v2() -> Image {
    image()
        .repo_tag("my-app:v2")
        .step(BASE, base())
        .step(APT, apt())
        .step(COPY_REQUIREMENTS, layer().file("/app/requirements.txt", 50))
        .empty_step(WORKDIR)
        .step(PIP, pip())
        .step(COPY_ALL, context())
        .empty_step(ENTRYPOINT_1234)
}

/// Multi-stage: only the packages and main.py are copied from the build stage. 358,500 B.
pub fn v3() -> Image {
    image()
        .repo_tag("my-app:v3")
        .step(BASE, base())
        .step(COPY_LOCAL, local(layer()))
        .step(COPY_MAIN, layer().file("/app/main.py", 300))
        .empty_step(WORKDIR)
        .empty_step(ENV_PATH)
        .empty_step(ENTRYPOINT_1234)
}

/// Folds what the archive reader finds into an analysis.
struct Build(Option<AnalysisBuilder>);

impl Sink for Build {
    fn meta(&mut self, meta: &ImageMeta) {
        self.0 = AnalysisBuilder::new(meta.clone(), AnalysisOptions::default()).ok();
    }
    fn layer(&mut self, diff_index: usize, entries: LayerEntries, compressed: Option<u64>) {
        if let Some(b) = self.0.as_mut() {
            b.add_layer(diff_index, entries, compressed);
        }
    }
}

/// Writes `img` as a `docker save` archive in memory and analyses it, named `name`.
///
/// # Panics
/// When the archive cannot be read: the test kit writes only archives the reader accepts.
pub fn analyse(img: &Image, name: &str) -> Analysis {
    let bytes = img.archive(super::Shape::DockerLegacy);
    let mut build = Build(None);
    archive::read_stream(
        name,
        &mut bytes.as_slice(),
        &ReadOptions::default(),
        &Progress::default(),
        &mut build,
    )
    .expect("the test kit's archive reads");
    let mut a = build.0.expect("the archive has metadata").finish();
    a.meta.name = name.to_string();
    a
}
