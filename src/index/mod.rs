//! Streaming layer indexer: any `Read` of a layer blob -> [`LayerEntries`].
//!
//! Sniffs gzip (multi-member), zstd or plain tar by magic bytes, walks the tar headers once
//! (`walker`) and never keeps a file body: bodies are skipped (read past inside the decoder's
//! buffer or zstd's ring (`zstd_ring`), or seeked over when the input can). Nothing here knows
//! where the bytes come from; progress goes to a shared counter. [`guard`] bounds what the tar
//! crate may read when it walks an image archive's own (outer) tar.

pub mod guard;

mod fields;
mod seekbuf;
mod walker;
mod zstd_ring;

use crate::model::entries::{EntryKind, LayerEntries, normalize_path, slashes};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fmt;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use walker::{Input, Scratch, Type, Walker};

/// How a layer blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "plain tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

impl Compression {
    /// What a media type claims (`…tar+gzip`, `…tar.gzip`, `…tar+zstd`, plain `…tar`).
    pub fn from_media_type(mt: &str) -> Option<Compression> {
        if mt.ends_with("+gzip") || mt.ends_with(".gzip") || mt.ends_with("tar.gz") {
            Some(Compression::Gzip)
        } else if mt.ends_with("+zstd") || mt.ends_with(".zstd") {
            Some(Compression::Zstd)
        } else if mt.ends_with(".tar")
            || mt.ends_with("layer.v1.tar")
            || mt.contains("rootfs.diff.tar") && !mt.contains("gzip")
        {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// What the first bytes of a blob say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Layer(Compression),
    /// Starts like JSON (`{` or `[` after whitespace).
    Json,
    /// No content at all.
    Empty,
    Unknown,
}

/// Largest zstd window accepted: 2^27 = 128 MiB, zstd's own default limit.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// Bytes needed to tell every kind apart (tar's `ustar` sits at offset 257).
pub const SNIFF_LEN: usize = 512;

/// Classifies a blob by its first bytes (up to [`SNIFF_LEN`]).
pub fn sniff(head: &[u8]) -> Magic {
    if head.is_empty() {
        return Magic::Empty;
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Magic::Layer(Compression::Gzip);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Magic::Layer(Compression::Zstd);
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Magic::Layer(Compression::None);
    }
    // A tar of nothing (the empty layer: 1024 zero bytes) or a v7 tar with a valid checksum.
    if head.len() == SNIFF_LEN && (head.iter().all(|b| *b == 0) || v7_checksum_ok(head)) {
        return Magic::Layer(Compression::None);
    }
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => Magic::Json,
        _ => Magic::Unknown,
    }
}

fn v7_checksum_ok(h: &[u8]) -> bool {
    let field = &h[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .filter(|b| (b'0'..=b'7').contains(b))
        .collect();
    let Ok(s) = std::str::from_utf8(&digits) else {
        return false;
    };
    let Ok(want) = u32::from_str_radix(s, 8) else {
        return false;
    };
    let sum: u32 = h[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    !digits.is_empty() && sum == want && h[0] != 0
}

/// Limits that keep hostile layers bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes one layer may have before indexing stops with an error.
    pub max_layer_bytes: u64,
    /// Also hash the blob and the uncompressed tar (`--verify`): every byte is read, none seeked.
    pub digest: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 64 << 30,
            digest: false,
        }
    }
}

/// Shared counters and the cancel flag, read by progress views.
#[derive(Debug, Default)]
pub struct Progress {
    /// Blob bytes read (compressed bytes for compressed layers).
    pub bytes: AtomicU64,
    /// Layers indexed so far, and how many the image has (0 until known).
    pub layers_done: AtomicU64,
    pub layers_total: AtomicU64,
    /// Bytes a `--pull` downloaded so far, while the daemon pulls the image first.
    pub pulled: AtomicU64,
    pub pulling: AtomicBool,
    /// Set to stop indexing early.
    pub cancel: AtomicBool,
}

/// Why a layer could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a layer: the blob is neither tar, gzip nor zstd (it starts with {0})")]
    NotALayer(String),
    #[error(
        "the layer's tar is larger than {} (--max-layer-bytes): a decompression bomb? Raise the limit if the image is genuine",
        humansize::format_size(*.0, humansize::BINARY)
    )]
    TooLarge(u64),
    #[error("cancelled")]
    Cancelled,
    #[error("the layer has more than 4 GiB of path names")]
    TooManyNames,
    /// A malformed tar, said with where it went wrong.
    #[error("{0}")]
    Corrupt(String),
}

