//! zstd layers decoded block by block into a ring buffer that the walker reads straight out of.
//!
//! zstd's streaming decoder decodes each block into its own window buffer and then copies it into
//! the caller's buffer; for a layer whose bodies are skipped that copy is most of what is done with
//! the bytes (on the 400k-file benchmark image, 3.2 GB copied for nothing). [`ZstdRing`] parses
//! frames and blocks itself and hands compressed blocks to zstd's block decoder instead: blocks
//! are decoded into a ring buffer wrapped as the streaming decoder wraps its own (restart at the
//! beginning when a whole block no longer fits) and sized as its own plus room for literals (see
//! [`ZstdRing::decode_more`]), and the walker reads headers and skips bodies in place. Compressed
//! bytes are read in large chunks and handed to zstd where they lie.
//!
//! The only `unsafe` code of dsize lives here: the calls into libzstd. What they rely on:
//! - the context is created here, freed once on drop, and never shared between threads;
//! - every destination is `ring[wr..]` with its true remaining length, and every source is
//!   `input[pos..pos + need]` inside the bytes read, `need` being the size its block header gives
//!   (checked against the frame's largest block);
//! - zstd keeps pointers into the ring between calls (the window), so the ring is only
//!   reallocated after `ZSTD_decompressBegin` (a new frame), which forgets them;
//! - decoded bytes are only overwritten once the walker has consumed them: a block is decoded
//!   only when everything before it was read.
//!
//! Frames follow one another (multi-frame layers), skippable frames are skipped, content sizes
//! and checksums are checked, and a frame asking for a window over 2^27 bytes is refused before
//! any allocation, as the streaming decoder does. zstd's pre-1.0 "legacy" frame formats are not
//! read here.
#![allow(unsafe_code)]

use super::ZSTD_WINDOW_LOG_MAX;
use super::guard::DecodeError;
use super::walker::Input;
use std::ffi::CStr;
use std::io::{self, Read};
use std::ptr::NonNull;
use zstd::zstd_safe::zstd_sys as sys;

/// Compressed bytes read from the source at a time.
const INPUT_CHUNK: usize = 1 << 20;
/// Bytes of a skippable frame's header: magic and size.
const SKIPPABLE_HEADER: usize = 8;
/// Bytes of a block's header.
const BLOCK_HEADER: usize = 3;
/// Room the ring keeps beyond zstd's minimum: a block's literals are decoded past the block's
/// own output (below), and that space must never hold bytes the window still needs.
const LITERAL_ROOM: usize = 2 * sys::ZSTD_BLOCKSIZE_MAX as usize + 128;

/// A decoding context, freed on drop.
struct Dctx(NonNull<sys::ZSTD_DCtx>);

impl Dctx {
    fn new() -> io::Result<Self> {
        // SAFETY: no preconditions; a null result (out of memory) is turned into an error.
        NonNull::new(unsafe { sys::ZSTD_createDCtx() })
            .map(Dctx)
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "no memory for a zstd context"))
    }
}

impl Drop for Dctx {
    fn drop(&mut self) {
        // SAFETY: created by ZSTD_createDCtx, freed exactly once.
        unsafe {
            sys::ZSTD_freeDCtx(self.0.as_ptr());
        }
    }
}

/// A zstd stream read as [`Input`]: decoded bytes are borrowed from the ring.
pub struct ZstdRing<R> {
    source: R,
    input: Vec<u8>,
    /// Unread compressed bytes are `input[in_pos..in_len]`.
    in_pos: usize,
    in_len: usize,
    source_done: bool,
    dctx: Dctx,
    ring: Vec<u8>,
    /// Decoded, unread bytes are `ring[rd..wr]`.
    rd: usize,
    wr: usize,
    /// The frame being decoded.
    frame: Option<Frame>,
}

/// What is known about the frame being decoded.
struct Frame {
    /// Its largest block, decoded or not.
    block_max: usize,
    /// Whether the ring is smaller than its content (then it wraps).
    wraps: bool,
    /// The content size its header declares.
    content_size: Option<u64>,
    decoded: u64,
    /// The running hash of its content, when its header promises a checksum.
    checksum: Option<xxhash_rust::xxh64::Xxh64>,
    /// Its last block was decoded.
    ended: bool,
}

