//! The archive parser: `docker save` (every Docker version and Podman), containerd exports and
//! OCI archives, from a file, a stream, or an OCI layout directory.
//!
//! - A file is walked once over its tar headers (bodies seeked over); metadata is read, the
//!   image resolved, then the needed layers are indexed in parallel straight from their byte
//!   ranges in the file.
//! - A stream (stdin, the Engine API export) is read exactly once: every blob that looks like a
//!   layer is indexed as it passes (keyed by its archive path, on worker threads fed through
//!   bounded channels), metadata is kept, and the image is resolved at the end.
//! - A directory is an OCI layout: metadata files are read on demand, layers in parallel.
//!
//! Memory stays bounded by paths: no layer body is ever buffered beyond a few chunks.

use super::layout::{LayerRef, MetaStore, Platform, Resolved};
use super::verify::{check_layer, resolve_checked};
use super::{Error, Sink};
use crate::index::{self, Compression, IndexError, Indexed, Limits, Magic, Progress, SNIFF_LEN};
use crate::model::entries::normalize_path;
use crate::model::{ImageMeta, LayerEntries};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Metadata files larger than this are not metadata.
pub const META_MAX: u64 = 16 << 20;
/// Metadata kept in memory while an archive is walked, in all. JSON files past it are not kept
/// (a file is read again on demand; a stream says so if the image needs one).
pub const META_TOTAL: u64 = 64 << 20;

/// The JSON files of an archive kept while it is walked, within [`META_TOTAL`].
#[derive(Debug, Default)]
struct MetaFiles {
    files: HashMap<String, Vec<u8>>,
    bytes: u64,
    /// Files not kept because the budget was spent.
    dropped: HashSet<String>,
}

impl MetaFiles {
    /// Whether `name` (`size` bytes) may be kept; the archive's own index files always are.
    fn admit(&mut self, name: &str, size: u64) -> bool {
        let own = matches!(
            name,
            "manifest.json" | "index.json" | "repositories" | "oci-layout"
        );
        if own || self.bytes + size <= META_TOTAL {
            self.bytes += size;
            true
        } else {
            self.dropped.insert(name.to_string());
            false
        }
    }
}
/// Chunk size and queue depth for stream-fed layers.
const CHUNK: usize = 256 << 10;
const QUEUE: usize = 16;

/// Options for reading.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub platform: Option<Platform>,
    pub limits: Limits,
    /// Check every blob against its digest (`--verify`); needs `limits.digest` for layers.
    pub verify: bool,
    /// Worker threads (0 = one per core).
    pub jobs: usize,
    /// A daemon image the daemon does not have is pulled first (`--pull`).
    pub pull: bool,
}

impl ReadOptions {
    fn workers(&self, layers: usize) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let n = if self.jobs == 0 { cores } else { self.jobs };
        n.clamp(1, layers.max(1))
    }
}

/// Where a member's body sits in an archive file.
#[derive(Debug, Clone)]
enum Member {
    Blob { offset: u64, size: u64 },
    Link(String),
}

