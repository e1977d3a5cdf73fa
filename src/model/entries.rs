//! One layer's entries as the indexer found them: the merge's input.
//!
//! Paths are normalised (no leading `/`, no `.` or empty components, `..` resolved lexically and
//! clamped at the root) and stored back to back in one byte buffer, so an entry costs no heap
//! allocation of its own. Whiteouts and opaque markers are already recognised here.

use super::child_table::{ROOT_KEY, child_key, path_key};

/// What a tar entry means for the merged filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (its bytes count towards the layer size).
    File,
    /// A directory.
    Dir,
    /// A symbolic link; `link` holds the target.
    Symlink,
    /// A hard link (typeflag `1`); `link` holds the normalised path of the entry it points at.
    HardLink,
    /// A device, FIFO or other special file (0 bytes).
    Special,
    /// `.wh.NAME`: deletes `path` from lower layers.
    Whiteout,
    /// `DIR/.wh..wh..opq`: hides every lower child of the directory `path`.
    Opaque,
}

/// A byte range in [`LayerEntries::strings`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub off: u32,
    pub len: u32,
}

/// One tar entry, after whiteout recognition and path normalisation.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub kind: EntryKind,
    pub path: Span,
    /// How many bytes of `path` are its parent's (0 for a path at the root), and the path's key
    /// in the tree's child table: both worked out here, on the indexing thread.
    pub(crate) parent_len: u32,
    pub(crate) key: u32,
    pub link: Span,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Everything the merge needs from one layer. Grows with the number of entries, never with bytes.
#[derive(Debug, Default, Clone)]
pub struct LayerEntries {
    pub entries: Vec<Entry>,
    pub strings: Vec<u8>,
    /// Bytes of regular files in the tar (hard links add 0): the layer size.
    pub regular_bytes: u64,
    /// Length of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// Things worth telling the user (ignored AUFS metadata, invalid names, ...).
    pub notes: Vec<String>,
    /// The parent of the last path pushed and its key: entries come directory by directory.
    last_parent: (Span, u32),
}

impl LayerEntries {
    /// The bytes of a span.
    pub fn bytes(&self, span: Span) -> &[u8] {
        &self.strings[span.off as usize..span.off as usize + span.len as usize]
    }

    /// Stores `bytes` and returns its span, or `None` past 4 GiB of names in one layer.
    pub fn store(&mut self, bytes: &[u8]) -> Option<Span> {
        let off = u32::try_from(self.strings.len()).ok()?;
        let len = u32::try_from(bytes.len()).ok()?;
        off.checked_add(len)?;
        self.strings.extend_from_slice(bytes);
        Some(Span { off, len })
    }

    /// Adds an entry whose path (and link) are given as already normalised bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        kind: EntryKind,
        path: &[u8],
        link: &[u8],
        size: u64,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Option<()> {
        let parent_len = memchr::memrchr(b'/', path).unwrap_or(0);
        let (key, new_parent_key) = self.key_of(path, parent_len);
        let path = self.store(path)?;
        // Fits: the whole path's length does.
        let parent_len = parent_len as u32;
        if let Some(parent_key) = new_parent_key {
            // The parent's bytes are the start of this path's.
            let span = Span {
                off: path.off,
                len: parent_len,
            };
            self.last_parent = (span, parent_key);
        }
        let link = self.store(link)?;
        if kind == EntryKind::File {
            self.regular_bytes += size;
        }
        self.entries.push(Entry {
            kind,
            path,
            parent_len,
            key,
            link,
            size,
            mode,
            uid,
            gid,
        });
        Some(())
    }

    /// [`path_key`] of a normalised path whose parent is its first `parent_len` bytes (0: at the
    /// root), reusing the key of the last path's parent when it is this one's too. Also gives
    /// the parent's key when it was worked out anew.
    fn key_of(&self, path: &[u8], parent_len: usize) -> (u32, Option<u32>) {
        if parent_len == 0 {
            let key = if path.is_empty() {
                ROOT_KEY
            } else {
                child_key(ROOT_KEY, path)
            };
            return (key, None);
        }
        let (parent, name) = (&path[..parent_len], &path[parent_len + 1..]);
        let (span, key) = self.last_parent;
        if self.bytes(span) == parent {
            return (child_key(key, name), None);
        }
        let key = path_key(parent);
        (child_key(key, name), Some(key))
    }
}

/// Normalises a tar path: strips `./` and `/` prefixes, drops empty and `.` components, resolves
/// `..` lexically (never above the root) and writes the result joined by `/` into `out`.
/// Returns true when the path had to be clamped at the root (a `..` that would escape).
pub fn normalize_path(raw: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    // Almost every tar path is already clean but for a leading `./` or `/` and a trailing `/`:
    // copy it in one go.
    let trimmed = raw.strip_prefix(b"./").unwrap_or(raw);
    let trimmed = trimmed.strip_prefix(b"/").unwrap_or(trimmed);
    let trimmed = trimmed.strip_suffix(b"/").unwrap_or(trimmed);
    if is_clean(trimmed) {
        out.extend_from_slice(trimmed);
        return false;
    }
    normalize_walk(raw, out)
}

/// The general case of [`normalize_path`]: component by component.
fn normalize_walk(raw: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut escaped = false;
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => match out.iter().rposition(|b| *b == b'/') {
                Some(i) => out.truncate(i),
                None if out.is_empty() => escaped = true,
                None => out.clear(),
            },
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    escaped
}

/// True when no component is empty, `.` or `..` (and so the path is its own normal form).
fn is_clean(p: &[u8]) -> bool {
    if p.is_empty() {
        return true;
    }
    // Each component starts at 0 or after a `/`; a bad one is "", "." or "..".
    let bad = |c: &[u8]| c.is_empty() || c == b"." || c == b"..";
    let mut start = 0;
    for i in slashes(p) {
        if bad(&p[start..i]) {
            return false;
        }
        start = i + 1;
    }
    !bad(&p[start..])
}

