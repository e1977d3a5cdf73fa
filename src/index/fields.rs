//! Numeric tar header fields (size, mode, uid, gid, checksum), read without allocating: octal
//! digits (maybe NUL- or space-padded) or GNU base-256. The tests hold them to the tar crate's
//! own reading of the same bytes.

/// An octal field, as the tar crate reads it: the text ends at the first NUL, whitespace around
/// the digits is ignored. `None` for anything else (base-256, junk, empty).
pub fn octal(field: &[u8]) -> Option<u64> {
    // Almost every field is digits, then a NUL, or spaces up to a NUL or the end. Up to 21
    // digits cannot overflow.
    let (mut n, mut digits) = (0u64, 0);
    for &b in field {
        let d = b.wrapping_sub(b'0');
        if d > 7 {
            break;
        }
        n = (n << 3) | u64::from(d);
        digits += 1;
    }
    if (1..=21).contains(&digits)
        && field[digits..]
            .iter()
            .find(|b| **b != b' ')
            .is_none_or(|b| *b == 0)
    {
        return Some(n);
    }
    octal_any(field)
}

/// [`octal`] for any field: whitespace before the digits, other whitespace after them, junk.
fn octal_any(field: &[u8]) -> Option<u64> {
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
            // Rare (a sign, Unicode spaces): the crate's own reading, through `str`.
            _ => return octal_text(field),
        }
    }
    (digits > 0).then_some(n)
}

fn octal_text(field: &[u8]) -> Option<u64> {
    let text = field.split(|b| *b == 0).next().unwrap_or_default();
    u64::from_str_radix(std::str::from_utf8(text).ok()?.trim(), 8).ok()
}

/// A numeric field as the tar crate (and GNU tar) reads it: base-256 when the first byte has
/// its top bit set (an 8-byte field minus that bit, or a longer field's last 8 bytes), else
/// [`octal`].
pub fn numeric(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(b) if b & 0x80 != 0 => {
            let (first, rest) = if field.len() == 8 {
                (u64::from(b ^ 0x80), &field[1..])
            } else {
                (0, &field[field.len().saturating_sub(8)..])
            };
            Some(rest.iter().fold(first, |n, b| (n << 8) | u64::from(*b)))
        }
        _ => octal(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path answers as the general reading does, over every field of up to 5 bytes
    /// from an alphabet of digits, padding and junk (and long runs of digits).
    #[test]
    fn fast_path_reads_as_the_general_path() {
        let alphabet = b"0178 \0\t+x";
        let mut field = Vec::new();
        for len in 0..=5u32 {
            for mut code in 0..alphabet.len().pow(len) {
                field.clear();
                for _ in 0..len {
                    field.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                assert_eq!(octal(&field), octal_any(&field), "{field:?}");
            }
        }
        for digits in 1..=24 {
            let f: Vec<u8> = std::iter::repeat_n(b'7', digits).chain([0]).collect();
            assert_eq!(octal(&f), octal_any(&f), "{digits} digits");
        }
    }

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
            b"000644 \0",
            b"644     ",
            b"0644 \0x9",
            b"0644  7\0",
            b"0644\t\0\0\0",
            b"6 \0\0\0\0\0\0",
            b"\0\x31\x32\0\0\0\0\0",
            b" \x30\0\0\0\0\0\0",
        ];
        for f in fields {
            let mut h = tar::Header::new_gnu();
            {
                let old = h.as_old_mut();
                old.mode.copy_from_slice(f);
                old.uid.copy_from_slice(f);
                old.gid.copy_from_slice(f);
                old.size[4..].copy_from_slice(f);
                old.size[..4].copy_from_slice(if f[0] & 0x80 != 0 { b"\x80\0\0\0" } else { b"0000" });
            }
            let want = (h.mode().ok(), h.uid().ok(), h.gid().ok(), h.entry_size().ok());
            let old = h.as_old();
            let got = (
                octal(&old.mode).map(|m| m as u32),
                numeric(&old.uid),
                numeric(&old.gid),
                numeric(&old.size),
            );
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(f));
        }
    }
}
