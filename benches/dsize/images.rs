//! Deterministic benchmark images: a small simulated filesystem decides, layer by layer, which
//! files are added, overwritten, deleted (`.wh.` files and whole directories) or hidden by opaque
//! directories, and the test kit streams the archives. The same seed always gives the same bytes.

use dsize::testkit::{self, Compression, Image, Layer, Shape};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// How an image is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `docker save` (Docker 25+: OCI layout plus manifest.json), uncompressed layers.
    DockerSave,
    /// OCI archive (what `skopeo copy … oci-archive:` writes), gzip layers.
    OciGzip,
    /// OCI archive, zstd layers.
    OciZstd,
}

impl Format {
    /// The format a `--only NAME:FORMAT` names: `tar`, `gzip` or `zstd`.
    pub fn from_label(label: &str) -> Option<Format> {
        [Format::DockerSave, Format::OciGzip, Format::OciZstd]
            .into_iter()
            .find(|f| f.label() == label)
    }

    /// The label `--only NAME:FORMAT` uses for it.
    pub fn label(self) -> &'static str {
        match self {
            Format::DockerSave => "tar",
            Format::OciGzip => "gzip",
            Format::OciZstd => "zstd",
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Format::DockerSave => "docker.tar",
            Format::OciGzip => "oci-gzip.tar",
            Format::OciZstd => "oci-zstd.tar",
        }
    }
}

/// Bodies are log-uniform between `lo` and `hi` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub lo: u64,
    pub hi: u64,
}

/// What one layer does, applied in this order: opaque dirs, deleted dirs, deleted files,
/// overwritten files, new files.
#[derive(Debug, Clone)]
pub struct Step {
    pub created_by: String,
    /// Directories (of earlier layers) made opaque; each gets `opaque_refill` new files.
    pub opaque_dirs: usize,
    pub opaque_refill: usize,
    /// Leaf directories deleted with a `.wh.` whiteout.
    pub delete_dirs: usize,
    /// Parent directories deleted (each holds several leaf directories).
    pub delete_parents: usize,
    /// Single files deleted.
    pub delete_files: usize,
    /// Files of earlier layers written again (new size).
    pub overwrite: usize,
    /// New files, in new directories of `group` files each (a tenth go into existing directories).
    pub new_files: usize,
    pub group: usize,
    pub sizes: Sizes,
    /// Large files (`big` bytes each, log-uniform), e.g. shared libraries, models, archives.
    pub big_files: usize,
    pub big: Sizes,
    /// Where this step's new directories go (`usr/lib`, `opt/app`, …); empty = spread out.
    pub root: &'static str,
}

impl Step {
    pub fn new(created_by: &str) -> Self {
        Step {
            created_by: created_by.into(),
            opaque_dirs: 0,
            opaque_refill: 0,
            delete_dirs: 0,
            delete_parents: 0,
            delete_files: 0,
            overwrite: 0,
            new_files: 0,
            group: 20,
            sizes: Sizes { lo: 64, hi: 16 << 10 },
            big_files: 0,
            big: Sizes {
                lo: 1 << 20,
                hi: 8 << 20,
            },
            root: "",
        }
    }
}

/// One benchmark image.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: &'static str,
    /// The tag the archives carry (`docker load` gives the image this tag).
    pub tag: String,
    pub about: &'static str,
    pub seed: u64,
    pub steps: Vec<Step>,
    pub formats: Vec<Format>,
    /// History entries without a layer, put after the steps (ENV, CMD, …).
    pub empty_steps: Vec<&'static str>,
}

/// Facts about a generated image (written next to it as `NAME.json`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Facts {
    pub name: String,
    pub about: String,
    pub layers: usize,
    /// Regular-file entries in all layer tars (overwritten copies included).
    pub file_entries: u64,
    /// Whiteouts and opaque markers.
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    /// Bytes of regular files in all layers (the stored size).
    pub stored_bytes: u64,
    /// Distinct paths any layer touched (directories included; what dsize calls paths).
    pub paths: u64,
    pub files: Vec<String>,
}

// ------------------------------------------------------------------------------- the catalogue

const MB: u64 = 1 << 20;

