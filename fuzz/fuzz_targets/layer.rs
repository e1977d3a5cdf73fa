//! One layer blob from bytes (gzip, zstd or tar by magic), through the indexer, then merged over
//! a fixed lower layer (so whiteouts and opaque markers have something to hide) and reported.
#![no_main]

use dsize::index::{Limits, Progress, index_stream};
use dsize::model::{
    AnalysisBuilder, AnalysisOptions, EntryKind, HistoryEntry, ImageMeta, LayerEntries, LayerMeta,
};
use dsize::report::{json, text};
use libfuzzer_sys::fuzz_target;

fn lower() -> LayerEntries {
    let mut l = LayerEntries::default();
    for (kind, path, link, size) in [
        (EntryKind::Dir, &b"etc"[..], &b""[..], 0),
        (EntryKind::File, b"etc/passwd", b"", 100),
        (EntryKind::File, b"usr/bin/a", b"", 10),
        (EntryKind::HardLink, b"usr/bin/b", b"usr/bin/a", 0),
        (EntryKind::Symlink, b"lib", b"usr/lib", 0),
        (EntryKind::File, b"var/lib/apt/lists/x", b"", 7),
    ] {
        l.push(kind, path, link, size, 0o644, 0, 0);
    }
    l
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_layer_bytes: 16 << 20,
        ..Limits::default()
    };
    let Ok(ix) = index_stream(data, None, limits, &Progress::default()) else {
        return;
    };
    let meta = ImageMeta {
        history: vec![
            HistoryEntry {
                created_by: "/bin/sh -c #(nop) ADD file:abc in / ".into(),
                ..Default::default()
            },
            HistoryEntry {
                created_by: "RUN /bin/sh -c fuzz # buildkit".into(),
                ..Default::default()
            },
        ],
        layers: vec![LayerMeta::default(), LayerMeta::default()],
        ..Default::default()
    };
    let Ok(mut b) = AnalysisBuilder::new(meta, AnalysisOptions::default()) else {
        return;
    };
    b.add_layer(1, ix.entries, None);
    b.add_layer(0, lower(), None);
    let a = b.finish();
    assert_eq!(
        a.totals.stored_bytes,
        a.totals.visible_bytes + a.totals.wasted_bytes
    );
    let _ = text::render(&a, text::TextOptions::default());
    let _ = json::to_string(&a, None);
});
