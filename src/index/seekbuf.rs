//! A read buffer for seekable layer blobs that keeps its contents across short forward seeks.
//!
//! Indexing a plain tar in a file means: read a 512-byte header, skip the body, repeat. One
//! positioned read per header costs a system call each; on layers of small files that is most of
//! the time. [`SeekBuf`] reads ahead when bodies are small (the next headers come with the same
//! read) and reads just a header's worth when bodies are large (skipping them stays a seek).

use super::walker::Input;
use std::io::{self, Read, Seek, SeekFrom};

/// Largest read-ahead, used while entries are small.
const AHEAD: usize = 64 << 10;
/// Read size while entries are large: a header plus room for a long name.
const HEADER: usize = 1024;

pub struct SeekBuf<R> {
    inner: R,
    buf: Vec<u8>,
    /// Offset of `buf[0]` in the input.
    base: u64,
    /// Read position in `buf`, and how much of it is filled.
    pos: usize,
    len: usize,
    /// Running average of the distance between reads (header + body): decides the read size.
    gap: u64,
}

impl<R: Read + Seek> SeekBuf<R> {
    /// Wraps `inner`, whose cursor must be at offset `at`.
    pub fn new(inner: R, at: u64) -> Self {
        SeekBuf {
            inner,
            buf: vec![0; AHEAD],
            base: at,
            pos: 0,
            len: 0,
            gap: 0,
        }
    }

    fn at(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn want(&self) -> usize {
        match self.gap {
            g if g < 4 << 10 => AHEAD,
            g if g < 16 << 10 => AHEAD / 4,
            _ => HEADER,
        }
    }
}

impl<R: Read + Seek> Input for SeekBuf<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len {
            let want = self.want();
            self.base = self.at();
            (self.pos, self.len) = (0, 0);
            self.len = loop {
                match self.inner.read(&mut self.buf[..want]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => break r?,
                }
            };
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let target = self.at().checked_add(n).ok_or_else(super::guard::truncated)?;
        self.gap = (self.gap * 7 + n + 512) / 8;
        if target <= self.base + self.len as u64 {
            self.pos = (target - self.base) as usize;
        } else {
            // Out of the buffer: a real seek (which also says when the input is too short).
            let t = self.inner.seek(SeekFrom::Start(target))?;
            (self.base, self.pos, self.len) = (t, 0, 0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Reads and skips at random, checking every byte against the data itself.
    #[test]
    fn reads_and_skips_like_the_input_itself() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut b = SeekBuf::new(Cursor::new(data.clone()), 0);
        let mut at = 0usize;
        let mut x = 7u64;
        while at < data.len() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let got = b.fill_buf().unwrap();
            assert!(!got.is_empty());
            assert_eq!(got, &data[at..at + got.len()]);
            let n = ((x % 700) as usize).min(got.len());
            b.consume(n);
            at += n;
            let skip = match x % 4 {
                0 => (x >> 8) % 300,
                1 => (x >> 8) % 5_000,
                2 => (x >> 8) % 40_000,
                _ => 0,
            } as usize;
            let skip = skip.min(data.len() - at);
            b.skip(skip as u64).unwrap();
            at += skip;
        }
        assert!(b.fill_buf().unwrap().is_empty());
    }
}
