//! The interactive view of `dsize compare`: a list of consecutive pairs, then the diff tree of the
//! chosen pair ([`DiffTree`]) with recursive deltas. Keys come from the browser's key table
//! ([`keys::lookup`]: the pair list uses the Layers scope, the diff tree the Tree scope), input from
//! the same [`InputSource`]s, and the terminal from the same guard as the single-image browser.

use crate::model::Analysis;
use crate::model::compare::{Change, Comparison, DiffTree};
use crate::report::compare::signed;
use crate::report::{escape, human};
use crate::tui::event_loop::{FILTER_POLL, Flow, InputSource, Next, TYPING_PAUSE};
use crate::tui::keys::{self, Action, Context, Scope};
use crate::tui::state::Input;
use crate::tui::state::list::ListState;
use crate::tui::state::paths::{self, PathRegex, PathTree};
use crate::tui::state::tree::{Bits, LIVE_FILTER_PATHS};
use crate::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{KeyCode, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::{Frame, layout::Constraint, layout::Layout};
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// How the diff tree is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffSort {
    /// Largest absolute delta first.
    Size,
    Name,
}

/// The chosen pair's diff tree and its view state.
#[derive(Debug)]
pub struct DiffView {
    pub from: usize,
    pub to: usize,
    pub tree: Arc<DiffTree>,
    open: Vec<bool>,
    sort: DiffSort,
    pub filter: String,
    pub typing: bool,
    pub error: Option<String>,
    /// The filter the rows show.
    regex: Option<PathRegex>,
    /// The nodes it matches, and those with their ancestors (None without a filter).
    matched: Option<Bits>,
    keep: Option<Bits>,
    pub match_count: usize,
    /// A typed filter waiting for a pause in typing (big trees), and one being matched on its
    /// own thread; the rows keep the last matches meanwhile.
    typed: Option<PathRegex>,
    job: Option<FilterJob>,
    /// Up to this many nodes a typed filter is matched at the key.
    live_paths: usize,
    /// Every node's children in `sort` order.
    order: Arc<ChildOrder>,
    /// The order of the other sort, once it was built: sorting back costs no sort.
    spare: Option<Arc<ChildOrder>>,
    /// (node, depth) in display order.
    rows: Vec<(u32, u16)>,
    pub list: ListState,
}

/// A filter matched on its own thread, the child order its rows follow, and where it arrives.
#[derive(Debug)]
struct FilterJob {
    regex: PathRegex,
    order: Arc<ChildOrder>,
    done: crossbeam_channel::Receiver<Filtered>,
}

/// What a filter keeps: the nodes it matches, those with their ancestors, and the rows.
#[derive(Debug)]
struct Filtered {
    matched: Bits,
    keep: Bits,
    count: usize,
    rows: Vec<(u32, u16)>,
}

impl Filtered {
    /// Matches `re` (starting from `before`, the matches of a pattern it narrows) and lays out
    /// every kept node, in `order`.
    fn new(tree: &DiffTree, order: &ChildOrder, re: &PathRegex, before: Option<&Bits>) -> Self {
        let matched = re.matches(tree, before);
        let keep = paths::with_ancestors(tree, &matched);
        let rows = rows_of(tree, order, Some(&keep), |_| true);
        Filtered {
            count: matched.count(),
            matched,
            keep,
            rows,
        }
    }
}

/// (node, depth) in display order: the nodes `keep` holds (every node without it), children in
/// `order`, going down only into the directories `open` says are open.
fn rows_of(
    tree: &DiffTree,
    order: &ChildOrder,
    keep: Option<&Bits>,
    open: impl Fn(u32) -> bool,
) -> Vec<(u32, u16)> {
    let children = |n: u32| {
        order
            .of(tree, n)
            .iter()
            .copied()
            .filter(move |c| keep.is_none_or(|k| k.get(*c as usize)))
    };
    let mut rows = Vec::new();
    let mut stack: Vec<(u32, u16)> = children(0).rev().map(|c| (c, 0)).collect();
    while let Some((n, d)) = stack.pop() {
        rows.push((n, d));
        if open(n) {
            stack.extend(children(n).rev().map(|c| (c, d + 1)));
        }
    }
    rows
}

