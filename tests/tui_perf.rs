//! The browser stays fluid on big images: key press to next frame on a synthetic image with many
//! paths, through the real event loop on `TestBackend` (`dsize::tui::measure_frames`).
//!
//! Ignored by default (it needs a release build to mean anything):
//! `DSIZE_PERF_PATHS=1000000 cargo test --release --test tui_perf -- --ignored --nocapture`
//! (`DSIZE_PERF_IMAGE=archive.tar` reads an image instead of the synthetic tree).

use dsize::model::{
    Analysis, AnalysisBuilder, AnalysisOptions, EntryKind, HistoryEntry, ImageMeta, LayerEntries, LayerMeta,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A base layer with `paths` files in directories of 20 (four levels), then ten layers that add,
/// rewrite and delete a few thousand paths each.
fn big(paths: usize) -> Analysis {
    let layers = 11;
    let meta = ImageMeta {
        name: "synthetic".into(),
        history: (0..layers)
            .map(|i| HistoryEntry {
                created_by: format!("RUN step {i}"),
                ..Default::default()
            })
            .collect(),
        layers: vec![LayerMeta::default(); layers],
        ..Default::default()
    };
    let mut b = AnalysisBuilder::new(meta, AnalysisOptions::default()).expect("builder");
    let path = |i: usize| {
        format!(
            "usr/d{}/e{}/f{}/file{i}.bin",
            i % 20,
            (i / 20) % 20,
            (i / 400) % 20
        )
    };
    let mut base = LayerEntries::default();
    for i in 0..paths {
        base.push(
            EntryKind::File,
            path(i).as_bytes(),
            b"",
            1000 + (i as u64 % 5000),
            0o644,
            0,
            0,
        );
    }
    b.add_layer(0, base, None);
    for l in 1..layers {
        let mut e = LayerEntries::default();
        for k in 0..3000 {
            let i = (k * 997 + l * 131) % paths;
            e.push(EntryKind::File, path(i).as_bytes(), b"", 2000, 0o644, 0, 0);
            e.push(
                EntryKind::File,
                format!("app/layer{l}/new{k}").as_bytes(),
                b"",
                500,
                0o644,
                0,
                0,
            );
        }
        for k in 0..500 {
            let i = (k * 7919 + l * 17) % paths;
            let p = path(i);
            let (dir, name) = p.rsplit_once('/').expect("a slash");
            e.push(
                EntryKind::Whiteout,
                format!("{dir}/{name}").as_bytes(),
                b"",
                0,
                0,
                0,
                0,
            );
        }
        b.add_layer(l, e, None);
    }
    b.finish()
}

/// The synthetic tree's size: `DSIZE_PERF_PATHS`, else `default`.
fn perf_paths(default: usize) -> usize {
    std::env::var("DSIZE_PERF_PATHS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The image `DSIZE_PERF_IMAGE` names (an archive), else the synthetic tree of `paths` paths.
fn image_or(paths: usize) -> Analysis {
    match std::env::var_os("DSIZE_PERF_IMAGE") {
        Some(path) => dsize::pipeline::analyze(
            &dsize::source::ImageRef::Archive(path.into()),
            &Default::default(),
            &dsize::index::Progress::default(),
            &mut |_| {},
        )
        .expect("the image reads"),
        None => big(paths),
    }
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn key_press_to_frame_on_a_big_image() {
    let paths = perf_paths(500_000);
    let t = Instant::now();
    let a = Arc::new(image_or(paths));
    eprintln!("built {} paths in {:?}", a.tree.len(), t.elapsed());
    let times = dsize::tui::measure_frames(Arc::clone(&a), 120, 40, &dsize::tui::default_keys());
    eprintln!("first frame: {:?}", times.first_frame);
    for (k, d) in &times.keys {
        eprintln!("  {k:>10}  {d:?}");
    }
    let (worst_key, worst) = times.worst_key().cloned().unwrap_or_default();
    eprintln!("worst key: {worst_key} {worst:?}");
    for (k, d) in &times.filter_results {
        eprintln!("  filter {k:>3} → its matches {d:?}");
    }
    let nav: Vec<Duration> = times
        .keys
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "/" | "l" | "i" | "b" | "Esc"))
        .map(|(_, d)| *d)
        .collect();
    let mut sorted = nav.clone();
    sorted.sort();
    eprintln!(
        "navigation keys: median {:?}, max {:?}",
        sorted[sorted.len() / 2],
        sorted.last()
    );
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn view_data_pass() {
    let a = big(500_000);
    for step in [1u16, 2, 3, 0, 5] {
        let t = Instant::now();
        let v = dsize::tui::state::tree::ViewData::compute(&a.tree, step, None);
        eprintln!(
            "step {step}: {:?} ({})",
            t.elapsed(),
            v.size(0, dsize::tui::state::tree::Mode::Whole)
        );
    }
    let t = Instant::now();
    let mut n = 0u64;
    for id in 1..a.tree.len() as u32 {
        if a.tree.version_at(id, 3).is_some() {
            n += 1;
        }
    }
    eprintln!("version_at alone: {:?} {n}", t.elapsed());
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn filter_walk() {
    use dsize::tui::state::paths::PathRegex;
    let paths = perf_paths(1_000_000);
    let patterns = std::env::var("DSIZE_PERF_PATTERNS").unwrap_or_else(|_| {
        [
            "l", "li", "lib", r"\.so$", "file1", "usr/d1/", "e1/f", "x?", "^/app",
        ]
        .join(" ")
    });
    let a = big(paths);
    for p in patterns.split_whitespace() {
        let re = PathRegex::new(p, true).expect("pattern");
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..7 {
            let t = Instant::now();
            let m = re.matches(&a.tree, None);
            times.push(t.elapsed());
            count = (0..a.tree.len()).filter(|i| m.get(*i)).count();
        }
        times.sort();
        eprintln!(
            "{p:>10}: median {:?} min {:?} ({count} matches)",
            times[3], times[0]
        );
    }
}

/// Layer moves on an image (`DSIZE_PERF_IMAGE`, else the synthetic tree): down and up the layers,
/// each key to its frame.
#[test]
#[ignore = "timing: run in release with --ignored"]
fn layer_moves() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let a = Arc::new(image_or(1_000_000));
    let layers = a.steps.len();
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.extend(std::iter::repeat_n(key('j'), layers));
        keys.extend(std::iter::repeat_n(key('k'), layers));
    }
    let times = dsize::tui::measure_frames(Arc::clone(&a), 120, 40, &keys);
    let mut d: Vec<Duration> = times.keys.iter().map(|(_, d)| *d).collect();
    d.sort();
    eprintln!(
        "{} layer moves: median {:?}, 90th {:?}, max {:?}",
        d.len(),
        d[d.len() / 2],
        d[d.len() * 9 / 10],
        d[d.len() - 1]
    );
}
