//! Hand-made tar bytes for hostile inputs: every header field is set by the test, so checksums,
//! sizes and extension records can be wrong on purpose. Nothing here validates anything.

pub const BLOCK: usize = 512;

/// A ustar header block under construction.
#[derive(Clone)]
pub struct Hdr {
    pub b: [u8; BLOCK],
    fix_checksum: bool,
}

impl Hdr {
    /// A ustar header (`ustar\0` `00`) for `name` (cut to 100 bytes) of type `typeflag`.
    pub fn new(name: &[u8], typeflag: u8, size: u64) -> Hdr {
        let mut h = Hdr {
            b: [0; BLOCK],
            fix_checksum: true,
        };
        h.set(0, 100, name);
        h.octal(100, 8, if typeflag == b'5' { 0o755 } else { 0o644 });
        h.octal(108, 8, 0);
        h.octal(116, 8, 0);
        h.octal(124, 12, size);
        h.octal(136, 12, 0);
        h.b[156] = typeflag;
        h.set(257, 6, b"ustar\0");
        h.set(263, 2, b"00");
        h
    }

    pub fn file(name: &str, size: u64) -> Hdr {
        Hdr::new(name.as_bytes(), b'0', size)
    }

    /// GNU magic (`ustar  \0`), needed for GNU sparse headers.
    pub fn gnu(mut self) -> Hdr {
        self.set(257, 8, b"ustar  \0");
        self
    }

    pub fn link(mut self, target: &[u8]) -> Hdr {
        self.set(157, 100, target);
        self
    }

    /// Writes the size field as base-256 (high bit set, big-endian in the last 8 bytes).
    pub fn size_base256(mut self, n: u64) -> Hdr {
        let f = &mut self.b[124..136];
        f.fill(0);
        f[0] = 0x80;
        f[4..].copy_from_slice(&n.to_be_bytes());
        self
    }

    /// Writes raw bytes into the size field.
    pub fn size_field(mut self, raw: [u8; 12]) -> Hdr {
        self.b[124..136].copy_from_slice(&raw);
        self
    }

    /// Leaves a wrong checksum in the header.
    pub fn bad_checksum(mut self) -> Hdr {
        self.fix_checksum = false;
        self.octal(148, 8, 1);
        self
    }

    pub fn device(mut self, major: u64, minor: u64) -> Hdr {
        self.octal(329, 8, major);
        self.octal(337, 8, minor);
        self
    }

    /// GNU sparse map entries in the header (up to 4) and the real (expanded) size.
    pub fn sparse(mut self, map: &[(u64, u64)], real_size: u64, extended: bool) -> Hdr {
        for (i, (off, len)) in map.iter().enumerate().take(4) {
            let at = 386 + i * 24;
            self.octal(at, 12, *off);
            self.octal(at + 12, 12, *len);
        }
        self.b[482] = u8::from(extended);
        self.octal(483, 12, real_size);
        self
    }

    pub fn set(&mut self, at: usize, len: usize, v: &[u8]) {
        let n = v.len().min(len);
        self.b[at..at + len].fill(0);
        self.b[at..at + n].copy_from_slice(&v[..n]);
    }

    pub fn octal(&mut self, at: usize, len: usize, v: u64) {
        let s = format!("{v:0w$o}", w = len - 1);
        self.set(at, len, s.as_bytes());
    }

    pub fn bytes(&self) -> [u8; BLOCK] {
        let mut b = self.b;
        if self.fix_checksum {
            b[148..156].fill(b' ');
            let sum: u32 = b.iter().map(|x| u32::from(*x)).sum();
            let s = format!("{sum:06o}\0 ");
            b[148..156].copy_from_slice(s.as_bytes());
        }
        b
    }
}

/// A tar stream written block by block.
#[derive(Default, Clone)]
pub struct Tar {
    pub out: Vec<u8>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }

    /// A header and its body, padded to a block.
    pub fn entry(mut self, h: Hdr, body: &[u8]) -> Tar {
        self.out.extend_from_slice(&h.bytes());
        self.out.extend_from_slice(body);
        self.pad();
        self
    }

    /// A regular file with `size` bytes of `x`.
    pub fn file(self, name: &str, size: usize) -> Tar {
        self.entry(Hdr::file(name, size as u64), &vec![b'x'; size])
    }

    /// A regular file whose name is arbitrary bytes (cut to 100).
    pub fn raw_file(self, name: &[u8], size: usize) -> Tar {
        self.entry(Hdr::new(name, b'0', size as u64), &vec![b'x'; size])
    }

    pub fn dir(self, name: &str) -> Tar {
        self.entry(Hdr::new(name.as_bytes(), b'5', 0), &[])
    }

    /// A raw header with no body (the caller writes what follows).
    pub fn header(mut self, h: Hdr) -> Tar {
        self.out.extend_from_slice(&h.bytes());
        self
    }

    pub fn raw(mut self, bytes: &[u8]) -> Tar {
        self.out.extend_from_slice(bytes);
        self
    }

    pub fn pad(&mut self) {
        let rem = self.out.len() % BLOCK;
        if rem != 0 {
            self.out.resize(self.out.len() + BLOCK - rem, 0);
        }
    }

    /// A GNU long name (`L`) entry for the next header.
    pub fn long_name(self, name: &[u8]) -> Tar {
        self.gnu_long(b'L', name)
    }

    /// A GNU long link (`K`) entry for the next header.
    pub fn long_link(self, target: &[u8]) -> Tar {
        self.gnu_long(b'K', target)
    }

    fn gnu_long(self, ty: u8, v: &[u8]) -> Tar {
        let mut body = v.to_vec();
        body.push(0);
        let h = Hdr::new(b"././@LongLink", ty, body.len() as u64).gnu();
        self.entry(h, &body)
    }

    /// A PAX extended header (`x`, or `g` when global) with `records`.
    pub fn pax(self, records: &[(&str, &[u8])], global: bool) -> Tar {
        let body = pax_body(records);
        let ty = if global { b'g' } else { b'x' };
        self.entry(Hdr::new(b"PaxHeaders/x", ty, body.len() as u64), &body)
    }

    /// The end-of-archive marker: two zero blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0; 2 * BLOCK]);
        self.out
    }
}

/// `"%d %s=%s\n"` records, each length counting itself.
pub fn pax_body(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in records {
        let rest = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len.to_string().len() + rest != len {
            len = len.to_string().len() + rest;
        }
        body.extend_from_slice(len.to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(k.as_bytes());
        body.push(b'=');
        body.extend_from_slice(v);
        body.push(b'\n');
    }
    body
}
