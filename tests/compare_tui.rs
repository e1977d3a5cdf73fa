//! Journeys through `dsize compare`'s interactive view: the tutorial's three images (test kit),
//! scripted keys through the view's loop on ratatui's `TestBackend`, insta snapshots of the screen.

use dsize::model::compare;
use dsize::testkit::tutorial;
use dsize::tui::compare::{CompareApp, DiffSort, Screen, run_loop};
use dsize::tui::event_loop::{Flow, Script};
use dsize::tui::state::Input;
use dsize::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::style::Color;

struct Journey {
    terminal: Terminal<TestBackend>,
    app: CompareApp,
}

impl Journey {
    fn new() -> Self {
        let analyses = vec![
            tutorial::analyse(&tutorial::v1(), "my-app:v1"),
            tutorial::analyse(&tutorial::v2(), "my-app:v2"),
            tutorial::analyse(&tutorial::v3(), "my-app:v3"),
        ];
        let refs: Vec<_> = analyses.iter().collect();
        let cmp = compare::compare(&refs);
        let (w, h) = (100, 30);
        let terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let app = CompareApp::new(
            &cmp,
            analyses,
            ratatui::layout::Rect::new(0, 0, w, h),
            Theme { color: true },
        );
        let mut j = Journey { terminal, app };
        j.run(vec![]);
        j
    }

    fn run(&mut self, inputs: Vec<Input>) -> Flow {
        run_loop(&mut self.terminal, &mut self.app, &mut Script::new(inputs)).expect("loop")
    }

    fn keys(&mut self, s: &str) -> Flow {
        self.run(Input::keys(s))
    }

    fn key(&mut self, code: KeyCode) -> Flow {
        self.run(vec![Input::key(code)])
    }

    fn screen(&self) -> String {
        dsize::testkit::screen_text(self.terminal.backend().buffer())
    }
}

/// The foreground colour of the first cell of `text` on the screen.
fn fg_of(j: &Journey, text: &str) -> Option<Color> {
    let buf = j.terminal.backend().buffer();
    let screen = j.screen();
    let (y, line) = screen.lines().enumerate().find(|(_, l)| l.contains(text))?;
    let x = line[..line.find(text)?].chars().count() as u16;
    buf[(x, y as u16)].fg.into()
}

#[test]
fn compare_pick_pair_and_open_tree() {
    let mut j = Journey::new();
    assert_eq!(j.app.screen, Screen::Pairs);
    insta::assert_snapshot!("compare_pairs", j.screen());
    j.key(KeyCode::Down);
    j.key(KeyCode::Enter);
    assert_eq!(j.app.screen, Screen::Tree);
    let d = j.app.diff.as_ref().expect("diff open");
    assert_eq!((d.from, d.to), (1, 2));
    insta::assert_snapshot!("compare_tree_v2_v3", j.screen());
    // Removed paths are red, shrunk ones cyan (the marker and the name).
    assert_eq!(fg_of(&j, "- gcc/"), Some(Color::Red));
    assert_eq!(fg_of(&j, "< usr/"), Some(Color::Cyan));
    // ? shows the keys; Esc closes the help.
    j.keys("?");
    assert!(j.app.help);
    insta::assert_snapshot!("compare_help", j.screen());
    j.key(KeyCode::Esc);
    assert!(!j.app.help);
    assert_eq!(j.app.screen, Screen::Tree);
    // Esc goes back to the pairs, q quits.
    j.key(KeyCode::Esc);
    assert_eq!(j.app.screen, Screen::Pairs);
    assert_eq!(j.keys("q"), Flow::Quit);
}

#[test]
fn compare_filter_collapse_sort() {
    let mut j = Journey::new();
    j.key(KeyCode::Down);
    j.key(KeyCode::Enter);
    j.keys("/apt");
    let d = j.app.diff.as_ref().expect("diff open");
    assert!(d.typing);
    // /var/lib/apt, its lists/ and the two lists in it.
    assert_eq!(d.match_count, 4);
    insta::assert_snapshot!("compare_filter_typing", j.screen());
    j.key(KeyCode::Enter);
    j.key(KeyCode::Esc);
    assert!(j.app.diff.as_ref().unwrap().filter.is_empty());
    assert_eq!(j.app.screen, Screen::Tree);
    // Collapse everything, then open the first directory.
    j.keys("[");
    insta::assert_snapshot!("compare_collapsed", j.screen());
    j.key(KeyCode::Char(' '));
    insta::assert_snapshot!("compare_first_open", j.screen());
    j.keys("s");
    assert_eq!(j.app.diff.as_ref().unwrap().sort(), DiffSort::Name);
    insta::assert_snapshot!("compare_sorted_by_name", j.screen());
    assert_eq!(j.keys("q"), Flow::Quit);
}

