//! The layer tar walker: reads each 512-byte header straight out of a buffered input and moves
//! past file bodies without reading them (a seek on files, a skip through the decoder's buffer on
//! streams). It understands ustar and GNU headers, GNU long names and links, PAX records (`path`,
//! `linkpath`, `size`, `uid`, `gid`, `GNU.sparse.name`), GNU sparse headers and base-256 numbers.
//!
//! Hostile input stays bounded: one entry's headers (its own, long names, PAX records, sparse
//! maps) may take at most [`MAX_HEADER_BYTES`]; every byte passed, bodies included, counts towards
//! [`Limits::max_layer_bytes`](super::Limits), and a stream stops before skipping past it. Errors
//! say what is wrong and at which byte of the tar.

use super::IndexError;
use super::fields::{numeric, octal};
use super::guard::{DecodeError, HeadersTooLarge, MAX_HEADER_BYTES};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, Read};

const BLOCK: usize = 512;

/// Where the walker reads from: buffered bytes, and a way past a body.
pub trait Input {
    /// The bytes buffered at the current position; empty at the end of the input.
    fn fill_buf(&mut self) -> io::Result<&[u8]>;
    /// Marks `n` buffered bytes as read.
    fn consume(&mut self, n: usize);
    /// Moves `n` bytes forward; an input that ends first is truncated (an error).
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

impl<R: Read> Input for BufReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            match BufRead::fill_buf(self) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        Ok(self.buffer())
    }
    fn consume(&mut self, n: usize) {
        BufRead::consume(self, n);
    }
    fn skip(&mut self, n: u64) -> io::Result<()> {
        super::guard::consume(self, n)
    }
}

/// One tar stream being walked: the input, the offset reached, the byte limit and the optional
/// hash of every byte (for `--verify`).
pub struct Walker<I> {
    input: I,
    pos: u64,
    limit: u64,
    hash: Option<Sha256>,
}

/// What the entry a header describes is, before whiteouts are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    File,
    Dir,
    Symlink,
    HardLink,
    Special,
}

/// One entry, as its headers say. Borrowed from the walker's buffers until the next call.
#[derive(Debug)]
pub struct Header<'a> {
    pub kind: Type,
    /// The raw path: GNU long name, PAX `GNU.sparse.name` or `path`, or the header's own.
    pub path: &'a [u8],
    /// The raw link target (symlinks and hard links), else empty.
    pub link: &'a [u8],
    /// Stored bytes of the body (for regular files: the file size).
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Headers that describe the next entry: GNU long name and link, PAX records.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
    /// Header bytes read for the entry so far.
    used: u64,
}

impl Pending {
    fn any(&self) -> bool {
        self.long_name.is_some() || self.long_link.is_some() || self.pax.is_some()
    }
}

/// Buffers the walker reuses from entry to entry.
#[derive(Default)]
pub struct Scratch {
    header: Vec<u8>,
    pending: Pending,
    path: Vec<u8>,
}

impl<I: Input> Walker<I> {
    pub fn new(input: I, limit: u64, hash: bool) -> Self {
        Walker {
            input,
            pos: 0,
            limit,
            hash: hash.then(Sha256::new),
        }
    }