/// Every node's children in one order: a node's children are numbered one after the other
/// (ids `first..end`), and the order keeps them at `list[first - 1..end - 1]`.
#[derive(Debug)]
struct ChildOrder {
    list: Vec<u32>,
}

impl ChildOrder {
    /// By name (the tree's own order), or by size: the largest absolute delta first, names in
    /// order among equals.
    fn new(tree: &DiffTree, sort: DiffSort) -> Self {
        let mut list: Vec<u32> = (1..tree.len() as u32).collect();
        if sort == DiffSort::Size {
            for n in 0..tree.len() as u32 {
                let kids = tree.children(n);
                list[kids.start as usize - 1..kids.end as usize - 1]
                    .sort_by_key(|c| std::cmp::Reverse(tree.node(*c).delta().unsigned_abs()));
            }
        }
        ChildOrder { list }
    }

    fn of(&self, tree: &DiffTree, n: u32) -> &[u32] {
        let kids = tree.children(n);
        &self.list[kids.start as usize - 1..kids.end as usize - 1]
    }
}

impl PathTree for DiffTree {
    fn node_count(&self) -> usize {
        self.len()
    }
    fn parent(&self, n: u32) -> u32 {
        self.node(n).parent
    }
    fn name(&self, n: u32) -> &[u8] {
        DiffTree::name(self, n)
    }
    fn has_children(&self, n: u32) -> bool {
        self.node(n).has_children()
    }
    fn for_each_child(&self, n: u32, f: impl FnMut(u32)) {
        self.children(n).for_each(f);
    }
}

impl DiffView {
    /// How the tree is sorted.
    pub fn sort(&self) -> DiffSort {
        self.sort
    }

    /// The shown rows: (node, depth), in display order.
    pub fn rows(&self) -> &[(u32, u16)] {
        &self.rows
    }

    fn new(tree: DiffTree, from: usize, to: usize, live_paths: usize) -> Self {
        let n = tree.len();
        let mut open = vec![false; n];
        // Directories that changed start open down to two levels: the root's children and
        // theirs.
        open[0] = true;
        for (i, node) in tree.nodes().iter().enumerate().skip(1) {
            let top_two = node.parent == 0 || tree.node(node.parent).parent == 0;
            open[i] = top_two && node.change() != Change::Same;
        }
        let order = Arc::new(ChildOrder::new(&tree, DiffSort::Size));
        let mut v = DiffView {
            from,
            to,
            tree: Arc::new(tree),
            open,
            sort: DiffSort::Size,
            filter: String::new(),
            typing: false,
            error: None,
            regex: None,
            matched: None,
            keep: None,
            match_count: 0,
            typed: None,
            job: None,
            live_paths,
            order,
            spare: None,
            rows: Vec::new(),
            list: ListState::default(),
        };
        v.rebuild();
        v
    }

    /// Lays the rows out again (under a filter every kept directory is open), keeping the
    /// selected node selected when it is still shown.
    fn rebuild(&mut self) {
        let filtering = self.regex.is_some();
        let rows = rows_of(&self.tree, &self.order, self.keep.as_ref(), |n| {
            filtering || self.open[n as usize]
        });
        self.set_rows(rows);
    }

    fn set_rows(&mut self, rows: Vec<(u32, u16)>) {
        let selected = self.rows.get(self.list.selected).map(|r| r.0);
        self.rows = rows;
        self.list.selected = selected
            .and_then(|s| self.rows.iter().position(|r| r.0 == s))
            .unwrap_or(0);
    }

    /// Sorts the children by `sort` and lays the rows out again. Each order is built once (on
    /// a 1.4M-node tree the size order takes about 80 ms); switching back reuses it.
    fn set_sort(&mut self, sort: DiffSort) {
        if sort == self.sort {
            return;
        }
        self.sort = sort;
        let order = self
            .spare
            .take()
            .unwrap_or_else(|| Arc::new(ChildOrder::new(&self.tree, sort)));
        self.spare = Some(std::mem::replace(&mut self.order, order));
        self.rebuild();
    }

