//! The browser's state and its update functions: what is loaded, which pane has the focus, and
//! each pane's widget state (selection, scroll). Input and pipeline events come in here; the
//! views only read the result. Nothing here draws or changes the model.

pub mod list;
pub mod paths;
pub mod tree;

use crate::index::Progress;
use crate::model::analysis::WasteGroup;
use crate::model::leftovers::RULES;
use crate::model::tree::Cause;
use crate::model::{Analysis, AnalysisBuilder, AnalysisOptions, ImageMeta, NodeId, Step};
use crate::pipeline::Event;
use crate::report::ci::{self, CiOutcome, Rules};
use crate::tui::keys::{self, Action, Context, Scope};
use crate::tui::layout;
use crate::tui::theme::Theme;
use crate::tui::view::text;
use list::{ListState, Scroll};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tree::{Marks, TreeState};

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Layers,
    Tree,
    Waste,
    Details,
    Summary,
}

impl Pane {
    const ORDER: [Pane; 5] = [
        Pane::Layers,
        Pane::Tree,
        Pane::Waste,
        Pane::Details,
        Pane::Summary,
    ];

    fn next(self, by: isize) -> Pane {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Self::ORDER[(i + by).rem_euclid(Self::ORDER.len() as isize) as usize]
    }

    /// The key-table scope of the pane.
    pub fn scope(self) -> Scope {
        match self {
            Pane::Layers => Scope::Layers,
            Pane::Tree => Scope::Tree,
            Pane::Waste => Scope::Waste,
            Pane::Details | Pane::Summary => Scope::Move,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Pane::Layers => "Layers",
            Pane::Tree => "Files",
            Pane::Waste => "Waste and leftovers",
            Pane::Details => "Layer details",
            Pane::Summary => "Image summary",
        }
    }
}

/// One row of the waste and leftovers list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub bytes: u64,
    pub node: NodeId,
    /// The step that stored the bytes.
    pub layer: u16,
    pub files: u64,
    pub kind: ItemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// Bytes a later step hid (`rule`: a leftover deleted too late).
    Waste {
        hidden_by: u16,
        cause: Cause,
        rule: Option<usize>,
    },
    /// Bytes still visible that images usually should not ship.
    Leftover { rule: usize },
}

impl Item {
    /// The one-line fix.
    pub fn fix(&self) -> &'static str {
        match &self.kind {
            ItemKind::Leftover { rule } => RULES[*rule].hint,
            ItemKind::Waste {
                cause: Cause::Overwritten,
                rule: None,
                ..
            } => "write the file once, in its final form (or in a build stage)",
            ItemKind::Waste { .. } => "remove it in the same RUN that created it",
        }
    }
}

fn items(a: &Analysis, groups: &[WasteGroup]) -> Vec<Item> {
    let mut out: Vec<Item> = groups
        .iter()
        .map(|g| Item {
            bytes: g.bytes,
            node: g.node,
            layer: g.layer,
            files: g.files,
            kind: ItemKind::Waste {
                hidden_by: g.hidden_by,
                cause: g.cause,
                rule: g.rule,
            },
        })
        .collect();
    out.extend(a.leftovers.iter().map(|l| Item {
        bytes: l.bytes,
        node: l.node,
        layer: l.layer,
        files: l.files,
        kind: ItemKind::Leftover { rule: l.rule },
    }));
    // Stable: waste before leftovers of the same size.
    out.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    out
}

/// From this many paths on, a new analysis is prepared on two threads.
const PARALLEL_PATHS: usize = 50_000;

/// What the browser was started with.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// CI rules to show a verdict for (`--tui --ci`).
    pub ci: Option<Rules>,
    pub analysis: AnalysisOptions,
    pub theme: Option<Theme>,
}

/// One input, already translated from the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
}

