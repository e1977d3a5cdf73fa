//! Hostile inputs (issue 7): every case gives a correct analysis (numbers asserted) or exactly
//! one clear error line with exit 2, through the real binary, within 200 MB and 10 s, writing
//! nothing to disk. `rawtar` writes the malformed tar bytes; `run` runs and checks the binary.

mod compression;
mod fuzz_regressions;
mod manifests;
mod paths;
mod rawtar;
mod run;
mod seeds;
mod tar;
mod terminal;

use dsize::index::Progress;
use dsize::model::{Analysis, Kind};
use dsize::pipeline::{Options, analyze};
use dsize::source::ImageRef;

/// The analysis of an archive through the library (for assertions on single paths).
pub fn analysis(bytes: &[u8]) -> Analysis {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("image.tar");
    std::fs::write(&p, bytes).expect("write");
    analyze(
        &ImageRef::Archive(p),
        &Options::default(),
        &Progress::default(),
        &mut |_| {},
    )
    .expect("analysis")
}

/// The visible kind and size of `path` in the final image.
pub fn visible(a: &Analysis, path: &[u8]) -> Option<(Kind, u64)> {
    let n = a.tree.lookup(path)?;
    a.tree.visible(n).map(|v| (v.kind, v.size))
}