/// Archive path of a tar member: `./a//b` -> `a/b`.
fn member_name(raw: &[u8]) -> String {
    let mut out = Vec::new();
    normalize_path(raw, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves a symlink member's target relative to its own directory.
fn link_target(name: &str, target: &[u8]) -> String {
    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
    let mut joined = dir.as_bytes().to_vec();
    joined.push(b'/');
    joined.extend_from_slice(target);
    member_name(&joined)
}

/// Where a symlink or hard-link member points, as an archive path.
fn member_link(name: &str, symlink: bool, target: &[u8]) -> String {
    if symlink {
        link_target(name, target)
    } else {
        member_name(target)
    }
}

fn is_meta_name(name: &str) -> bool {
    matches!(
        name,
        "manifest.json" | "index.json" | "repositories" | "oci-layout"
    ) || name.ends_with(".json")
}

/// Describes the archive shape for reports.
fn describe(meta: &HashMap<String, Vec<u8>>, compressed: bool) -> String {
    let (m, i) = (
        meta.contains_key("manifest.json"),
        meta.contains_key("index.json"),
    );
    match (m, i) {
        (true, true) if compressed => "docker save (containerd image store, compressed blobs)".into(),
        (true, true) => "docker save (OCI layout, Docker 25+)".into(),
        (true, false) => "docker save (legacy layout)".into(),
        _ => "OCI archive".into(),
    }
}

// ------------------------------------------------------------------------------------- files

/// A byte range of a file, read with positioned reads (no shared cursor).
pub struct Window<'a> {
    file: &'a File,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a> Window<'a> {
    pub fn new(file: &'a File, start: u64, len: u64) -> Self {
        Window {
            file,
            start,
            len,
            pos: 0,
        }
    }
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = (buf.len() as u64).min(left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.start + self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ends inside this blob (truncated archive)",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        let new = new
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of a blob"))?;
        // Skipping past the end means a tar entry claims more bytes than the blob holds.
        if new > self.len {
            return Err(index::guard::truncated());
        }
        self.pos = new;
        Ok(self.pos)
    }
}

impl index::guard::Forward for Window<'_> {
    fn forward(&mut self, n: u64) -> io::Result<()> {
        let d = i64::try_from(n).map_err(|_| index::guard::truncated())?;
        self.seek(SeekFrom::Current(d)).map(drop)
    }
}

/// Reads an image archive file.
pub fn read_file(
    path: &Path,
    opts: &ReadOptions,
    progress: &Progress,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let ctx = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(&ctx, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(&ctx, e))?.len();
    let mut members: HashMap<String, Member> = HashMap::new();
    let mut meta = MetaFiles::default();
    {
        let (guarded, watch) = index::guard::guard(Window::new(&file, 0, file_len));
        let mut archive = tar::Archive::new(guarded);
        let mut entries = archive
            .entries_with_seek()
            .map_err(|e| Error::new(&ctx, format!("not a tar archive: {e}")))?;
        while let Some(entry) = watch.next(&mut entries) {
            let mut entry =
                entry.map_err(|e| Error::new(&ctx, format!("corrupt tar archive: {}", watch.explain(&e))))?;
            let name = member_name(&entry.path_bytes());
            let et = entry.header().entry_type();
            if et.is_symlink() || et.is_hard_link() {
                let t = member_link(
                    &name,
                    et.is_symlink(),
                    &entry.link_name_bytes().unwrap_or_default(),
                );
                members.insert(name, Member::Link(t));
                continue;
            }
            if !et.is_file() {
                continue;
            }
            let size = entry.size();
            let offset = entry.raw_file_position();
            if offset.checked_add(size).is_none_or(|end| end > file_len) {
                return Err(Error::new(
                    &ctx,
                    format!("{name}: the archive is truncated (the member runs past the end of the file)"),
                ));
            }
            let mut head = Vec::with_capacity(SNIFF_LEN);
            (&mut entry)
                .take(SNIFF_LEN as u64)
                .read_to_end(&mut head)
                .map_err(|e| Error::new(&ctx, format!("{name}: {e}")))?;
            if size <= META_MAX
                && (is_meta_name(&name) || index::sniff(&head) == Magic::Json)
                && meta.admit(&name, size)
            {
                let mut body = head;
                entry
                    .read_to_end(&mut body)
                    .map_err(|e| Error::new(&ctx, format!("{name}: {e}")))?;
                meta.files.insert(name.clone(), body);
            }
            members.insert(name, Member::Blob { offset, size });
        }
    }
    let mut store = FileStore {
        meta: &meta,
        members: &members,
        file: &file,
    };
    let resolved =
        resolve_checked(&mut store, opts.platform.as_ref(), opts.verify).map_err(|e| Error::new(&ctx, e))?;
    // Map every layer to a byte range (following legacy symlinks), deduplicated.
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut which: Vec<Option<usize>> = Vec::new();
    for l in &resolved.layers {
        if l.absent {
            which.push(None);
            continue;
        }
        let (offset, size) = follow(&members, &l.key).ok_or_else(|| {
            Error::new(
                &ctx,
                format!(
                    "the manifest points at layer {} but the archive has no such file",
                    l.key
                ),
            )
        })?;
        let i = ranges
            .iter()
            .position(|r| *r == (offset, size))
            .unwrap_or_else(|| {
                ranges.push((offset, size));
                ranges.len() - 1
            });
        which.push(Some(i));
    }
    let mut resolved = resolved;
    let compressed = resolved
        .layers
        .iter()
        .any(|l| l.claimed.is_some_and(|c| c != Compression::None));
    resolved.meta.format = describe(&meta.files, compressed);
    index_parallel(&ctx, &resolved, &which, ranges.len(), opts, sink, |i, claimed| {
        let (offset, size) = ranges[i];
        index::index_seekable(Window::new(&file, offset, size), claimed, opts.limits, progress)
            .map(|ix| (ix, size))
    })
}

/// Follows symlink members to a blob's byte range.
fn follow(members: &HashMap<String, Member>, key: &str) -> Option<(u64, u64)> {
    let mut key = key.to_string();
    for _ in 0..8 {
        match members.get(&key)? {
            Member::Blob { offset, size } => return Some((*offset, *size)),
            Member::Link(t) => key = t.clone(),
        }
    }
    None
}

struct FileStore<'a> {
    meta: &'a MetaFiles,
    members: &'a HashMap<String, Member>,
    file: &'a File,
}