impl<R: Read> ZstdRing<R> {
    pub fn new(source: R) -> io::Result<Self> {
        Ok(ZstdRing {
            source,
            input: vec![0; INPUT_CHUNK],
            in_pos: 0,
            in_len: 0,
            source_done: false,
            dctx: Dctx::new()?,
            ring: Vec::new(),
            rd: 0,
            wr: 0,
            frame: None,
        })
    }

    /// Makes at least `n` compressed bytes (at most [`INPUT_CHUNK`]) available at `in_pos`.
    /// Returns how many are, fewer only when the source ended.
    fn want_input(&mut self, n: usize) -> io::Result<usize> {
        debug_assert!(n <= INPUT_CHUNK);
        if self.in_len - self.in_pos >= n {
            return Ok(self.in_len - self.in_pos);
        }
        self.input.copy_within(self.in_pos..self.in_len, 0);
        self.in_len -= self.in_pos;
        self.in_pos = 0;
        while self.in_len < n && !self.source_done {
            match self.source.read(&mut self.input[self.in_len..]) {
                Ok(0) => self.source_done = true,
                Ok(k) => self.in_len += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.in_len)
    }

    /// Reads the next frame's header and gets ready to decode it. `Ok(false)`: the stream ended
    /// cleanly (no bytes after the last frame).
    fn start_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.want_input(1)? == 0 {
                return Ok(false);
            }
            let avail = self.want_input(sys::ZSTD_FRAMEHEADERSIZE_MAX as usize)?;
            let mut fh = std::mem::MaybeUninit::<sys::ZSTD_FrameHeader>::zeroed();
            // SAFETY: `fh` is a plain C struct (all-zero is valid); the source is `avail`
            // initialised bytes of `input`.
            let r = unsafe {
                sys::ZSTD_getFrameHeader(fh.as_mut_ptr(), self.input[self.in_pos..].as_ptr().cast(), avail)
            };
            if is_error(r) {
                return Err(corrupt(r));
            }
            if r > 0 {
                // The header needs more bytes than there are: the stream ends inside it.
                return Err(truncated());
            }
            // SAFETY: ZSTD_getFrameHeader returned 0, so it filled the struct.
            let fh = unsafe { fh.assume_init() };
            if fh.frameType == sys::ZSTD_FrameType_e::ZSTD_skippableFrame {
                // A skippable frame holds no content: pass over it here (zstd would want its
                // whole body, up to 4 GiB, in one piece).
                self.skip_input(SKIPPABLE_HEADER as u64 + fh.frameContentSize)?;
                continue;
            }
            let window = fh.windowSize.max(1 << 10);
            if window > 1 << ZSTD_WINDOW_LOG_MAX {
                return Err(corrupt_text(&format!(
                    "Frame requires too much memory for decoding: a {window}-byte window"
                )));
            }
            if fh.dictID != 0 {
                return Err(corrupt(code(sys::ZSTD_ErrorCode::ZSTD_error_dictionary_wrong)));
            }
            // SAFETY: a pure function of two numbers.
            let size = unsafe { sys::ZSTD_decodingBufferSize_min(window, fh.frameContentSize) };
            if is_error(size) {
                return Err(corrupt(size));
            }
            let size = size + LITERAL_ROOM;
            // SAFETY: the context is ours and not in use.
            let r = unsafe { sys::ZSTD_decompressBegin(self.dctx.0.as_ptr()) };
            if is_error(r) {
                return Err(corrupt(r));
            }
            // After the reset above zstd holds no pointer into the ring: it may move now.
            if self.ring.len() < size {
                self.ring = vec![0; size];
            }
            self.rd = 0;
            self.wr = 0;
            self.in_pos += fh.headerSize as usize;
            let known = fh.frameContentSize != sys::ZSTD_CONTENTSIZE_UNKNOWN as u64;
            self.frame = Some(Frame {
                block_max: fh.blockSizeMax as usize,
                wraps: (self.ring.len() as u64) < fh.frameContentSize,
                content_size: known.then_some(fh.frameContentSize),
                decoded: 0,
                checksum: (fh.checksumFlag != 0).then(|| xxhash_rust::xxh64::Xxh64::new(0)),
                ended: false,
            });
            return Ok(true);
        }
    }

    /// Passes over `n` compressed bytes without decoding them.
    fn skip_input(&mut self, mut n: u64) -> io::Result<()> {
        while n > 0 {
            let have = self.want_input(1)?;
            if have == 0 {
                return Err(truncated());
            }
            let k = have.min(usize::try_from(n).unwrap_or(usize::MAX));
            self.in_pos += k;
            n -= k as u64;
        }
        Ok(())
    }

    /// Decodes until there are new bytes in the ring. `Ok(false)`: the stream ended cleanly.
    /// Only called when everything decoded so far was consumed.
    ///
    /// Blocks are parsed here and compressed ones handed to zstd's block decoder
    /// (`ZSTD_decompressBlock`), which may put a block's literals in the ring right after the
    /// block's own output instead of splitting them around a side buffer and moving them (what
    /// the streaming decoder must do, for want of room). The ring keeps [`LITERAL_ROOM`] for
    /// that beyond zstd's minimum, so the space written is never part of the window. The checks
    /// are the streaming decoder's: block sizes, the declared content size, the checksum.
    fn decode_more(&mut self) -> io::Result<bool> {
        debug_assert_eq!(self.rd, self.wr);
        loop {
            let Some(frame) = &self.frame else {
                if !self.start_frame()? {
                    return Ok(false);
                }
                continue;
            };
            if frame.ended {
                self.end_frame()?;
                continue;
            }
            let (block_max, wraps) = (frame.block_max, frame.wraps);
            if self.want_input(BLOCK_HEADER)? < BLOCK_HEADER {
                return Err(truncated());
            }
            let h = &self.input[self.in_pos..self.in_pos + BLOCK_HEADER];
            let header = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
            self.in_pos += BLOCK_HEADER;
            let (last, kind, size) = (header & 1 == 1, (header >> 1) & 3, (header >> 3) as usize);
            // A reserved block type, a block larger than the frame allows (or decoding to more).
            let corrupted = || corrupt(code(sys::ZSTD_ErrorCode::ZSTD_error_corruption_detected));
            // Compressed bytes this block takes: an RLE block's size is what it decodes to.
            let need = match kind {
                1 => 1,
                3 => return Err(corrupted()),
                _ => size,
            };
            if size > block_max {
                return Err(corrupted());
            }
            if self.want_input(need)? < need {
                return Err(truncated());
            }
            // zstd's own rule: when a whole block may no longer fit, restart at the beginning
            // (the ring's size keeps the window intact behind it).
            if wraps && self.wr + block_max > self.ring.len() {
                self.rd = 0;
                self.wr = 0;
            }
            let room = self.ring.len() - self.wr;
            let src = &self.input[self.in_pos..self.in_pos + need];
            let dctx = self.dctx.0.as_ptr();
            let got = match kind {
                _ if need == 0 => 0, // an empty block, of any type but RLE
                2 => {
                    // SAFETY: the destination is the ring's unread-free tail `ring[wr..]` with its
                    // exact length; the source is `need` initialised bytes of `input` (checked
                    // above). zstd's pointers into the ring stay valid: the ring only moves
                    // between frames.
                    let got = unsafe {
                        sys::ZSTD_decompressBlock(
                            dctx,
                            self.ring.as_mut_ptr().add(self.wr).cast(),
                            room,
                            src.as_ptr().cast(),
                            need,
                        )
                    };
                    if is_error(got) {
                        return Err(corrupt(got));
                    }
                    got
                }
                _ => {
                    if size > room {
                        return Err(corrupt(code(sys::ZSTD_ErrorCode::ZSTD_error_dstSize_tooSmall)));
                    }
                    let out = &mut self.ring[self.wr..self.wr + size];
                    if kind == 1 {
                        out.fill(src[0]);
                    } else {
                        out.copy_from_slice(src);
                    }
                    // SAFETY: the block lies in the ring, which stays put until the frame
                    // ends; zstd only records where the window's bytes are.
                    unsafe { sys::ZSTD_insertBlock(dctx, out.as_ptr().cast(), size) };
                    size
                }
            };
            if got > block_max.min(room) {
                return Err(corrupted());
            }
            self.in_pos += need;
            if let Some(frame) = self.frame.as_mut() {
                if let Some(h) = frame.checksum.as_mut() {
                    h.update(&self.ring[self.wr..self.wr + got]);
                }
                frame.decoded += got as u64;
                frame.ended = last;
            }
            self.wr += got;
            if self.wr > self.rd {
                return Ok(true);
            }
        }
    }

    /// Checks the end of the frame whose last block was decoded: its declared content size and
    /// its checksum.
    fn end_frame(&mut self) -> io::Result<()> {
        let Some(frame) = self.frame.take() else {
            return Ok(());
        };
        if frame.content_size.is_some_and(|n| n != frame.decoded) {
            return Err(corrupt(code(sys::ZSTD_ErrorCode::ZSTD_error_corruption_detected)));
        }
        if let Some(h) = frame.checksum {
            if self.want_input(4)? < 4 {
                return Err(truncated());
            }
            let c = &self.input[self.in_pos..self.in_pos + 4];
            self.in_pos += 4;
            if u32::from_le_bytes([c[0], c[1], c[2], c[3]]) != h.digest() as u32 {
                return Err(corrupt(code(sys::ZSTD_ErrorCode::ZSTD_error_checksum_wrong)));
            }
        }
        Ok(())
    }
}