    /// Sets the filter text: a regex over full paths, case-insensitive unless it has an
    /// upper-case letter, as in the browser. Up to `live_paths` nodes it is matched
    /// here and now; on a bigger tree it waits for a pause in typing ([`DiffView::settle`]) and
    /// is matched on its own thread, while keys keep their frames.
    fn set_filter(&mut self, text: String) {
        self.filter = text;
        self.error = None;
        self.typed = None;
        if self.filter.is_empty() {
            (self.regex, self.matched, self.keep, self.match_count) = (None, None, None, 0);
            self.job = None;
            self.rebuild();
            return;
        }
        let insensitive = !self.filter.chars().any(char::is_uppercase);
        let Ok(re) = PathRegex::new(&self.filter, insensitive) else {
            self.error = Some("invalid regex".into());
            return;
        };
        if self.tree.len() > self.live_paths {
            self.typed = Some(re);
            return;
        }
        self.match_here(re);
    }

    /// Matches `re` on this thread and shows it (a job still running is dropped).
    fn match_here(&mut self, re: PathRegex) {
        let f = Filtered::new(&self.tree, &self.order, &re, self.narrowing(&re));
        self.job = None;
        self.install(re, f);
    }

    /// The matches a new filter may start from: those of the shown one, when it narrows it (a
    /// pattern that only grew matches a subset of what the last one matched).
    fn narrowing(&self, re: &PathRegex) -> Option<&Bits> {
        match (&self.regex, &self.matched) {
            (Some(old), Some(m)) if re.narrows(old) => Some(m),
            _ => None,
        }
    }

    fn install(&mut self, re: PathRegex, f: Filtered) {
        (self.regex, self.matched, self.keep, self.match_count) =
            (Some(re), Some(f.matched), Some(f.keep), f.count);
        self.set_rows(f.rows);
    }

    /// True when typed text waits for a pause in typing.
    pub fn pending(&self) -> bool {
        self.typed.is_some()
    }

    /// True while a typed filter is matched on its own thread.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// Typing paused (or the input ended): starts matching the waiting filter on its own thread,
    /// then takes its result when it is done (`wait`: waits for it). True when the rows changed.
    pub fn settle(&mut self, wait: bool) -> bool {
        if let Some(re) = self.typed.take() {
            let before = self.narrowing(&re).cloned();
            let (tree, order, job_re) = (Arc::clone(&self.tree), Arc::clone(&self.order), re.clone());
            let (tx, done) = crossbeam_channel::bounded(1);
            let spawned = std::thread::Builder::new()
                .name("dsize-filter".into())
                .spawn(move || {
                    // The receiver is gone when a newer filter or a clear replaced this one.
                    let _ = tx.send(Filtered::new(&tree, &order, &job_re, before.as_ref()));
                });
            match spawned {
                Ok(_) => {
                    self.job = Some(FilterJob {
                        regex: re,
                        order: Arc::clone(&self.order),
                        done,
                    })
                }
                Err(_) => {
                    self.match_here(re);
                    return true;
                }
            }
        }
        self.poll(wait)
    }

    /// Takes the result of a finished filter job (`wait`: waits for it). True when the rows
    /// changed.
    fn poll(&mut self, wait: bool) -> bool {
        let Some(job) = self.job.take() else {
            return false;
        };
        let got = if wait {
            job.done.recv().ok()
        } else {
            match job.done.try_recv() {
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    self.job = Some(job);
                    return false;
                }
                r => r.ok(),
            }
        };
        let Some(f) = got else {
            // The job died without an answer (it cannot, short of a bug): the filter waits
            // for the next pause and is matched again then, as in the browser.
            self.typed = Some(job.regex);
            return false;
        };
        self.install(job.regex, f);
        if !Arc::ptr_eq(&job.order, &self.order) {
            // Sorted the other way while it ran: its rows follow the old order.
            self.rebuild();
        }
        true
    }

    fn selected(&self) -> Option<u32> {
        self.rows.get(self.list.selected).map(|r| r.0)
    }

    fn is_dir(&self, n: u32) -> bool {
        self.tree.node(n).has_children()
    }

    /// Opens or closes the selected directory.
    fn toggle_selected(&mut self, height: usize) {
        if let Some(n) = self.selected().filter(|n| self.is_dir(*n)) {
            let open = !self.open[n as usize];
            self.set_open(n, open);
            self.list.clamp(self.rows.len(), height);
        }
    }

    fn set_open(&mut self, n: u32, open: bool) {
        self.open[n as usize] = open;
        self.rebuild();
    }
}

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Pairs,
    Tree,
}