/// Every benchmark image at full size; `scale` (0 < scale ≤ 1) shrinks file counts and sizes
/// (the smoke run uses a tiny scale).
pub fn catalogue(scale: f64) -> Vec<Spec> {
    let n = |x: usize| ((x as f64 * scale).round() as usize).max(1);
    let b = |x: u64| ((x as f64 * scale.sqrt()) as u64).max(1);
    let mut out = Vec::new();

    // 400k+ files, 42 layers, ~2.7 GB, overwrites, whiteouts and opaque directories.
    let mut steps = vec![Step {
        new_files: n(60_000),
        group: 25,
        sizes: Sizes { lo: 64, hi: 24 << 10 },
        big_files: 4,
        big: Sizes {
            lo: b(4 * MB),
            hi: b(32 * MB),
        },
        ..Step::new("/bin/sh -c #(nop) ADD file:4f0a1c5e9b in / ")
    }];
    for i in 1..42 {
        steps.push(Step {
            opaque_dirs: if i % 3 == 0 { 2 } else { 0 },
            opaque_refill: 10,
            delete_dirs: 6,
            delete_parents: usize::from(i % 5 == 0),
            delete_files: n(300),
            overwrite: n(1_200),
            new_files: n(8_300),
            group: 20,
            sizes: Sizes { lo: 64, hi: 24 << 10 },
            big_files: 1,
            big: Sizes {
                lo: b(8 * MB),
                hi: b(40 * MB),
            },
            ..Step::new(&format!("RUN /bin/sh -c make -C /src/part{i} install # buildkit"))
        });
    }
    out.push(Spec {
        tag: String::new(),
        name: "files-400k",
        about: "400k+ files, 42 layers, overwrites, whiteouts, deleted and opaque directories",
        seed: 0x400,
        steps,
        formats: vec![Format::DockerSave, Format::OciGzip, Format::OciZstd],
        empty_steps: vec!["/bin/sh -c #(nop)  CMD [\"/bin/sh\"]"],
    });

    // 1M paths.
    let steps = (0..12)
        .map(|i| Step {
            delete_files: if i > 0 { n(100) } else { 0 },
            overwrite: if i > 0 { n(1_000) } else { 0 },
            new_files: n(82_000),
            group: 25,
            sizes: Sizes { lo: 16, hi: 2 << 10 },
            ..Step::new(&format!("COPY data/shard{i} /data # buildkit"))
        })
        .collect();
    out.push(Spec {
        tag: String::new(),
        name: "paths-1m",
        about: "1M paths (small files), 12 layers",
        seed: 0x1000,
        steps,
        formats: vec![Format::DockerSave],
        empty_steps: vec![],
    });

    // 100k files, 20 layers, ~690 MB, deletion-heavy (where dive runs for more than 15 minutes).
    let steps = (0..20)
        .map(|i| Step {
            opaque_dirs: if i >= 2 && i % 4 == 2 { 3 } else { 0 },
            opaque_refill: 20,
            delete_dirs: if i >= 2 { 40 } else { 0 },
            delete_parents: if i >= 2 { 2 } else { 0 },
            delete_files: if i >= 2 { n(1_500) } else { 0 },
            overwrite: if i >= 1 { n(600) } else { 0 },
            new_files: n(if i < 10 { 9_000 } else { 1_000 }),
            group: 20,
            sizes: Sizes { lo: 64, hi: 32 << 10 },
            ..Step::new(&format!("RUN /bin/sh -c ./build.sh stage{i} # buildkit"))
        })
        .collect();
    out.push(Spec {
        tag: String::new(),
        name: "deletes-100k",
        about: "100k files, 20 layers, deletion-heavy (files, directories, opaque directories)",
        seed: 0x100,
        steps,
        formats: vec![Format::DockerSave],
        empty_steps: vec![],
    });

    // A realistic ~700 MB image: base OS, apt, pip, app, a little cleanup.
    let steps = vec![
        Step {
            new_files: n(6_000),
            group: 15,
            sizes: Sizes { lo: 64, hi: 64 << 10 },
            big_files: 10,
            big: Sizes {
                lo: b(MB),
                hi: b(4 * MB),
            },
            ..Step::new("/bin/sh -c #(nop) ADD file:9a8b7c6d5e in / ")
        },
        Step {
            new_files: n(9_000),
            group: 12,
            sizes: Sizes {
                lo: 64,
                hi: 128 << 10,
            },
            big_files: 30,
            big: Sizes {
                lo: b(MB),
                hi: b(12 * MB),
            },
            root: "usr",
            ..Step::new(
                "RUN /bin/sh -c apt-get update && apt-get install -y build-essential libpq-dev # buildkit",
            )
        },
        Step {
            new_files: n(7_500),
            group: 10,
            sizes: Sizes {
                lo: 64,
                hi: 128 << 10,
            },
            big_files: 15,
            big: Sizes {
                lo: b(2 * MB),
                hi: b(20 * MB),
            },
            root: "usr/local/lib/python3.12/site-packages",
            ..Step::new("RUN /bin/sh -c pip install -r requirements.txt # buildkit")
        },
        Step {
            new_files: n(1_200),
            group: 12,
            sizes: Sizes {
                lo: 256,
                hi: 256 << 10,
            },
            root: "app",
            ..Step::new("COPY . /app # buildkit")
        },
        Step {
            delete_files: n(150),
            delete_dirs: 3,
            overwrite: n(20),
            new_files: n(30),
            root: "etc",
            ..Step::new("RUN /bin/sh -c rm -rf /usr/share/doc/* && useradd app # buildkit")
        },
        Step {
            new_files: n(40),
            root: "app/static",
            ..Step::new("RUN /bin/sh -c python manage.py collectstatic # buildkit")
        },
    ];
    out.push(Spec {
        tag: String::new(),
        name: "realistic-700m",
        about: "~700 MB, 24k files, few deletions (base, apt, pip, app)",
        seed: 0x700,
        steps,
        formats: vec![Format::DockerSave],
        empty_steps: vec![
            "WORKDIR /app",
            "ENV PYTHONUNBUFFERED=1",
            "CMD [\"gunicorn\", \"app.wsgi\"]",
        ],
    });
    // Full-size images are `bench/NAME:latest`. Tiny ones get a tag of their own process, so that
    // a smoke run never retags a full-size image loaded in the same daemon, and two smoke runs
    // sharing a daemon never remove each other's image.
    for s in &mut out {
        s.tag = if scale >= 1.0 {
            format!("bench/{}:latest", s.name)
        } else {
            format!("bench/{}:smoke-{}", s.name, std::process::id())
        };
    }
    out
}