/// The indexed layer plus how it was stored.
#[derive(Debug)]
pub struct Indexed {
    pub entries: LayerEntries,
    pub compression: Compression,
    /// `sha256:…` of the blob as stored and of the uncompressed tar, with [`Limits::digest`].
    pub blob_digest: Option<String>,
    pub tar_digest: Option<String>,
}

/// Read buffer for decoded gzip bytes (zstd is read in place from [`zstd_ring`]'s ring).
const DECODED_BUF: usize = 256 << 10;

/// Indexes a layer from a stream. `claimed` is what the media type says; the magic bytes decide,
/// and a disagreement becomes a note.
pub fn index_stream<R: Read>(
    mut input: R,
    claimed: Option<Compression>,
    limits: Limits,
    progress: &Progress,
) -> Result<Indexed, IndexError> {
    let (head, compression) = read_head(&mut input, claimed)?;
    let raw_hash = limits.digest.then(|| RefCell::new(Sha256::new()));
    let raw = Counted {
        inner: io::Cursor::new(head).chain(input),
        progress,
        hash: raw_hash.as_ref(),
    };
    let (mut out, tar_digest) = match compression.0 {
        // Decoded gzip goes through a large buffer: the walker asks for 512-byte headers, and
        // skipped bodies are consumed straight out of it.
        Compression::Gzip => walk(
            BufReader::with_capacity(
                DECODED_BUF,
                guard::Decoded::new(
                    flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 17, raw)),
                    "gzip",
                ),
            ),
            limits,
            progress,
        )?,
        // Decoded block by block into a ring the walker reads in place; a frame asking for a
        // window over 2^27 bytes (zstd's default limit) is refused instead of allocated.
        Compression::Zstd => walk(zstd_ring::ZstdRing::new(raw)?, limits, progress)?,
        Compression::None => walk(BufReader::with_capacity(1 << 17, raw), limits, progress)?,
    };
    out.notes.extend(compression.1);
    Ok(Indexed {
        entries: out,
        compression: compression.0,
        blob_digest: raw_hash.map(|h| sha256_name(h.into_inner())),
        tar_digest,
    })
}

fn sha256_name(h: Sha256) -> String {
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Indexes a layer that can be seeked (a blob in a file): plain tar bodies are skipped by seeking.
pub fn index_seekable<R: Read + Seek>(
    mut input: R,
    claimed: Option<Compression>,
    limits: Limits,
    progress: &Progress,
) -> Result<Indexed, IndexError> {
    let (_, compression) = read_head(&mut input, claimed)?;
    if compression.0 != Compression::None || limits.digest {
        input.seek(SeekFrom::Start(0))?;
        return index_stream(input, claimed, limits, progress);
    }
    input.seek(SeekFrom::Start(0))?;
    let (mut out, _) = walk(
        SeekCounted {
            inner: seekbuf::SeekBuf::new(input, 0),
            progress,
        },
        limits,
        progress,
    )?;
    out.notes.extend(compression.1);
    Ok(Indexed {
        entries: out,
        compression: Compression::None,
        blob_digest: None,
        tar_digest: None,
    })
}

/// How a blob is stored, and a note when its media type said otherwise.
type Decision = (Compression, Option<String>);

/// Reads the first bytes of a blob and decides how it is stored.
fn read_head<R: Read>(
    input: &mut R,
    claimed: Option<Compression>,
) -> Result<(Vec<u8>, Decision), IndexError> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    input.take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    let compression = decide(&head, claimed)?;
    Ok((head, compression))
}

fn decide(head: &[u8], claimed: Option<Compression>) -> Result<(Compression, Option<String>), IndexError> {
    let found = match sniff(head) {
        Magic::Layer(c) => c,
        Magic::Empty => Compression::None,
        Magic::Json | Magic::Unknown => {
            let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return Err(IndexError::NotALayer(shown.join(" ")));
        }
    };
    Ok((found, media_type_note(claimed, found)))
}

/// The note for a media type that disagrees with the magic bytes.
pub fn media_type_note(claimed: Option<Compression>, found: Compression) -> Option<String> {
    claimed
        .filter(|c| *c != found)
        .map(|c| format!("the media type says {c} but the blob is {found}; read as {found}"))
}