    /// Bytes of tar passed so far.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// The next entry, or `None` at the end of the archive (end blocks, or the input ending
    /// cleanly between entries). Its body is skipped before this returns.
    pub fn next<'s>(&mut self, s: &'s mut Scratch) -> Result<Option<Header<'s>>, IndexError> {
        s.pending = Pending::default();
        s.header.resize(BLOCK, 0);
        loop {
            let at = self.pos;
            let got = self.read_into(&mut s.header)?;
            if got > 0 && got < BLOCK {
                return Err(self.short_header());
            }
            if got == 0 || s.header.iter().all(|b| *b == 0) {
                if s.pending.any() {
                    return Err(IndexError::Corrupt(format!(
                        "truncated: the data ends after a GNU long name or PAX header (at byte {})",
                        self.pos
                    )));
                }
                return Ok(None);
            }
            let h: &[u8; BLOCK] = s.header[..].try_into().expect("one block");
            if !checksum_ok(h) {
                return Err(IndexError::Corrupt(format!(
                    "bad tar header checksum (the header at byte {at})"
                )));
            }
            self.spend(&mut s.pending, BLOCK as u64)?;
            let out_of_range = || {
                IndexError::Corrupt(format!(
                    "a tar header's size is out of range (the header at byte {at})"
                ))
            };
            let typ = h[156];
            let pax_size = Pax(s.pending.pax.as_deref().unwrap_or(&[]))
                .get(b"size")
                .and_then(decimal);
            // PAX `size` overrides the header's, for the entry the records describe.
            let size = match pax_size {
                Some(n) if !matches!(typ, b'L' | b'K' | b'x' | b'g') => n,
                _ => numeric(&h[124..136]).ok_or_else(|| {
                    IndexError::Corrupt(format!(
                        "a tar header's size field is not a number (the header at byte {at})"
                    ))
                })?,
            };
            let padded = size
                .checked_add(BLOCK as u64 - 1)
                .map(|n| n & !(BLOCK as u64 - 1))
                .ok_or_else(out_of_range)?;
            match typ {
                b'L' | b'K' | b'x' => {
                    let body = self.extension(&mut s.pending, size, padded)?;
                    let slot = match typ {
                        b'L' => &mut s.pending.long_name,
                        b'K' => &mut s.pending.long_link,
                        _ => &mut s.pending.pax,
                    };
                    // A later one replaces an earlier one, as Go's archive/tar (Docker's) reads them.
                    *slot = Some(body);
                    continue;
                }
                // Global PAX records describe no entry dsize keeps. Like an entry, they use up
                // what was pending (as in Go's archive/tar and the tar crate).
                b'g' => {
                    self.skip(padded)?;
                    s.pending = Pending::default();
                    continue;
                }
                _ => {}
            }
            let kind = match typ {
                b'5' => Type::Dir,
                b'2' => Type::Symlink,
                b'1' => Type::HardLink,
                b'3' | b'4' | b'6' => Type::Special,
                // Regular, contiguous, GNU sparse and unknown type flags (read as regular files,
                // as POSIX says): their bytes are stored.
                _ => Type::File,
            };
            if typ == b'S' && h[482] != 0 {
                // GNU sparse: the map goes on in extension blocks, each ending in a "more" flag.
                let mut block = [0u8; BLOCK];
                loop {
                    self.spend(&mut s.pending, BLOCK as u64)?;
                    if self.read_into(&mut block)? < BLOCK {
                        return Err(self.short_header());
                    }
                    if block[504] == 0 {
                        break;
                    }
                }
            }
            // Links, devices, directories and FIFOs have no body, whatever their size field says:
            // Go's archive/tar (Docker's applier, dive) reads the next header right after them.
            self.skip(if matches!(kind, Type::File) { padded } else { 0 })?;
            let Scratch {
                header,
                pending,
                path,
            } = s;
            let h: &[u8; BLOCK] = header[..].try_into().expect("one block");
            let ustar = &h[257..263] == b"ustar\0" && &h[263..265] == b"00";
            let regular = matches!(typ, b'0' | 0);
            let pax = Pax(pending.pax.as_deref().unwrap_or(&[]));
            let path: &[u8] = match (&pending.long_name, pax.get(b"GNU.sparse.name")) {
                (_, Some(sparse)) if regular => sparse,
                (Some(long), _) => until_nul(long),
                (None, _) => match pax.get(b"path") {
                    Some(p) => p,
                    None if ustar && h[345] != 0 => {
                        path.clear();
                        path.extend_from_slice(until_nul(&h[345..500]));
                        path.push(b'/');
                        path.extend_from_slice(until_nul(&h[..100]));
                        path
                    }
                    None => until_nul(&h[..100]),
                },
            };
            let link: &[u8] = match kind {
                Type::Symlink | Type::HardLink => match (&pending.long_link, pax.get(b"linkpath")) {
                    (Some(long), _) => until_nul(long),
                    (None, Some(l)) => l,
                    (None, None) => until_nul(&h[157..257]),
                },
                _ => &[],
            };
            let id = |key: &[u8], field: &[u8]| {
                match pax.get(key) {
                    Some(v) => decimal(v),
                    None => numeric(field),
                }
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(u32::MAX)
            };
            let header = Header {
                kind,
                path,
                link,
                size,
                mode: octal(&h[100..108]).map_or(0, |m| m as u32),
                uid: id(b"uid", &h[108..116]),
                gid: id(b"gid", &h[116..124]),
            };
            return Ok(Some(header));
        }
    }

    /// After the end blocks: with a hash, reads the rest too (it is part of the diff_id), and
    /// returns the digest of every byte.
    pub fn finish(mut self) -> Result<(u64, Option<[u8; 32]>), IndexError> {
        if self.hash.is_some() {
            self.hash_through(u64::MAX, false)?;
        }
        Ok((self.pos, self.hash.map(|h| h.finalize().into())))
    }

    /// Counts header bytes against the entry's budget.
    fn spend(&self, p: &mut Pending, n: u64) -> Result<(), IndexError> {
        p.used += n;
        // Room for the entry's own header and a sparse header beside the extensions.
        if p.used > MAX_HEADER_BYTES + 2 * BLOCK as u64 {
            return Err(IndexError::Corrupt(HeadersTooLarge { at: self.pos }.to_string()));
        }
        Ok(())
    }

    /// Reads a long name, long link or PAX body (within the entry's header budget).
    fn extension(&mut self, p: &mut Pending, size: u64, padded: u64) -> Result<Vec<u8>, IndexError> {
        self.spend(p, size)?;
        let mut body = vec![0; size as usize];
        if (self.read_into(&mut body)? as u64) < size {
            return Err(IndexError::Corrupt(format!(
                "truncated: the data ends inside a GNU long name or PAX header (at byte {})",
                self.pos
            )));
        }
        self.skip(padded - size)?;
        Ok(body)
    }

    fn short_header(&self) -> IndexError {
        IndexError::Corrupt(format!(
            "truncated: the data ends inside a tar header (at byte {})",
            self.pos
        ))
    }

    /// Fills `out` as far as the input goes; returns how much it got.
    fn read_into(&mut self, out: &mut [u8]) -> Result<usize, IndexError> {
        let mut got = 0;
        while got < out.len() {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) => return Err(error(e, self.pos + got as u64)),
            };
            if buf.is_empty() {
                break;
            }
            let n = buf.len().min(out.len() - got);
            out[got..got + n].copy_from_slice(&buf[..n]);
            if let Some(h) = &mut self.hash {
                h.update(&buf[..n]);
            }
            self.input.consume(n);
            got += n;
        }
        self.advance(got as u64)?;
        Ok(got)
    }

    /// Moves past `n` bytes of body: seeks or skips, or reads them through the hash.
    fn skip(&mut self, n: u64) -> Result<(), IndexError> {
        if n == 0 {
            return Ok(());
        }
        let end = self.pos.saturating_add(n);
        if self.hash.is_some() {
            if self.hash_through(n, true)? < n {
                return Err(error(super::guard::truncated(), self.pos));
            }
            return Ok(());
        }
        // Stop before moving past the limit: a stream would inflate a bomb for nothing, and a
        // file says the same as a stream would.
        if end > self.limit {
            return Err(IndexError::TooLarge(self.limit));
        }
        self.input.skip(n).map_err(|e| error(e, self.pos))?;
        self.advance(n)
    }

    /// Reads up to `n` bytes through the hash (stopping at the end of the input) and returns how
    /// many it passed; `limited` checks the byte limit chunk by chunk.
    fn hash_through(&mut self, n: u64, limited: bool) -> Result<u64, IndexError> {
        let mut passed = 0;
        while passed < n {
            let buf = self.input.fill_buf().map_err(|e| error(e, self.pos))?;
            if buf.is_empty() {
                break;
            }
            let k = buf.len().min(usize::try_from(n - passed).unwrap_or(usize::MAX));
            if let Some(h) = &mut self.hash {
                h.update(&buf[..k]);
            }
            self.input.consume(k);
            passed += k as u64;
            if limited {
                self.advance(k as u64)?;
            } else {
                self.pos = self.pos.saturating_add(k as u64);
            }
        }
        Ok(passed)
    }

    fn advance(&mut self, n: u64) -> Result<(), IndexError> {
        self.pos = self.pos.saturating_add(n);
        if self.pos > self.limit {
            return Err(IndexError::TooLarge(self.limit));
        }
        Ok(())
    }
}

