//! Numeric tar header fields (size, mode, uid, gid, checksum), read without allocating: octal
//! digits (maybe NUL- or space-padded) or GNU base-256. The tests hold them to the tar crate's
//! own reading of the same bytes.

/// An octal field, as the tar crate reads it: the text ends at the first NUL, whitespace around
/// the digits is ignored. `None` for anything else (base-256, junk, empty).
pub fn octal(field: &[u8]) -> Option<u64> {
    // Almost every field is digits, then a NUL, or spaces up to a NUL or the end. Up to 21
    // digits cannot overflow. The first 8 bytes are read as one word when they are all digits
    // or digits then a NUL (how tar writers fill the 8-byte fields and start the 12-byte ones).
    let (mut n, mut digits) = match field.first_chunk::<8>().and_then(|w| octal_word(*w)) {
        Some((n, 8)) => (n, 8),
        Some((n, _)) => return Some(n),
        None => (0, 0),
    };
    for &b in &field[digits..] {
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

/// Reads 8 bytes that are 1 to 8 octal digits followed (when fewer than 8) by a NUL: the value
/// and the number of digits. `None` for anything else.
fn octal_word(w: [u8; 8]) -> Option<(u64, usize)> {
    let w = u64::from_le_bytes(w);
    // 0x80 in each byte that is not an octal digit (its top five bits are not 0b00110): the
    // low seven bits of x are nonzero (adding 0x7f carries into bit 7, never past it) or its
    // top bit is set.
    let x = (w & 0xf8f8_f8f8_f8f8_f8f8) ^ 0x3030_3030_3030_3030;
    let not_digit = (((x & 0x7f7f_7f7f_7f7f_7f7f) + 0x7f7f_7f7f_7f7f_7f7f) | x) & 0x8080_8080_8080_8080;
    let digits = (not_digit.trailing_zeros() / 8) as usize;
    if digits == 0 || (digits < 8 && (w >> (8 * digits)) as u8 != 0) {
        return None;
    }
    // Digit values, shifted up until the last digit is the top byte; the bytes shifted in are
    // leading zeros. A lower byte holds a more significant digit.
    let mut v = (w & 0x0707_0707_0707_0707) << (8 * (8 - digits));
    // Pairs of digits into 16-bit lanes, pairs of those into 32, then the two halves.
    v = ((v & 0x00ff_00ff_00ff_00ff) << 3) + ((v >> 8) & 0x00ff_00ff_00ff_00ff);
    v = ((v & 0x0000_ffff_0000_ffff) << 6) + ((v >> 16) & 0x0000_ffff_0000_ffff);
    v = ((v & 0xffff_ffff) << 12) + (v >> 32);
    Some((v, digits))
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

    /// The word read of the first 8 bytes answers as the general reading does: every byte value
    /// at every position of 8- and 12-byte fields written the usual ways, and every 8-byte field
    /// over digits, NUL, space and bytes one bit away from a digit.
    #[test]
    fn word_read_reads_as_the_general_path() {
        let usual: [&[u8]; 5] = [
            b"0123456\0",
            b"01234567",
            b"012345\0 ",
            b"01234567012\0",
            b"0000000\0",
        ];
        for base in usual {
            for at in 0..base.len() {
                for b in 0..=255u8 {
                    let mut f = base.to_vec();
                    f[at] = b;
                    assert_eq!(octal(&f), octal_any(&f), "{f:?}");
                }
            }
        }
        let alphabet = b"07\0 8\xb7";
        let mut f = [0u8; 8];
        for mut code in 0..alphabet.len().pow(8) {
            for b in &mut f {
                *b = alphabet[code % alphabet.len()];
                code /= alphabet.len();
            }
            assert_eq!(octal(&f), octal_any(&f), "{f:?}");
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
