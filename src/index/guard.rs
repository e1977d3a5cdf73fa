//! Bounds on what the tar crate may do with hostile input, and clear words for its errors. The
//! crate walks an image archive's own (outer) tar; layers go through the `walker` module, which
//! keeps the same header budget and shares the error payloads defined here.
//!
//! The tar crate reads a GNU long name or link and a PAX extension body whole into memory before
//! it returns the entry they describe, and it walks GNU sparse maps header by header: a member
//! that claims 60 GB of long name would be read into one `Vec`. [`Guard`] sits between the crate
//! and the input and gives each call to `Entries::next` a budget of [`MAX_HEADER_BYTES`] read bytes.
//! Bodies are never counted: the crate is always given a "seekable" input and skips bodies by
//! seeking, which [`Forward`] turns into a real seek, or into reading and dropping for streams.
//!
//! The guard also knows the byte offset it reached, so errors say where the tar went wrong.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::rc::Rc;

/// Most bytes of headers one entry may have: its own header plus GNU long name and link, PAX
/// records and sparse map. A path is at most a few KiB; 1 MiB leaves room for large xattrs.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// An input the guard can move forward in.
pub trait Forward: Read {
    /// Skips `n` bytes; an input that ends first is truncated (an error).
    fn forward(&mut self, n: u64) -> io::Result<()>;
}

/// Reads and drops `n` bytes.
pub fn discard<R: Read + ?Sized>(r: &mut R, mut n: u64) -> io::Result<()> {
    let mut buf = [0u8; 16 << 10];
    while n > 0 {
        let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        match r.read(&mut buf[..want]) {
            Ok(0) => return Err(truncated()),
            Ok(k) => n -= k as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Skips `n` bytes of a buffered reader without copying them.
pub fn consume<R: BufRead + ?Sized>(r: &mut R, mut n: u64) -> io::Result<()> {
    while n > 0 {
        let have = match r.fill_buf() {
            Ok(b) => b.len(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if have == 0 {
            return Err(truncated());
        }
        let k = have.min(usize::try_from(n).unwrap_or(usize::MAX));
        r.consume(k);
        n -= k as u64;
    }
    Ok(())
}

/// The error for data that ends inside an entry.
pub fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "truncated: an entry's data runs past the end (or its size field is wrong)",
    )
}

/// A plain stream, moved forward by reading.
pub struct Stream<R>(pub R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Forward for Stream<R> {
    fn forward(&mut self, n: u64) -> io::Result<()> {
        discard(&mut self.0, n)
    }
}

/// A decompressor whose errors say which format failed ([`Watch::explain`] words them).
pub struct Decoded<R> {
    inner: R,
    what: &'static str,
}

impl<R> Decoded<R> {
    pub fn new(inner: R, what: &'static str) -> Self {
        Decoded { inner, what }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let kind = e.kind();
            io::Error::new(
                kind,
                DecodeError {
                    what: self.what,
                    message: e.to_string(),
                    truncated: kind == io::ErrorKind::UnexpectedEof,
                },
            )
        })
    }
}

/// Error payload of a failed decompression.
#[derive(Debug)]
pub struct DecodeError {
    pub what: &'static str,
    pub message: String,
    pub truncated: bool,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.truncated {
            write!(
                f,
                "the {} data ends early (truncated: {})",
                self.what, self.message
            )
        } else if self.message.contains("too much memory") {
            write!(
                f,
                "the {} frame asks for a window larger than dsize accepts ({})",
                self.what, self.message
            )
        } else {
            write!(f, "the {} data is corrupt ({})", self.what, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

#[derive(Debug)]
struct State {
    /// Bytes `read` may still return before failing (`u64::MAX`: no budget).
    left: Cell<u64>,
    /// Offset reached in the guarded input.
    pos: Cell<u64>,
}

/// Wraps the input of a `tar::Archive`; see the module doc.
pub struct Guard<R> {
    inner: R,
    state: Rc<State>,
}

/// The caller's handle on a [`Guard`] inside a `tar::Archive`.
#[derive(Debug, Clone)]
pub struct Watch(Rc<State>);

/// Guards `inner`; iterate with `archive.entries_with_seek()` and [`Watch::next`].
pub fn guard<R: Forward>(inner: R) -> (Guard<R>, Watch) {
    let state = Rc::new(State {
        left: Cell::new(u64::MAX),
        pos: Cell::new(0),
    });
    let watch = Watch(Rc::clone(&state));
    (Guard { inner, state }, watch)
}

impl<R> Guard<R> {
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Forward> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let s = &self.state;
        s.pos.set(s.pos.get() + n as u64);
        let left = s.left.get();
        if left != u64::MAX {
            if n as u64 > left {
                return Err(io::Error::other(HeadersTooLarge { at: s.pos.get() }));
            }
            s.left.set(left - n as u64);
        }
        Ok(n)
    }
}

impl<R: Forward> Seek for Guard<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = self.state.pos.get();
        let n = match to {
            SeekFrom::Current(d) => u64::try_from(d).ok(),
            SeekFrom::Start(p) => p.checked_sub(pos),
            SeekFrom::End(_) => None,
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "tar input only moves forward"))?;
        self.inner.forward(n)?;
        let end = pos + n;
        self.state.pos.set(end);
        Ok(end)
    }
}

impl Watch {
    /// The next entry, reading at most [`MAX_HEADER_BYTES`] of headers for it.
    pub fn next<T, I: Iterator<Item = io::Result<T>>>(&self, entries: &mut I) -> Option<io::Result<T>> {
        // Room for the entry's own header and a sparse header beside the extensions.
        self.0.left.set(MAX_HEADER_BYTES + 2048);
        let next = entries.next();
        self.0.left.set(u64::MAX);
        next
    }

    /// The offset reached in the guarded input.
    pub fn pos(&self) -> u64 {
        self.0.pos.get()
    }

    /// Says what the tar crate's error means, and where.
    pub fn explain(&self, e: &io::Error) -> String {
        let at = self.pos();
        let header = at.saturating_sub(512);
        if let Some(h) = e.get_ref().and_then(|i| i.downcast_ref::<HeadersTooLarge>()) {
            return h.to_string();
        }
        if let Some(d) = e.get_ref().and_then(|i| i.downcast_ref::<DecodeError>()) {
            return if at == 0 {
                d.to_string()
            } else {
                format!("{d}, after {at} bytes of tar")
            };
        }
        let msg = e.to_string();
        if msg == "archive header checksum mismatch" {
            format!("bad tar header checksum (the header at byte {header})")
        } else if msg == "failed to read entire block" || msg.starts_with("failed to read extension") {
            format!("truncated: the data ends inside a tar header (at byte {at})")
        } else if msg.starts_with("members found describing a future member") {
            format!("truncated: the data ends after a GNU long name or PAX header (at byte {at})")
        } else if msg == "size overflow" || msg == "seek position out of bounds" {
            format!("a tar header's size is out of range (the header at byte {header})")
        } else if e.kind() == io::ErrorKind::UnexpectedEof {
            format!("{msg}, at byte {at}")
        } else {
            format!("{msg} (the tar header at byte {header})")
        }
    }
}

/// Error payload when one entry's headers pass [`MAX_HEADER_BYTES`].
#[derive(Debug)]
pub struct HeadersTooLarge {
    pub at: u64,
}

impl fmt::Display for HeadersTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "one entry's tar headers (GNU long name or long link, PAX records, sparse map) pass {} MiB \
             at byte {}: not a genuine archive",
            MAX_HEADER_BYTES >> 20,
            self.at
        )
    }
}

