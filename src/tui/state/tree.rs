//! The file tree pane's state: the mode (a layer's changes or the whole filesystem as of it),
//! folding, the regex filter, sorting, and the flattened rows with their selection.
//!
//! Work is done when needed and never over the whole tree on a plain keystroke:
//! - [`ViewData`]: every node's status and recursive sizes in both modes as of one step. It is
//!   computed once by a linear pass (a child's id is always larger than its parent's, so walking
//!   ids downwards visits children first), then moved from step to step by undoing and applying
//!   only the paths those steps changed ([`ChangeIndex`]).
//! - The filter matches paths, which do not depend on the layer: one pass per regex serves every
//!   layer. What a filter or "hide unmodified" keeps is one bit pass per view.
//! - The rows (the folded, sorted, flattened tree) are rebuilt only when the view changes; folding
//!   one directory splices its rows in or out. Drawing reads only the rows it shows.
//!
//! It must not draw, and it never changes the model.

use super::list::ListState;
use super::paths::PathRegex;
use crate::model::Analysis;
use crate::model::analysis::WasteGroup;
use crate::model::tree::{Kind, NodeId, ROOT, Tree, Version};
use crate::tui::keys::Action;
use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

/// What the tree shows for the selected layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only what the layer added, modified or removed (and the directories above it).
    Changes,
    /// The whole filesystem as of the layer, its changes coloured.
    Whole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Name,
    Size,
}

/// How the selected layer changed a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Unmodified = 0,
    Added = 1,
    Modified = 2,
    Removed = 3,
}

/// A fixed-size set of node ids.
#[derive(Debug, Clone, Default)]
pub struct Bits(Vec<u64>);

impl Bits {
    /// Adds every member of `other` (of the same length).
    pub fn or(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    pub fn new(len: usize) -> Self {
        Bits(vec![0; len.div_ceil(64)])
    }
    pub fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    /// Members.
    pub fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
}

const PRESENT: u8 = 1;
const STATUS_SHIFT: u8 = 1;
const STATUS_MASK: u8 = 0b110;
const HAS_CHANGE: u8 = 8;
const DIR: u8 = 16;

/// Every node's status and recursive sizes as of one step, in both modes.
pub struct ViewData {
    pub step: u16,
    flags: Vec<u8>,
    /// Bytes of regular files present as of the step.
    whole: Vec<u64>,
    /// Bytes the step itself added or rewrote.
    changes: Vec<u64>,
    /// Bytes the step removed.
    removed: Vec<u64>,
}

impl ViewData {
    /// One pass over the arena, children before parents. `reuse` lends the buffers of an old
    /// view (no fresh pages to fault in).
    pub fn compute(tree: &Tree, step: u16, reuse: Option<ViewData>) -> Self {
        Self::walk(tree, step, reuse, None)
    }

    /// [`ViewData::compute`] and the [`ChangeIndex`] of `steps` steps in the same pass: both read
    /// every node's versions, so they are read once.
    pub fn compute_indexed(tree: &Tree, step: u16, steps: usize) -> (Self, ChangeIndex) {
        let mut listed: Vec<Vec<(NodeId, u32)>> = vec![Vec::new(); steps];
        let view = Self::walk(tree, step, None, Some(&mut listed));
        // The walk went from the last node down; the index lists nodes in id order.
        let (by_step, versions) = listed.into_iter().map(|s| s.into_iter().rev().unzip()).unzip();
        (view, ChangeIndex { by_step, versions })
    }

    /// The pass: with `by_step`, every version of every node is also listed under its step,
    /// with the version itself.
    fn walk(
        tree: &Tree,
        step: u16,
        reuse: Option<ViewData>,
        mut by_step: Option<&mut Vec<Vec<(NodeId, u32)>>>,
    ) -> Self {
        let len = tree.len();
        let (mut flags, mut whole, mut changes, mut removed) = match reuse {
            Some(v) => (v.flags, v.whole, v.changes, v.removed),
            None => Default::default(),
        };
        for v in [&mut whole, &mut changes, &mut removed] {
            v.clear();
            v.resize(len, 0);
        }
        flags.clear();
        flags.resize(len, 0);
        for id in (1..len).rev() {
            let n = id as NodeId;
            let at = match by_step.as_deref_mut() {
                None => tree.version_at(n, step),
                Some(by_step) => {
                    let mut at = None;
                    // A node has at most one version per step (`Tree::set_version`).
                    for (i, v) in tree.history_ids(n) {
                        if let Some(s) = by_step.get_mut(usize::from(v.layer)) {
                            s.push((n, i));
                        }
                        if at.is_none() && v.layer <= step {
                            at = Some(v);
                        }
                    }
                    at
                }
            };
            let st = state_of(tree, at, step);
            let f = flags[id] | st.flags();
            flags[id] = f;
            let (w, c, r) = (
                whole[id] + st.whole,
                changes[id] + st.change,
                removed[id] + st.removed,
            );
            (whole[id], changes[id], removed[id]) = (w, c, r);
            let p = tree.node(n).parent as usize;
            whole[p] += w;
            changes[p] += c;
            removed[p] += r;
            if st.status != Status::Unmodified || f & HAS_CHANGE != 0 {
                flags[p] |= HAS_CHANGE;
            }
        }
        if let Some(f) = flags.first_mut() {
            *f |= PRESENT | DIR;
        }
        ViewData {
            step,
            flags,
            whole,
            changes,
            removed,
        }
    }