/// Says what an input error means, and where.
fn error(e: io::Error, at: u64) -> IndexError {
    if let Some(d) = e.get_ref().and_then(|i| i.downcast_ref::<DecodeError>()) {
        return IndexError::Corrupt(if at == 0 {
            d.to_string()
        } else {
            format!("{d}, after {at} bytes of tar")
        });
    }
    IndexError::Corrupt(format!("{e}, at byte {at}"))
}

/// The header checksum: the bytes summed with the checksum field read as spaces.
fn checksum_ok(h: &[u8; BLOCK]) -> bool {
    // One pass over the whole block, then the field swapped for spaces. Summing 128-byte runs in
    // 16 bits (at most 128 × 255 each) vectorises twice as wide as summing in 32 bits.
    let all: u32 = h
        .chunks_exact(128)
        .map(|c| u32::from(c.iter().fold(0u16, |s, b| s + u16::from(*b))))
        .sum();
    let field: u32 = h[148..156].iter().map(|b| u32::from(*b)).sum();
    let sum = all - field + 8 * 32;
    octal(&h[148..156]).is_some_and(|want| want == u64::from(sum))
}

/// A field up to its first NUL.
fn until_nul(b: &[u8]) -> &[u8] {
    memchr::memchr(0, b).map_or(b, |i| &b[..i])
}

