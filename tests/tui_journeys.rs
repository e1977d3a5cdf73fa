//! Journeys through the interactive browser: scripted keys and mouse actions pushed through the
//! real event loop (`dsize::tui::event_loop::run_loop`) on ratatui's `TestBackend`, with insta
//! snapshots of the screen. Images are written in code by the test kit, or come from `assets/`.

use crossbeam_channel::{Receiver, Sender, unbounded};
use dsize::index::Progress;
use dsize::model::Analysis;
use dsize::pipeline::{self, Event, Options};
use dsize::report::ci::{Limit, Rules, Setting};
use dsize::source::{Error, ImageRef};
use dsize::testkit::{Image, Shape, image, layer};
use dsize::tui::event_loop::{Flow, Script, run_loop, settle};
use dsize::tui::state::{App, AppOptions, Input, Pane};
use dsize::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// An image with a bit of everything: a base, an empty step, a cache deleted too late, an
/// overwrite, leftovers, a symlink, a hard link and a name with an escape sequence.
fn sample() -> Image {
    image()
        .step(
            "/bin/sh -c #(nop) ADD file:0123456789abcdef in / ",
            layer()
                .dir("bin")
                .file("bin/busybox", 900_000)
                .symlink("bin/sh", "busybox")
                .file("etc/passwd", 30)
                .file("etc/conf/a.conf", 300),
        )
        .empty_step("/bin/sh -c #(nop)  ENV PATH=/usr/bin:/bin")
        .step(
            "RUN /bin/sh -c apt-get update && apt-get install -y gcc # buildkit",
            layer()
                .file("var/lib/apt/lists/main_Packages", 50_000)
                .file("var/cache/apt/pkgcache.bin", 7_000)
                .file("root/.npm/_cacache/index", 12_000)
                .file("app/data.bin", 20_000)
                .hardlink("app/data-link.bin", "app/data.bin"),
        )
        .step(
            "RUN /bin/sh -c rm -rf /root/.npm && echo v2 > /app/data.bin # buildkit",
            layer().whiteout("root/.npm").file("app/data.bin", 3),
        )
        .step(
            "COPY . /app # buildkit",
            layer()
                .file("app/.git/objects/pack.pack", 2_500)
                .file("app/main.py", 120)
                .raw_name(b"app/evil\x1b]0;pwned\x07.txt", 5),
        )
        .empty_step("CMD [\"python\" \"main.py\"]")
        .repo_tag("example/app:v1")
}

/// Runs the pipeline on an archive and keeps every event, the last being `Done`.
fn events_of(archive: &[u8]) -> Vec<Event> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("image.tar");
    std::fs::write(&path, archive).expect("write archive");
    let progress = Progress::default();
    let mut events = Vec::new();
    let a = pipeline::analyze(
        &ImageRef::Archive(path),
        &Options::default(),
        &progress,
        &mut |e| events.push(e),
    )
    .expect("analysis");
    // Layers are indexed in parallel, so they report in any order; the
    // journeys replay them in image order so each screen is reproducible.
    events.sort_by_key(|e| match e {
        Event::Layer { diff_index, .. } => *diff_index,
        _ => 0,
    });
    events.push(Event::Done(Box::new(a)));
    events
}

fn sample_events() -> Vec<Event> {
    events_of(&sample().archive(Shape::Docker25))
}

/// A browser on a `TestBackend`, fed pipeline events by hand.
struct Journey {
    terminal: Terminal<TestBackend>,
    app: App,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    progress: Arc<Progress>,
}

impl Journey {
    fn new(w: u16, h: u16) -> Self {
        Self::with(w, h, AppOptions::default())
    }

    fn with(w: u16, h: u16, mut options: AppOptions) -> Self {
        options.theme = Some(Theme { color: false });
        let progress = Arc::new(Progress::default());
        let (tx, rx) = unbounded();
        let app = App::new(
            "example.tar",
            Arc::clone(&progress),
            options,
            ratatui::layout::Rect::new(0, 0, w, h),
        );
        Journey {
            terminal: Terminal::new(TestBackend::new(w, h)).expect("terminal"),
            app,
            tx,
            rx,
            progress,
        }
    }

    /// A browser with the whole sample analysed (start frame drawn).
    fn loaded(w: u16, h: u16) -> Self {
        let mut j = Self::new(w, h);
        for e in sample_events() {
            j.send(e);
        }
        j.run(vec![]);
        j
    }

    fn send(&self, e: Event) {
        self.tx.send(e).expect("send");
    }

    /// Pushes inputs through the real event loop until they run out (then one frame is drawn).
    fn run(&mut self, inputs: Vec<Input>) -> Flow {
        run_loop(
            &mut self.terminal,
            &mut self.app,
            &mut Script::new(inputs),
            &self.rx,
        )
        .expect("loop")
    }