    /// Moves the view to another step by undoing and applying only what the steps in between
    /// changed: far cheaper than [`ViewData::compute`] unless those steps touched most paths.
    pub fn move_to(&mut self, tree: &Tree, index: &ChangeIndex, to: u16) {
        while self.step != to {
            let from = self.step;
            let next = if to > from { from + 1 } else { from - 1 };
            let forward = next > from;
            self.clear_step_marks(tree, index.at(from));
            // Paths whose state differs between the two steps: those the later one changed.
            // Going forward they are also the arrival step's changes: their states are kept.
            let later = index.at(from.max(next));
            let mut arrived = Vec::with_capacity(if forward { later.len() } else { 0 });
            let mut whole = UpSum::new(|v| &mut v.whole);
            let versions = index.versions(from.max(next));
            for (&n, &v) in later.iter().zip(versions) {
                let (lo, hi) = states_across(tree, tree.version(v), from.min(next));
                let (old, new) = if forward { (lo, hi) } else { (hi, lo) };
                let f = &mut self.flags[n as usize];
                *f = (*f & !(PRESENT | DIR)) | (new.flags() & (PRESENT | DIR));
                if new.whole != old.whole {
                    whole.add(self, tree, n, new.whole.wrapping_sub(old.whole));
                }
                if forward {
                    arrived.push(new);
                }
            }
            whole.flush(self, tree);
            self.step = next;
            let mut changes = UpSum::new(|v| &mut v.changes);
            let mut removed = UpSum::new(|v| &mut v.removed);
            let versions = index.versions(next);
            for (i, (&n, &v)) in index.at(next).iter().zip(versions).enumerate() {
                let st = match arrived.get(i) {
                    Some(st) => *st,
                    None => state_of(tree, Some(tree.version(v)), next),
                };
                let f = &mut self.flags[n as usize];
                *f = (*f & !(STATUS_MASK | DIR)) | (st.flags() & (STATUS_MASK | DIR));
                if st.change > 0 {
                    changes.add(self, tree, n, st.change);
                }
                if st.removed > 0 {
                    removed.add(self, tree, n, st.removed);
                }
                if st.status != Status::Unmodified {
                    let mut x = n;
                    while x != ROOT {
                        x = tree.node(x).parent;
                        if self.flags[x as usize] & HAS_CHANGE != 0 {
                            break;
                        }
                        self.flags[x as usize] |= HAS_CHANGE;
                    }
                }
            }
            changes.flush(self, tree);
            removed.flush(self, tree);
        }
    }

    /// Removes what is particular to the current step (statuses, change and removal sizes, the
    /// "changes below" marks) from its changed paths and their ancestors.
    fn clear_step_marks(&mut self, tree: &Tree, changed: &[NodeId]) {
        for &n in changed {
            let mut x = n;
            let f = &mut self.flags[x as usize];
            *f &= !STATUS_MASK;
            // A removed path showed its old kind; no longer shown, it has none.
            if *f & PRESENT == 0 {
                *f &= !DIR;
            }
            loop {
                let i = x as usize;
                self.flags[i] &= !HAS_CHANGE;
                self.changes[i] = 0;
                self.removed[i] = 0;
                if x == ROOT {
                    break;
                }
                x = tree.node(x).parent;
                // An ancestor without the mark got nothing from here (or was cleared already).
                if self.flags[x as usize] & HAS_CHANGE == 0 {
                    break;
                }
            }
        }
    }

    /// Adds `delta` (wrapping, so it may subtract) to a node's field and every ancestor's.
    fn add_up(&mut self, tree: &Tree, n: NodeId, field: fn(&mut ViewData) -> &mut Vec<u64>, delta: u64) {
        let mut x = n;
        loop {
            let slot = &mut field(self)[x as usize];
            *slot = slot.wrapping_add(delta);
            if x == ROOT {
                break;
            }
            x = tree.node(x).parent;
        }
    }

    /// The step's own change to the node.
    pub fn status(&self, n: NodeId) -> Status {
        match (self.flags[n as usize] & STATUS_MASK) >> STATUS_SHIFT {
            1 => Status::Added,
            2 => Status::Modified,
            3 => Status::Removed,
            _ => Status::Unmodified,
        }
    }

    /// The status shown: a directory with changes inside counts as modified.
    pub fn display_status(&self, n: NodeId) -> Status {
        match self.status(n) {
            Status::Unmodified if self.flags[n as usize] & HAS_CHANGE != 0 => Status::Modified,
            s => s,
        }
    }

    /// True when the node is a row of the view.
    pub fn shown(&self, n: NodeId, mode: Mode) -> bool {
        let f = self.flags[n as usize];
        match mode {
            Mode::Whole => f & PRESENT != 0 || self.status(n) == Status::Removed,
            Mode::Changes => self.status(n) != Status::Unmodified || f & HAS_CHANGE != 0,
        }
    }

    pub fn is_dir(&self, n: NodeId) -> bool {
        self.flags[n as usize] & DIR != 0
    }

    /// The size shown for a node: what it holds (whole), what the step wrote there (changes), or
    /// for a removed node what the step removed.
    pub fn size(&self, n: NodeId, mode: Mode) -> u64 {
        let i = n as usize;
        if self.status(n) == Status::Removed {
            return self.removed[i];
        }
        match mode {
            Mode::Whole => self.whole[i],
            Mode::Changes => self.changes[i],
        }
    }

