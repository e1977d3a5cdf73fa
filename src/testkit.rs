//! Test kit: builds layers and image archives in code, in memory or streamed to a writer, in every
//! archive shape real tools produce (`docker save` legacy and 25+, containerd export, OCI archive,
//! OCI layout directory) and every layer compression, so tests and benchmarks never need Docker.
//! The shapes are the ones described in `/work/shared/formats.md`, sections 1-4.
//!
//! Output is deterministic: the same builder always gives the same bytes. File bodies are a cheap
//! pattern seeded by the path and streamed, so large layers cost no memory; archives are written in
//! two passes (measure digests and sizes, then write), never holding a layer in memory.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

pub mod tutorial;

const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const MT_INTOTO: &str = "application/vnd.in-toto+json";
const PROVENANCE: &str = "https://slsa.dev/provenance/v0.2";
/// Fast levels that still entropy-code (gzip level 1 in zlib-rs uses static trees: no gain here).
const GZIP_LEVEL: u32 = 2;
const ZSTD_LEVEL: i32 = 1;
/// A multi-member gzip blob starts a new member after the first tar block, then every MiB.
const FIRST_MEMBER: u64 = 512;
const MEMBER_EVERY: u64 = 1 << 20;

// ---------------------------------------------------------------- layers

#[derive(Clone, Debug)]
enum Kind {
    Pattern(u64),
    Data(Vec<u8>),
    Dir,
    Symlink(Vec<u8>),
    Hardlink(Vec<u8>),
    Fifo,
    Chardev,
}

#[derive(Clone, Debug)]
struct Entry {
    name: Vec<u8>,
    kind: Kind,
    mode: Option<u32>,
    uid: u64,
    gid: u64,
}

/// A layer under construction; entries are written in insertion order.
#[derive(Clone, Debug, Default)]
pub struct Layer {
    entries: Vec<Entry>,
}

/// Starts an empty layer (its tar is 1024 zero bytes, the well-known empty layer).
pub fn layer() -> Layer {
    Layer::default()
}

/// Docker writes paths relative, without a leading `/`.
fn rel(path: &str) -> &str {
    path.trim_start_matches('/')
}

fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Layer {
    fn push(mut self, name: impl Into<Vec<u8>>, kind: Kind) -> Self {
        let name = name.into();
        self.entries.push(Entry {
            name,
            kind,
            mode: None,
            uid: 0,
            gid: 0,
        });
        self
    }

    fn last(&mut self) -> &mut Entry {
        self.entries
            .last_mut()
            .expect("mode/owner apply to the last entry; add one first")
    }

    /// A regular file of `size` reproducible bytes derived from the path (about 2:1 compressible).
    pub fn file(self, path: &str, size: u64) -> Self {
        self.push(rel(path), Kind::Pattern(size))
    }

    pub fn file_bytes(self, path: &str, data: &[u8]) -> Self {
        self.push(rel(path), Kind::Data(data.to_vec()))
    }

    /// A directory, written with a trailing `/`.
    pub fn dir(self, path: &str) -> Self {
        let p = rel(path).trim_end_matches('/');
        self.push(format!("{p}/"), Kind::Dir)
    }

    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.push(rel(path), Kind::Symlink(target.into()))
    }

    /// A hard link (typeflag `1`, size 0) to an earlier entry of this layer.
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.push(rel(path), Kind::Hardlink(rel(target).into()))
    }

    /// Deletes `path` from lower layers: writes the empty file `parent/.wh.NAME`.
    pub fn whiteout(self, path: &str) -> Self {
        let p = rel(path).trim_end_matches('/');
        let (dir, base) = p.rsplit_once('/').unwrap_or(("", p));
        self.push(child(dir, &format!(".wh.{base}")), Kind::Data(Vec::new()))
    }

    /// Hides all lower-layer children of `dir`: writes the empty file `dir/.wh..wh..opq`.
    pub fn opaque(self, dir: &str) -> Self {
        let d = rel(dir).trim_end_matches('/');
        self.push(child(d, ".wh..wh..opq"), Kind::Data(Vec::new()))
    }

    pub fn fifo(self, path: &str) -> Self {
        self.push(rel(path), Kind::Fifo)
    }

    /// A character device (major 1, minor 3, like `/dev/null`).
    pub fn chardev(self, path: &str) -> Self {
        self.push(rel(path), Kind::Chardev)
    }

    /// Sets the permission bits of the last added entry.
    pub fn mode(mut self, mode: u32) -> Self {
        self.last().mode = Some(mode);
        self
    }

    /// Sets the owner of the last added entry.
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        let e = self.last();
        (e.uid, e.gid) = (uid, gid);
        self
    }

    /// A regular file whose name is arbitrary bytes, written as is (GNU long name when over 100 bytes).
    pub fn raw_name(self, name: &[u8], size: u64) -> Self {
        self.push(name, Kind::Pattern(size))
    }

    /// The uncompressed layer tar.
    pub fn tar_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_tar(&mut v).expect("writing to memory");
        v
    }

    /// Streams the uncompressed layer tar; file bodies are generated on the fly.
    pub fn write_tar<W: Write>(&self, w: W) -> io::Result<()> {
        let mut out = TarOut {
            w: BufWriter::with_capacity(1 << 16, w),
        };
        for e in &self.entries {
            let (ty, mode, size, link) = match &e.kind {
                Kind::Pattern(n) => (EntryType::Regular, 0o644, *n, &[][..]),
                Kind::Data(d) => (EntryType::Regular, 0o644, d.len() as u64, &[][..]),
                Kind::Dir => (EntryType::Directory, 0o755, 0, &[][..]),
                Kind::Symlink(t) => (EntryType::Symlink, 0o777, 0, &t[..]),
                Kind::Hardlink(t) => (EntryType::Link, 0o644, 0, &t[..]),
                Kind::Fifo => (EntryType::Fifo, 0o644, 0, &[][..]),
                Kind::Chardev => (EntryType::Char, 0o666, 0, &[][..]),
            };
            let mut h = header(Header::new_ustar(), ty, e.mode.unwrap_or(mode), size);
            h.set_uid(e.uid);
            h.set_gid(e.gid);
            if let Kind::Chardev = e.kind {
                h.set_device_major(1)?;
                h.set_device_minor(3)?;
            }
            out.entry(h, &e.name, link, size, |w| match &e.kind {
                Kind::Pattern(n) => write_pattern(w, &e.name, *n),
                Kind::Data(d) => w.write_all(d),
                _ => Ok(()),
            })?;
        }
        out.finish()?.flush()
    }

    /// Sum of regular-file sizes (hard links count 0): the layer size dsize must report.
    pub fn regular_bytes(&self) -> u64 {
        let size = |e: &Entry| match &e.kind {
            Kind::Pattern(n) => *n,
            Kind::Data(d) => d.len() as u64,
            _ => 0,
        };
        self.entries.iter().map(size).sum()
    }
}