/// The compare view's state.
#[derive(Debug)]
pub struct CompareApp {
    pub labels: Vec<String>,
    analyses: Vec<Analysis>,
    /// (from, to, stored delta).
    pub pairs: Vec<(usize, usize, i64)>,
    pub pair_list: ListState,
    pub screen: Screen,
    pub diff: Option<DiffView>,
    /// The help overlay is shown.
    pub help: bool,
    pub quit: bool,
    pub area: Rect,
    pub theme: Theme,
    /// Diff trees up to this many nodes match a typed filter at the key; bigger ones when
    /// typing pauses, on their own thread.
    pub live_filter_paths: usize,
}

impl CompareApp {
    pub fn new(cmp: &Comparison, analyses: Vec<Analysis>, area: Rect, theme: Theme) -> Self {
        let pairs = cmp.pairs.iter().map(|p| (p.from, p.to, p.delta.stored)).collect();
        CompareApp {
            labels: cmp.images.iter().map(|i| i.label.clone()).collect(),
            analyses,
            pairs,
            pair_list: ListState::default(),
            screen: Screen::Pairs,
            diff: None,
            help: false,
            quit: false,
            area,
            theme,
            live_filter_paths: LIVE_FILTER_PATHS,
        }
    }

    /// Typing paused or the input ended (`wait`): a waiting filter is matched, a finished one
    /// shown. True when the rows changed.
    fn settle_filter(&mut self, wait: bool) -> bool {
        self.diff.as_mut().is_some_and(|d| d.settle(wait))
    }

    /// Rows the current list shows: the frame's borders and the footer take 3 lines, the
    /// diff tree's header line one more (as [`draw`] lays them out).
    fn height(&self) -> usize {
        let chrome = if self.screen == Screen::Tree && self.diff.is_some() {
            4
        } else {
            3
        };
        self.area.height.saturating_sub(chrome) as usize
    }

    pub fn on_input(&mut self, input: Input) {
        let key = match input {
            Input::Resize(w, h) => {
                self.area = Rect::new(0, 0, w, h);
                return;
            }
            Input::Mouse(m) => {
                self.on_mouse(m);
                return;
            }
            Input::Key(k) if k.kind == KeyEventKind::Release => return,
            Input::Key(k) => k,
        };
        let height = self.height();
        let typing = self.screen == Screen::Tree && self.diff.as_ref().is_some_and(|d| d.typing);
        let pane = match self.screen {
            Screen::Pairs => Scope::Layers,
            Screen::Tree => Scope::Tree,
        };
        let action = keys::lookup(
            &key,
            Context {
                pane,
                typing_filter: typing,
            },
        );
        if typing {
            let Some(d) = self.diff.as_mut() else { return };
            match action {
                Some(Action::Quit) => self.quit = true,
                Some(Action::FilterAccept) => d.typing = false,
                Some(Action::Back) => {
                    d.typing = false;
                    d.set_filter(String::new());
                }
                Some(Action::FilterDelete) => {
                    let mut t = d.filter.clone();
                    t.pop();
                    d.set_filter(t);
                }
                Some(Action::FilterClear) => d.set_filter(String::new()),
                _ => {
                    if let KeyCode::Char(c) = key.code {
                        let mut t = d.filter.clone();
                        t.push(c);
                        d.set_filter(t);
                    }
                }
            }
            return;
        }
        let Some(action) = action else { return };
        if action == Action::Quit {
            self.quit = true;
            return;
        }
        if action == Action::Help || (self.help && action == Action::Back) {
            self.help = !self.help;
            return;
        }
        if self.help {
            return;
        }
        match self.screen {
            Screen::Pairs => match action {
                Action::Enter => self.open_pair(),
                a => {
                    self.pair_list.apply(a, self.pairs.len(), height);
                }
            },
            Screen::Tree => {
                let Some(d) = self.diff.as_mut() else { return };
                match action {
                    Action::Back if !d.filter.is_empty() => d.set_filter(String::new()),
                    Action::Back => self.screen = Screen::Pairs,
                    Action::Filter => d.typing = true,
                    Action::Sort => d.set_sort(match d.sort {
                        DiffSort::Size => DiffSort::Name,
                        DiffSort::Name => DiffSort::Size,
                    }),
                    Action::Toggle | Action::Enter => d.toggle_selected(height),
                    Action::Right => {
                        if let Some(n) = d.selected().filter(|n| d.is_dir(*n)) {
                            d.set_open(n, true);
                        }
                    }
                    Action::Left => {
                        if let Some(n) = d.selected() {
                            if d.is_dir(n) && d.open[n as usize] {
                                d.set_open(n, false);
                            } else if let Some(p) = d.rows.iter().position(|r| r.0 == d.tree.node(n).parent) {
                                d.list.select(p, d.rows.len(), height);
                            }
                        }
                    }
                    Action::CollapseAll | Action::ExpandAll => {
                        let open = action == Action::ExpandAll;
                        d.open.iter_mut().skip(1).for_each(|o| *o = open);
                        d.rebuild();
                    }
                    a => {
                        d.list.apply(a, d.rows.len(), height);
                    }
                }
                let len = d.rows.len();
                d.list.clamp(len, height);
            }
        }
    }