    fn keys(&mut self, s: &str) -> Flow {
        self.run(Input::keys(s))
    }

    fn key(&mut self, code: KeyCode) -> Flow {
        self.run(vec![Input::key(code)])
    }

    fn resize(&mut self, w: u16, h: u16) {
        self.terminal.backend_mut().resize(w, h);
        self.run(vec![Input::Resize(w, h)]);
    }

    /// The screen as text, trailing spaces cut.
    fn screen(&self) -> String {
        dsize::testkit::screen_text(self.terminal.backend().buffer())
    }

    fn analysis(&self) -> Arc<Analysis> {
        self.app.analysis.clone().expect("analysed")
    }

    /// In the waste list (focused), selects the item at `path` and presses Enter.
    fn jump_to(&mut self, path: &str) {
        let at = self
            .app
            .items
            .iter()
            .position(|i| self.analysis().tree.path(i.node) == path.as_bytes())
            .unwrap_or_else(|| panic!("{path} in the waste list"));
        self.key(KeyCode::Home);
        for _ in 0..at {
            self.keys("j");
        }
        self.key(KeyCode::Enter);
    }

    /// The path of the tree's selected row.
    fn selected_path(&self) -> String {
        let row = self.app.tree.selected_row().expect("a selected row");
        String::from_utf8_lossy(&self.analysis().tree.path(row.node)).into_owned()
    }
}

fn click(x: u16, y: u16) -> Input {
    Input::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    })
}

