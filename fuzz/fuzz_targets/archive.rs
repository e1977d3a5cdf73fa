//! A whole image archive from bytes, through the stream reader (the path stdin and the Engine
//! API take): outer tar, metadata resolution, every layer indexed and merged, reports rendered.
#![no_main]

use dsize::index::{Limits, Progress};
use dsize::model::{AnalysisBuilder, AnalysisOptions, ImageMeta, LayerEntries};
use dsize::report::{json, text};
use dsize::source::{ReadOptions, Sink, archive::read_stream};
use libfuzzer_sys::fuzz_target;

struct Build(Option<AnalysisBuilder>);

impl Sink for Build {
    fn meta(&mut self, meta: &ImageMeta) {
        self.0 = AnalysisBuilder::new(meta.clone(), AnalysisOptions::default()).ok();
    }
    fn layer(&mut self, diff_index: usize, entries: LayerEntries, compressed: Option<u64>) {
        if let Some(b) = self.0.as_mut() {
            b.add_layer(diff_index, entries, compressed);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        limits: Limits {
            max_layer_bytes: 16 << 20,
            ..Limits::default()
        },
        jobs: 1,
        ..ReadOptions::default()
    };
    let mut build = Build(None);
    let mut input = data;
    if read_stream("fuzz", &mut input, &opts, &Progress::default(), &mut build).is_ok() {
        if let Some(b) = build.0 {
            let a = b.finish();
            let t = &a.totals;
            assert_eq!(t.stored_bytes, t.visible_bytes + t.wasted_bytes);
            let _ = text::render(&a, text::TextOptions::default());
            let _ = json::to_string(&a, None);
        }
    }
});
