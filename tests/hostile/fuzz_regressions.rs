//! Inputs the fuzzers found (`fuzz/artifacts/…`), kept as regression tests.

use crate::rawtar::{Hdr, Tar};
use crate::run::{layer, notes, totals};
use dsize::index::{Limits, Progress, index_stream};
use dsize::model::{AnalysisBuilder, AnalysisOptions, EntryKind, ImageMeta, LayerEntries, LayerMeta};

/// What the `layer` fuzz target does: index one blob, merge it over a small lower layer.
fn replay_layer(blob: &[u8]) -> dsize::model::Analysis {
    let ix = index_stream(blob, None, Limits::default(), &Progress::default()).expect("indexes");
    let mut lower = LayerEntries::default();
    lower.push(EntryKind::File, b"etc/passwd", b"", 100, 0o644, 0, 0);
    let meta = ImageMeta {
        layers: vec![LayerMeta::default(), LayerMeta::default()],
        ..Default::default()
    };
    let mut b = AnalysisBuilder::new(meta, AnalysisOptions::default()).expect("builder");
    b.add_layer(1, ix.entries, None);
    b.add_layer(0, lower, None);
    b.finish()
}

/// layer target, crash-ee63fc0b: a regular file with an empty name (1 byte) was counted in the
/// layer size but dropped by the merge, so stored (120) != visible + wasted (119).
#[test]
fn fuzz_layer_file_named_like_the_root() {
    let a = replay_layer(include_bytes!("crashes/layer-ee63fc0b"));
    let t = &a.totals;
    assert_eq!(t.stored_bytes, t.visible_bytes + t.wasted_bytes);
    // The same through the binary, with every spelling of the root.
    let t = Tar::new()
        .entry(Hdr::file("", 1), b"x")
        .entry(Hdr::file("./", 2), b"xx")
        .entry(Hdr::file("../..", 3), b"xxx")
        .header(Hdr::new(b"/", b'2', 0).link(b"etc"))
        .dir("./")
        .file("kept", 4)
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (4, 4, 0));
    assert!(
        notes(&r).contains("4 entr(ies) named the image root itself"),
        "{}",
        notes(&r)
    );
}