impl std::error::Error for HeadersTooLarge {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_applies_only_inside_next() {
        let (mut g, w) = guard(Stream(io::repeat(7)));
        let mut big = vec![0u8; 4 << 20];
        g.read_exact(&mut big).unwrap(); // bodies: no budget
        let mut it = std::iter::from_fn(|| {
            let mut b = vec![0u8; 2 << 20];
            Some(g.read_exact(&mut b).map(|()| b.len()))
        });
        let err = w.next(&mut it).unwrap().unwrap_err();
        assert!(err.get_ref().unwrap().is::<HeadersTooLarge>(), "{err}");
        assert!(w.explain(&err).contains("pass 1 MiB"));
    }

    #[test]
    fn seeking_forward_discards_and_counts() {
        let data: Vec<u8> = (0..=255).collect();
        let (mut g, w) = guard(Stream(io::Cursor::new(data)));
        assert_eq!(g.seek(SeekFrom::Current(10)).unwrap(), 10);
        let mut b = [0u8; 2];
        g.read_exact(&mut b).unwrap();
        assert_eq!(b, [10, 11]);
        assert_eq!(w.pos(), 12);
        assert!(g.seek(SeekFrom::Start(0)).is_err());
        let e = g.seek(SeekFrom::Current(1000)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn consume_skips_buffered_bytes() {
        let mut r = io::BufReader::new(io::Cursor::new(vec![1u8; 100]));
        consume(&mut r, 60).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest.len(), 40);
        assert!(consume(&mut r, 1).is_err());
    }
}