fn mouse(kind: MouseEventKind, row: u16) -> Input {
    Input::Mouse(MouseEvent {
        kind,
        column: 10,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

fn click(row: u16) -> Input {
    mouse(MouseEventKind::Down(MouseButton::Left), row)
}

#[test]
fn compare_mouse_selects_opens_folds_and_scrolls() {
    let mut j = Journey::new();
    // Pairs start on the first row (y 1): a click on the second selects it, a second click opens it.
    j.run(vec![click(2)]);
    assert_eq!((j.app.pair_list.selected, j.app.screen), (1, Screen::Pairs));
    j.run(vec![click(2)]);
    assert_eq!(j.app.screen, Screen::Tree);
    let d = j.app.diff.as_ref().expect("diff open");
    assert_eq!((d.from, d.to), (1, 2));
    // Tree rows start below the header (y 2). Clicking the third row selects it.
    j.run(vec![click(4)]);
    let d = j.app.diff.as_ref().unwrap();
    assert_eq!(d.list.selected, 2);
    // A click outside the rows (the header line) changes nothing.
    j.run(vec![click(1)]);
    assert_eq!(j.app.diff.as_ref().unwrap().list.selected, 2);
    // The wheel moves by three rows, both ways.
    j.run(vec![mouse(MouseEventKind::ScrollDown, 10)]);
    assert_eq!(j.app.diff.as_ref().unwrap().list.selected, 5);
    j.run(vec![mouse(MouseEventKind::ScrollUp, 10)]);
    assert_eq!(j.app.diff.as_ref().unwrap().list.selected, 2);
    // Clicking the first row twice folds that directory: fewer rows, the selection stays.
    j.run(vec![click(2)]);
    let before = j.app.diff.as_ref().unwrap().rows().len();
    j.run(vec![click(2)]);
    let d = j.app.diff.as_ref().unwrap();
    assert_eq!(d.list.selected, 0);
    assert!(
        d.rows().len() < before,
        "{} rows, {before} before",
        d.rows().len()
    );
    // Back on the pairs, the last row of the frame holds a pair too: with the terminal just tall
    // enough for two pairs (borders and footer take 3 lines), a click on the second selects it.
    j.key(KeyCode::Esc);
    j.run(vec![Input::Resize(100, 5), click(1)]);
    assert_eq!(j.app.pair_list.selected, 0);
    j.run(vec![click(2)]);
    assert_eq!(j.app.pair_list.selected, 1);
    j.run(vec![Input::Resize(100, 30), click(2), click(2)]);
    assert_eq!(j.app.screen, Screen::Tree);
    // A click closes the help.
    j.keys("?");
    assert!(j.app.help);
    j.run(vec![click(5)]);
    assert!(!j.app.help);
    assert_eq!(j.app.diff.as_ref().unwrap().list.selected, 0);
}

/// On a diff tree past the live limit a typed filter is matched once typing pauses (here: the
/// script ends), on its own thread; the screens it gives are the ones matching at the key gives,
/// through more typing, accepting and sorting.
#[test]
fn big_tree_filter_is_matched_after_a_pause_and_shows_the_same() {
    let mut live = Journey::new();
    let mut big = Journey::new();
    big.app.live_filter_paths = 0;
    for j in [&mut live, &mut big] {
        j.key(KeyCode::Enter);
        j.keys("/ap");
    }
    assert!(live.screen().contains("/ap▏  "), "{}", live.screen());
    assert!(big.screen().contains(" matches"), "{}", big.screen());
    assert_eq!(big.screen(), live.screen());
    for j in [&mut live, &mut big] {
        j.keys("p/r");
        j.key(KeyCode::Enter);
        j.keys("sj");
    }
    assert_eq!(big.screen(), live.screen());
    for j in [&mut live, &mut big] {
        j.key(KeyCode::Esc);
    }
    assert_eq!(big.screen(), live.screen());
    assert!(!big.screen().contains("matches"), "{}", big.screen());
}
