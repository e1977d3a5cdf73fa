//! A read buffer for seekable layer blobs that keeps its contents across short forward seeks.
//!
//! Indexing a plain tar in a file means: read a 512-byte header, skip the body, repeat. One
//! positioned read per header costs a system call each; on layers of small files that is most of
//! the time. [`SeekBuf`] reads ahead when bodies are small (the next headers come with the same
//! read) and reads just a header's worth when bodies are large (skipping them stays a seek).

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

impl<R: Read + Seek> Read for SeekBuf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            // Large reads bypass the buffer.
            if out.len() >= self.want() {
                let n = self.inner.read(out)?;
                self.base += (self.pos + n) as u64;
                (self.pos, self.len) = (0, 0);
                return Ok(n);
            }
            let want = self.want();
            self.base = self.at();
            (self.pos, self.len) = (0, 0);
            self.len = self.inner.read(&mut self.buf[..want])?;
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for SeekBuf<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.at().checked_add_signed(d),
            SeekFrom::End(_) => None,
        };
        let end = self.base + self.len as u64;
        match target {
            Some(t) if t >= self.base && t <= end => {
                self.gap = (self.gap * 7 + t.saturating_sub(self.at()) + 512) / 8;
                self.pos = (t - self.base) as usize;
                Ok(t)
            }
            _ => {
                // Out of the buffer: a real seek (which also says when the input is too short).
                let skip = target.map_or(0, |t| t.saturating_sub(self.at()));
                let t = match target {
                    Some(t) => self.inner.seek(SeekFrom::Start(t))?,
                    None => self.inner.seek(to)?,
                };
                self.gap = (self.gap * 7 + skip + 512) / 8;
                (self.base, self.pos, self.len) = (t, 0, 0);
                Ok(t)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_and_seeks_like_the_input_itself() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut plain = Cursor::new(data.clone());
        let mut b = SeekBuf::new(Cursor::new(data), 0);
        let mut x = 7u64;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (mut p, mut q) = ([0u8; 700], [0u8; 700]);
            let n = (x % 700) as usize;
            let (a, c) = (plain.read(&mut p[..n]).unwrap(), b.read(&mut q[..n]).unwrap());
            let k = a.min(c);
            assert_eq!(p[..k], q[..k]);
            // Keep both at the same place when one returned less.
            plain.seek(SeekFrom::Current(k as i64 - a as i64)).unwrap();
            b.seek(SeekFrom::Current(k as i64 - c as i64)).unwrap();
            let skip = match x % 4 {
                0 => (x >> 8) % 300,
                1 => (x >> 8) % 5_000,
                2 => (x >> 8) % 40_000,
                _ => 0,
            } as i64;
            let pos = plain.seek(SeekFrom::Current(skip)).unwrap();
            assert_eq!(b.seek(SeekFrom::Current(skip)).unwrap(), pos);
            if pos > 290_000 {
                plain.seek(SeekFrom::Start(x % 1000)).unwrap();
                b.seek(SeekFrom::Start(x % 1000)).unwrap();
            }
        }
    }
}