    /// The wheel moves the selection by 3 rows; a click selects a row, and a click on the row
    /// already selected opens it (a pair) or folds it (a directory), as Enter does. Any click
    /// closes the help.
    fn on_mouse(&mut self, m: MouseEvent) {
        let delta = match m.kind {
            MouseEventKind::ScrollDown => 3,
            MouseEventKind::ScrollUp => -3,
            MouseEventKind::Down(_) if self.help => {
                self.help = false;
                return;
            }
            MouseEventKind::Down(MouseButton::Left) => 0,
            _ => return,
        };
        if self.help {
            return;
        }
        let height = self.height();
        // Rows start below the frame's top border, and on the tree below its header line.
        let (list, len, top) = match (self.screen, self.diff.as_mut()) {
            (Screen::Tree, Some(d)) => (&mut d.list, d.rows.len(), 2),
            _ => (&mut self.pair_list, self.pairs.len(), 1),
        };
        if delta != 0 {
            list.step(delta, len, height);
            return;
        }
        let Some(offset) = m.row.checked_sub(top).map(usize::from).filter(|o| *o < height) else {
            return;
        };
        let row = list.offset + offset;
        if row >= len {
            return;
        }
        if row != list.selected {
            list.select(row, len, height);
            return;
        }
        match self.diff.as_mut().filter(|_| self.screen == Screen::Tree) {
            Some(d) => d.toggle_selected(height),
            None => self.open_pair(),
        }
    }

    fn open_pair(&mut self) {
        let Some(&(from, to, _)) = self.pairs.get(self.pair_list.selected) else {
            return;
        };
        if self.diff.as_ref().is_none_or(|d| (d.from, d.to) != (from, to)) {
            let tree = DiffTree::build(&self.analyses[from], &self.analyses[to]);
            self.diff = Some(DiffView::new(tree, from, to, self.live_filter_paths));
        }
        self.screen = Screen::Tree;
    }
}

fn change_style(t: &Theme, c: Change) -> (Style, &'static str) {
    let fg = |c: Color| if t.color { Style::new().fg(c) } else { Style::new() };
    match c {
        Change::Added => (fg(Color::Green), "+"),
        Change::Removed => (fg(Color::Red), "-"),
        Change::Grown => (fg(Color::Yellow), ">"),
        Change::Shrunk => (fg(Color::Cyan), "<"),
        Change::Changed => (fg(Color::Magenta), "~"),
        Change::Same => (Style::new(), " "),
    }
}

