//! Seeds for the fuzz targets in `fuzz/` (small, one of each shape the readers know):
//! `cargo test --test hostile -- --ignored write_fuzz_seeds` writes them to `fuzz/seeds/`.

use crate::rawtar::{Hdr, Tar};
use crate::run::docker_archive;
use dsize::testkit::{Compression, Shape, image, layer};
use std::path::Path;

fn small_image() -> dsize::testkit::Image {
    image()
        .step(
            "/bin/sh -c #(nop) ADD file:abc in / ",
            layer().dir("etc").file("etc/os-release", 40).file("bin/sh", 64),
        )
        .empty_step("/bin/sh -c #(nop)  ENV PATH=/bin")
        .step(
            "RUN /bin/sh -c apt-get update && rm -rf /app/old # buildkit",
            layer()
                .file("var/lib/apt/lists/x", 30)
                .whiteout("etc/os-release")
                .opaque("bin")
                .hardlink("bin/sh2", "bin/sh")
                .symlink("lib", "usr/lib")
                .fifo("run/fifo"),
        )
}

fn hostile_layers() -> Vec<Vec<u8>> {
    vec![
        Tar::new()
            .long_name(&[b'n'; 200])
            .entry(Hdr::file("x", 3), b"abc")
            .finish(),
        Tar::new()
            .pax(&[("path", b"p/q"), ("size", b"5")], false)
            .entry(Hdr::file("y", 0), b"hello")
            .pax(&[("comment", b"g")], true)
            .finish(),
        Tar::new()
            .header(
                Hdr::new(b"s", b'S', 512)
                    .gnu()
                    .sparse(&[(0, 512), (4096, 0)], 4096, false),
            )
            .raw(&[b's'; 512])
            .finish(),
        Tar::new()
            .entry(Hdr::file("b", 0).size_base256(3), b"abc")
            .finish(),
        Tar::new()
            .file(".wh..wh..opq", 0)
            .file("../../up", 1)
            .file("a//b/./c", 2)
            .finish(),
    ]
}

#[test]
#[ignore = "writes fuzz/seeds; run by hand"]
fn write_fuzz_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let img = small_image();
    for (shape, s) in [
        (Shape::DockerLegacy, "legacy"),
        (Shape::Docker25, "docker25"),
        (Shape::Containerd, "containerd"),
        (Shape::OciArchive, "oci"),
    ] {
        for (c, n) in [
            (Compression::None, "tar"),
            (Compression::Gzip, "gz"),
            (Compression::Zstd, "zst"),
        ] {
            put(
                "archive",
                &format!("{s}-{n}"),
                &img.clone().compression(c).archive(shape),
            );
        }
    }
    for (i, l) in hostile_layers().into_iter().enumerate() {
        put(
            "archive",
            &format!("hostile-{i}"),
            &docker_archive(std::slice::from_ref(&l)),
        );
        put("layer", &format!("hostile-{i}"), &l);
    }
    let sample = layer()
        .dir("app")
        .file("app/main.py", 300)
        .hardlink("app/l", "app/main.py")
        .whiteout("etc/passwd")
        .opaque("var/cache")
        .chardev("dev/null");
    let tar = sample.tar_bytes();
    put("layer", "plain", &tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    put("layer", "gzip", &gz.finish().unwrap());
    put("layer", "zstd", &zstd::encode_all(&tar[..], 1).unwrap());
    put("layer", "empty", &[0; 1024]);
    for (i, (sel, text)) in [
        (0u8, "/bin/sh -c #(nop)  ENV K=V"),
        (0, "/bin/sh -c #(nop) COPY file:0123abcd in /app "),
        (0, "/bin/sh -c #(nop) COPY multi:0123 in /app/ "),
        (0, "|2 A=1 B=2 /bin/sh -c make && make install"),
        (
            0,
            "/bin/sh -c apt-get update &&     apt-get install -y gcc |inheritLabels=false",
        ),
        (1, "RUN /bin/sh -c pip install -r req.txt # buildkit"),
        (1, "COPY . /app # buildkit"),
        (1, "ADD https://x/y.tgz /opt/ # buildkit"),
        (1, "WORKDIR /app"),
        (2, "/bin/sh -c #(nop) ADD file:abc in / \0Imported from -"),
        (0, ""),
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = vec![sel];
        b.extend_from_slice(text.as_bytes());
        put("instruction", &format!("seed-{i}"), &b);
    }
}
