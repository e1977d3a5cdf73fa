//! One layer's entries as the indexer found them: the merge's input.
//!
//! Paths are normalised (no leading `/`, no `.` or empty components, `..` resolved lexically and
//! clamped at the root) and stored back to back in one byte buffer, so an entry costs no heap
//! allocation of its own. Whiteouts and opaque markers are already recognised here.

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
        let path = self.store(path)?;
        let link = self.store(link)?;
        if kind == EntryKind::File {
            self.regular_bytes += size;
        }
        self.entries.push(Entry {
            kind,
            path,
            link,
            size,
            mode,
            uid,
            gid,
        });
        Some(())
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
    for i in memchr::memchr_iter(b'/', p) {
        if bad(&p[start..i]) {
            return false;
        }
        start = i + 1;
    }
    !bad(&p[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

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