    /// Bytes the step removed below (or at) a node.
    pub fn removed_bytes(&self, n: NodeId) -> u64 {
        self.removed[n as usize]
    }
}

/// What a step shows for one node, before adding up its children.
#[derive(Debug, Clone, Copy)]
struct NodeState {
    status: Status,
    /// The kind shown (the old kind for a removed path), if the node is shown at all.
    kind: Option<Kind>,
    /// Own bytes present as of the step; written by the step; removed by the step.
    whole: u64,
    change: u64,
    removed: u64,
}

impl NodeState {
    fn flags(&self) -> u8 {
        let mut f = (self.status as u8) << STATUS_SHIFT;
        if self.kind.is_some() && self.status != Status::Removed {
            f |= PRESENT;
        }
        if self.kind == Some(Kind::Dir) {
            f |= DIR;
        }
        f
    }
}

/// Deltas added to one size field of nodes and all their ancestors, summed over a run of
/// siblings (changed paths come in id order, so siblings mostly follow each other) and carried up
/// the tree once per run, not once per path.
struct UpSum {
    field: fn(&mut ViewData) -> &mut Vec<u64>,
    /// The parent of the run, and the run's sum so far (wrapping: deltas may subtract).
    run: Option<(NodeId, u64)>,
}

impl UpSum {
    fn new(field: fn(&mut ViewData) -> &mut Vec<u64>) -> Self {
        UpSum { field, run: None }
    }

    /// Adds `delta` to `n`'s field now, and to its ancestors' when the run ends.
    fn add(&mut self, v: &mut ViewData, tree: &Tree, n: NodeId, delta: u64) {
        let slot = &mut (self.field)(v)[n as usize];
        *slot = slot.wrapping_add(delta);
        if n == ROOT {
            return;
        }
        let p = tree.node(n).parent;
        match &mut self.run {
            Some((q, sum)) if *q == p => *sum = sum.wrapping_add(delta),
            _ => {
                self.flush(v, tree);
                self.run = Some((p, delta));
            }
        }
    }

    /// Carries the run's sum up from its parent.
    fn flush(&mut self, v: &mut ViewData, tree: &Tree) {
        if let Some((p, sum)) = self.run.take() {
            v.add_up(tree, p, self.field, sum);
        }
    }
}

/// The node's state at steps `lo` and `lo + 1`, for a node that step `lo + 1` changed, from its
/// version of that step: the newest at `lo` is the one below it.
fn states_across(tree: &Tree, at_hi: &Version, lo: u16) -> (NodeState, NodeState) {
    (
        state_of(tree, tree.previous(at_hi), lo),
        state_of(tree, Some(at_hi), lo + 1),
    )
}

/// A node's state at a step, from its newest version at or below the step.
fn state_of(tree: &Tree, at: Option<&Version>, step: u16) -> NodeState {
    let mut st = NodeState {
        status: Status::Unmodified,
        kind: None,
        whole: 0,
        change: 0,
        removed: 0,
    };
    match at {
        Some(after) if after.layer == step => {
            let before = tree.previous(after).filter(|b| b.is_present());
            match (before, after.is_present()) {
                (None, true) => {
                    st.status = Status::Added;
                    st.kind = Some(after.kind);
                    st.whole = after.stored_bytes();
                    st.change = st.whole;
                }
                (Some(b), true) => {
                    st.kind = Some(after.kind);
                    st.whole = after.stored_bytes();
                    let same_dir = b.kind == Kind::Dir
                        && after.kind == Kind::Dir
                        && (b.mode, b.uid, b.gid) == (after.mode, after.uid, after.gid);
                    if !same_dir {
                        st.status = Status::Modified;
                        st.change = st.whole;
                    }
                }
                (Some(b), false) => {
                    st.status = Status::Removed;
                    st.kind = Some(b.kind);
                    st.removed = b.stored_bytes();
                }
                (None, false) => {}
            }
        }
        Some(v) if v.is_present() => {
            st.kind = Some(v.kind);
            st.whole = v.stored_bytes();
        }
        _ => {}
    }
    st
}

/// For each step, the nodes it made a version of: what moving a view across it must touch.
#[derive(Debug, Default)]
pub struct ChangeIndex {
    by_step: Vec<Vec<NodeId>>,
    /// For each node of `by_step`, its version of that step (so moving a view reads it at once
    /// instead of walking the node's versions down from its last).
    versions: Vec<Vec<u32>>,
}

impl ChangeIndex {
    pub fn at(&self, step: u16) -> &[NodeId] {
        self.by_step.get(usize::from(step)).map_or(&[], Vec::as_slice)
    }

    /// The version each node of [`ChangeIndex::at`] has of the step.
    fn versions(&self, step: u16) -> &[u32] {
        self.versions.get(usize::from(step)).map_or(&[], Vec::as_slice)
    }

    /// The work of moving a view from one step to another, in paths: each step crossed costs the
    /// paths whose state differs and the paths the arrival step changed (clearing the departure
    /// step's marks is cheap and not counted).
    pub fn cost(&self, from: u16, to: u16) -> usize {
        let mut cost = 0;
        let mut p = from;
        while p != to {
            let s = if to > p { p + 1 } else { p - 1 };
            cost += self.at(p.max(s)).len() + self.at(s).len();
            p = s;
        }
        cost
    }
}

/// The version a view shows for a node at a step: the new one, or for a removed path the one it
/// had before.
pub fn shown_version(tree: &Tree, n: NodeId, step: u16) -> Option<&Version> {
    match tree.change_at(n, step) {
        Some((_, after)) if after.is_present() => Some(after),
        Some((Some(before), _)) if before.is_present() => Some(before),
        _ => tree.visible_at(n, step),
    }
}

/// Marks that do not depend on the view: files whose bytes become waste, and leftover subtrees.
#[derive(Debug, Default)]
pub struct Marks {
    /// (node, step that stored the version) for every wasted file and waste group root.
    pub waste: HashSet<(NodeId, u16)>,
    pub leftover_roots: HashSet<NodeId>,
}

impl Marks {
    /// `groups`: the analysis' [`Analysis::waste_groups`].
    pub fn new(a: &Analysis, groups: &[WasteGroup]) -> Self {
        let mut waste: HashSet<(NodeId, u16)> = a.waste.iter().map(|w| (w.node, w.layer)).collect();
        waste.extend(groups.iter().map(|g| (g.node, g.layer)));
        Marks {
            waste,
            leftover_roots: a.leftovers.iter().map(|l| l.node).collect(),
        }
    }
}

/// Row flags.
pub const ROW_DIR: u8 = 1;
pub const ROW_OPEN: u8 = 2;
/// The row is a leftover or lies inside one.
pub const ROW_LEFTOVER: u8 = 4;

/// One line of the flattened tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub node: NodeId,
    pub depth: u16,
    pub flags: u8,
}