impl MetaStore for FileStore<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        if !self.meta.dropped.contains(key) {
            return Ok(self.meta.files.get(key).cloned());
        }
        // Past the budget while walking: read it again now.
        let Some(Member::Blob { offset, size }) = self.members.get(key) else {
            return Ok(None);
        };
        let mut buf = vec![0; usize::try_from(*size).map_err(|_| format!("{key} is too large"))?];
        self.file
            .read_exact_at(&mut buf, *offset)
            .map_err(|e| format!("{key}: {e}"))?;
        Ok(Some(buf))
    }
    fn has(&mut self, key: &str) -> bool {
        self.members.contains_key(key)
    }
}

/// Indexes the distinct layers `0..distinct` on worker threads and feeds the sink in the
/// calling thread as results arrive. `which[diff_index]` names the distinct layer (`None`: an
/// absent foreign layer, handed out empty).
fn index_parallel<F>(
    ctx: &str,
    resolved: &Resolved,
    which: &[Option<usize>],
    distinct: usize,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
    work: F,
) -> Result<(), Error>
where
    F: Fn(usize, Option<Compression>) -> Result<(Indexed, u64), IndexError> + Sync,
{
    sink.meta(&resolved.meta);
    let first_ref: Vec<&LayerRef> = (0..distinct)
        .map(|d| &resolved.layers[which.iter().position(|w| *w == Some(d)).unwrap_or(0)])
        .collect();
    let next = AtomicUsize::new(0);
    // Room for one finished layer: when the merge falls behind, workers wait with theirs
    // instead of piling up indexed layers (on a 1M-path image that was 4 layers, ~50 MB).
    let (tx, rx) = bounded::<(usize, Outcome)>(1);
    std::thread::scope(|s| -> Result<(), Error> {
        for _ in 0..opts.workers(distinct) {
            let tx = tx.clone();
            let (next, work, first_ref) = (&next, &work, &first_ref);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= distinct {
                        break;
                    }
                    let r = work(i, first_ref[i].claimed);
                    let failed = r.is_err();
                    if tx.send((i, r)).is_err() || failed {
                        // Stop taking work: the first error ends the read.
                        next.store(distinct, Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        drop(tx);
        deliver(ctx, resolved, which, distinct, opts.verify, rx, sink)
    })
}

/// Receives indexed layers and hands them to the sink; layers shared by several diff indexes
/// are handed to each.
fn deliver(
    ctx: &str,
    resolved: &Resolved,
    which: &[Option<usize>],
    distinct: usize,
    verify: bool,
    rx: Receiver<(usize, Outcome)>,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    for (d, _) in which.iter().enumerate().filter(|(_, w)| w.is_none()) {
        sink.layer(d, LayerEntries::default(), None);
    }
    let mut got = 0;
    for (i, r) in rx {
        let users: Vec<usize> = (0..which.len()).filter(|d| which[*d] == Some(i)).collect();
        let key = &resolved.layers[users[0]].key;
        let (ix, blob) = r.map_err(|e| layer_error(ctx, users[0], key, e))?;
        if verify {
            for d in &users {
                let diff_id = resolved.meta.layers[*d].diff_id.as_deref();
                check_layer(key, diff_id, &ix)
                    .map_err(|e| Error::new(ctx, format!("layer {d} ({key}): {e}")))?;
            }
        }
        let compressed = (ix.compression != Compression::None).then_some(blob);
        let (last, rest) = users.split_last().expect("every distinct layer has a user");
        for d in rest {
            sink.layer(*d, ix.entries.clone(), compressed);
        }
        sink.layer(*last, ix.entries, compressed);
        got += 1;
    }
    if got < distinct {
        return Err(Error::new(ctx, "reading stopped before every layer was indexed"));
    }
    Ok(())
}

fn layer_error(ctx: &str, diff_index: usize, key: &str, e: IndexError) -> Error {
    match e {
        IndexError::Cancelled => Error::cancelled(),
        e => Error::new(ctx, format!("layer {diff_index} ({key}): {e}")),
    }
}

// ------------------------------------------------------------------------------- directories

/// Reads an OCI layout directory.
pub fn read_dir(
    dir: &Path,
    opts: &ReadOptions,
    progress: &Progress,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let ctx = dir.display().to_string();
    if !dir.join("oci-layout").is_file() && !dir.join("index.json").is_file() {
        return Err(Error::new(
            &ctx,
            "not an OCI layout directory (no oci-layout or index.json)",
        ));
    }
    let mut store = DirStore {
        root: dir.to_path_buf(),
    };
    let mut resolved =
        resolve_checked(&mut store, opts.platform.as_ref(), opts.verify).map_err(|e| Error::new(&ctx, e))?;
    resolved.meta.format = "OCI layout directory".into();
    let mut keys: Vec<String> = Vec::new();
    let mut which = Vec::new();
    for l in &resolved.layers {
        if l.absent {
            which.push(None);
            continue;
        }
        let i = keys.iter().position(|k| *k == l.key).unwrap_or_else(|| {
            keys.push(l.key.clone());
            keys.len() - 1
        });
        which.push(Some(i));
    }
    for k in &keys {
        if !dir.join(k).is_file() {
            return Err(Error::new(
                &ctx,
                format!("index.json points at layer {k} but the directory has no such file"),
            ));
        }
    }
    index_parallel(&ctx, &resolved, &which, keys.len(), opts, sink, |i, claimed| {
        let f = File::open(dir.join(&keys[i]))?;
        let size = f.metadata()?.len();
        index::index_seekable(Window::new(&f, 0, size), claimed, opts.limits, progress).map(|ix| (ix, size))
    })
}

struct DirStore {
    root: PathBuf,
}

impl MetaStore for DirStore {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let p = self.root.join(key);
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            return Ok(None);
        };
        if !md.is_file() {
            return Ok(None);
        }
        if md.len() > META_MAX {
            return Err(format!("{key} is {} bytes, too large for metadata", md.len()));
        }
        std::fs::read(&p).map(Some).map_err(|e| format!("{key}: {e}"))
    }
    fn has(&mut self, key: &str) -> bool {
        self.root.join(key).is_file()
    }
}

// ----------------------------------------------------------------------------------- streams

/// Reads a stream of bytes as a chunked `Read` (the worker side of a stream-fed layer). Read
/// chunks go back to the walker through `spent`, to be filled again.
struct ChunkReader {
    rx: Receiver<Vec<u8>>,
    spent: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(c) => {
                    let done = std::mem::replace(&mut self.cur, c);
                    if done.capacity() >= CHUNK {
                        let _ = self.spent.try_send(done);
                    }
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A blob to index: its archive path, size, its chunks, and where read chunks go back.
type Job = (String, u64, Receiver<Vec<u8>>, Sender<Vec<u8>>);
type Outcome = Result<(Indexed, u64), IndexError>;
type Results = HashMap<String, (Result<Indexed, IndexError>, u64)>;
type Done = (String, u64, Result<Indexed, IndexError>);

/// Reads an image archive from a stream, once. `ctx` names the stream in errors.
pub fn read_stream(
    ctx: &str,
    input: &mut dyn Read,
    opts: &ReadOptions,
    progress: &Progress,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    read_stream_announced(ctx, input, opts, progress, sink, None)
}

/// [`read_stream`] for a caller that knows the image before its bytes arrive (the Engine API's
/// inspect and history). `announced` goes to the sink at once, so views can show the steps
/// while the stream is still coming; its `format` is the prefix of the final one, its notes are
/// kept. At the end the stream's own resolution must list the same layers (else an error: the
/// image changed between inspect and export), and when it says anything more exactly (history
/// flags, digests, format) the sink gets the corrected meta, still before any layer.
pub fn read_stream_announced(
    ctx: &str,
    input: &mut dyn Read,
    opts: &ReadOptions,
    progress: &Progress,
    sink: &mut dyn Sink,
    announced: Option<&ImageMeta>,
) -> Result<(), Error> {
    if let Some(a) = announced {
        sink.meta(a);
    }
    let mut meta = MetaFiles::default();
    let mut links: HashMap<String, String> = HashMap::new();
    let workers = opts.workers(usize::MAX);
    let (job_tx, job_rx) = bounded::<Job>(0);
    let (done_tx, done_rx) = bounded::<Done>(1024);
    let results: Result<Results, Error> = std::thread::scope(|s| {
        for _ in 0..workers {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            s.spawn(move || {
                for (key, size, rx, spent) in job_rx {
                    let r = ChunkReader {
                        rx,
                        spent,
                        cur: Vec::new(),
                        pos: 0,
                    };
                    let out = index::index_stream(r, None, opts.limits, progress);
                    if out.is_ok() {
                        count_indexed(progress);
                    }
                    if done_tx.send((key, size, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let walked = walk_stream(ctx, input, progress, &job_tx, &mut meta, &mut links);
        drop(job_tx);
        let mut results = HashMap::new();
        for (key, size, r) in done_rx {
            results.insert(key, (r, size));
        }
        walked.map(|()| results)
    });
    let mut results = results?;
    if meta.files.is_empty() && meta.dropped.is_empty() && results.is_empty() {
        return Err(Error::new(ctx, "the stream is empty or not a tar archive"));
    }
    let compressed = results
        .values()
        .any(|(r, _)| r.as_ref().is_ok_and(|i| i.compression != Compression::None));
    let mut store = StreamStore {
        meta: &meta,
        results: &results,
        links: &links,
    };
    let mut resolved =
        resolve_checked(&mut store, opts.platform.as_ref(), opts.verify).map_err(|e| Error::new(ctx, e))?;
    resolved.meta.format = describe(&meta.files, compressed);
    match announced {
        None => sink.meta(&resolved.meta),
        Some(a) => {
            check_announced(a, &resolved.meta).map_err(|e| Error::new(ctx, e))?;
            resolved.meta.format = format!("{}, {}", a.format, resolved.meta.format);
            let mut notes = a.notes.clone();
            notes.retain(|n| !resolved.meta.notes.contains(n));
            notes.append(&mut resolved.meta.notes);
            resolved.meta.notes = notes;
            resolved.meta.name = a.name.clone();
            if resolved.meta != *a {
                sink.meta(&resolved.meta);
            }
        }
    }
    // Follow symlinks (legacy saves store a repeated layer as a link to the first copy).
    let keys: Vec<String> = resolved
        .layers
        .iter()
        .map(|l| {
            let mut key = l.key.clone();
            for _ in 0..8 {
                match links.get(&key) {
                    Some(t) => key = t.clone(),
                    None => break,
                }
            }
            key
        })
        .collect();
    for (d, l) in resolved.layers.iter().enumerate() {
        if l.absent {
            sink.layer(d, LayerEntries::default(), None);
            continue;
        }
        let key = &keys[d];
        // A layer used twice is handed out twice; the last use takes it.
        let last_use = !keys[d + 1..].contains(key);
        let (r, size) = if last_use {
            results.remove(key)
        } else {
            results.get(key).map(|(r, s)| (clone_result(r), *s))
        }
        .ok_or_else(|| {
            Error::new(
                ctx,
                format!(
                    "the manifest points at layer {} but the archive has no such file",
                    l.key
                ),
            )
        })?;
        let mut ix = r.map_err(|e| layer_error(ctx, d, &l.key, e))?;
        if opts.verify {
            let diff_id = resolved.meta.layers[d].diff_id.as_deref();
            check_layer(&l.key, diff_id, &ix)
                .map_err(|e| Error::new(ctx, format!("layer {d} ({}): {e}", l.key)))?;
        }
        // Blobs were indexed before the manifest said what they claim to be.
        ix.entries
            .notes
            .extend(index::media_type_note(l.claimed, ix.compression));
        let compressed = (ix.compression != Compression::None).then_some(size);
        sink.layer(d, ix.entries, compressed);
    }
    Ok(())
}

/// While a stream is read, `layers_done` counts blobs indexed (capped at the image's layer
/// count once that is known); delivery to the sink brings it to the exact count at the end.
fn count_indexed(progress: &Progress) {
    let total = progress.layers_total.load(Ordering::Relaxed);
    let _ = progress
        .layers_done
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
            (total == 0 || d < total).then_some(d + 1)
        });
}

/// The stream must hold the image that was announced: same layers, bottom to top.
fn check_announced(announced: &ImageMeta, got: &ImageMeta) -> Result<(), String> {
    let ids = |m: &ImageMeta| -> Vec<Option<String>> { m.layers.iter().map(|l| l.diff_id.clone()).collect() };
    let (want, have) = (ids(announced), ids(got));
    if announced.layers.is_empty() || want == have {
        return Ok(());
    }
    Err(format!(
        "the stream's image is not the one announced: its {} layer(s) are not the {} the daemon reported on inspect (did the tag move while dsize read it? run again)",
        have.len(),
        want.len()
    ))
}

fn clone_result(r: &Result<Indexed, IndexError>) -> Result<Indexed, IndexError> {
    match r {
        Ok(i) => Ok(Indexed {
            entries: i.entries.clone(),
            compression: i.compression,
            blob_digest: i.blob_digest.clone(),
            tar_digest: i.tar_digest.clone(),
        }),
        Err(e) => Err(IndexError::Io(io::Error::other(e.to_string()))),
    }
}

/// The reader side of [`read_stream`]: one pass over the outer tar.
fn walk_stream(
    ctx: &str,
    input: &mut dyn Read,
    progress: &Progress,
    jobs: &Sender<Job>,
    meta: &mut MetaFiles,
    links: &mut HashMap<String, String>,
) -> Result<(), Error> {
    let (guarded, watch) = index::guard::guard(index::guard::Stream(input));
    let mut archive = tar::Archive::new(guarded);
    let mut entries = archive
        .entries_with_seek()
        .map_err(|e| Error::new(ctx, format!("not a tar archive: {e}")))?;
    // Chunks the workers have read come back here to be filled again: no allocation, zeroing
    // and page faults per chunk (a 3 GB stream is 12,000 chunks).
    let (spent_tx, spent_rx) = bounded::<Vec<u8>>(2 * QUEUE);
    while let Some(entry) = watch.next(&mut entries) {
        if progress.cancel.load(Ordering::Relaxed) {
            return Err(Error::cancelled());
        }
        let mut entry =
            entry.map_err(|e| Error::new(ctx, format!("corrupt tar archive: {}", watch.explain(&e))))?;
        let name = member_name(&entry.path_bytes());
        let et = entry.header().entry_type();
        if et.is_symlink() || et.is_hard_link() {
            let t = member_link(
                &name,
                et.is_symlink(),
                &entry.link_name_bytes().unwrap_or_default(),
            );
            links.insert(name, t);
            continue;
        }
        if !et.is_file() {
            continue;
        }
        let size = entry.size();
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut entry)
            .take(SNIFF_LEN as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::new(ctx, stream_error(&name, e)))?;
        let magic = index::sniff(&head);
        if size <= META_MAX && (is_meta_name(&name) || magic == Magic::Json) {
            if meta.admit(&name, size) {
                let mut body = head;
                entry
                    .read_to_end(&mut body)
                    .map_err(|e| Error::new(ctx, stream_error(&name, e)))?;
                meta.files.insert(name, body);
            }
            continue;
        }
        if !matches!(magic, Magic::Layer(_) | Magic::Empty) {
            continue; // unknown blob: skipped; resolution reports it if the image needs it
        }
        let (tx, rx) = bounded::<Vec<u8>>(QUEUE);
        if jobs.send((name.clone(), size, rx, spent_tx.clone())).is_err() {
            return Err(Error::new(ctx, "indexing workers stopped"));
        }
        let _ = tx.send(head);
        loop {
            let mut chunk = spent_rx.try_recv().unwrap_or_default();
            chunk.resize(CHUNK, 0);
            let n = read_full(&mut entry, &mut chunk).map_err(|e| Error::new(ctx, stream_error(&name, e)))?;
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            if tx.send(chunk).is_err() {
                // The worker gave up (its error is reported); drain the body to stay in sync.
                io::copy(&mut entry, &mut io::sink()).map_err(|e| Error::new(ctx, stream_error(&name, e)))?;
                break;
            }
        }
    }
    Ok(())
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn stream_error(what: &str, e: io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        format!("{what}: the stream ended early (truncated archive or the sender closed it mid-export)")
    } else {
        format!("{what}: {e}")
    }
}

struct StreamStore<'a> {
    meta: &'a MetaFiles,
    results: &'a Results,
    links: &'a HashMap<String, String>,
}

impl MetaStore for StreamStore<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        if self.meta.dropped.contains(key) {
            return Err(format!(
                "{key} was not kept: the stream holds more than {} MiB of JSON files before it; \
                 read the archive from a file instead",
                META_TOTAL >> 20
            ));
        }
        Ok(self.meta.files.get(key).cloned())
    }
    fn has(&mut self, key: &str) -> bool {
        self.meta.files.contains_key(key)
            || self.meta.dropped.contains(key)
            || self.results.contains_key(key)
            || self.links.contains_key(key)
    }
}