/// The footer: keys as the key table names them (so they cannot drift from what they do).
fn footer(t: &Theme, scope: Scope, entries: &[(Action, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (a, what) in entries {
        let label = keys::BINDINGS
            .iter()
            .filter(|b| b.action == *a)
            .find(|b| b.scope == scope || matches!(b.scope, Scope::Global | Scope::Move))
            .map_or("?", |b| if *a == Action::Down { "↑↓" } else { b.label });
        spans.push(Span::styled(label.to_string(), t.key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Line::from(spans)
}

/// The keys of the compare view, with the key table's labels and help texts.
const HELP: &[(Scope, Action)] = &[
    (Scope::Move, Action::Up),
    (Scope::Move, Action::Down),
    (Scope::Move, Action::PageUp),
    (Scope::Move, Action::PageDown),
    (Scope::Move, Action::Home),
    (Scope::Move, Action::End),
    (Scope::Tree, Action::Toggle),
    (Scope::Tree, Action::Left),
    (Scope::Tree, Action::Right),
    (Scope::Tree, Action::CollapseAll),
    (Scope::Tree, Action::ExpandAll),
    (Scope::Tree, Action::Sort),
    (Scope::Global, Action::Filter),
    (Scope::Global, Action::Back),
    (Scope::Global, Action::Help),
    (Scope::Global, Action::Quit),
];

fn help_lines(t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::styled(
            "Pair list: Enter opens the pair's diff tree; Esc in the tree comes back.",
            t.bold(),
        ),
        Line::raw("Mouse: a click selects a row, a second click opens the pair or folds the directory."),
        Line::raw(""),
    ];
    for (scope, action) in HELP {
        if let Some(b) = keys::BINDINGS
            .iter()
            .find(|b| b.scope == *scope && b.action == *action)
        {
            lines.push(Line::from(vec![
                Span::styled(format!("{:<14}", b.label), t.key()),
                Span::raw(b.help),
            ]));
        }
    }
    lines
}

/// Draws the compare view.
pub fn draw(f: &mut Frame, app: &CompareApp) {
    let t = &app.theme;
    if app.help {
        f.render_widget(
            Paragraph::new(help_lines(t)).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Keys (? or Esc closes) "),
            ),
            f.area(),
        );
        return;
    }
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(f.area());
    let height = body.height.saturating_sub(2) as usize;
    match (app.screen, &app.diff) {
        (Screen::Tree, Some(d)) => {
            let title = format!(
                " {} → {}  sorted by {} ",
                escape(app.labels[d.from].as_bytes()),
                escape(app.labels[d.to].as_bytes()),
                if d.sort == DiffSort::Size {
                    "size change"
                } else {
                    "name"
                }
            );
            let root = d.tree.node(0);
            let mut lines = vec![Line::from(vec![
                Span::styled(
                    format!("{:>10} {:>10} {:>12}  ", "before", "after", "delta"),
                    t.bold(),
                ),
                Span::styled(
                    format!(
                        "/ {} → {} ({})",
                        human(root.before_total),
                        human(root.after_total),
                        signed(root.delta())
                    ),
                    t.bold(),
                ),
            ])];
            let win = d.list.window(d.rows.len(), height.saturating_sub(1));
            for (i, &(n, depth)) in d.rows[win.clone()].iter().enumerate() {
                let node = d.tree.node(n);
                let (style, mark) = change_style(t, node.change());
                let dir = node.has_children();
                let fold = match (dir, d.open[n as usize] || d.regex.is_some()) {
                    (false, _) => "  ",
                    (true, true) => "▾ ",
                    (true, false) => "▸ ",
                };
                let mut row = Style::new();
                if win.start + i == d.list.selected {
                    row = row.add_modifier(Modifier::REVERSED);
                }
                let side = |present: bool, n: u64| if present { human(n) } else { "-".into() };
                lines.push(
                    Line::from(vec![
                        Span::raw(format!(
                            "{:>10} {:>10} ",
                            side(node.before.is_some(), node.before_total),
                            side(node.after.is_some(), node.after_total)
                        )),
                        Span::styled(format!("{:>12}  ", signed(node.delta())), style),
                        Span::raw("  ".repeat(depth as usize)),
                        Span::raw(fold),
                        Span::styled(format!("{mark} {}", escape(d.tree.name(n))), style),
                        Span::raw(if dir { "/" } else { "" }),
                    ])
                    .style(row),
                );
            }
            f.render_widget(
                Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
                body,
            );
            let line = if d.typing || !d.filter.is_empty() {
                let status = match &d.error {
                    Some(e) => format!("  ({e})"),
                    None if d.pending() => "  (applied when typing pauses)".into(),
                    None if d.running() => "  matching…".into(),
                    None => format!("  {} matches", d.match_count),
                };
                Line::from(vec![
                    Span::styled("/", t.key()),
                    Span::raw(escape(d.filter.as_bytes())),
                    Span::raw(if d.typing { "▏" } else { "" }),
                    Span::raw(status),
                ])
            } else {
                footer(
                    t,
                    Scope::Tree,
                    &[
                        (Action::Quit, "quit"),
                        (Action::Help, "help"),
                        (Action::Back, "pairs"),
                        (Action::Filter, "filter"),
                        (Action::Sort, "sort name/size"),
                        (Action::Toggle, "fold"),
                        (Action::CollapseAll, "collapse all"),
                        (Action::ExpandAll, "expand all"),
                    ],
                )
            };
            f.render_widget(Paragraph::new(line), foot);
        }
        _ => {
            let mut lines = Vec::new();
            let win = app.pair_list.window(app.pairs.len(), height);
            for (i, &(from, to, delta)) in app.pairs[win.clone()].iter().enumerate() {
                let mut style = Style::new();
                if win.start + i == app.pair_list.selected {
                    style = style.add_modifier(Modifier::REVERSED);
                }
                let (cs, _) = change_style(
                    t,
                    match delta {
                        d if d > 0 => Change::Grown,
                        d if d < 0 => Change::Shrunk,
                        _ => Change::Same,
                    },
                );
                lines.push(
                    Line::from(vec![
                        Span::raw(format!(
                            "{} → {}  ",
                            escape(app.labels[from].as_bytes()),
                            escape(app.labels[to].as_bytes())
                        )),
                        Span::styled(format!("{} B stored", signed(delta)), cs),
                    ])
                    .style(style),
                );
            }
            f.render_widget(
                Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Pick a pair ")),
                body,
            );
            f.render_widget(
                Paragraph::new(footer(
                    t,
                    Scope::Layers,
                    &[
                        (Action::Quit, "quit"),
                        (Action::Help, "help"),
                        (Action::Down, "move"),
                        (Action::Enter, "open the diff tree"),
                    ],
                )),
                foot,
            );
        }
    }
}

/// Runs until the user quits or the input ends; draws after every input.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut CompareApp,
    input: &mut dyn InputSource,
) -> io::Result<Flow> {
    let redraw = |terminal: &mut Terminal<B>, app: &CompareApp| {
        terminal
            .draw(|f| draw(f, app))
            .map(|_| ())
            .map_err(|e| io::Error::other(e.to_string()))
    };
    redraw(terminal, app)?;
    loop {
        let timeout = match &app.diff {
            Some(d) if d.pending() => TYPING_PAUSE,
            Some(d) if d.running() => FILTER_POLL,
            _ => Duration::from_millis(500),
        };
        match input.next(timeout)? {
            Next::Input(i) => {
                app.on_input(i);
                if app.quit {
                    return Ok(Flow::Quit);
                }
                if let Some(d) = app.diff.as_mut() {
                    d.poll(false);
                }
                redraw(terminal, app)?;
            }
            Next::Idle => {
                if app.settle_filter(false) {
                    redraw(terminal, app)?;
                }
            }
            Next::End => {
                // A script ends as a pause would: its filter is matched and shown.
                if app.settle_filter(true) {
                    redraw(terminal, app)?;
                }
                return Ok(Flow::Paused);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::tutorial;

    /// The tutorial's diff tree, v1 to v3.
    fn tutorial_diff() -> DiffTree {
        let a = tutorial::analyse(&tutorial::v1(), "my-app:v1");
        let b = tutorial::analyse(&tutorial::v3(), "my-app:v3");
        DiffTree::build(&a, &b)
    }

    /// The tutorial's diff seen twice: filters matched at the key, and after a pause on their
    /// own thread.
    fn live_and_big() -> (DiffView, DiffView) {
        let tree = tutorial_diff();
        (
            DiffView::new(tree.clone(), 0, 1, LIVE_FILTER_PATHS),
            DiffView::new(tree, 0, 1, 0),
        )
    }

    /// Typed one key at a time (so later patterns narrow earlier ones), the filter keeps what
    /// the regex matches on every full path of the diff tree, with their directories, and
    /// shows all of those and nothing else: matched at the key, and on its own thread after a
    /// pause (the way big trees match it), where the rows keep the last matches until then.
    #[test]
    fn filter_keeps_what_the_regex_matches_on_every_path() {
        let tree = tutorial_diff();
        for live_paths in [LIVE_FILTER_PATHS, 0] {
            let mut view = DiffView::new(tree.clone(), 0, 1, live_paths);
            for text in [
                "a", "ap", "app", "app/", "app/r", "L", "Li", "\\.py$", "(", "usr/.*s", "/",
            ] {
                let rows_before = view.rows.clone();
                view.set_filter(text.to_string());
                let Ok(re) = regex::bytes::RegexBuilder::new(text)
                    .case_insensitive(!text.chars().any(char::is_uppercase))
                    .build()
                else {
                    assert_eq!(view.error.as_deref(), Some("invalid regex"), "{text}");
                    assert!(!view.pending(), "{text}");
                    continue;
                };
                if live_paths == 0 {
                    assert!(
                        view.pending() && view.rows == rows_before,
                        "{text}: waits for a pause"
                    );
                    assert!(view.settle(true), "{text}");
                    assert!(!view.pending() && !view.running(), "{text}");
                }
                let tree = &view.tree;
                let matched: Vec<u32> = (1..tree.len() as u32)
                    .filter(|n| re.is_match(&tree.path(*n)))
                    .collect();
                let upper = text.chars().any(char::is_uppercase);
                assert!(
                    !matched.is_empty() || upper,
                    "{text} matches nothing: a weak case"
                );
                assert_eq!(view.match_count, matched.len(), "{text}");
                let mut keep = vec![false; tree.len()];
                for &n in &matched {
                    let mut p = n;
                    while p != 0 {
                        keep[p as usize] = true;
                        p = tree.node(p).parent;
                    }
                }
                let mut shown: Vec<u32> = view.rows.iter().map(|r| r.0).collect();
                shown.sort_unstable();
                let want: Vec<u32> = (1..tree.len() as u32).filter(|n| keep[*n as usize]).collect();
                assert_eq!(shown, want, "{text}");
            }
        }
    }

    /// A filter job that died without an answer is matched again at the next pause.
    #[test]
    fn a_filter_job_that_died_is_retried() {
        let (mut live, mut big) = live_and_big();
        live.set_filter("app".into());
        big.set_filter("app".into());
        // A job whose thread is gone: its sender was dropped without a result.
        let (_, done) = crossbeam_channel::bounded(1);
        big.job = Some(FilterJob {
            regex: big.typed.take().expect("waits for a pause"),
            order: Arc::clone(&big.order),
            done,
        });
        assert!(!big.settle(true), "no rows from a job that died");
        assert!(
            big.pending() && !big.running(),
            "its filter waits for the next pause"
        );
        assert!(big.settle(true));
        assert_eq!(
            (big.rows.clone(), big.match_count),
            (live.rows.clone(), live.match_count)
        );
    }

    /// Sorting back and forth builds each order once and lays out the rows a fresh sort
    /// gives.
    #[test]
    fn sorting_back_reuses_the_order_and_lays_out_the_same_rows() {
        let mut v = DiffView::new(tutorial_diff(), 0, 1, LIVE_FILTER_PATHS);
        let (size_order, size_rows) = (Arc::clone(&v.order), v.rows.clone());
        v.set_sort(DiffSort::Name);
        assert_eq!(v.order.list, ChildOrder::new(&v.tree, DiffSort::Name).list);
        let (name_order, name_rows) = (Arc::clone(&v.order), v.rows.clone());
        assert_ne!(
            name_rows, size_rows,
            "the tutorial's diff reads differently by name"
        );
        v.set_sort(DiffSort::Size);
        assert!(Arc::ptr_eq(&v.order, &size_order));
        assert_eq!(v.rows, size_rows);
        v.set_sort(DiffSort::Name);
        assert!(Arc::ptr_eq(&v.order, &name_order));
        assert_eq!(v.rows, name_rows);
    }

    /// A filter matched on its own thread while the sort changed shows its rows in the new
    /// order; one cleared while it ran is never shown.
    #[test]
    fn filter_job_follows_sort_and_clear() {
        let (mut live, mut big) = live_and_big();
        live.set_filter("a".into());
        live.set_sort(DiffSort::Name);
        big.set_filter("a".into());
        big.settle(false);
        big.set_sort(DiffSort::Name);
        big.settle(true);
        assert_eq!(big.rows, live.rows);
        big.set_filter("ap".into());
        big.settle(false);
        big.set_filter(String::new());
        assert!(!big.running() && !big.settle(true));
        assert_eq!(big.match_count, 0);
        live.set_filter(String::new());
        assert_eq!(big.rows, live.rows);
    }
}