impl Input {
    /// A plain key press, for scripts: `Input::key(KeyCode::Tab)`.
    pub fn key(code: KeyCode) -> Self {
        Input::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// Keys for each character of a string, for scripts: `Input::keys("jj/lib")`.
    pub fn keys(s: &str) -> Vec<Input> {
        s.chars().map(|c| Input::key(KeyCode::Char(c))).collect()
    }
}

/// The whole state.
pub struct App {
    pub options: AppOptions,
    pub theme: Theme,
    /// The image as the user named it.
    pub name: String,
    pub progress: Arc<Progress>,
    pub meta: Option<ImageMeta>,
    /// Steps as known from the history, before the analysis is done.
    preview: Vec<Step>,
    /// Layer sizes per step, as layers are indexed.
    pub indexed: Vec<Option<u64>>,
    pub analysis: Option<Arc<Analysis>>,
    pub marks: Marks,
    pub items: Vec<Item>,
    pub ci: Option<CiOutcome>,
    /// An error after start (the pipeline failed).
    pub error: Option<String>,
    /// A short message in the footer (e.g. why a jump found nothing).
    pub notice: Option<String>,
    pub focus: Pane,
    /// The help overlay, when open, with its scroll.
    pub help: Option<Scroll>,
    pub layers: ListState,
    pub tree: TreeState,
    pub waste: ListState,
    pub details: Scroll,
    /// The step the details scroll belongs to.
    details_step: Option<usize>,
    pub summary: Scroll,
    /// The terminal's size.
    pub size: Rect,
    pub quit: bool,
}

impl App {
    pub fn new(name: &str, progress: Arc<Progress>, options: AppOptions, size: Rect) -> Self {
        App {
            theme: options.theme.unwrap_or_else(Theme::from_env),
            options,
            name: name.to_string(),
            progress,
            meta: None,
            preview: Vec::new(),
            indexed: Vec::new(),
            analysis: None,
            marks: Marks::default(),
            items: Vec::new(),
            ci: None,
            error: None,
            notice: None,
            focus: Pane::Layers,
            help: None,
            layers: ListState::default(),
            tree: TreeState::default(),
            waste: ListState::default(),
            details: Scroll::default(),
            details_step: None,
            summary: Scroll::default(),
            size,
            quit: false,
        }
    }

    /// The steps: from the analysis, or as announced while layers are read.
    pub fn steps(&self) -> &[Step] {
        match &self.analysis {
            Some(a) => &a.steps,
            None => &self.preview,
        }
    }

    /// A step's layer size, when known (None: not indexed yet, or no layer).
    pub fn step_size(&self, i: usize) -> Option<u64> {
        match &self.analysis {
            Some(a) => a
                .steps
                .get(i)
                .and_then(|s| s.layer.as_ref())
                .map(|l| l.size_bytes),
            None => self.indexed.get(i).copied().flatten(),
        }
    }

    pub fn selected_step(&self) -> usize {
        self.layers.selected
    }

    /// True until the analysis is done or failed.
    pub fn loading(&self) -> bool {
        self.analysis.is_none() && self.error.is_none()
    }

    /// What decides the key bindings now.
    pub fn context(&self) -> Context {
        Context {
            pane: self.focus.scope(),
            typing_filter: self.tree.filter.typing && self.help.is_none(),
        }
    }

    /// The areas of the current frame.
    pub fn areas(&self) -> layout::Areas {
        layout::areas(self.size, self)
    }

    /// Rows a pane shows at once (for paging); 1 when the pane is hidden.
    fn height(&self, pane: Pane) -> usize {
        let areas = self.areas();
        areas
            .pane(pane)
            .map_or(1, |r| usize::from(layout::body(pane, r, self).height).max(1))
    }

    fn text_len(&self, pane: Pane) -> (usize, usize) {
        let areas = self.areas();
        let Some(r) = areas.pane(pane) else { return (0, 1) };
        let body = layout::body(pane, r, self);
        let lines = match pane {
            Pane::Details => text::details(self, body.width).len(),
            _ => text::summary(self, body.width).len(),
        };
        (lines, usize::from(body.height).max(1))
    }

    /// Lines of the help text and how many show at once.
    fn help_len(&self) -> (usize, usize) {
        let len = text::help(&self.theme, layout::help_width(self.size)).len();
        let height = layout::help_area(self.size, len).height.saturating_sub(2);
        (len, usize::from(height).max(1))
    }