/// Walks tar headers, recording entries; bodies are skipped.
/// With [`Limits::digest`] it reads the tar to its very end and returns its digest too.
fn walk<I: Input>(
    input: I,
    limits: Limits,
    progress: &Progress,
) -> Result<(LayerEntries, Option<String>), IndexError> {
    let mut tar = Walker::new(input, limits.max_layer_bytes, limits.digest);
    let mut headers = Scratch::default();
    let mut out = LayerEntries::default();
    let mut scratch = Vec::new();
    let mut parent = Vec::new();
    let mut link = Vec::new();
    let mut aufs = 0u64;
    let mut escaped = 0u64;
    let mut rooted = 0u64;
    while let Some(entry) = tar.next(&mut headers)? {
        if progress.cancel.load(Ordering::Relaxed) {
            return Err(IndexError::Cancelled);
        }
        let kind = match entry.kind {
            Type::File => EntryKind::File,
            Type::Dir => EntryKind::Dir,
            Type::Symlink => EntryKind::Symlink,
            Type::HardLink => EntryKind::HardLink,
            Type::Special => EntryKind::Special,
        };
        if normalize_path(entry.path, &mut scratch) {
            escaped += 1;
        }
        let (name_start, aufs_dir) = split_name(&scratch);
        let name = &scratch[name_start..];
        if aufs_dir {
            aufs += 1;
            continue;
        }
        let (kind, path): (EntryKind, &[u8]) = if let Some(rest) = name.strip_prefix(b".wh.") {
            if rest == b".wh..opq" {
                (EntryKind::Opaque, &scratch[..name_start.saturating_sub(1)])
            } else if rest.starts_with(b".wh.") {
                aufs += 1;
                continue;
            } else if rest.is_empty() {
                out.notes
                    .push("an invalid whiteout `.wh.` (no name) was ignored".into());
                continue;
            } else {
                parent.clear();
                parent.extend_from_slice(&scratch[..name_start]);
                parent.extend_from_slice(rest);
                (EntryKind::Whiteout, &parent[..])
            }
        } else {
            (kind, &scratch[..])
        };
        // A file, link or device whose path is the root itself (``, `./`, `../`) cannot exist;
        // the merge would drop it, so it is not counted either.
        if path.is_empty() && !matches!(kind, EntryKind::Dir | EntryKind::Opaque) {
            rooted += 1;
            continue;
        }
        let link: &[u8] = match kind {
            EntryKind::Symlink => entry.link,
            EntryKind::HardLink => {
                normalize_path(entry.link, &mut link);
                &link
            }
            _ => &[],
        };
        // Only regular files store bytes; a link, directory or device with a size is odd but
        // adds nothing.
        let size = if entry.kind == Type::File { entry.size } else { 0 };
        out.push(kind, path, link, size, entry.mode, entry.uid, entry.gid)
            .ok_or(IndexError::TooManyNames)?;
    }
    if aufs > 0 {
        out.notes
            .push(format!("{aufs} AUFS metadata entr(ies) (.wh..wh.*) were ignored"));
    }
    if escaped > 0 {
        out.notes.push(format!(
            "{escaped} path(s) tried to climb above / with `..`; they were kept inside the image root"
        ));
    }
    if rooted > 0 {
        out.notes.push(format!(
            "{rooted} entr(ies) named the image root itself as a file, link or device; ignored"
        ));
    }
    out.tar_bytes = tar.pos();
    // Bytes after the end-of-archive blocks are part of the diff_id too.
    let (_, digest) = tar.finish()?;
    Ok((out, digest.map(|d| format!("sha256:{}", hex::encode(d)))))
}

/// Names starting with this are AUFS metadata (`.wh..wh..opq`, `.wh..wh.plnk`, …).
const AUFS_PREFIX: &[u8] = b".wh..wh.";

/// Where the last component of a normalised path starts, and whether a component before it
/// starts with [`AUFS_PREFIX`] (the entry sits in AUFS metadata).
fn split_name(path: &[u8]) -> (usize, bool) {
    let (mut start, mut aufs) = (0, false);
    for i in slashes(path) {
        aufs |= path[start..i].starts_with(AUFS_PREFIX);
        start = i + 1;
    }
    (start, aufs)
}

/// Counts blob bytes read into the shared progress counter.
struct Counted<'a, R> {
    inner: R,
    progress: &'a Progress,
    /// The blob's hash, with [`Limits::digest`].
    hash: Option<&'a RefCell<Sha256>>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(h) = self.hash {
            h.borrow_mut().update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A seekable input whose progress counts positions reached (seeks included).
pub struct SeekCounted<'a, I> {
    inner: I,
    progress: &'a Progress,
}

impl<I: Input> Input for SeekCounted<'_, I> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    fn skip(&mut self, n: u64) -> io::Result<()> {
        self.inner.skip(n)?;
        self.progress.bytes.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