/// Which directories are open: those above a depth, flipped by the ones toggled.
#[derive(Debug, Clone, Default)]
struct Folding {
    depth: usize,
    toggled: HashSet<NodeId>,
}

impl Folding {
    fn is_open(&self, n: NodeId, depth: u16) -> bool {
        (usize::from(depth) < self.depth) != self.toggled.contains(&n)
    }
}

/// The filter: a regex typed by the user, matched against each full path.
#[derive(Debug, Default)]
pub struct Filter {
    pub text: String,
    /// The input line has the keyboard.
    pub typing: bool,
    /// Why the text is not a valid regex.
    pub error: Option<String>,
    regex: Option<PathRegex>,
    /// Paths matching `applied`, when one is applied.
    matches: Option<Bits>,
    applied: Option<PathRegex>,
    /// The text is newer than the matches.
    pending: bool,
    /// A filter being matched on another thread (big trees), the rows keep the last matches
    /// until it is done.
    job: Option<FilterJob>,
    generation: u64,
    fold: Folding,
}

/// A filter matched on its own thread, and where its matches arrive.
#[derive(Debug)]
struct FilterJob {
    regex: PathRegex,
    done: crossbeam_channel::Receiver<Bits>,
}

impl Filter {
    /// True while a regex filters the rows.
    pub fn active(&self) -> bool {
        self.matches.is_some()
    }
    /// True when typed text waits to be applied (big trees apply it when typing pauses).
    pub fn pending(&self) -> bool {
        self.pending
    }
    /// True while a typed filter is being matched on its own thread.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }
}

/// Up to this many paths the filter is applied at every key press; above, when typing pauses,
/// on its own thread: keys keep their frames while it runs.
pub const LIVE_FILTER_PATHS: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BuildKey {
    step: u16,
    mode: Mode,
    sort: Sort,
    hide: bool,
    filter: u64,
    fold: u64,
}

/// The tree pane.
pub struct TreeState {
    pub mode: Mode,
    pub sort: Sort,
    pub hide_unmodified: bool,
    pub attrs: bool,
    pub filter: Filter,
    /// Up to this many paths a typed filter is applied at once ([`LIVE_FILTER_PATHS`]).
    pub live_filter_paths: usize,
    pub list: ListState,
    fold: Folding,
    fold_generation: u64,
    /// The current step's view data, moved from step to step.
    view: Option<ViewData>,
    index: ChangeIndex,
    keep: Option<Bits>,
    /// When `keep` holds few nodes: the kept children of each kept directory (so the rows are
    /// built from them instead of scanning every child).
    kept_children: Option<HashMap<NodeId, Vec<NodeId>>>,
    /// Matching paths in the current view.
    pub match_count: usize,
    rows: Vec<Row>,
    built: Option<BuildKey>,
    selected_node: Option<NodeId>,
}

impl Default for TreeState {
    fn default() -> Self {
        TreeState {
            mode: Mode::Changes,
            sort: Sort::Name,
            hide_unmodified: false,
            attrs: false,
            filter: Filter::default(),
            live_filter_paths: LIVE_FILTER_PATHS,
            list: ListState::default(),
            fold: Folding {
                depth: usize::MAX,
                toggled: HashSet::new(),
            },
            fold_generation: 0,
            view: None,
            index: ChangeIndex::default(),
            keep: None,
            kept_children: None,
            match_count: 0,
            rows: Vec::new(),
            built: None,
            selected_node: None,
        }
    }
}

/// Trees up to this many paths start fully expanded; bigger ones show two levels.
const OPEN_ALL_PATHS: usize = 5_000;

/// Everything `push_subtree` reads, borrowed field by field.
struct Flatten<'a> {
    tree: &'a Tree,
    view: &'a ViewData,
    mode: Mode,
    sort: Sort,
    keep: Option<&'a Bits>,
    kept_children: Option<&'a HashMap<NodeId, Vec<NodeId>>>,
    fold: &'a Folding,
    leftovers: &'a HashSet<NodeId>,
}