    /// Folds one pipeline event in.
    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::Meta(meta) => {
                if let Ok(b) = AnalysisBuilder::new((*meta).clone(), self.options.analysis) {
                    self.preview = b.steps().to_vec();
                }
                self.indexed = vec![None; self.preview.len()];
                if self.name.is_empty() {
                    self.name = meta.name.clone();
                }
                self.meta = Some(*meta);
            }
            Event::Layer { step, size_bytes, .. } => {
                if let Some(s) = self.indexed.get_mut(step) {
                    *s = Some(size_bytes);
                }
            }
            Event::Done(a) => self.set_analysis(Arc::from(a)),
            Event::Failed(e) => {
                if !(self.quit && e.is_cancelled()) {
                    self.error = Some(e.to_string());
                }
            }
        }
    }

    /// Shows a finished analysis.
    pub fn set_analysis(&mut self, a: Arc<Analysis>) {
        let step = self.layers.selected.min(a.steps.len().saturating_sub(1)) as u16;
        // The waste list and the marks on one thread, the tree's view on this one: neither reads
        // what the other writes, and both are needed for the first frame. Small images do both
        // here (a thread would cost more than it saves).
        let rules = self.options.ci.as_ref();
        let waste_side = || {
            let groups = &a.waste_groups;
            let ci = rules.map(|r| ci::evaluate(&a, r));
            (Marks::new(&a, groups), items(&a, groups), ci)
        };
        let tree = &mut self.tree;
        let (marks, items, ci) = if a.tree.len() < PARALLEL_PATHS {
            tree.init(&a, step);
            waste_side()
        } else {
            std::thread::scope(|s| {
                let side = s.spawn(waste_side);
                tree.init(&a, step);
                side.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
        };
        (self.marks, self.items, self.ci) = (marks, items, ci);
        self.analysis = Some(a);
        let n = self.steps().len();
        self.layers.clamp(n, self.height(Pane::Layers));
    }

    /// Brings derived state (the tree's rows) up to date before a frame. `idle`: no input is
    /// waiting, so slower work (a filter on a big tree) may run now.
    pub fn prepare(&mut self, idle: bool) {
        // A new layer's details start at the top.
        if self.details_step != Some(self.layers.selected) {
            self.details_step = Some(self.layers.selected);
            self.details = Scroll::default();
        }
        let height = self.height(Pane::Tree);
        if let Some(a) = self.analysis.clone() {
            let step = self.layers.selected.min(a.steps.len().saturating_sub(1)) as u16;
            self.tree.prepare(&a, &self.marks, step, idle, height);
        }
        let n = self.items.len();
        self.waste.clamp(n, self.height(Pane::Waste));
    }

    /// Handles one input.
    pub fn on_input(&mut self, input: Input) {
        match input {
            Input::Key(k) => self.on_key(k),
            Input::Mouse(m) => self.on_mouse(m),
            Input::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                let n = self.steps().len();
                self.layers.clamp(n, self.height(Pane::Layers));
            }
        }
    }

    fn on_key(&mut self, ev: KeyEvent) {
        if ev.kind == KeyEventKind::Release {
            return;
        }
        self.notice = None;
        let action = keys::lookup(&ev, self.context());
        if self.help.is_some() {
            let (len, height) = self.help_len();
            match action {
                Some(Action::Quit) => self.do_quit(),
                Some(Action::Help | Action::Back) => self.help = None,
                Some(a) => {
                    if let Some(scroll) = self.help.as_mut() {
                        scroll.apply(a, len, height);
                    }
                }
                None => {}
            }
            return;
        }
        if self.context().typing_filter {
            let mut text = self.tree.filter.text.clone();
            match action {
                Some(Action::Quit) => return self.do_quit(),
                Some(Action::FilterAccept) => self.tree.filter.typing = false,
                Some(Action::Back) => self.tree.clear_filter(),
                Some(Action::FilterDelete) => {
                    text.pop();
                    self.tree.set_filter_text(text);
                }
                Some(Action::FilterClear) => self.tree.set_filter_text(String::new()),
                _ => {
                    if let KeyCode::Char(c) = ev.code
                        && !ev.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                    {
                        text.push(c);
                        self.tree.set_filter_text(text);
                    }
                }
            }
            return;
        }
        if let Some(a) = action {
            self.act(a);
        }
    }

    fn do_quit(&mut self) {
        self.quit = true;
        self.progress.cancel.store(true, Ordering::Relaxed);
    }

    /// Runs one action.
    pub fn act(&mut self, action: Action) {
        use Action as A;
        match action {
            A::Quit => self.do_quit(),
            A::Help => self.help = Some(Scroll::default()),
            A::NextPane => self.focus = self.focus.next(1),
            A::PrevPane => self.focus = self.focus.next(-1),
            A::ToggleMode => self.tree.toggle_mode(),
            A::Filter => {
                self.focus = Pane::Tree;
                self.tree.start_filter();
            }
            A::Back => {
                if !self.tree.filter.text.is_empty() {
                    self.tree.clear_filter();
                }
            }
            A::Up | A::Down | A::PageUp | A::PageDown | A::Home | A::End => self.movement(action),
            A::Enter => match self.focus {
                Pane::Layers => self.focus = Pane::Tree,
                Pane::Waste => self.jump(),
                _ => {}
            },
            _ => self.tree_action(action),
        }
    }

    fn movement(&mut self, action: Action) {
        let height = self.height(self.focus);
        match self.focus {
            Pane::Layers => {
                let n = self.steps().len();
                self.layers.apply(action, n, height);
            }
            Pane::Tree => self.tree.navigate(action, height),
            Pane::Waste => {
                self.waste.apply(action, self.items.len(), height);
            }
            Pane::Details | Pane::Summary => {
                let (len, height) = self.text_len(self.focus);
                let scroll = if self.focus == Pane::Details {
                    &mut self.details
                } else {
                    &mut self.summary
                };
                scroll.apply(action, len, height);
            }
        }
    }

    fn tree_action(&mut self, action: Action) {
        let Some(a) = self.analysis.clone() else { return };
        let height = self.height(Pane::Tree);
        // Rows must match the current layer before folding by row index.
        self.prepare(false);
        let t = &mut self.tree;
        match action {
            Action::Toggle => t.toggle(&a, &self.marks),
            Action::Left => t.left(&a, &self.marks, height),
            Action::Right => t.right(&a, &self.marks, height),
            Action::CollapseAll => t.fold_all(false),
            Action::ExpandAll => t.fold_all(true),
            Action::HideUnmodified => t.hide_unmodified = !t.hide_unmodified,
            Action::Sort => t.toggle_sort(),
            Action::Attributes => t.attrs = !t.attrs,
            _ => {}
        }
    }

    /// Enter in the waste list: select the storing layer and the file in the tree.
    fn jump(&mut self) {
        let Some(a) = self.analysis.clone() else { return };
        let Some(item) = self.items.get(self.waste.selected).cloned() else {
            return;
        };
        let n = self.steps().len();
        let lh = self.height(Pane::Layers);
        self.layers.select(usize::from(item.layer), n, lh);
        let height = self.height(Pane::Tree);
        if self.tree.reveal(&a, &self.marks, item.layer, item.node, height) {
            self.focus = Pane::Tree;
        } else {
            self.notice = Some(format!(
                "{} is not in the tree as of step {}",
                crate::report::path(&a, item.node),
                item.layer
            ));
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        self.notice = None;
        if self.help.is_some() {
            let (len, height) = self.help_len();
            if let Some(scroll) = self.help.as_mut() {
                match m.kind {
                    MouseEventKind::ScrollDown => scroll.step(3, len, height),
                    MouseEventKind::ScrollUp => scroll.step(-3, len, height),
                    MouseEventKind::Down(_) => self.help = None,
                    _ => {}
                }
            }
            return;
        }
        let areas = self.areas();
        let Some((pane, outer)) = areas.at(m.column, m.row) else {
            return;
        };
        let body = layout::body(pane, outer, self);
        let height = usize::from(body.height).max(1);
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = pane;
                if m.row < body.y || m.row >= body.bottom() {
                    return;
                }
                let offset = usize::from(m.row - body.y);
                match pane {
                    Pane::Layers => {
                        let n = self.steps().len();
                        let row = self.layers.offset + offset;
                        if row < n {
                            self.layers.select(row, n, height);
                        }
                    }
                    Pane::Waste => {
                        let row = self.waste.offset + offset;
                        if row < self.items.len() {
                            self.waste.select(row, self.items.len(), height);
                        }
                    }
                    Pane::Tree => {
                        self.prepare(false);
                        let row = self.tree.list.offset + offset;
                        if self.tree.click(row, height) {
                            self.tree_action(Action::Toggle);
                        }
                    }
                    Pane::Details | Pane::Summary => {}
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let delta = if m.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                match pane {
                    Pane::Layers => {
                        let n = self.steps().len();
                        self.layers.step(delta, n, height);
                    }
                    Pane::Waste => {
                        self.waste.step(delta, self.items.len(), height);
                    }
                    Pane::Tree => {
                        self.prepare(false);
                        self.tree.step_selection(delta, height);
                    }
                    Pane::Details | Pane::Summary => {
                        let (len, height) = self.text_len(pane);
                        let scroll = if pane == Pane::Details {
                            &mut self.details
                        } else {
                            &mut self.summary
                        };
                        scroll.step(delta, len, height);
                    }
                }
            }
            _ => {}
        }
    }

    /// Progress as (bytes read, layers done, layers total).
    pub fn progress_numbers(&self) -> (u64, u64, u64) {
        let p = &self.progress;
        (
            p.bytes.load(Ordering::Relaxed),
            p.layers_done.load(Ordering::Relaxed),
            p.layers_total.load(Ordering::Relaxed),
        )
    }
}
