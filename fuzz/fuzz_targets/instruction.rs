//! `created_by` normalisation: any history text (and comment) -> Dockerfile text, never a panic.
//! The first byte picks the comment: none, BuildKit's, or the rest split at the first NUL.
#![no_main]

use dsize::model::instruction::normalize;
use dsize::report::escape_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (created_by, comment) = match sel % 3 {
        0 => (&text[..], None),
        1 => (&text[..], Some("buildkit.dockerfile.v0")),
        _ => match text.split_once('\0') {
            Some((c, m)) => (c, Some(m)),
            None => (&text[..], Some("")),
        },
    };
    let i = normalize(created_by, comment);
    let shown = escape_text(&i.text);
    assert!(!shown.bytes().any(|b| b < 0x20 || b == 0x7f), "{shown:?}");
});