// ------------------------------------------------------------------------------- simulation

/// splitmix64: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn size(&mut self, s: Sizes) -> u64 {
        let (lo, hi) = ((s.lo.max(1)) as f64, (s.hi.max(s.lo).max(1)) as f64);
        (lo * (hi / lo).powf(self.unit())).round() as u64
    }
}

const TOPS: &[&str] = &[
    "usr/lib",
    "usr/share",
    "usr/lib/x86_64-linux-gnu",
    "opt/vendor",
    "var/lib",
    "srv/data",
    "usr/local/share",
    "etc",
];
const WORDS: &[&str] = &[
    "core",
    "util",
    "net",
    "crypto",
    "locale",
    "fonts",
    "icons",
    "python3",
    "perl5",
    "gcc",
    "tzdata",
    "terminfo",
    "modules",
    "plugins",
    "schemas",
    "static",
    "templates",
    "vendor",
    "cache",
    "i18n",
];
const EXTS: &[&str] = &[
    "so", "py", "txt", "json", "h", "mo", "pyc", "js", "html", "conf", "png", "gz",
];

struct Group {
    path: String,
    parent: u32,
    alive: bool,
    files: Vec<u32>,
}

struct FileRec {
    group: u32,
    name: String,
    alive: bool,
    /// The step that last wrote it.
    step: u16,
}

/// The simulated filesystem the generator keeps, to pick what later layers overwrite and delete.
struct Sim {
    rng: Rng,
    groups: Vec<Group>,
    /// Parent directory path -> its leaf groups.
    parents: Vec<(String, Vec<u32>)>,
    parent_ix: HashMap<String, u32>,
    files: Vec<FileRec>,
    paths: HashSet<String>,
    next_name: u64,
}

/// A layer as a list of entries, sorted like a directory walk before it is written.
enum Item {
    Dir,
    File(u64),
    Symlink(String),
    Whiteout,
    Opaque,
}