/// The positions of `/` in `p`, in order. Found eight bytes at a time: path components are short,
/// and a vector search per component costs more in setting up than it saves.
pub fn slashes(p: &[u8]) -> Slashes<'_> {
    Slashes {
        p,
        next: 0,
        base: 0,
        mask: 0,
    }
}

/// The iterator of [`slashes`].
pub struct Slashes<'a> {
    p: &'a [u8],
    /// Where the next word starts.
    next: usize,
    /// Where the current word starts, and its slashes not yet returned (0x80 in each such byte).
    base: usize,
    mask: u64,
}

impl Iterator for Slashes<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        while self.mask == 0 {
            let rest = self.p.get(self.next..).filter(|r| !r.is_empty())?;
            let word = match rest.first_chunk::<8>() {
                Some(w) => *w,
                None => {
                    let mut w = [0u8; 8];
                    w[..rest.len()].copy_from_slice(rest);
                    w
                }
            };
            // A byte of x is 0 exactly where the word has a `/`; set bit 7 of every other byte
            // (its low seven bits are nonzero, or its top bit is), then keep the others' bit 7.
            let x = u64::from_le_bytes(word) ^ 0x2f2f_2f2f_2f2f_2f2f;
            self.mask = !(((x & LOW7) + LOW7) | x | LOW7);
            self.base = self.next;
            self.next += 8;
        }
        let i = self.base + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_carries_its_parent_and_path_key() {
        let mut l = LayerEntries::default();
        // Runs of one directory, a return to an earlier one, a prefix that is not a parent
        // (`a/b` after `a/bc`), the root and root-level names.
        let paths: [&[u8]; 12] = [
            b"",
            b"a",
            b"a/bc",
            b"a/bc/f",
            b"a/bc/g",
            b"a/b",
            b"a/b/f",
            b"a/bc/h",
            b"x",
            b"a/b/f/d/e",
            b"a/b/f/d/e2",
            b"\xff/\x1b",
        ];
        for p in paths {
            l.push(EntryKind::File, p, b"", 0, 0, 0, 0).unwrap();
        }
        for e in &l.entries {
            let p = l.bytes(e.path);
            assert_eq!(e.key, path_key(p), "{p:?}");
            let parent = memchr::memrchr(b'/', p).unwrap_or(0);
            assert_eq!(e.parent_len as usize, parent, "{p:?}");
        }
    }

    fn norm(s: &str) -> (String, bool) {
        let mut out = Vec::new();
        let esc = normalize_path(s.as_bytes(), &mut out);
        (String::from_utf8(out).unwrap(), esc)
    }

    #[test]
    fn normalises_prefixes_slashes_dots() {
        assert_eq!(norm("./usr/bin/"), ("usr/bin".into(), false));
        assert_eq!(norm("/etc//passwd"), ("etc/passwd".into(), false));
        assert_eq!(norm("a/./b/../c"), ("a/c".into(), false));
        assert_eq!(norm("./"), ("".into(), false));
        assert_eq!(norm("../../etc/x"), ("etc/x".into(), true));
        assert_eq!(norm("a/../../b"), ("b".into(), true));
    }

    /// The fast path gives what the component walk gives, on every short path over `a . / ..`.
    #[test]
    fn fast_path_agrees_with_the_walk() {
        let alphabet: [&[u8]; 5] = [b"a", b"b.c", b"/", b".", b".."];
        let mut out = Vec::new();
        for n in 0..5u32 {
            for mut k in 0..5usize.pow(n) {
                let mut raw = Vec::new();
                for _ in 0..n {
                    raw.extend_from_slice(alphabet[k % 5]);
                    k /= 5;
                }
                let fast = (normalize_path(&raw, &mut out), out.clone());
                let walked = (normalize_walk(&raw, &mut out), out.clone());
                assert_eq!(fast, walked, "{:?}", String::from_utf8_lossy(&raw));
            }
        }
    }

    /// The word-at-a-time search finds the slashes a byte-by-byte search finds: on every string
    /// up to 12 bytes over `/`, a letter and `/` with its top bit set, and with every byte value
    /// at every position of a 17-byte path (two words and a tail).
    #[test]
    fn slashes_are_found_as_memchr_finds_them() {
        let check = |p: &[u8]| {
            let want: Vec<usize> = memchr::memchr_iter(b'/', p).collect();
            assert_eq!(slashes(p).collect::<Vec<_>>(), want, "{p:?}");
        };
        let alphabet = [b'/', b'a', b'/' | 0x80];
        for n in 0..=12u32 {
            for mut k in 0..3usize.pow(n) {
                let p: Vec<u8> = (0..n)
                    .map(|_| {
                        let b = alphabet[k % 3];
                        k /= 3;
                        b
                    })
                    .collect();
                check(&p);
            }
        }
        let base = *b"usr/lib/x/y.so.12";
        for at in 0..base.len() {
            for b in 0..=255u8 {
                let mut p = base;
                p[at] = b;
                check(&p);
            }
        }
    }

    #[test]
    fn push_counts_only_regular_bytes() {
        let mut l = LayerEntries::default();
        l.push(EntryKind::File, b"a", b"", 10, 0o644, 0, 0).unwrap();
        l.push(EntryKind::HardLink, b"b", b"a", 10, 0o644, 0, 0).unwrap();
        l.push(EntryKind::Dir, b"d", b"", 0, 0o755, 0, 0).unwrap();
        assert_eq!(l.regular_bytes, 10);
        assert_eq!(l.bytes(l.entries[1].link), b"a");
    }
}