impl Flatten<'_> {
    fn children(&self, n: NodeId) -> Vec<NodeId> {
        let mut kids: Vec<NodeId> = match self.kept_children {
            Some(kept) => kept.get(&n).cloned().unwrap_or_default(),
            None => self
                .tree
                .children(n)
                .filter(|c| self.view.shown(*c, self.mode) && self.keep.is_none_or(|k| k.get(*c as usize)))
                .collect(),
        };
        match self.sort {
            Sort::Name => kids.sort_unstable_by(|a, b| self.tree.name(*a).cmp(self.tree.name(*b))),
            Sort::Size => kids.sort_unstable_by(|a, b| {
                self.view
                    .size(*b, self.mode)
                    .cmp(&self.view.size(*a, self.mode))
                    .then_with(|| self.tree.name(*a).cmp(self.tree.name(*b)))
            }),
        }
        kids
    }

    /// Appends the rows below `parent` (its open subtree, not `parent` itself).
    fn push_subtree(&self, parent: NodeId, depth: u16, leftover: bool, out: &mut Vec<Row>) {
        let mut stack: Vec<(NodeId, u16, bool)> = Vec::new();
        let push_kids = |stack: &mut Vec<(NodeId, u16, bool)>, n: NodeId, d: u16, lo: bool| {
            stack.extend(self.children(n).into_iter().rev().map(|c| (c, d, lo)));
        };
        push_kids(&mut stack, parent, depth, leftover);
        while let Some((n, d, lo)) = stack.pop() {
            let lo = lo || self.leftovers.contains(&n);
            let mut flags = if lo { ROW_LEFTOVER } else { 0 };
            if self.view.is_dir(n) {
                flags |= ROW_DIR;
                if self.fold.is_open(n, d) {
                    flags |= ROW_OPEN;
                    push_kids(&mut stack, n, d.saturating_add(1), lo);
                }
            }
            out.push(Row {
                node: n,
                depth: d,
                flags,
            });
        }
    }
}

impl TreeState {
    /// Sets the initial folding for an analysis (small trees open, big ones two levels deep) and
    /// computes the view of `step` with the index that moves it.
    pub fn init(&mut self, a: &Analysis, step: u16) {
        self.fold.depth = if a.tree.len() <= OPEN_ALL_PATHS {
            usize::MAX
        } else {
            1
        };
        self.fold.toggled.clear();
        self.fold_generation += 1;
        let (view, index) = ViewData::compute_indexed(&a.tree, step, a.steps.len());
        self.index = index;
        self.view = Some(view);
        self.built = None;
    }

    /// The rows of the current view (valid after [`TreeState::prepare`]).
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The view data of the current step (valid after [`TreeState::prepare`]).
    pub fn view(&self) -> Option<&ViewData> {
        self.view.as_ref()
    }