impl Sim {
    fn new(seed: u64) -> Self {
        Sim {
            rng: Rng::new(seed),
            groups: Vec::new(),
            parents: Vec::new(),
            parent_ix: HashMap::new(),
            files: Vec::new(),
            paths: HashSet::new(),
            next_name: 0,
        }
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.rng.below(WORDS.len())]
    }

    fn new_group(&mut self, root: &str) -> u32 {
        let parent = if root.is_empty() {
            let top = TOPS[self.rng.below(TOPS.len())];
            // A bounded pool of parents per top, so parents hold several groups.
            format!("{top}/{}{}", self.word(), self.rng.below(40))
        } else {
            format!("{root}/{}{}", self.word(), self.rng.below(60))
        };
        self.next_name += 1;
        let path = format!("{parent}/{}-{}", self.word(), self.next_name);
        let pix = match self.parent_ix.get(&parent) {
            Some(i) => *i,
            None => {
                self.parents.push((parent.clone(), Vec::new()));
                let i = (self.parents.len() - 1) as u32;
                self.parent_ix.insert(parent, i);
                i
            }
        };
        let id = self.groups.len() as u32;
        self.parents[pix as usize].1.push(id);
        self.groups.push(Group {
            path,
            parent: pix,
            alive: true,
            files: Vec::new(),
        });
        id
    }

    fn new_file(&mut self, group: u32, step: u16) -> u32 {
        self.next_name += 1;
        let ext = EXTS[self.rng.below(EXTS.len())];
        let name = format!("{}_{}.{ext}", self.word(), self.next_name);
        let id = self.files.len() as u32;
        self.files.push(FileRec {
            group,
            name,
            alive: true,
            step,
        });
        self.groups[group as usize].files.push(id);
        id
    }

    fn file_path(&self, f: u32) -> String {
        let f = &self.files[f as usize];
        format!("{}/{}", self.groups[f.group as usize].path, f.name)
    }

    fn kill_group(&mut self, g: u32) {
        self.groups[g as usize].alive = false;
        for i in 0..self.groups[g as usize].files.len() {
            let f = self.groups[g as usize].files[i];
            self.files[f as usize].alive = false;
        }
    }

    /// A live group made before `step` (rejection sampling; None when there is none left).
    fn pick_group(&mut self, step: u16, taken: &HashSet<u32>) -> Option<u32> {
        for _ in 0..64 {
            if self.groups.is_empty() {
                return None;
            }
            let g = self.rng.below(self.groups.len()) as u32;
            let gr = &self.groups[g as usize];
            let old = gr
                .files
                .first()
                .is_some_and(|f| self.files[*f as usize].step < step);
            if gr.alive && old && !taken.contains(&g) {
                return Some(g);
            }
        }
        None
    }

    /// A live file last written before `step`.
    fn pick_file(&mut self, step: u16) -> Option<u32> {
        for _ in 0..64 {
            if self.files.is_empty() {
                return None;
            }
            let f = self.rng.below(self.files.len()) as u32;
            let r = &self.files[f as usize];
            if r.alive && r.step < step && self.groups[r.group as usize].alive {
                return Some(f);
            }
        }
        None
    }

    /// Applies one step to the simulation and returns its layer.
    fn layer(&mut self, step_ix: u16, s: &Step, facts: &mut Facts) -> Layer {
        let mut items: Vec<(String, Item)> = Vec::new();
        let mut taken = HashSet::new();
        // Opaque directories: every lower child hidden, then refilled.
        for _ in 0..s.opaque_dirs {
            let Some(g) = self.pick_group(step_ix, &taken) else {
                break;
            };
            taken.insert(g);
            self.kill_group(g);
            self.groups[g as usize].alive = true;
            self.groups[g as usize].files.clear();
            let dir = self.groups[g as usize].path.clone();
            items.push((format!("{dir}/.wh..wh..opq"), Item::Opaque));
            facts.opaque_dirs += 1;
            for _ in 0..s.opaque_refill {
                let f = self.new_file(g, step_ix);
                let size = self.rng.size(s.sizes);
                items.push((self.file_path(f), Item::File(size)));
            }
        }
        // Whole directories.
        for _ in 0..s.delete_dirs {
            let Some(g) = self.pick_group(step_ix, &taken) else {
                break;
            };
            taken.insert(g);
            self.kill_group(g);
            let path = self.groups[g as usize].path.clone();
            items.push((path, Item::Whiteout));
        }
        for _ in 0..s.delete_parents {
            let Some(g) = self.pick_group(step_ix, &taken) else {
                break;
            };
            let p = self.groups[g as usize].parent;
            let kids = self.parents[p as usize].1.clone();
            if kids.iter().any(|k| taken.contains(k)) {
                continue;
            }
            for k in kids {
                taken.insert(k);
                if self.groups[k as usize].alive {
                    self.kill_group(k);
                }
            }
            items.push((self.parents[p as usize].0.clone(), Item::Whiteout));
        }
        for _ in 0..s.delete_files {
            let Some(f) = self.pick_file(step_ix) else { break };
            if taken.contains(&self.files[f as usize].group) {
                continue;
            }
            self.files[f as usize].alive = false;
            items.push((self.file_path(f), Item::Whiteout));
        }
        for _ in 0..s.overwrite {
            let Some(f) = self.pick_file(step_ix) else { break };
            if taken.contains(&self.files[f as usize].group) {
                continue;
            }
            self.files[f as usize].step = step_ix;
            let size = self.rng.size(s.sizes);
            items.push((self.file_path(f), Item::File(size)));
        }
        // New files: mostly in new directories, a tenth in live older ones.
        let mut left = s.new_files + s.big_files;
        let mut big_left = s.big_files;
        while left > 0 {
            let existing = self.rng.below(10) == 0;
            let g = match existing.then(|| self.pick_group(step_ix, &taken)).flatten() {
                Some(g) => g,
                None => self.new_group(s.root),
            };
            taken.insert(g);
            let k = (s.group / 2 + self.rng.below(s.group + 1)).clamp(1, left);
            for _ in 0..k {
                let f = self.new_file(g, step_ix);
                let size = if big_left > 0 && self.rng.below(left) < big_left {
                    big_left -= 1;
                    self.rng.size(s.big)
                } else {
                    self.rng.size(s.sizes)
                };
                let path = self.file_path(f);
                // Some shared libraries come with a version symlink.
                if path.ends_with(".so") && self.rng.below(4) == 0 {
                    items.push((
                        format!("{path}.1"),
                        Item::Symlink(self.files[f as usize].name.clone()),
                    ));
                }
                items.push((path, Item::File(size)));
            }
            left -= k;
        }
        // Parent directories of everything the layer writes, once each (as docker writes them).
        let mut dirs = HashSet::new();
        for (p, it) in &items {
            let mut end = if matches!(it, Item::Opaque) {
                Some(p.len() - "/.wh..wh..opq".len())
            } else {
                p.rfind('/')
            };
            while let Some(e) = end {
                if !dirs.insert(p[..e].to_string()) {
                    break;
                }
                end = p[..e].rfind('/');
            }
        }
        items.extend(dirs.into_iter().map(|d| (d, Item::Dir)));
        items.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
        let mut layer = testkit::layer();
        for (p, it) in items {
            layer = match it {
                Item::Dir => {
                    self.paths.insert(p.clone());
                    layer.dir(&p)
                }
                Item::File(size) => {
                    facts.file_entries += 1;
                    facts.stored_bytes += size;
                    self.paths.insert(p.clone());
                    layer.file(&p, size)
                }
                Item::Symlink(t) => {
                    self.paths.insert(p.clone());
                    layer.symlink(&p, &t)
                }
                Item::Whiteout => {
                    facts.whiteouts += 1;
                    layer.whiteout(&p)
                }
                Item::Opaque => {
                    facts.whiteouts += 1;
                    layer.opaque(p.trim_end_matches("/.wh..wh..opq"))
                }
            };
        }
        layer
    }
}

