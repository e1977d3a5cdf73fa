//! In-process timings of the browser for the benchmark: the first frame for a finished analysis,
//! and each key press until its next frame, through the real event loop on ratatui's `TestBackend`
//! (so terminal I/O is not measured, everything else is).

use crate::model::Analysis;
use crate::tui::event_loop::{Script, run_loop, settle};
use crate::tui::state::{App, AppOptions, Input};
use crate::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What [`measure_frames`] measured.
#[derive(Debug, Clone)]
pub struct FrameTimes {
    /// From handing the finished analysis to the browser to its first full frame (marks, the
    /// waste list, the first layer's view data, the rows and the drawing).
    pub first_frame: Duration,
    /// Per key, in order: a short name of the key and the time from the key press to the end of
    /// the next frame.
    pub keys: Vec<(String, Duration)>,
    /// Per key that changed the filter text on a big tree (matched on its own thread, after a
    /// pause in typing): from the key press to the frame with the new matches, not counting the
    /// pause itself.
    pub filter_results: Vec<(String, Duration)>,
}

impl FrameTimes {
    /// The slowest key press.
    pub fn worst_key(&self) -> Option<&(String, Duration)> {
        self.keys.iter().max_by_key(|(_, d)| *d)
    }
}

/// Times the browser on `analysis` in a `width`×`height` in-memory terminal: the first frame,
/// then each of `keys` (pressed one by one, each followed by its frame).
pub fn measure_frames(analysis: Arc<Analysis>, width: u16, height: u16, keys: &[KeyEvent]) -> FrameTimes {
    let progress = Arc::new(crate::index::Progress::default());
    let options = AppOptions {
        theme: Some(Theme { color: true }),
        ..AppOptions::default()
    };
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => match e {},
    };
    let events = crossbeam_channel::never();
    let start = Instant::now();
    let mut app = App::new(
        &analysis.meta.name,
        progress,
        options,
        Rect::new(0, 0, width, height),
    );
    app.set_analysis(analysis);
    let _ = run_loop(&mut terminal, &mut app, &mut Script::default(), &events);
    let first_frame = start.elapsed();
    let mut out = Vec::with_capacity(keys.len());
    let mut filter_results = Vec::new();
    for k in keys {
        let start = Instant::now();
        let _ = run_loop(
            &mut terminal,
            &mut app,
            &mut Script::new([Input::Key(*k)]),
            &events,
        );
        out.push((key_name(k), start.elapsed()));
        if app.tree.filter.pending() || app.tree.filter.running() {
            let _ = settle(&mut terminal, &mut app);
            filter_results.push((key_name(k), start.elapsed()));
        }
    }
    FrameTimes {
        first_frame,
        keys: out,
        filter_results,
    }
}

fn key_name(k: &KeyEvent) -> String {
    let mut s = String::new();
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        s.push_str("Ctrl-");
    }
    match k.code {
        KeyCode::Char(' ') => s.push_str("Space"),
        KeyCode::Char(c) => s.push(c),
        other => s.push_str(&format!("{other:?}")),
    }
    s
}

/// A representative session: next layers, into the tree, moving, paging, folding, both modes,
/// sorting by size, a filter typed and cleared, back to the layers.
pub fn default_keys() -> Vec<KeyEvent> {
    let k = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
    let ch = |c: char| k(KeyCode::Char(c));
    let mut v = vec![ch('j'), ch('j'), ch('k'), k(KeyCode::Tab)];
    v.extend([ch('j'); 5]);
    v.extend([
        k(KeyCode::PageDown),
        k(KeyCode::End),
        k(KeyCode::Home),
        ch(' '),
        ch(' '),
        ch('t'),
        ch('t'),
        ch('s'),
        ch('s'),
        ch('u'),
        ch('u'),
        ch('/'),
        ch('l'),
        ch('i'),
        ch('b'),
        k(KeyCode::Esc),
        k(KeyCode::BackTab),
        ch('j'),
    ]);
    v
}