impl<R: Read> Input for ZstdRing<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.rd == self.wr {
            self.decode_more()?;
        }
        Ok(&self.ring[self.rd..self.wr])
    }

    fn consume(&mut self, n: usize) {
        self.rd = (self.rd + n).min(self.wr);
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        while n > 0 {
            if self.rd == self.wr && !self.decode_more()? {
                return Err(super::guard::truncated());
            }
            let k = (self.wr - self.rd).min(usize::try_from(n).unwrap_or(usize::MAX));
            self.rd += k;
            n -= k as u64;
        }
        Ok(())
    }
}

/// The `size_t` zstd returns for an error.
fn code(e: sys::ZSTD_ErrorCode) -> usize {
    0usize.wrapping_sub(e as usize)
}

fn is_error(code: usize) -> bool {
    // SAFETY: a pure function of a number.
    unsafe { sys::ZSTD_isError(code) != 0 }
}

/// zstd's own words for an error code.
fn corrupt(code: usize) -> io::Error {
    // SAFETY: ZSTD_getErrorName returns a static, NUL-terminated string for any code.
    let name = unsafe { CStr::from_ptr(sys::ZSTD_getErrorName(code)) };
    corrupt_text(&name.to_string_lossy())
}

fn corrupt_text(message: &str) -> io::Error {
    io::Error::other(DecodeError {
        what: "zstd",
        message: message.to_string(),
        truncated: false,
    })
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        DecodeError {
            what: "zstd",
            message: "the stream ends inside a frame".into(),
            truncated: true,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads everything through the ring, consuming and skipping in uneven steps.
    fn decode(z: &[u8], step: u64) -> io::Result<Vec<u8>> {
        let mut r = ZstdRing::new(z)?;
        let mut out = Vec::new();
        let mut x = step;
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                return Ok(out);
            }
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = ((x >> 33) as usize % (buf.len() + 1)).max(1);
            out.extend_from_slice(&buf[..n]);
            r.consume(n);
        }
    }

    fn data(len: usize) -> Vec<u8> {
        // Compressible but not trivial: repeats at distances up to a few MiB.
        let mut v = Vec::with_capacity(len);
        let mut x = 1u64;
        while v.len() < len {
            x = x.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
            let k = (x >> 40) as usize % 4000;
            if v.len() > k + 100 && x & 3 == 0 {
                let at = v.len() - k - 100;
                let piece: Vec<u8> = v[at..at + 100].to_vec();
                v.extend_from_slice(&piece);
            } else {
                v.extend_from_slice(&x.to_le_bytes());
            }
        }
        v.truncate(len);
        v
    }

    /// A frame written by the streaming encoder (no content size), so the ring wraps.
    fn stream_frame(d: &[u8], window_log: u32) -> Vec<u8> {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.window_log(window_log).unwrap();
        e.include_checksum(true).unwrap();
        std::io::Write::write_all(&mut e, d).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_what_zstd_decodes_across_wraps_and_frames() {
        let a = data(5 << 20);
        let b = data(300_000);
        let mut z = stream_frame(&a, 17); // 128 KiB window: the ring wraps many times
        // A skippable frame between two frames.
        z.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
        z.extend_from_slice(&5u32.to_le_bytes());
        z.extend_from_slice(b"hello");
        z.extend_from_slice(&zstd::encode_all(&b[..], 1).unwrap()); // content size known
        z.extend_from_slice(&zstd::encode_all(&b""[..], 1).unwrap()); // an empty frame
        let mut want = a.clone();
        want.extend_from_slice(&b);
        for step in [1, 7, 99] {
            assert!(decode(&z, step).unwrap() == want, "step {step}");
        }
    }

    /// The types of a single frame's blocks (0 raw, 1 RLE, 2 compressed).
    fn block_kinds(z: &[u8]) -> Vec<u32> {
        // SAFETY: a pure function of the bytes given.
        let mut at = unsafe { sys::ZSTD_frameHeaderSize(z.as_ptr().cast(), z.len()) };
        let mut kinds = Vec::new();
        loop {
            let h = u32::from(z[at]) | u32::from(z[at + 1]) << 8 | u32::from(z[at + 2]) << 16;
            kinds.push((h >> 1) & 3);
            at += 3 + if (h >> 1) & 3 == 1 { 1 } else { (h >> 3) as usize };
            if h & 1 == 1 {
                return kinds;
            }
        }
    }

    #[test]
    fn raw_and_rle_blocks_and_checksums() {
        // Incompressible bytes make raw blocks, a long run of one byte RLE blocks, the rest
        // compressed ones.
        let mut d: Vec<u8> = data(400_000).iter().map(|b| b.wrapping_mul(167) ^ 0x5a).collect();
        let mut x = 7u64;
        d.extend((0..300_000).map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 56) as u8
        }));
        d.extend(std::iter::repeat_n(7u8, 600_000));
        // Blocks of half literals, half matches reaching back nearly the whole window (into
        // what the ring held before it wrapped): the room kept for literals must not overwrite
        // what those matches read.
        for _ in 0..3_000 {
            d.extend((0..500).map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                (x >> 56) as u8
            }));
            let at = d.len() - 125_000;
            d.extend_from_within(at..at + 500);
        }
        let z = stream_frame(&d, 17);
        let kinds = block_kinds(&z);
        for k in [0, 1, 2] {
            assert!(kinds.contains(&k), "block type {k} in {kinds:?}");
        }
        for step in [1, 13] {
            assert!(decode(&z, step).unwrap() == d, "step {step}");
        }
        // The checksum is the frame's last 4 bytes: a wrong one is refused.
        let mut bad = z.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let e = decode(&bad, 1).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    /// A frame (128 KiB window, no checksum) whose blocks hold exactly `sizes` bytes of `d` each,
    /// compressed by zstd's block encoder (stored raw where that does not pay).
    fn frame_of_blocks(d: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3];
        // SAFETY: the context is created and freed here; every source is a piece of `d` (one
        // buffer, so the encoder's history stays valid), every destination `out` with its length.
        unsafe {
            let c = sys::ZSTD_createCCtx();
            assert!(!c.is_null());
            assert!(!is_error(sys::ZSTD_compressBegin(c, 3)));
            let mut at = 0;
            for (i, &n) in sizes.iter().enumerate() {
                let mut out = vec![0u8; n + 1024];
                let k = sys::ZSTD_compressBlock(
                    c,
                    out.as_mut_ptr().cast(),
                    out.len(),
                    d[at..].as_ptr().cast(),
                    n,
                );
                assert!(!is_error(k));
                let (kind, body) = if k == 0 {
                    (0, &d[at..at + n])
                } else {
                    (2, &out[..k])
                };
                let h = u32::from(i + 1 == sizes.len()) | kind << 1 | (body.len() as u32) << 3;
                z.extend_from_slice(&h.to_le_bytes()[..3]);
                z.extend_from_slice(body);
                at += n;
            }
            sys::ZSTD_freeCCtx(c);
        }
        z
    }

    #[test]
    fn literals_decoded_past_a_block_never_overwrite_the_window() {
        // zstd puts a block's literals past the block's own output when there is room. Right
        // after the ring wraps, that space holds the oldest bytes the window still reaches. The
        // blocks here end the first pass just past the wrap point, and the next block first
        // copies from ~120 KiB back, then has 20 KiB of literals.
        let mut x = 3u64;
        let mut random = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (x >> 56) as u8
                })
                .collect()
        };
        let block = sys::ZSTD_BLOCKSIZE_MAX as usize;
        // The ring (its minimum size plus the literal room) wraps once a block may not fit: the
        // first pass ends one byte past that point.
        // SAFETY: a pure function of two numbers.
        let ring = unsafe { sys::ZSTD_decodingBufferSize_min(1 << 17, u64::MAX) } + LITERAL_ROOM;
        let first_pass = ring - block + 1;
        let mut sizes = vec![block; first_pass / block];
        sizes.push(first_pass % block);
        let mut d = random(sizes.iter().sum());
        let at = d.len() - 120_000;
        d.extend_from_within(at..at + 2_000);
        d.extend(random(20_000));
        sizes.push(22_000);
        let z = frame_of_blocks(&d, &sizes);
        assert_eq!(block_kinds(&z).last(), Some(&2), "the last block is compressed");
        assert!(decode(&z, 1).unwrap() == d);
    }

    #[test]
    fn skips_as_it_reads() {
        let a = data(3 << 20);
        let z = stream_frame(&a, 18);
        let mut r = ZstdRing::new(&z[..]).unwrap();
        let mut at = 0usize;
        let mut x = 5u64;
        while at < a.len() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let s = ((x >> 33) % 200_000) as usize;
            let s = s.min(a.len() - at);
            r.skip(s as u64).unwrap();
            at += s;
            let buf = r.fill_buf().unwrap();
            if at == a.len() {
                assert!(buf.is_empty());
                break;
            }
            assert_eq!(buf[0], a[at], "at {at}");
            r.consume(1);
            at += 1;
        }
        assert!(r.skip(1).is_err());
    }

    #[test]
    fn damage_is_an_error_never_a_crash() {
        let a = data(1 << 20);
        let z = stream_frame(&a, 17);
        // Truncated anywhere: an error that says so (or, cut at a frame's end, fewer bytes).
        for cut in [1, 4, 5, 9, 100, z.len() / 2, z.len() - 1] {
            let e = decode(&z[..cut], 3).unwrap_err();
            let d = e.get_ref().unwrap().downcast_ref::<DecodeError>().unwrap();
            assert!(d.truncated || d.message.contains("Unknown frame"), "{cut}: {d}");
        }
        // Flipped bytes: whatever zstd's own streaming decoder makes of them, the ring makes too
        // (the same bytes, or an error for both).
        let mut x = 9u64;
        let rounds = std::env::var("DSIZE_ZSTD_ROUNDS").map_or(300, |v| v.parse().unwrap());
        for _ in 0..rounds {
            let mut bad = z.clone();
            for _ in 0..1 + (x >> 60) % 3 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                let at = (x >> 33) as usize % bad.len();
                bad[at] ^= 1 << ((x >> 20) % 8);
            }
            let mut want = Vec::new();
            let reference =
                zstd::stream::read::Decoder::new(&bad[..]).and_then(|mut d| d.read_to_end(&mut want));
            match (decode(&bad, x), reference) {
                (Ok(got), Ok(_)) => assert!(got == want, "the same stream decoded to other bytes"),
                (Err(_), Err(_)) => {}
                (got, reference) => panic!("ring {:?} but zstd {:?}", got.map(|g| g.len()), reference),
            }
        }
        // Trailing garbage after the last frame.
        let mut tail = z.clone();
        tail.extend_from_slice(b"garbage!");
        assert!(decode(&tail, 1).is_err());
    }

    #[test]
    fn a_window_over_the_limit_is_refused_before_allocation() {
        // Window_Descriptor exponent 21: 2^31 bytes.
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3];
        z.extend_from_slice(&[1, 0, 0]); // an empty raw last block
        let e = decode(&z, 1).unwrap_err();
        let d = e.get_ref().unwrap().downcast_ref::<DecodeError>().unwrap();
        assert!(d.message.contains("too much memory"), "{d}");
    }
}