fn wheel_down(x: u16, y: u16) -> Input {
    Input::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn start_and_progress() {
    let mut j = Journey::new(80, 24);
    // The first frame, before the image has said anything.
    j.run(vec![]);
    insta::assert_snapshot!("start", j.screen());
    // History known, two layers indexed.
    let mut events = sample_events().into_iter();
    let Some(Event::Meta(meta)) = events.next() else {
        panic!("meta first")
    };
    j.send(Event::Meta(meta));
    for e in events.by_ref().take(2) {
        j.send(e);
    }
    j.progress.bytes.store(912_345, Ordering::Relaxed);
    j.progress.layers_done.store(2, Ordering::Relaxed);
    j.progress.layers_total.store(4, Ordering::Relaxed);
    j.run(vec![]);
    insta::assert_snapshot!("progress", j.screen());
    assert!(j.app.loading());
    // Keys work while loading; the rest arrives and the same session shows it.
    j.keys("j");
    for e in events {
        j.send(e);
    }
    j.run(vec![]);
    assert!(!j.app.loading());
    assert_eq!(j.app.layers.selected, 1);
    insta::assert_snapshot!("loaded_on_empty_step", j.screen());
}

#[test]
fn layers_and_the_mode_toggle() {
    let mut j = Journey::loaded(80, 24);
    insta::assert_snapshot!("loaded", j.screen());
    // Step 2: its changes, then the whole filesystem as of it, then back.
    j.keys("jj");
    insta::assert_snapshot!("step2_changes", j.screen());
    j.keys("t");
    insta::assert_snapshot!("step2_whole", j.screen());
    j.keys("t");
    assert!(j.screen().contains("Files · #2 changes"));
    // Removed paths show in the step that removed them, with what they held.
    j.keys("j");
    let s = j.screen();
    assert!(s.contains("-W     12 kB   ▾ .npm"), "{s}");
}

#[test]
fn tree_folding_sorting_attributes_and_hiding() {
    let mut j = Journey::loaded(100, 30);
    j.keys("jjt");
    j.key(KeyCode::Tab);
    assert_eq!(j.app.focus, Pane::Tree);
    // Select /app and fold it.
    let app_row = j
        .app
        .tree
        .rows()
        .iter()
        .position(|r| j.analysis().tree.path(r.node) == b"/app");
    let app_row = app_row.expect("/app shown");
    for _ in 0..app_row {
        j.keys("j");
    }
    assert_eq!(j.selected_path(), "/app");
    j.keys(" ");
    insta::assert_snapshot!("app_folded", j.screen());
    j.keys(" ");
    assert!(j.screen().contains("data-link.bin ⇒ hard link"));
    // Everything folded, then everything open again.
    j.keys("[");
    insta::assert_snapshot!("all_folded", j.screen());
    j.keys("]");
    // Sort by size, attributes, only what changed.
    j.keys("sau");
    insta::assert_snapshot!("by_size_attrs_changed_only", j.screen());
    // h goes to the parent, l opens.
    j.keys("G");
    let before = j.selected_path();
    j.keys("h");
    assert_ne!(j.selected_path(), before);
}

#[test]
fn filter_with_live_count() {
    let mut j = Journey::loaded(80, 24);
    j.keys("t/");
    assert_eq!(j.app.focus, Pane::Tree);
    j.keys("conf");
    insta::assert_snapshot!("filter_conf", j.screen());
    assert_eq!(j.app.tree.match_count, 2, "/etc/conf and /etc/conf/a.conf");
    // Letters are typed while the filter has the keyboard, not taken as keys.
    j.keys("q");
    assert!(!j.app.quit);
    j.key(KeyCode::Backspace);
    j.key(KeyCode::Enter);
    assert!(!j.app.tree.filter.typing);
    assert!(j.app.tree.filter.active());
    // An invalid regex says why and keeps the last good filter.
    j.keys("/(");
    assert!(j.screen().contains("unclosed group"), "{}", j.screen());
    // Esc clears it.
    j.key(KeyCode::Esc);
    assert!(!j.app.tree.filter.active());
    assert!(!j.screen().contains("matches"));
}

/// On a big tree the filter is matched on its own thread once typing pauses: the keys keep
/// their frames meanwhile, and a result for text typed over is dropped.
#[test]
fn filter_on_its_own_thread() {
    let mut j = Journey::loaded(80, 24);
    j.app.tree.live_filter_paths = 0;
    j.keys("t/con");
    // The script ended: a pause in typing. The match runs on its thread; the frame is drawn.
    assert!(j.app.tree.filter.running());
    assert!(j.screen().contains("/con  matching…"), "{}", j.screen());
    assert!(!j.app.tree.filter.active());
    // More text while it runs: that result is stale.
    j.keys("f");
    settle(&mut j.terminal, &mut j.app).expect("settle");
    assert!(!j.app.tree.filter.running() && !j.app.tree.filter.pending());
    assert_eq!(j.app.tree.match_count, 2, "/etc/conf and /etc/conf/a.conf");
    assert!(j.screen().contains("/conf  2 matches"), "{}", j.screen());
    // Typing more narrows; Esc clears at once, a running match or not.
    j.keys("/");
    settle(&mut j.terminal, &mut j.app).expect("settle");
    assert_eq!(j.app.tree.match_count, 1, "/etc/conf/a.conf");
    j.keys("x");
    j.key(KeyCode::Esc);
    assert!(!j.app.tree.filter.active() && !j.app.tree.filter.running());
    settle(&mut j.terminal, &mut j.app).expect("settle");
    assert!(!j.app.tree.filter.active());
    assert!(!j.screen().contains("match"), "{}", j.screen());
}

#[test]
fn jump_from_the_waste_list() {
    let mut j = Journey::loaded(80, 24);
    j.key(KeyCode::Tab);
    j.key(KeyCode::Tab);
    assert_eq!(j.app.focus, Pane::Waste);
    insta::assert_snapshot!("waste_list", j.screen());
    // The biggest item is the apt lists leftover, stored by step 2.
    j.key(KeyCode::Enter);
    assert_eq!(j.app.focus, Pane::Tree);
    assert_eq!(j.app.layers.selected, 2);
    assert_eq!(j.selected_path(), "/var/lib/apt/lists");
    // The npm cache deleted a step later: its files are marked as waste where they were stored.
    j.key(KeyCode::Tab);
    j.jump_to("/root/.npm");
    assert_eq!(j.app.layers.selected, 2);
    assert_eq!(j.selected_path(), "/root/.npm");
    insta::assert_snapshot!("jumped_to_npm", j.screen());
}

#[test]
fn help_overlay() {
    let mut j = Journey::loaded(80, 24);
    j.keys("?");
    insta::assert_snapshot!("help", j.screen());
    // Every binding of the key table is listed.
    for b in dsize::tui::keys::BINDINGS
        .iter()
        .filter(|b| b.scope == dsize::tui::keys::Scope::Global)
    {
        assert!(j.screen().contains(b.label), "{}", b.label);
    }
    j.key(KeyCode::PageDown);
    assert!(j.screen().contains("Typing a filter"));
    j.key(KeyCode::Esc);
    assert!(j.app.help.is_none());
    assert!(!j.screen().contains("Esc closes"));
}

#[test]
fn resize_and_small_terminals() {
    let mut j = Journey::loaded(80, 24);
    j.resize(120, 40);
    insta::assert_snapshot!("wide", j.screen());
    // Small: one pane at a time; Tab goes through them.
    j.resize(50, 14);
    insta::assert_snapshot!("small_layers", j.screen());
    j.key(KeyCode::Tab);
    insta::assert_snapshot!("small_tree", j.screen());
    // Too small: a note, and q still quits.
    j.resize(16, 5);
    insta::assert_snapshot!("too_small", j.screen());
    j.resize(80, 24);
    assert!(j.screen().contains("Files"));
    assert_eq!(j.keys("q"), Flow::Quit);
}

#[test]
fn quit_stops_the_analysis() {
    let mut j = Journey::new(80, 24);
    j.run(vec![]);
    assert_eq!(j.keys("q"), Flow::Quit);
    assert!(j.app.quit);
    assert!(
        j.progress.cancel.load(Ordering::Relaxed),
        "the pipeline is asked to stop"
    );
    // Ctrl-C too, even while typing a filter.
    let mut j = Journey::loaded(80, 24);
    j.keys("/ab");
    let ctrl_c = Input::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(j.run(vec![ctrl_c]), Flow::Quit);
}

#[test]
fn errors_after_start_show_in_the_browser() {
    let mut j = Journey::new(80, 24);
    let mut events = sample_events().into_iter();
    j.send(events.next().expect("meta"));
    j.send(Event::Failed(Error::new(
        "example.tar",
        "layer 2: unexpected end of the gzip stream",
    )));
    j.run(vec![]);
    insta::assert_snapshot!("failed", j.screen());
    assert!(j.app.error.is_some());
}

#[test]
fn mouse_focus_select_and_wheel() {
    let mut j = Journey::loaded(80, 24);
    // Click the third layer row (the layers pane starts at y=1; rows at y=2…).
    j.run(vec![click(10, 4)]);
    assert_eq!(j.app.focus, Pane::Layers);
    assert_eq!(j.app.layers.selected, 2);
    // Click in the tree: focus and select; the wheel moves down.
    j.run(vec![click(50, 4)]);
    assert_eq!(j.app.focus, Pane::Tree);
    let picked = j.app.tree.list.selected;
    j.run(vec![wheel_down(50, 6)]);
    assert_eq!(j.app.tree.list.selected, picked + 3);
    // Clicking the selected directory again folds it.
    let row = j.app.tree.list.selected - j.app.tree.list.offset;
    let is_dir = j.app.tree.selected_row().is_some_and(|r| r.flags & 1 != 0);
    let rows = j.app.tree.rows().len();
    j.run(vec![click(50, 3 + row as u16)]);
    if is_dir {
        assert!(j.app.tree.rows().len() < rows);
    }
}

#[test]
fn names_are_escaped_never_raw() {
    let mut j = Journey::loaded(100, 30);
    j.keys("jjjj");
    let s = j.screen();
    assert!(s.contains(r"evil\x1b]0;pwned\x07.txt"), "{s}");
    let buf = j.terminal.backend().buffer();
    assert!(buf.content().iter().all(|c| !c.symbol().contains('\x1b')));
}

#[test]
fn ci_verdict_in_the_summary() {
    let rules = Rules {
        max_leftovers: Setting::Set(Limit {
            value: 1_000,
            origin: "--max-leftovers".into(),
        }),
        ..Rules::default()
    };
    let mut j = Journey::with(
        100,
        40,
        AppOptions {
            ci: Some(rules),
            ..AppOptions::default()
        },
    );
    for e in sample_events() {
        j.send(e);
    }
    j.run(vec![]);
    assert!(j.app.ci.as_ref().is_some_and(|c| !c.pass));
    let s = j.screen();
    assert!(s.contains("CI FAIL"), "{s}");
    assert!(s.contains("FAIL (1 of 1 rules failed)"), "{s}");
}

#[test]
fn no_color_uses_no_colour() {
    use ratatui::style::Color;
    let mut j = Journey::loaded(80, 24);
    j.keys("jj");
    let buf = j.terminal.backend().buffer();
    assert!(
        buf.content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
}

/// The example image from `assets/`: the jump lands on the file that was wasted.
#[test]
fn my_app_v1_from_assets() {
    let path = format!("{}/assets/my-app-v1.tar", env!("CARGO_MANIFEST_DIR"));
    let events = events_of(&std::fs::read(path).expect("asset"));
    let mut j = Journey::new(100, 30);
    for e in events {
        j.send(e);
    }
    j.run(vec![]);
    insta::assert_snapshot!("my_app_v1", j.screen());
    j.key(KeyCode::Tab);
    j.key(KeyCode::Tab);
    j.jump_to("/usr/include/stdio.h");
    assert_eq!(j.app.layers.selected, 2);
    assert_eq!(j.selected_path(), "/usr/include/stdio.h");
    let s = j.screen();
    assert!(s.contains("+W      3 kB"), "{s}");
}

/// The README's key table names every key of the key table (the help and footer come from it).
#[test]
fn readme_lists_every_key() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let start = readme.find("## Interactive browser").expect("section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    for b in dsize::tui::keys::BINDINGS {
        for key in b.label.split(' ') {
            assert!(
                section.contains(&format!("`{key}`")),
                "README misses `{key}` ({})",
                b.help
            );
        }
    }
}