/// File body: an xorshift stream seeded by the path, each nibble mapped onto the letters `a..=p`
/// (about 2:1 compressible). Works a word at a time so unoptimised test builds stay fast.
fn write_pattern(w: &mut dyn Write, seed: &[u8], size: u64) -> io::Result<()> {
    const NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const LETTER_A: u64 = 0x6161_6161_6161_6161;
    let fnv = |h: u64, b: &u8| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    let mut x = seed.iter().fold(0xcbf2_9ce4_8422_2325, fnv) | 1;
    let (mut buf, mut left) = ([0u8; 16384], size);
    while left > 0 {
        for chunk in buf.chunks_exact_mut(16) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk[..8].copy_from_slice(&((x & NIBBLES) + LETTER_A).to_le_bytes());
            chunk[8..].copy_from_slice(&(((x >> 4) & NIBBLES) + LETTER_A).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

// ---------------------------------------------------------------- tar and hashing plumbing

fn header(mut h: Header, ty: EntryType, mode: u32, size: u64) -> Header {
    h.set_entry_type(ty);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// The one tar writer (layers and outer archives): raw names, GNU long names, bodies streamed.
struct TarOut<W> {
    w: W,
}

impl<W: Write> TarOut<W> {
    fn entry<F>(&mut self, mut h: Header, name: &[u8], link: &[u8], size: u64, body: F) -> io::Result<()>
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()>,
    {
        for (value, ty) in [(name, EntryType::GNULongName), (link, EntryType::GNULongLink)] {
            if value.len() > 100 {
                let mut l = Header::new_gnu();
                l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
                let l = header(l, ty, 0o644, value.len() as u64 + 1);
                self.raw(l, value.len() as u64 + 1, |w| {
                    w.write_all(&[value, b"\0"].concat())
                })?;
            }
        }
        let old = h.as_old_mut();
        for (field, value) in [(&mut old.name, name), (&mut old.linkname, link)] {
            let n = value.len().min(field.len());
            field[..n].copy_from_slice(&value[..n]);
        }
        self.raw(h, size, body)
    }

    fn raw<F>(&mut self, mut h: Header, size: u64, body: F) -> io::Result<()>
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()>,
    {
        h.set_cksum();
        self.w.write_all(h.as_bytes())?;
        let mut m = Meter::new(&mut self.w, None);
        body(&mut m)?;
        if m.n != size {
            return Err(io::Error::other(format!(
                "entry body is {} bytes, header says {size}",
                m.n
            )));
        }
        self.w.write_all(&[0; 512][..((512 - size % 512) % 512) as usize])
    }

    fn finish(mut self) -> io::Result<W> {
        self.w.write_all(&[0; 1024])?;
        Ok(self.w)
    }
}

/// Counts (and optionally hashes) what passes through.
struct Meter<W> {
    w: W,
    n: u64,
    sha: Option<Sha256>,
}

impl<W> Meter<W> {
    fn new(w: W, sha: Option<Sha256>) -> Self {
        Meter { w, n: 0, sha }
    }
    fn hashing(w: W) -> Self {
        Self::new(w, Some(Sha256::new()))
    }
    fn hex(&self) -> String {
        hex::encode(self.sha.clone().expect("hashing meter").finalize())
    }
}

impl<W: Write> Write for Meter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.w.write(b)?;
        self.n += n as u64;
        if let Some(s) = &mut self.sha {
            s.update(&b[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

fn sha_hex(b: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(b.as_ref()))
}

fn gzip<W: Write>(w: W) -> GzEncoder<W> {
    GzEncoder::new(w, flate2::Compression::new(GZIP_LEVEL))
}

/// Gzip that ends the current member and starts a new one at fixed offsets (like pigz/eStargz output).
struct MultiGz<W: Write> {
    enc: Option<GzEncoder<W>>,
    left: u64,
}

impl<W: Write> MultiGz<W> {
    fn enc(&mut self) -> &mut GzEncoder<W> {
        self.enc.as_mut().expect("encoder present between writes")
    }
}

impl<W: Write> Write for MultiGz<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            let w = self.enc.take().expect("encoder").finish()?;
            (self.enc, self.left) = (Some(gzip(w)), MEMBER_EVERY);
        }
        let n = self.left.min(b.len() as u64) as usize;
        let n = self.enc().write(&b[..n])?;
        self.left -= n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.enc().flush()
    }
}

// ---------------------------------------------------------------- blobs and descriptors

/// Layer compression for shapes that store compressed blobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    None,
    #[default]
    Gzip,
    /// Two or more concatenated gzip members.
    GzipMultiMember,
    Zstd,
}

impl Compression {
    fn media_type(self) -> String {
        match self {
            Compression::None => MT_LAYER.into(),
            Compression::Gzip | Compression::GzipMultiMember => format!("{MT_LAYER}+gzip"),
            Compression::Zstd => format!("{MT_LAYER}+zstd"),
        }
    }
}

/// Bytes of one stored blob or archive file, produced on demand.
enum Body<'a> {
    Bytes(Vec<u8>),
    Layer(&'a Layer, Compression),
}

impl Body<'_> {
    /// Writes the content as stored; returns the sha256 hex of the uncompressed content (a diff_id).
    fn write<W: Write>(&self, mut w: W) -> io::Result<String> {
        let (layer, c) = match self {
            Body::Bytes(b) => return w.write_all(b).map(|()| sha_hex(b)),
            Body::Layer(l, c) => (*l, *c),
        };
        fn tar<E: Write>(l: &Layer, e: E) -> io::Result<(String, E)> {
            let mut m = Meter::hashing(e);
            l.write_tar(&mut m)?;
            Ok((m.hex(), m.w))
        }
        match c {
            Compression::None => Ok(tar(layer, w)?.0),
            Compression::Gzip => {
                let (d, e) = tar(layer, gzip(w))?;
                e.finish().map(|_| d)
            }
            Compression::GzipMultiMember => {
                let multi = MultiGz {
                    enc: Some(gzip(w)),
                    left: FIRST_MEMBER,
                };
                let (d, mut e) = tar(layer, multi)?;
                e.enc.take().expect("encoder").finish().map(|_| d)
            }
            Compression::Zstd => {
                let (d, e) = tar(layer, zstd::Encoder::new(w, ZSTD_LEVEL)?)?;
                e.finish().map(|_| d)
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Desc {
    media_type: String,
    hex: String,
    size: u64,
    /// sha256 hex of the uncompressed content (diff_id for layers).
    raw: String,
}

impl Desc {
    /// The one OCI descriptor writer.
    fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": format!("sha256:{}", self.hex), "size": self.size})
    }
    fn path(&self) -> String {
        format!("blobs/sha256/{}", self.hex)
    }
}

/// Content-addressed blobs: measured once (digest and size as stored), kept once per digest.
#[derive(Default)]
struct Store<'a> {
    blobs: Vec<(String, u64, Body<'a>)>,
}

impl<'a> Store<'a> {
    fn add(&mut self, media_type: &str, body: Body<'a>) -> io::Result<Desc> {
        let mut m = Meter::hashing(io::sink());
        let raw = body.write(&mut m)?;
        let d = Desc {
            media_type: media_type.into(),
            hex: m.hex(),
            size: m.n,
            raw,
        };
        if !self.blobs.iter().any(|(h, ..)| *h == d.hex) {
            self.blobs.push((d.hex.clone(), d.size, body));
        }
        Ok(d)
    }
    fn json(&mut self, media_type: &str, v: &Value) -> io::Result<Desc> {
        self.add(media_type, Body::Bytes(serde_json::to_vec(v)?))
    }
}

// ---------------------------------------------------------------- images and archive shapes

/// Archive layouts, as written by the tools named in `formats.md` section 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `docker save` <= 24: `<id>/layer.tar`, a repeated layer is a symlink; entries in name order.
    DockerLegacy,
    /// `docker save` 25-28: OCI layout plus `manifest.json`, uncompressed blobs, metadata first.
    Docker25,
    /// Docker 29 / containerd export: sorted entries (blobs first), nested index with attestations.
    Containerd,
    /// Tar of an OCI layout, no `manifest.json`; `index.json` names the manifest, or a nested
    /// index when there are several platforms (as skopeo and buildx write them).
    OciArchive,
}

#[derive(Clone, Debug)]
struct Step {
    created_by: Option<String>,
    empty_layer: bool,
    layer: Option<Layer>,
}

/// An image under construction.
#[derive(Clone, Debug)]
pub struct Image {
    steps: Vec<Step>,
    history: bool,
    platform: (String, String, Option<String>),
    others: Vec<Image>,
    compression: Compression,
    overrides: Vec<(usize, String)>,
    tag: String,
}

/// Starts an image: linux/amd64, tag `example/app:latest`, gzip layers where compressed.
pub fn image() -> Image {
    Image {
        steps: Vec::new(),
        history: true,
        platform: ("linux".into(), "amd64".into(), None),
        others: Vec::new(),
        compression: Compression::Gzip,
        overrides: Vec::new(),
        tag: "example/app:latest".into(),
    }
}

/// What `build` stored for one platform.
struct Built {
    manifest: Desc,
    config: Desc,
    layers: Vec<Desc>,
}

type Out<'a> = Vec<(String, Node<'a>)>;

enum Node<'a> {
    Dir,
    File(u64, Body<'a>),
    Link(String),
}

fn file<'a>(name: &str, v: &Value) -> io::Result<(String, Node<'a>)> {
    let b = serde_json::to_vec(v)?;
    Ok((name.into(), Node::File(b.len() as u64, Body::Bytes(b))))
}

/// Legacy v1 layer ids: a chain over the diff_ids, so a repeated layer gets a new id.
fn v1_ids(diffs: &[Desc]) -> Vec<String> {
    let mut parent = String::new();
    diffs
        .iter()
        .map(|d| {
            parent = sha_hex(format!("{parent}\n{}", d.raw));
            parent.clone()
        })
        .collect()
}

impl Image {
    fn with_step(mut self, created_by: Option<&str>, empty_layer: bool, layer: Option<Layer>) -> Self {
        let created_by = created_by.map(str::to_string);
        self.steps.push(Step {
            created_by,
            empty_layer,
            layer,
        });
        self
    }
    /// A history entry and its layer.
    pub fn step(self, created_by: &str, layer: Layer) -> Self {
        self.with_step(Some(created_by), false, Some(layer))
    }
    /// A history entry with `empty_layer: true` and no layer.
    pub fn empty_step(self, created_by: &str) -> Self {
        self.with_step(Some(created_by), true, None)
    }
    /// A layer without a history entry (`docker import` style).
    pub fn layer_without_history(self, layer: Layer) -> Self {
        self.with_step(None, false, Some(layer))
    }
    /// A non-empty history entry without a layer (history longer than the layers).
    pub fn extra_history(self, created_by: &str) -> Self {
        self.with_step(Some(created_by), false, None)
    }
    /// Writes the config without `history`.
    pub fn no_history(mut self) -> Self {
        self.history = false;
        self
    }
    pub fn platform(mut self, os: &str, arch: &str, variant: Option<&str>) -> Self {
        self.platform = (os.into(), arch.into(), variant.map(str::to_string));
        self
    }
    /// Adds `other` as a second platform (Containerd, OciArchive, OCI dir); its layers use this
    /// image's compression. Docker shapes hold one platform and ignore it.
    pub fn also_platform(mut self, os: &str, arch: &str, variant: Option<&str>, other: Image) -> Self {
        self.others.push(other.platform(os, arch, variant));
        self
    }
    /// Layer compression where blobs are compressed (Containerd, OciArchive, OCI dir; default gzip).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// Declares another media type for layer `layer_index` (bottom = 0) in the manifest.
    pub fn media_type_override(mut self, layer_index: usize, mt: &str) -> Self {
        self.overrides.push((layer_index, mt.into()));
        self
    }
    pub fn repo_tag(mut self, tag: &str) -> Self {
        self.tag = tag.into();
        self
    }

    /// The whole archive in memory.
    pub fn archive(&self, shape: Shape) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_archive(shape, &mut v).expect("writing to memory");
        v
    }

    /// Streams the archive (outer tar: files 0644, directories 0755, mtime 0).
    pub fn write_archive<W: Write>(&self, shape: Shape, w: W) -> io::Result<()> {
        let mut t = TarOut {
            w: BufWriter::with_capacity(1 << 16, w),
        };
        for (name, node) in self.layout(shape)? {
            let (ty, mode, size, link) = match &node {
                Node::Dir => (EntryType::Directory, 0o755, 0, ""),
                Node::File(n, _) => (EntryType::Regular, 0o644, *n, ""),
                Node::Link(l) => (EntryType::Symlink, 0o777, 0, l.as_str()),
            };
            let h = header(Header::new_ustar(), ty, mode, size);
            t.entry(h, name.as_bytes(), link.as_bytes(), size, |w| match &node {
                Node::File(_, body) => body.write(w).map(drop),
                _ => Ok(()),
            })?;
        }
        t.finish()?.flush()
    }

    /// Writes an OCI layout directory (`oci:DIR`), the same files as `Shape::OciArchive`.
    pub fn write_oci_dir(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        for (name, node) in self.layout(Shape::OciArchive)? {
            match node {
                Node::Dir => fs::create_dir_all(dir.join(name))?,
                Node::File(_, body) => {
                    let mut f = BufWriter::new(fs::File::create(dir.join(name))?);
                    body.write(&mut f)?;
                    f.flush()?;
                }
                Node::Link(_) => unreachable!("OCI layouts hold no links"),
            }
        }
        Ok(())
    }

    /// The diff_ids (`sha256:` of each uncompressed layer tar), bottom to top.
    pub fn layer_digests(&self) -> Vec<String> {
        let raw = |l| {
            Body::Layer(l, Compression::None)
                .write(io::sink())
                .expect("writing to a sink")
        };
        self.layers().map(|l| format!("sha256:{}", raw(l))).collect()
    }

    fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.steps.iter().filter_map(|s| s.layer.as_ref())
    }

    /// (repository, tag, fully qualified name as containerd stores it).
    fn names(&self) -> (String, String, String) {
        let (repo, tag) = match self.tag.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (self.tag.as_str(), "latest"),
        };
        let first = repo.split('/').next().unwrap_or_default();
        let full = match repo.contains('/') {
            true if first.contains(['.', ':']) || first == "localhost" => repo.to_string(),
            true => format!("docker.io/{repo}"),
            false => format!("docker.io/library/{repo}"),
        };
        (repo.into(), tag.into(), format!("{full}:{tag}"))
    }

    fn platform_json(&self) -> Value {
        let (os, arch, variant) = &self.platform;
        let mut p = json!({"architecture": arch, "os": os});
        if let Some(v) = variant {
            p["variant"] = json!(v);
        }
        p
    }

    fn config_json(&self, layers: &[Desc]) -> Value {
        let mut c = self.platform_json();
        c["config"] = json!({});
        let diff_ids: Vec<_> = layers.iter().map(|d| format!("sha256:{}", d.raw)).collect();
        c["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        if self.history {
            let entry = |s: &Step| {
                let mut h = json!({"created_by": s.created_by.as_ref()?});
                if s.empty_layer {
                    h["empty_layer"] = json!(true);
                }
                Some(h)
            };
            c["history"] = self.steps.iter().filter_map(entry).collect();
        }
        c
    }

    fn build<'a>(&'a self, store: &mut Store<'a>, c: Compression) -> io::Result<Built> {
        let mut layers = Vec::new();
        for (i, l) in self.layers().enumerate() {
            let declared = self.overrides.iter().rev().find(|o| o.0 == i);
            let mt = declared.map_or_else(|| c.media_type(), |o| o.1.clone());
            layers.push(store.add(&mt, Body::Layer(l, c))?);
        }
        let config = store.json(MT_CONFIG, &self.config_json(&layers))?;
        let descs: Vec<_> = layers.iter().map(Desc::json).collect();
        let m =
            json!({"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config.json(), "layers": descs});
        Ok(Built {
            manifest: store.json(MT_MANIFEST, &m)?,
            config,
            layers,
        })
    }

    /// BuildKit-style provenance attestation for `built`, as a descriptor for an index.
    fn attestation(&self, store: &mut Store<'_>, built: &Built) -> io::Result<Value> {
        let (repo, tag, _) = self.names();
        let (os, arch, _) = &self.platform;
        let subject = format!("pkg:docker/{repo}@{tag}?platform={os}%2F{arch}");
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v0.1", "predicateType": PROVENANCE,
            "subject": [{"name": subject, "digest": {"sha256": built.manifest.hex}}],
            "predicate": {"buildType": "https://mobyproject.org/buildkit@v1"}});
        let statement = store.json(MT_INTOTO, &statement)?;
        let mut layer = statement.json();
        layer["annotations"] = json!({"in-toto.io/predicate-type": PROVENANCE});
        let unknown = json!({"architecture": "unknown", "os": "unknown"});
        let diff_ids = json!({"type": "layers", "diff_ids": [format!("sha256:{}", statement.hex)]});
        let config = with(with(unknown.clone(), "config", json!({})), "rootfs", diff_ids);
        let config = store.json(MT_CONFIG, &config)?.json();
        let m = json!({"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config, "layers": [layer]});
        let d = with(store.json(MT_MANIFEST, &m)?.json(), "platform", unknown);
        let reference = format!("sha256:{}", built.manifest.hex);
        let ann = json!({"vnd.docker.reference.digest": reference,
                         "vnd.docker.reference.type": "attestation-manifest"});
        Ok(with(d, "annotations", ann))
    }

    /// Every entry of the archive for `shape`, in archive order.
    fn layout(&self, shape: Shape) -> io::Result<Out<'_>> {
        let mut out = match shape {
            Shape::DockerLegacy => self.legacy_layout()?,
            _ => self.oci_layout(shape)?,
        };
        // Docker <= 24 and skopeo tar up a directory walk; containerd sorts its records.
        if shape != Shape::Docker25 {
            out.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(out)
    }

    fn docker_manifest(&self, config: String, layers: Vec<String>) -> Value {
        json!([{"Config": config, "RepoTags": [self.tag], "Layers": layers}])
    }

    fn repositories(&self, layers: &[Desc]) -> Value {
        let (repo, tag, _) = self.names();
        let top = v1_ids(layers).pop();
        top.map_or(json!({}), |top| json!({ repo: { tag: top } }))
    }

    /// `docker save` <= 24: `<id>/layer.tar` per layer; a repeated layer is a symlink to the first.
    fn legacy_layout(&self) -> io::Result<Out<'_>> {
        let mut store = Store::default();
        let layers = self
            .layers()
            .map(|l| store.add(MT_LAYER, Body::Layer(l, Compression::None)));
        let layers = layers.collect::<io::Result<Vec<_>>>()?;
        let config = self.config_json(&layers);
        let config_name = format!("{}.json", sha_hex(serde_json::to_vec(&config)?));
        let mut out = vec![file(&config_name, &config)?];
        let (mut first, mut paths) = (HashMap::new(), Vec::new());
        let ids = v1_ids(&layers);
        for (i, (d, l)) in layers.iter().zip(self.layers()).enumerate() {
            let id = &ids[i];
            let mut v1 = json!({"id": id});
            if i > 0 {
                v1["parent"] = json!(ids[i - 1]);
            }
            out.push((format!("{id}/"), Node::Dir));
            out.push(file(&format!("{id}/json"), &v1)?);
            out.push((
                format!("{id}/VERSION"),
                Node::File(3, Body::Bytes(b"1.0".to_vec())),
            ));
            let node = match first.get(&d.hex) {
                Some(earlier) => Node::Link(format!("../{earlier}/layer.tar")),
                None => Node::File(d.size, Body::Layer(l, Compression::None)),
            };
            first.entry(d.hex.clone()).or_insert(id);
            out.push((format!("{id}/layer.tar"), node));
            paths.push(format!("{id}/layer.tar"));
        }
        out.push(file("manifest.json", &self.docker_manifest(config_name, paths))?);
        out.push(file("repositories", &self.repositories(&layers))?);
        Ok(out)
    }

    /// Docker25, Containerd and OciArchive: an OCI layout, plus Docker's files where they exist.
    fn oci_layout(&self, shape: Shape) -> io::Result<Out<'_>> {
        let (compression, images) = match shape {
            Shape::Docker25 => (Compression::None, vec![self]),
            _ => (
                self.compression,
                std::iter::once(self).chain(&self.others).collect(),
            ),
        };
        let mut store = Store::default();
        let mut built = Vec::new();
        for img in &images {
            built.push(img.build(&mut store, compression)?);
        }
        let (_, tag, full) = self.names();
        let ref_name = json!({"org.opencontainers.image.ref.name": tag});
        let refs = json!({"io.containerd.image.name": full, "org.opencontainers.image.ref.name": tag});
        let index = |manifests| json!({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests});
        let mut manifests = Vec::new();
        for (img, b) in images.iter().zip(&built) {
            manifests.push(with(b.manifest.json(), "platform", img.platform_json()));
            if shape == Shape::Containerd {
                manifests.push(img.attestation(&mut store, b)?);
            }
        }
        let top = match (shape, manifests.len()) {
            (Shape::Docker25, _) => with(built[0].manifest.json(), "annotations", refs),
            (Shape::OciArchive, 1) => with(manifests.remove(0), "annotations", ref_name),
            _ => {
                let ann = if shape == Shape::Containerd {
                    refs
                } else {
                    ref_name
                };
                with(
                    store.json(MT_INDEX, &index(manifests))?.json(),
                    "annotations",
                    ann,
                )
            }
        };
        let mut out = vec![
            file("oci-layout", &json!({"imageLayoutVersion": "1.0.0"}))?,
            file("index.json", &index(vec![top]))?,
        ];
        let main = &built[0];
        if shape != Shape::OciArchive {
            let layers = main.layers.iter().map(Desc::path).collect();
            out.push(file(
                "manifest.json",
                &self.docker_manifest(main.config.path(), layers),
            )?);
        }
        if shape == Shape::Docker25 {
            out.push(file("repositories", &self.repositories(&main.layers))?);
        }
        out.push(("blobs/".into(), Node::Dir));
        out.push(("blobs/sha256/".into(), Node::Dir));
        let blobs = store.blobs.into_iter();
        out.extend(blobs.map(|(hex, size, body)| (format!("blobs/sha256/{hex}"), Node::File(size, body))));
        Ok(out)
    }
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// A `TestBackend` screen as text, one line per row with trailing spaces cut (journey snapshots).
pub fn screen_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Read;

    type Files = BTreeMap<String, Vec<u8>>;
    /// (name, type, data, link name) of one archive entry.
    type Item = (Vec<u8>, EntryType, Vec<u8>, Vec<u8>);
    const EMPTY: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

    /// Every entry, read back with the `tar` crate.
    fn read(ar: &[u8]) -> Vec<Item> {
        let mut a = tar::Archive::new(ar);
        let entries = a.entries().unwrap().map(|e| {
            let mut e = e.unwrap();
            let (name, ty) = (e.path_bytes().into_owned(), e.header().entry_type());
            let link = e.link_name_bytes().unwrap_or_default().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, ty, data, link)
        });
        entries.collect()
    }

    fn headers(ar: &[u8]) -> Vec<Header> {
        let mut a = tar::Archive::new(ar);
        let h = a.entries().unwrap().map(|e| e.unwrap().header().clone());
        h.collect()
    }

    fn utf8(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    fn names(ar: &[u8]) -> Vec<String> {
        read(ar).into_iter().map(|e| utf8(e.0)).collect()
    }

    /// Regular files by name.
    fn files(ar: &[u8]) -> Files {
        let regular = read(ar).into_iter().filter(|e| e.1 == EntryType::Regular);
        regular.map(|e| (utf8(e.0), e.2)).collect()
    }

    fn strs(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect()
    }

    /// Decompresses by magic bytes (multi-member gzip, zstd, or as is).
    fn unpack(blob: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match blob {
            [0x1f, 0x8b, ..] => {
                let mut gz = flate2::read::MultiGzDecoder::new(blob);
                gz.read_to_end(&mut out).unwrap();
            }
            [0x28, 0xb5, 0x2f, 0xfd, ..] => out = zstd::decode_all(blob).unwrap(),
            _ => out = blob.to_vec(),
        }
        out
    }

    fn blob_path(d: &Value) -> String {
        d["digest"].as_str().unwrap().replace("sha256:", "blobs/sha256/")
    }

    /// The blob a descriptor points at.
    fn blob<'a>(f: &'a Files, d: &Value) -> &'a [u8] {
        &f[&blob_path(d)]
    }

    fn digest(b: &[u8]) -> String {
        format!("sha256:{}", sha_hex(b))
    }

    fn parse(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    /// Six history entries, five layers; the empty layer twice; a layer over 1 MiB.
    fn sample() -> Image {
        let base = layer()
            .dir("/etc")
            .file("/etc/os-release", 300)
            .file("/bin/sh", 5000);
        let big = "/var/lib/apt/lists/big";
        let apt = layer()
            .file(big, (1 << 20) + 4096)
            .hardlink("/var/lib/apt/lists/b2", big);
        let rm = layer().whiteout("/var/lib/apt/lists").opaque("/etc");
        image()
            .step("ADD rootfs / # buildkit", base)
            .empty_step("ENV A=1")
            .step("RUN true # buildkit", layer())
            .step("RUN apt-get update # buildkit", apt)
            .step("RUN true # buildkit", layer())
            .step("RUN rm -rf /var/lib/apt/lists # buildkit", rm)
    }

    /// Walks every descriptor from index.json: blob present, digest and size right, diff_ids match
    /// the uncompressed layers. Returns the platform manifests reached (attestations excluded).
    fn check_oci(f: &Files) -> Vec<Value> {
        for (name, data) in f.iter().filter(|(n, _)| n.starts_with("blobs/")) {
            assert_eq!(digest(data), name.replace("blobs/sha256/", "sha256:"));
        }
        fn walk(f: &Files, d: &Value, found: &mut Vec<Value>) {
            let m = parse(blob(f, d));
            assert_eq!(blob(f, d).len() as u64, d["size"].as_u64().unwrap());
            assert_eq!(d["mediaType"], m["mediaType"]);
            if d["mediaType"] == MT_INDEX {
                let ms = m["manifests"].as_array().unwrap();
                return ms.iter().for_each(|m| walk(f, m, found));
            }
            let diff_ids = parse(blob(f, &m["config"]))["rootfs"]["diff_ids"].clone();
            for (i, l) in m["layers"].as_array().unwrap().iter().enumerate() {
                let b = blob(f, l);
                assert_eq!(b.len() as u64, l["size"].as_u64().unwrap());
                if l["mediaType"].as_str().unwrap().starts_with(MT_LAYER) {
                    assert_eq!(diff_ids[i], digest(&unpack(b)));
                }
            }
            assert_eq!(blob(f, &m["config"]).len() as u64, m["config"]["size"]);
            if d["platform"]["os"] != "unknown" {
                found.push(m);
            }
        }
        let mut found = Vec::new();
        let top = parse(&f["index.json"]);
        let ms = top["manifests"].as_array().unwrap();
        ms.iter().for_each(|m| walk(f, m, &mut found));
        found
    }

    #[test]
    fn empty_layer_is_two_zero_blocks() {
        assert_eq!(layer().tar_bytes(), vec![0; 1024]);
        assert_eq!(image().step("x", layer()).layer_digests(), [EMPTY]);
    }

    #[test]
    fn layer_entries_read_back() {
        let long = format!("usr/share/{}/file", "d".repeat(120));
        let l = layer()
            .dir("/etc")
            .file("/etc/a", 1000)
            .mode(0o600)
            .owner(1000, 100);
        let l = l.file_bytes("etc/b", b"hello").symlink("/etc/s", "/etc/a");
        let l = l
            .hardlink("/etc/h", "/etc/a")
            .whiteout("/var/lib/apt/")
            .whiteout("top");
        let l = l.opaque("/opt/").fifo("/run/f").chardev("/dev/null");
        let l = l
            .raw_name(b"bad\xff\x01name", 7)
            .file(&long, 10)
            .symlink("/l", &long);
        assert_eq!(l.regular_bytes(), 1000 + 5 + 7 + 10);
        let tar = l.tar_bytes();
        let mut streamed = Vec::new();
        l.write_tar(&mut streamed).unwrap();
        assert_eq!(tar, streamed);
        let e = read(&tar);
        let names: Vec<_> = e.iter().map(|e| e.0.as_slice()).collect();
        let expect: [&[u8]; 13] = [
            b"etc/",
            b"etc/a",
            b"etc/b",
            b"etc/s",
            b"etc/h",
            b"var/lib/.wh.apt",
            b".wh.top",
            b"opt/.wh..wh..opq",
            b"run/f",
            b"dev/null",
            b"bad\xff\x01name",
            long.as_bytes(),
            b"l",
        ];
        assert_eq!(names, expect);
        use EntryType::*;
        let types: Vec<_> = e.iter().map(|e| e.1).collect();
        let want = [
            Directory, Regular, Regular, Symlink, Link, Regular, Regular, Regular, Fifo, Char, Regular,
            Regular, Symlink,
        ];
        assert_eq!(types, want);
        assert_eq!(
            (&e[3].3[..], &e[4].3[..], e[4].2.len()),
            (&b"/etc/a"[..], &b"etc/a"[..], 0)
        );
        assert_eq!((&e[2].2[..], &e[12].3[..]), (&b"hello"[..], long.as_bytes()));
        let body = &e[1].2;
        assert_eq!(body.len(), 1000);
        assert!(body.iter().all(|b| (b'a'..=b'p').contains(b)));
        let mut gz = Meter::hashing(io::sink());
        let big = layer().file("/z", 1 << 18);
        Body::Layer(&big, Compression::Gzip).write(&mut gz).unwrap();
        assert!(
            (0.4..0.7).contains(&(gz.n as f64 / f64::from(1 << 18))),
            "moderately compressible"
        );
        let other = layer().file("/etc/other", 1000).tar_bytes();
        assert_ne!(body[..64], other[512..576]);
        let h = headers(&tar);
        assert_eq!((h[0].mode().unwrap(), h[1].mode().unwrap()), (0o755, 0o600));
        assert_eq!((h[1].uid().unwrap(), h[1].gid().unwrap()), (1000, 100));
        assert_eq!(h[9].device_major().unwrap(), Some(1));
        assert!(h.iter().all(|h| h.mtime().unwrap() == 0));
        let gz = Body::Layer(&l, Compression::Gzip).write(Vec::new());
        assert_eq!(format!("sha256:{}", gz.unwrap()), digest(&tar));
    }

    #[test]
    fn legacy_shape() {
        let img = sample();
        let ar = img.archive(Shape::DockerLegacy);
        let (n, f) = (names(&ar), files(&ar));
        assert!(n.is_sorted());
        let m = parse(&f["manifest.json"]);
        let cfg_name = m[0]["Config"].as_str().unwrap();
        assert_eq!(
            format!("sha256:{cfg_name}"),
            format!("{}.json", digest(&f[cfg_name]))
        );
        let config = parse(&f[cfg_name]);
        let diff_ids = strs(&config["rootfs"]["diff_ids"]);
        assert_eq!(diff_ids, img.layer_digests());
        let layers = strs(&m[0]["Layers"]);
        assert_eq!(layers.len(), 5);
        let all = read(&ar);
        let link = all.into_iter().find(|e| e.0 == layers[3].as_bytes()).unwrap();
        assert_eq!(link.1, EntryType::Symlink);
        assert_eq!(utf8(link.3), format!("../{}", layers[1]));
        for (i, l) in layers.iter().enumerate().filter(|(i, _)| *i != 3) {
            assert_eq!(digest(&f[*l]), diff_ids[i]);
            let id = l.trim_end_matches("/layer.tar");
            assert!(n.contains(&format!("{id}/")) && f[&format!("{id}/VERSION")] == b"1.0");
            assert_eq!(parse(&f[&format!("{id}/json")])["id"], id);
        }
        let top_id = layers[4].trim_end_matches("/layer.tar");
        assert_eq!(parse(&f["repositories"])["example/app"]["latest"], top_id);
        let history = config["history"].as_array().unwrap();
        assert_eq!((history.len(), &history[1]["empty_layer"]), (6, &json!(true)));
        assert_eq!(config["rootfs"]["type"], "layers");
    }

    #[test]
    fn docker25_shape() {
        let img = sample();
        let ar = img.archive(Shape::Docker25);
        let (n, f) = (names(&ar), files(&ar));
        let head = [
            "oci-layout",
            "index.json",
            "manifest.json",
            "repositories",
            "blobs/",
        ];
        assert_eq!(n[..6], [&head[..], &["blobs/sha256/"]].concat());
        let found = check_oci(&f);
        assert_eq!(found.len(), 1);
        let ann = &parse(&f["index.json"])["manifests"][0]["annotations"];
        let want = json!({"io.containerd.image.name": "docker.io/example/app:latest",
                          "org.opencontainers.image.ref.name": "latest"});
        assert_eq!(ann, &want);
        let layers = found[0]["layers"].as_array().unwrap();
        assert!(layers.iter().all(|l| l["mediaType"] == MT_LAYER));
        let digests: Vec<_> = layers.iter().map(|l| l["digest"].as_str().unwrap()).collect();
        assert_eq!(digests, img.layer_digests());
        assert_eq!((digests[1], digests[3]), (EMPTY, EMPTY));
        assert_eq!(n.iter().filter(|n| n.ends_with(&EMPTY[7..])).count(), 1);
        let m = parse(&f["manifest.json"]);
        let paths: Vec<_> = layers.iter().map(blob_path).collect();
        assert_eq!(
            (&m[0]["Layers"], &m[0]["RepoTags"]),
            (&json!(paths), &json!([img.tag]))
        );
        let h = headers(&ar);
        assert!(h.iter().all(|h| h.mtime().unwrap() == 0));
        assert_eq!((h[0].mode().unwrap(), h[4].mode().unwrap()), (0o644, 0o755));
    }

    #[test]
    fn containerd_shape() {
        let arm = image().step("RUN arm", layer().file("/arm", 100));
        let img = sample().also_platform("linux", "arm64", Some("v8"), arm);
        let img = img.repo_tag("registry.local:5000/team/app:v1");
        let ar = img.archive(Shape::Containerd);
        let (n, f) = (names(&ar), files(&ar));
        assert!(n.is_sorted() && !n.contains(&"repositories".into()));
        let index_at = n.iter().position(|n| n == "index.json").unwrap();
        assert!(n[..index_at].iter().all(|n| n.starts_with("blobs/")));
        assert!(n[index_at..].iter().all(|n| !n.starts_with("blobs/")));
        let found = check_oci(&f);
        assert_eq!(found.len(), 2);
        let top = &parse(&f["index.json"])["manifests"][0];
        assert_eq!(top["mediaType"], MT_INDEX);
        let name = &top["annotations"]["io.containerd.image.name"];
        assert_eq!(name, "registry.local:5000/team/app:v1");
        let nested = parse(blob(&f, top));
        let ms = nested["manifests"].as_array().unwrap();
        assert_eq!(ms.len(), 4);
        let arm64 = json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
        assert_eq!(ms[2]["platform"], arm64);
        let att = &ms[1];
        assert_eq!(
            att["platform"],
            json!({"architecture": "unknown", "os": "unknown"})
        );
        let ann = &att["annotations"];
        assert_eq!(ann["vnd.docker.reference.type"], "attestation-manifest");
        assert_eq!(ann["vnd.docker.reference.digest"], ms[0]["digest"]);
        let statement = &parse(blob(&f, att))["layers"][0];
        assert_eq!(statement["mediaType"], MT_INTOTO);
        assert_eq!(parse(blob(&f, statement))["predicateType"], PROVENANCE);
        for l in found[0]["layers"].as_array().unwrap() {
            assert_eq!(l["mediaType"], format!("{MT_LAYER}+gzip"));
            assert_eq!(blob(&f, l)[..2], [0x1f, 0x8b]);
        }
        let m = &parse(&f["manifest.json"])[0];
        assert_eq!(m["Layers"].as_array().unwrap().len(), 5);
        assert_eq!(m["Config"], blob_path(&found[0]["config"]));
    }

    #[test]
    fn oci_archive_zstd_and_overrides() {
        let img = sample().compression(Compression::Zstd);
        let img = img.media_type_override(2, "application/octet-stream");
        let ar = img.archive(Shape::OciArchive);
        let n = names(&ar);
        assert!(!n.contains(&"manifest.json".into()) && n.contains(&"oci-layout".into()));
        let f = files(&ar);
        let found = check_oci(&f);
        let layers = found[0]["layers"].as_array().unwrap();
        assert_eq!(layers[2]["mediaType"], "application/octet-stream");
        assert_eq!(layers[0]["mediaType"], format!("{MT_LAYER}+zstd"));
        for (l, diff_id) in layers.iter().zip(img.layer_digests()) {
            let b = blob(&f, l);
            assert_eq!(b[..4], [0x28, 0xb5, 0x2f, 0xfd]);
            assert_eq!(digest(&unpack(b)), diff_id);
        }
        let m = &parse(&f["index.json"])["manifests"][0];
        let ref_name = &m["annotations"]["org.opencontainers.image.ref.name"];
        assert_eq!(
            (ref_name, &m["mediaType"]),
            (&json!("latest"), &json!(MT_MANIFEST))
        );
        assert_eq!(m["platform"]["architecture"], "amd64");
        // Several platforms: index.json names one nested index, without attestations.
        let img = img.also_platform("linux", "s390x", None, sample());
        let f = files(&img.archive(Shape::OciArchive));
        assert_eq!(check_oci(&f).len(), 2);
        let top = parse(&f["index.json"]);
        assert_eq!(top["manifests"].as_array().unwrap().len(), 1);
        let nested = parse(blob(&f, &top["manifests"][0]));
        assert_eq!(nested["manifests"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn gzip_multi_member_has_several_members() {
        let img = sample().compression(Compression::GzipMultiMember);
        let f = files(&img.archive(Shape::OciArchive));
        for l in check_oci(&f)[0]["layers"].as_array().unwrap() {
            let (mut rest, mut members) = (blob(&f, l), 0);
            while !rest.is_empty() {
                let mut d = flate2::bufread::GzDecoder::new(rest);
                io::copy(&mut d, &mut io::sink()).unwrap();
                (rest, members) = (d.into_inner(), members + 1);
            }
            let size = l["size"].as_u64().unwrap();
            assert!(members >= 2 + size / (1 << 20), "{members} members, {size} bytes");
        }
    }

    #[test]
    fn history_variants() {
        let l = || layer().file("/a", 10);
        let config = |img: Image| {
            let f = files(&img.archive(Shape::OciArchive));
            parse(blob(&f, &check_oci(&f)[0]["config"]))
        };
        let img = image().layer_without_history(l()).step("RUN b", l());
        let c = config(img.extra_history("RUN c").platform("linux", "arm", Some("v7")));
        let want = json!([{"created_by": "RUN b"}, {"created_by": "RUN c"}]);
        assert_eq!(c["history"], want);
        assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!((&c["variant"], &c["config"]), (&json!("v7"), &json!({})));
        let c = config(image().step("RUN a", l()).no_history());
        assert!(c.get("history").is_none() && c.get("variant").is_none());
    }

    #[test]
    fn oci_dir_matches_oci_archive() {
        let img = sample().compression(Compression::GzipMultiMember);
        let dir = tempfile::tempdir().unwrap();
        img.write_oci_dir(dir.path()).unwrap();
        for (name, data) in files(&img.archive(Shape::OciArchive)) {
            assert_eq!(fs::read(dir.path().join(&name)).unwrap(), data, "{name}");
        }
        // 4 distinct layers (the empty one twice), a config, a manifest.
        let blobs = fs::read_dir(dir.path().join("blobs/sha256")).unwrap();
        assert_eq!(blobs.count(), 6);
    }

    #[test]
    fn output_is_deterministic() {
        use Shape::*;
        for shape in [DockerLegacy, Docker25, Containerd, OciArchive] {
            assert!(sample().archive(shape) == sample().archive(shape), "{shape:?}");
        }
    }
}