/// A PAX number (decimal text).
fn decimal(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// PAX records: `LEN KEY=VALUE\n`, LEN counting the whole record.
#[derive(Clone, Copy)]
struct Pax<'a>(&'a [u8]);

impl<'a> Pax<'a> {
    /// The last value of `key` (later records win); parsing stops at the first malformed record.
    #[inline]
    fn get(&self, key: &[u8]) -> Option<&'a [u8]> {
        // Most entries have no PAX records: six lookups per header cost nothing then.
        if self.0.is_empty() {
            return None;
        }
        self.find(key)
    }

    fn find(&self, key: &[u8]) -> Option<&'a [u8]> {
        let mut rest = self.0;
        let mut found = None;
        while !rest.is_empty() {
            let Some(sp) = rest.iter().position(|b| *b == b' ') else {
                break;
            };
            let Some(len) = decimal(&rest[..sp]).and_then(|n| usize::try_from(n).ok()) else {
                break;
            };
            if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
                break;
            }
            let record = &rest[sp + 1..len - 1];
            if let Some(eq) = record.iter().position(|b| *b == b'=')
                && &record[..eq] == key
            {
                found = Some(&record[eq + 1..]);
            }
            rest = &rest[len..];
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records() {
        let p = Pax(b"12 path=abc\n17 uid=123456789\n12 path=xyz\n");
        assert_eq!(p.get(b"path"), Some(&b"xyz"[..]));
        assert_eq!(p.get(b"uid").and_then(decimal), Some(123_456_789));
        assert_eq!(p.get(b"gid"), None);
        // A value may hold newlines and `=`; a bad length ends the parse.
        let p = Pax(b"14 path=a\nb=c\n9 bad=x\n");
        assert_eq!(p.get(b"path"), Some(&b"a\nb=c"[..]));
        assert_eq!(Pax(b"99 path=a\n").get(b"path"), None);
    }
}