    pub fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.list.selected)
    }

    fn fold(&self) -> &Folding {
        if self.filter.active() {
            &self.filter.fold
        } else {
            &self.fold
        }
    }

    fn fold_mut(&mut self) -> &mut Folding {
        if self.filter.active() {
            &mut self.filter.fold
        } else {
            &mut self.fold
        }
    }

    /// Brings the rows up to date for `step`: computes (or reuses) the step's view data, applies a
    /// typed filter (at once for small trees, or when `idle`), and rebuilds the rows if anything
    /// they depend on changed. `height` is the number of rows on screen.
    pub fn prepare(&mut self, a: &Arc<Analysis>, marks: &Marks, step: u16, idle: bool, height: usize) {
        if self.filter.pending {
            if a.tree.len() <= self.live_filter_paths || self.filter.regex.is_none() {
                self.apply_filter(&a.tree);
            } else if idle {
                self.start_filter_job(a);
            }
        }
        // Move the view when the steps in between touched few paths; else one full pass.
        match self.view.take() {
            Some(mut v) if v.step == step || self.index.cost(v.step, step) <= a.tree.len() / 4 => {
                v.move_to(&a.tree, &self.index, step);
                self.view = Some(v);
            }
            old => self.view = Some(ViewData::compute(&a.tree, step, old)),
        }
        let key = BuildKey {
            step,
            mode: self.mode,
            sort: self.sort,
            hide: self.hide_unmodified,
            filter: self.filter.generation,
            fold: self.fold_generation,
        };
        if self.built != Some(key) {
            let same_view = self.built.is_some_and(|b| {
                (b.step, b.mode, b.hide, b.filter) == (step, self.mode, self.hide_unmodified, key.filter)
            });
            if !same_view {
                self.compute_keep(&a.tree);
            }
            self.rebuild(a, marks);
            self.built = Some(key);
            self.restore_selection(&a.tree, height);
        }
        self.list.clamp(self.rows.len(), height);
    }

    /// Which nodes a filter and "hide unmodified" keep in the current view, and the match count.
    fn compute_keep(&mut self, tree: &Tree) {
        self.match_count = 0;
        let Some(view) = self.view.as_ref() else { return };
        let matches = self.filter.matches.as_ref();
        self.kept_children = None;
        if matches.is_none() && !self.hide_unmodified {
            self.keep = None;
            return;
        }
        let mut kept = Vec::new();
        let len = view.flags.len();
        let mut keep = Bits::new(len);
        // Nodes with a kept descendant; children come first when walking ids down.
        let mut below = Bits::new(len);
        for id in (1..len).rev() {
            let n = id as NodeId;
            if !view.shown(n, self.mode) {
                continue;
            }
            let unhidden = !self.hide_unmodified || view.display_status(n) != Status::Unmodified;
            let matched = matches.is_some_and(|m| m.get(id));
            if matched && unhidden {
                self.match_count += 1;
            }
            if unhidden && (matches.is_none() || matched || below.get(id)) {
                keep.set(id);
                below.set(tree.node(n).parent as usize);
                kept.push(n);
            }
        }
        self.keep = Some(keep);
        if kept.len() <= len / 8 {
            let mut by_parent: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
            for &n in kept.iter().rev() {
                by_parent.entry(tree.node(n).parent).or_default().push(n);
            }
            self.kept_children = Some(by_parent);
        }
    }

    fn flatten<'a>(&'a self, a: &'a Analysis, marks: &'a Marks) -> Option<Flatten<'a>> {
        Some(Flatten {
            tree: &a.tree,
            view: self.view.as_ref()?,
            mode: self.mode,
            sort: self.sort,
            keep: self.keep.as_ref(),
            kept_children: self.kept_children.as_ref(),
            fold: self.fold(),
            leftovers: &marks.leftover_roots,
        })
    }

    fn rebuild(&mut self, a: &Analysis, marks: &Marks) {
        let mut rows = Vec::new();
        if let Some(f) = self.flatten(a, marks) {
            f.push_subtree(ROOT, 0, false, &mut rows);
        }
        self.rows = rows;
    }

    /// Selects the remembered node again, or its nearest shown ancestor.
    fn restore_selection(&mut self, tree: &Tree, height: usize) {
        let Some(mut n) = self.selected_node else {
            self.list.clamp(self.rows.len(), height);
            return;
        };
        loop {
            if let Some(i) = self.rows.iter().position(|r| r.node == n) {
                self.list.select(i, self.rows.len(), height);
                return;
            }
            if n == ROOT {
                break;
            }
            n = tree.node(n).parent;
        }
        self.list.clamp(self.rows.len(), height);
    }

    fn remember_selection(&mut self) {
        if let Some(r) = self.rows.get(self.list.selected) {
            self.selected_node = Some(r.node);
        }
    }

    /// Moves the selection (arrows, pages, Home/End).
    pub fn navigate(&mut self, action: Action, height: usize) {
        self.list.apply(action, self.rows.len(), height);
        self.remember_selection();
    }

    /// Moves the selection by `delta` rows (the wheel).
    pub fn step_selection(&mut self, delta: isize, height: usize) {
        self.list.step(delta, self.rows.len(), height);
        self.remember_selection();
    }

    /// Selects a row (a click); returns true when it was already selected.
    pub fn click(&mut self, row: usize, height: usize) -> bool {
        let again = row == self.list.selected;
        if row < self.rows.len() {
            self.list.select(row, self.rows.len(), height);
            self.remember_selection();
        }
        again
    }

    /// Collapses or expands the selected directory, splicing its rows in or out.
    pub fn toggle(&mut self, a: &Analysis, marks: &Marks) {
        let i = self.list.selected;
        let Some(row) = self.rows.get(i).copied() else {
            return;
        };
        if row.flags & ROW_DIR == 0 {
            return;
        }
        let fold = self.fold_mut();
        if !fold.toggled.remove(&row.node) {
            fold.toggled.insert(row.node);
        }
        if row.flags & ROW_OPEN != 0 {
            let end = i
                + 1
                + self.rows[i + 1..]
                    .iter()
                    .take_while(|r| r.depth > row.depth)
                    .count();
            self.rows.drain(i + 1..end);
            self.rows[i].flags &= !ROW_OPEN;
        } else {
            let mut sub = Vec::new();
            if let Some(f) = self.flatten(a, marks) {
                f.push_subtree(row.node, row.depth + 1, row.flags & ROW_LEFTOVER != 0, &mut sub);
            }
            self.rows.splice(i + 1..i + 1, sub);
            self.rows[i].flags |= ROW_OPEN;
        }
    }

    /// `h`/←: collapse an open directory, else go to the parent.
    pub fn left(&mut self, a: &Analysis, marks: &Marks, height: usize) {
        let i = self.list.selected;
        let Some(row) = self.rows.get(i).copied() else {
            return;
        };
        if row.flags & ROW_OPEN != 0 {
            self.toggle(a, marks);
        } else if let Some(p) = self.rows[..i].iter().rposition(|r| r.depth < row.depth) {
            self.list.select(p, self.rows.len(), height);
            self.remember_selection();
        }
    }

    /// `l`/→: expand a closed directory, else go to its first child.
    pub fn right(&mut self, a: &Analysis, marks: &Marks, height: usize) {
        let Some(row) = self.rows.get(self.list.selected).copied() else {
            return;
        };
        if row.flags & ROW_DIR == 0 {
            return;
        }
        if row.flags & ROW_OPEN == 0 {
            self.toggle(a, marks);
        } else {
            self.navigate(Action::Down, height);
        }
    }

    /// Opens (`true`) or closes every directory.
    pub fn fold_all(&mut self, open: bool) {
        let fold = self.fold_mut();
        fold.depth = if open { usize::MAX } else { 0 };
        fold.toggled.clear();
        self.fold_generation += 1;
    }

    pub fn toggle_mode(&mut self) {
        self.mode = match self.mode {
            Mode::Changes => Mode::Whole,
            Mode::Whole => Mode::Changes,
        };
    }

    pub fn toggle_sort(&mut self) {
        self.sort = match self.sort {
            Sort::Name => Sort::Size,
            Sort::Size => Sort::Name,
        };
    }

    /// Starts typing a filter (the old text stays, to be edited).
    pub fn start_filter(&mut self) {
        self.filter.typing = true;
    }

    /// Replaces the filter text; a valid regex is applied by the next `prepare`.
    pub fn set_filter_text(&mut self, text: String) {
        self.filter.text = text;
        if self.filter.text.is_empty() {
            self.filter.error = None;
            self.filter.regex = None;
            self.filter.pending = true;
            return;
        }
        // Smart case, as in ripgrep: case-insensitive unless the text has a capital.
        let insensitive = !self.filter.text.chars().any(char::is_uppercase);
        match PathRegex::new(&self.filter.text, insensitive) {
            Ok(re) => {
                self.filter.error = None;
                self.filter.regex = Some(re);
                self.filter.pending = true;
            }
            Err(e) => {
                let msg = e.to_string();
                let last = msg
                    .lines()
                    .rfind(|l| !l.trim().is_empty())
                    .unwrap_or("invalid regex");
                self.filter.error = Some(last.trim().trim_start_matches("error: ").to_string());
            }
        }
    }

    /// Clears the filter and leaves the input.
    pub fn clear_filter(&mut self) {
        self.filter.typing = false;
        self.set_filter_text(String::new());
    }

    /// The matches a new filter may start from: those of the applied one, when it narrows it.
    fn narrowing(&self, regex: &PathRegex) -> Option<&Bits> {
        match (&self.filter.applied, &self.filter.matches) {
            (Some(old), Some(m)) if regex.narrows(old) => Some(m),
            _ => None,
        }
    }

    /// Matches the typed filter here and now.
    fn apply_filter(&mut self, tree: &Tree) {
        self.filter.pending = false;
        self.filter.job = None;
        let regex = self.filter.regex.clone();
        let matches = regex.as_ref().map(|re| re.matches(tree, self.narrowing(re)));
        self.install(regex, matches);
    }

    /// Matches the typed filter on its own thread; [`TreeState::poll_filter`] takes the result.
    fn start_filter_job(&mut self, a: &Arc<Analysis>) {
        let Some(regex) = self.filter.regex.clone() else {
            return self.apply_filter(&a.tree);
        };
        self.filter.pending = false;
        let before = self.narrowing(&regex).cloned();
        let (tx, done) = crossbeam_channel::bounded(1);
        let (a2, re) = (Arc::clone(a), regex.clone());
        let spawned = std::thread::Builder::new()
            .name("dsize-filter".into())
            .spawn(move || {
                // The receiver is gone when a newer filter replaced this one.
                let _ = tx.send(re.matches(&a2.tree, before.as_ref()));
            });
        match spawned {
            Ok(_) => self.filter.job = Some(FilterJob { regex, done }),
            Err(_) => self.apply_filter(&a.tree),
        }
    }

    /// Takes the matches of a finished filter job. `wait`: until it is done. True when the rows
    /// change.
    pub fn poll_filter(&mut self, wait: bool) -> bool {
        let Some(job) = self.filter.job.take() else {
            return false;
        };
        let matches = if wait {
            job.done.recv().ok()
        } else {
            match job.done.try_recv() {
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    self.filter.job = Some(job);
                    return false;
                }
                r => r.ok(),
            }
        };
        let current = self.filter.regex.as_ref().is_some_and(|re| re.same(&job.regex));
        match matches {
            Some(m) if current => {
                self.install(Some(job.regex), Some(m));
                true
            }
            // Typed over meanwhile: the newer text is pending. A job that died (it cannot,
            // short of a bug) is retried here.
            Some(_) => false,
            None => {
                self.filter.pending = true;
                false
            }
        }
    }

    fn install(&mut self, regex: Option<PathRegex>, matches: Option<Bits>) {
        self.filter.matches = matches;
        self.filter.applied = regex;
        self.filter.generation += 1;
        self.filter.fold = Folding {
            depth: usize::MAX,
            toggled: HashSet::new(),
        };
    }

    /// Shows `node` as of `step` and selects it: switches to the whole filesystem, clears the
    /// filter or shows unmodified files when they would hide it, and opens its parents. Returns
    /// false when the node does not exist at that step.
    pub fn reveal(
        &mut self,
        a: &Arc<Analysis>,
        marks: &Marks,
        step: u16,
        node: NodeId,
        height: usize,
    ) -> bool {
        self.prepare(a, marks, step, true, height);
        let Some(view) = self.view.as_ref() else {
            return false;
        };
        if !view.shown(node, Mode::Whole) {
            return false;
        }
        if !view.shown(node, self.mode) {
            self.mode = Mode::Whole;
        }
        if self.hide_unmodified && view.display_status(node) == Status::Unmodified {
            self.hide_unmodified = false;
        }
        if self.filter.active() {
            self.compute_keep(&a.tree);
            if self.keep.as_ref().is_some_and(|k| !k.get(node as usize)) {
                self.clear_filter();
                self.apply_filter(&a.tree);
            }
        }
        let mut chain = Vec::new();
        let mut n = a.tree.node(node).parent;
        while n != ROOT {
            chain.push(n);
            n = a.tree.node(n).parent;
        }
        let fold = self.fold_mut();
        for (depth, anc) in chain.iter().rev().enumerate() {
            if !fold.is_open(*anc, depth as u16) && !fold.toggled.remove(anc) {
                fold.toggled.insert(*anc);
            }
        }
        self.fold_generation += 1;
        self.selected_node = Some(node);
        self.prepare(a, marks, step, true, height);
        match self.rows.iter().position(|r| r.node == node) {
            Some(i) => {
                self.list.select_centered(i, self.rows.len(), height);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        AnalysisBuilder, AnalysisOptions, EntryKind, HistoryEntry, ImageMeta, LayerEntries, LayerMeta,
    };

    type Entry<'a> = (EntryKind, &'a str, &'a str, u64, u32);

    /// One step per layer; `None` is an empty step (ENV).
    fn analysis(layers: &[Option<&[Entry]>]) -> Analysis {
        let meta = ImageMeta {
            history: layers
                .iter()
                .enumerate()
                .map(|(i, l)| HistoryEntry {
                    created_by: format!("RUN step {i}"),
                    empty_layer: l.is_none(),
                    ..Default::default()
                })
                .collect(),
            layers: vec![LayerMeta::default(); layers.iter().flatten().count()],
            ..Default::default()
        };
        let mut b = AnalysisBuilder::new(meta, AnalysisOptions::default()).unwrap();
        for (i, l) in layers.iter().flatten().enumerate() {
            let mut e = LayerEntries::default();
            for (kind, path, link, size, mode) in l.iter() {
                e.push(*kind, path.as_bytes(), link.as_bytes(), *size, *mode, 0, 0)
                    .unwrap();
            }
            b.add_layer(i, e, None);
        }
        b.finish()
    }

    use EntryKind::{Dir, File, Opaque, Symlink, Whiteout};

    fn sample() -> Analysis {
        analysis(&[
            Some(&[
                (Dir, "usr", "", 0, 0o755),
                (File, "usr/bin/a", "", 100, 0o755),
                (File, "usr/bin/b", "", 200, 0o755),
                (File, "usr/lib/x/y", "", 300, 0o644),
                (Symlink, "usr/bin/c", "a", 0, 0o777),
                (File, "etc/conf", "", 10, 0o644),
            ]),
            None,
            Some(&[
                (File, "usr/bin/a", "", 150, 0o755),
                (Whiteout, "usr/lib", "", 0, 0),
                (File, "tmp/big", "", 5000, 0o644),
                (Dir, "etc", "", 0, 0o700),
            ]),
            Some(&[(Whiteout, "tmp/big", "", 0, 0), (Dir, "usr", "", 0, 0o755)]),
            Some(&[
                (Opaque, "usr/bin", "", 0, 0),
                (File, "usr/bin/d", "", 40, 0o755),
                (File, "usr/lib", "", 7, 0o644),
                (Dir, "etc/conf", "", 0, 0o755),
                (File, "etc/conf/inner", "", 3, 0o644),
            ]),
            None,
        ])
    }

    fn same(a: &ViewData, b: &ViewData) {
        assert_eq!(a.step, b.step);
        assert_eq!(a.flags, b.flags, "flags at step {}", a.step);
        assert_eq!(a.whole, b.whole, "whole at step {}", a.step);
        assert_eq!(a.changes, b.changes, "changes at step {}", a.step);
        assert_eq!(a.removed, b.removed, "removed at step {}", a.step);
    }

    /// The change index as first written: one walk over every node's versions, in id order.
    fn index_one_by_one(tree: &Tree, steps: usize) -> Vec<Vec<NodeId>> {
        let mut by_step: Vec<Vec<NodeId>> = vec![Vec::new(); steps];
        for n in 1..tree.len() as NodeId {
            for v in tree.history(n) {
                if let Some(s) = by_step.get_mut(usize::from(v.layer)) {
                    s.push(n);
                }
            }
        }
        by_step
    }

    #[test]
    fn the_indexed_pass_equals_the_view_and_the_index_apart() {
        let a = sample();
        let steps = a.steps.len();
        for step in 0..steps as u16 {
            let (v, index) = ViewData::compute_indexed(&a.tree, step, steps);
            same(&v, &ViewData::compute(&a.tree, step, None));
            assert_eq!(index.by_step, index_one_by_one(&a.tree, steps));
            // Each listed node's version of the step is its newest there.
            for s in 0..steps as u16 {
                assert_eq!(index.at(s).len(), index.versions(s).len());
                for (&n, &v) in index.at(s).iter().zip(index.versions(s)) {
                    let newest = a.tree.version_at(n, s).expect("a version at the step");
                    assert!(std::ptr::eq(a.tree.version(v), newest), "node {n} step {s}");
                }
            }
        }
        // Fewer steps than versions name: the extra ones are left out, as before.
        let (_, short) = ViewData::compute_indexed(&a.tree, 0, 2);
        assert_eq!(short.by_step, index_one_by_one(&a.tree, 2));
    }

    #[test]
    fn moving_a_view_equals_computing_it() {
        let a = sample();
        let (_, index) = ViewData::compute_indexed(&a.tree, 0, a.steps.len());
        let n = a.steps.len() as u16;
        let mut v = ViewData::compute(&a.tree, 0, None);
        // Every ordered pair of steps, including far jumps both ways.
        for from in 0..n {
            for to in 0..n {
                v.move_to(&a.tree, &index, from);
                same(&v, &ViewData::compute(&a.tree, from, None));
                v.move_to(&a.tree, &index, to);
                same(&v, &ViewData::compute(&a.tree, to, None));
            }
        }
    }

    #[test]
    fn statuses_and_sizes() {
        let a = sample();
        let at = |p: &str| a.tree.lookup(p.as_bytes()).unwrap();
        let v = ViewData::compute(&a.tree, 2, None);
        assert_eq!(v.status(at("usr/bin/a")), Status::Modified);
        assert_eq!(v.status(at("usr/lib")), Status::Removed);
        assert_eq!(v.size(at("usr/lib"), Mode::Changes), 300);
        assert_eq!(v.status(at("tmp/big")), Status::Added);
        assert_eq!(v.display_status(at("usr")), Status::Modified);
        assert_eq!(v.status(at("etc")), Status::Modified, "mode 755 -> 700");
        assert_eq!(v.size(ROOT, Mode::Whole), 150 + 200 + 10 + 5000);
        assert_eq!(v.size(ROOT, Mode::Changes), 5150);
        assert!(v.shown(at("usr/lib/x/y"), Mode::Changes));
        assert!(!v.shown(at("etc/conf"), Mode::Changes));
        // The empty step after the base changes nothing.
        let e = ViewData::compute(&a.tree, 1, None);
        assert!(!e.shown(at("usr"), Mode::Changes));
        assert!(e.shown(at("usr/bin/c"), Mode::Whole));
    }
}