/// Builds the image (the layers live in memory as entry lists, bodies are streamed on write).
pub fn build(spec: &Spec) -> (Image, Facts) {
    let mut sim = Sim::new(spec.seed);
    let mut facts = Facts {
        name: spec.name.into(),
        about: spec.about.into(),
        layers: spec.steps.len(),
        ..Facts::default()
    };
    let mut img = testkit::image().repo_tag(&spec.tag);
    for (i, s) in spec.steps.iter().enumerate() {
        let layer = sim.layer(i as u16, s, &mut facts);
        img = img.step(&s.created_by, layer);
    }
    for e in &spec.empty_steps {
        img = img.empty_step(e);
    }
    facts.paths = sim.paths.len() as u64;
    (img, facts)
}

/// Writes every format of `spec` into `dir`; returns the facts (also written as `NAME.json`).
pub fn write(spec: &Spec, dir: &Path, log: &mut dyn Write) -> io::Result<Facts> {
    std::fs::create_dir_all(dir)?;
    let (img, mut facts) = build(spec);
    for f in &spec.formats {
        let path = image_path(dir, spec.name, *f);
        let t = std::time::Instant::now();
        let (shape, img) = match f {
            Format::DockerSave => (Shape::Docker25, img.clone()),
            Format::OciGzip => (Shape::OciArchive, img.clone().compression(Compression::Gzip)),
            Format::OciZstd => (Shape::OciArchive, img.clone().compression(Compression::Zstd)),
        };
        let tmp = path.with_extension("tar.partial");
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        img.write_archive(shape, &mut w)?;
        w.flush()?;
        drop(w);
        std::fs::rename(&tmp, &path)?;
        let len = std::fs::metadata(&path)?.len();
        writeln!(
            log,
            "  {} ({:.1} MB) in {:.1}s",
            path.display(),
            len as f64 / 1e6,
            t.elapsed().as_secs_f64()
        )?;
        facts.files.push(
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
    }
    std::fs::write(
        dir.join(format!("{}.json", spec.name)),
        serde_json::to_vec_pretty(&facts)?,
    )?;
    Ok(facts)
}

pub fn image_path(dir: &Path, name: &str, f: Format) -> PathBuf {
    dir.join(format!("{name}.{}", f.suffix()))
}
