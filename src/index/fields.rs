//! Fast reading of the tar header fields the indexer keeps (mode, uid, gid).
//!
//! The tar crate parses every numeric field through `str::from_utf8`, `trim` and
//! `from_str_radix`: a few hundred instructions a field, a tenth of the indexer's time on
//! small-file layers. The common case (octal digits, maybe NUL- or space-padded) is read here
//! directly; anything else goes to the crate, so the result is always the crate's own.

/// A plain octal field, as the tar crate reads it: the text ends at the first NUL and
/// whitespace around the digits is ignored. `None` for anything else (base-256, signs, junk,
/// empty), which the caller hands to the crate.
pub fn octal(field: &[u8]) -> Option<u64> {
    // Rust's `str::trim` drops Unicode whitespace; its ASCII part is these six bytes.
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let (mut n, mut digits, mut done) = (0u64, 0usize, false);
    for &b in field {
        match b {
            0 => break,
            b'0'..=b'7' if !done => {
                n = n.checked_mul(8)? | u64::from(b - b'0');
                digits += 1;
            }
            _ if ws(b) => done = digits > 0,
            _ => return None,
        }
    }
    (digits > 0).then_some(n)
}

/// (mode, uid, gid) of a header: mode 0 and ids `u32::MAX` when unreadable, as before.
pub fn mode_uid_gid(h: &tar::Header) -> (u32, u32, u32) {
    let old = h.as_old();
    let mode = match octal(&old.mode) {
        Some(m) => m as u32,
        None => h.mode().unwrap_or(0),
    };
    let id = |field: &[u8], slow: &dyn Fn() -> std::io::Result<u64>| {
        match octal(field) {
            Some(v) => u32::try_from(v).ok(),
            None => slow().ok().and_then(|v| u32::try_from(v).ok()),
        }
        .unwrap_or(u32::MAX)
    };
    (mode, id(&old.uid, &|| h.uid()), id(&old.gid, &|| h.gid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the bytes, the answer is the tar crate's.
    #[test]
    fn agrees_with_the_tar_crate() {
        let fields: &[&[u8]] = &[
            b"0000644\0",
            b"0000755 ",
            b" 644  \0\0",
            b"7777777\0",
            b"\0\0\0\0\0\0\0\0",
            b"        ",
            b"+644\0\0\0\0",
            b"0000649\0",
            b"12\x0b\0\0\0\0\0",
            b"\x80\0\0\0\0\0\x01\x02",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
            b"1 2\0\0\0\0\0",
            b"\xc2\xa0644\0\0\0",
            b"77777777",
            b"00001750",
        ];
        for f in fields {
            let mut h = tar::Header::new_gnu();
            {
                let old = h.as_old_mut();
                old.mode.copy_from_slice(f);
                old.uid.copy_from_slice(f);
                old.gid.copy_from_slice(f);
            }
            let want = (
                h.mode().unwrap_or(0),
                h.uid()
                    .ok()
                    .and_then(|u| u32::try_from(u).ok())
                    .unwrap_or(u32::MAX),
                h.gid()
                    .ok()
                    .and_then(|u| u32::try_from(u).ok())
                    .unwrap_or(u32::MAX),
            );
            assert_eq!(mode_uid_gid(&h), want, "{:?}", String::from_utf8_lossy(f));
        }
    }
}
