//! Comparison of several analyses (versions of one image, in the order given). Pure: it reads
//! finished [`Analysis`] values and never does I/O; `report::compare` phrases and prints it.
//!
//! - Per image: the totals, the layer count and the leftovers by category, with the deltas
//!   against the previous image and against the first ([`ImageSummary`], [`Delta`]).
//! - Between each image and the next ([`PairDiff`]), everything is matched **by path**, never by
//!   layer position, so a reordered Dockerfile does not look like a rewrite:
//!   - [`DiffTree`]: the union of both final filesystems with recursive byte totals per side;
//!   - files whose size changed, were added or removed ([`FileChange`]);
//!   - directory rows ([`DirChange`]) that partition the changed bytes (see [`DiffTree::dir_rows`]);
//!   - leftovers and waste groups that appeared, disappeared, grew or shrank (by path);
//!   - instructions added, removed or moved, matched by their normalised one-line text.
//!
//! Bytes are attributed as in the analysis: a regular file's bytes once, a hard-linked file's
//! bytes at the smallest (bytewise) of its visible paths, so for each image the file bytes of the
//! tree add up to its visible bytes exactly. dsize never reads file contents, so a file rewritten
//! with the same size counts as unchanged.

use super::analysis::Analysis;
use super::instruction::one_line;
use super::leftovers::{self, RULES};
use super::tree::{Kind, NONE, NodeId, ROOT, Tree, Version};
use hashbrown::HashMap;
use std::cmp::Reverse;

/// Directory rows are cut at this depth (`/var/lib/apt`): deeper changes add up into it.
pub const DIR_DEPTH: usize = 3;

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub images: Vec<ImageSummary>,
    /// `pairs[i]` compares `images[i]` with `images[i + 1]`.
    pub pairs: Vec<PairDiff>,
}

/// One image's numbers (definitions in the README).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSummary {
    /// Short name used in tables (see [`labels`]).
    pub label: String,
    /// The name the user gave.
    pub name: String,
    pub stored: u64,
    pub visible: u64,
    pub wasted: u64,
    pub compressed: Option<u64>,
    pub efficiency: f64,
    /// Steps that have a layer.
    pub layers: usize,
    /// History steps, layers or not.
    pub steps: usize,
    pub leftover_bytes: u64,
    /// Every leftover category in table order ([`leftovers::categories`]), with its bytes (0 too).
    pub leftovers: Vec<(&'static str, u64)>,
    pub vs_previous: Option<Delta>,
    pub vs_first: Option<Delta>,
}

impl ImageSummary {
    /// Bytes of one leftover category.
    pub fn leftover(&self, category: &str) -> u64 {
        self.leftovers
            .iter()
            .find(|(c, _)| *c == category)
            .map_or(0, |(_, b)| *b)
    }
}

/// `after − before` of each number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta {
    pub stored: i64,
    pub visible: i64,
    pub wasted: i64,
    /// Only when both images know their compressed size.
    pub compressed: Option<i64>,
    pub leftovers: i64,
    pub layers: i64,
    /// Difference in efficiency (a fraction).
    pub efficiency: f64,
    /// `stored` as a percentage of the earlier image's stored bytes (0 when that is 0).
    pub stored_percent: f64,
}

/// `b − a` without overflow for any real image (sizes stay far below `i64::MAX`).
pub fn signed(after: u64, before: u64) -> i64 {
    let d = i128::from(after) - i128::from(before);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn delta(before: &ImageSummary, after: &ImageSummary) -> Delta {
    let stored = signed(after.stored, before.stored);
    Delta {
        stored,
        visible: signed(after.visible, before.visible),
        wasted: signed(after.wasted, before.wasted),
        compressed: before.compressed.zip(after.compressed).map(|(b, a)| signed(a, b)),
        leftovers: signed(after.leftover_bytes, before.leftover_bytes),
        layers: after.layers as i64 - before.layers as i64,
        efficiency: after.efficiency - before.efficiency,
        stored_percent: if before.stored == 0 {
            0.0
        } else {
            stored as f64 * 100.0 / before.stored as f64
        },
    }
}

/// How a path, a directory row, a leftover or a waste group changed between two images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Only in the later image.
    Added,
    /// Only in the earlier image.
    Removed,
    Grown,
    Shrunk,
    /// In both, the same bytes, but something below it changed (directories only).
    Changed,
    /// In both, nothing changed.
    Same,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Grown => "grown",
            Change::Shrunk => "shrunk",
            Change::Changed => "changed",
            Change::Same => "same",
        }
    }

    /// From the bytes on each side (`None`: absent).
    pub fn of(before: Option<u64>, after: Option<u64>) -> Change {
        match (before, after) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(b), Some(a)) if a > b => Change::Grown,
            (Some(b), Some(a)) if a < b => Change::Shrunk,
            _ => Change::Same,
        }
    }
}

/// A regular file whose bytes differ (or that exists on one side only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: Vec<u8>,
    /// Bytes in the earlier image; `None` when the path is not a regular file there.
    pub before: Option<u64>,
    pub after: Option<u64>,
}

impl FileChange {
    pub fn change(&self) -> Change {
        Change::of(self.before, self.after)
    }
    pub fn delta(&self) -> i64 {
        signed(self.after.unwrap_or(0), self.before.unwrap_or(0))
    }
}

/// One directory row: the changed files it owns (see [`DiffTree::dir_rows`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirChange {
    pub path: Vec<u8>,
    /// `Added`/`Removed` when the directory exists in one image only, else by the bytes.
    pub change: Change,
    /// Bytes of every file the row owns, changed or not, in each image.
    pub before: u64,
    pub after: u64,
    /// Files the row owns that changed.
    pub files: u64,
    /// True when the row holds its whole subtree (depth [`DIR_DEPTH`], or a directory that
    /// exists in one image only); false when it holds only the files directly in it.
    pub recursive: bool,
}

impl DirChange {
    pub fn delta(&self) -> i64 {
        signed(self.after, self.before)
    }
}

/// Bytes under one path in each image (0 when absent there), with what the path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathChange<T> {
    pub path: Vec<u8>,
    pub before: u64,
    pub after: u64,
    pub what: T,
}

impl<T> PathChange<T> {
    pub fn change(&self) -> Change {
        Change::of(
            (self.before > 0).then_some(self.before),
            (self.after > 0).then_some(self.after),
        )
    }
    pub fn delta(&self) -> i64 {
        signed(self.after, self.before)
    }
}

/// Which leftover rule a path matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeftoverKind {
    pub category: &'static str,
    /// The rule's label (`apt lists`, `development headers`).
    pub label: &'static str,
}

/// A leftover path (all steps together) that appeared, disappeared, grew or shrank.
pub type LeftoverChange = PathChange<LeftoverKind>;

/// A waste group (the files one removal hid together, by the group's top path) that changed;
/// `what` is the cause (`overwritten`, `deleted`, `opaque`), the later image's when it has it.
pub type WasteChange = PathChange<&'static str>;

/// What happened to an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Added,
    Removed,
    /// In both, but its place relative to the other kept instructions changed.
    Moved,
}

impl Move {
    pub fn as_str(self) -> &'static str {
        match self {
            Move::Added => "added",
            Move::Removed => "removed",
            Move::Moved => "moved",
        }
    }
}

/// An instruction added, removed or moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionChange {
    pub kind: Move,
    /// Normalised one-line text (`""` for a layer without history).
    pub text: String,
    /// Step index in the earlier image, when it is there.
    pub from_step: Option<usize>,
    pub to_step: Option<usize>,
    /// Layer bytes in each image (`None`: absent, or a step without a layer).
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Everything that changed between two images, matched by path.
#[derive(Debug, Clone)]
pub struct PairDiff {
    pub from: usize,
    pub to: usize,
    pub delta: Delta,
    /// Changed files, biggest |delta| first (then by path).
    pub files: Vec<FileChange>,
    /// Directory rows, biggest |delta| first; their deltas add up to `delta.visible`.
    pub dirs: Vec<DirChange>,
    pub leftovers: Vec<LeftoverChange>,
    pub waste: Vec<WasteChange>,
    /// Added, removed and moved instructions, in the later image's order (removed ones in the
    /// earlier image's order, after).
    pub instructions: Vec<InstructionChange>,
    /// Steps of the later image (COPY/ADD, not in the earlier image) whose every file is in the
    /// earlier image at the same path with the same size: results copied in, e.g. from a build
    /// stage.
    pub copied_steps: Vec<usize>,
    /// True when the earlier image had RUN steps with bytes that the later one dropped.
    pub dropped_runs: bool,
}

impl PairDiff {
    /// The final filesystems hold the same files with the same sizes.
    pub fn same_files(&self) -> bool {
        self.files.is_empty()
    }

    /// Looks like a multi-stage build: RUN steps dropped, their results copied in unchanged.
    pub fn multi_stage(&self) -> bool {
        self.dropped_runs && !self.copied_steps.is_empty()
    }

    /// Leftover bytes per category: (category, before, after), changed categories only, in
    /// table order.
    pub fn leftover_categories(&self) -> Vec<(&'static str, u64, u64)> {
        let mut out: Vec<(&'static str, u64, u64)> = Vec::new();
        for c in leftovers::categories() {
            let (b, a) = self
                .leftovers
                .iter()
                .filter(|l| l.what.category == c)
                .fold((0, 0), |(b, a), l| (b + l.before, a + l.after));
            if b != a {
                out.push((c, b, a));
            }
        }
        out
    }
}

/// A category's human name: the label of its first rule (`toolchain` -> `compiler toolchain`).
pub fn category_label(category: &str) -> &'static str {
    RULES
        .iter()
        .find(|r| r.category == category)
        .map_or("", |r| r.label)
}

/// Compares images in the order given: each with the next.
pub fn compare(analyses: &[&Analysis]) -> Comparison {
    let names: Vec<(&str, Option<&str>)> = analyses
        .iter()
        .map(|a| (a.meta.name.as_str(), a.meta.repo_tags.first().map(String::as_str)))
        .collect();
    let labels = labels(&names);
    let mut images: Vec<ImageSummary> = analyses
        .iter()
        .zip(labels)
        .map(|(a, label)| summary(a, label))
        .collect();
    for i in 1..images.len() {
        images[i].vs_previous = Some(delta(&images[i - 1], &images[i]));
        images[i].vs_first = Some(delta(&images[0], &images[i]));
    }
    let pairs = (1..analyses.len())
        .map(|i| diff_pair(analyses[i - 1], analyses[i], i - 1, i, &images))
        .collect();
    Comparison { images, pairs }
}

/// Compares two of the images (e.g. the first and the last, for a CI gate).
pub fn diff(c: &Comparison, a: &Analysis, b: &Analysis, from: usize, to: usize) -> PairDiff {
    diff_pair(a, b, from, to, &c.images)
}

/// Short names for tables: the first repo tag of each image when every image has one and they
/// differ; else the names given, with ` (2)`, ` (3)`… added to repeats.
pub fn labels(images: &[(&str, Option<&str>)]) -> Vec<String> {
    let tags: Option<Vec<&str>> = images.iter().map(|(_, t)| *t).collect();
    if let Some(tags) = tags {
        let mut sorted = tags.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() == tags.len() {
            return tags.into_iter().map(str::to_string).collect();
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (i, (name, _)) in images.iter().enumerate() {
        let seen = images[..i].iter().filter(|(n, _)| n == name).count();
        out.push(if seen == 0 {
            (*name).to_string()
        } else {
            format!("{name} ({})", seen + 1)
        });
    }
    out
}

fn summary(a: &Analysis, label: String) -> ImageSummary {
    let t = &a.totals;
    let leftovers = leftovers::categories()
        .into_iter()
        .map(|c| {
            let b = a
                .leftovers
                .iter()
                .filter(|l| l.category() == c)
                .map(|l| l.bytes)
                .sum();
            (c, b)
        })
        .collect();
    ImageSummary {
        label,
        name: a.meta.name.clone(),
        stored: t.stored_bytes,
        visible: t.visible_bytes,
        wasted: t.wasted_bytes,
        compressed: t.compressed_bytes,
        efficiency: t.efficiency,
        layers: a.steps.iter().filter(|s| s.layer.is_some()).count(),
        steps: a.steps.len(),
        leftover_bytes: t.leftover_bytes,
        leftovers,
        vs_previous: None,
        vs_first: None,
    }
}

/// Largest absolute delta first, then by path. Every list sorted here has each path once, so
/// the order is total and an unstable sort gives the one answer.
fn by_delta<T>(v: &mut [T], delta: impl Fn(&T) -> i64, path: impl Fn(&T) -> &[u8]) {
    v.sort_unstable_by(|x, y| {
        Reverse(delta(x).unsigned_abs())
            .cmp(&Reverse(delta(y).unsigned_abs()))
            .then_with(|| path(x).cmp(path(y)))
    });
}

fn diff_pair(a: &Analysis, b: &Analysis, from: usize, to: usize, images: &[ImageSummary]) -> PairDiff {
    let tree = DiffTree::build(a, b);
    let mut files = tree.file_changes();
    by_delta(&mut files, FileChange::delta, |f| &f.path);
    let mut dirs = tree.dir_rows(DIR_DEPTH);
    by_delta(&mut dirs, DirChange::delta, |d| &d.path);
    let mut leftovers = leftover_changes(a, b);
    by_delta(&mut leftovers, LeftoverChange::delta, |l| &l.path);
    let mut waste = waste_changes(a, b);
    by_delta(&mut waste, WasteChange::delta, |w| &w.path);
    let instructions = instruction_changes(a, b);
    let copied_steps = copied_steps(&tree, b, &instructions);
    let dropped_runs = instructions.iter().any(|i| {
        i.kind == Move::Removed
            && i.before.unwrap_or(0) > 0
            && i.from_step
                .is_some_and(|s| a.steps[s].instruction.keyword == "RUN")
    });
    PairDiff {
        from,
        to,
        delta: delta(&images[from], &images[to]),
        files,
        dirs,
        leftovers,
        waste,
        instructions,
        copied_steps,
        dropped_runs,
    }
}

// ---------------------------------------------------------------- the diff tree

/// A path's state in one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    pub kind: Kind,
    /// Regular-file bytes this path carries (0 for directories, links, and hard links whose
    /// bytes another path carries).
    pub bytes: u64,
    /// The step that wrote this version of the path.
    pub step: u16,
}

impl Side {
    fn is_dir(side: Option<Side>) -> bool {
        side.is_some_and(|s| s.kind == Kind::Dir)
    }
    /// The bytes when the path is a regular file (or a hard link to one).
    fn file_bytes(side: Option<Side>) -> Option<u64> {
        side.filter(|s| matches!(s.kind, Kind::File | Kind::HardLink))
            .map(|s| s.bytes)
    }
}

/// One path of the union of two final filesystems.
#[derive(Debug, Clone)]
pub struct DiffNode {
    /// Where the name lies in the tree's name buffer ([`DiffTree::name`]).
    name: (usize, usize),
    pub parent: u32,
    /// The children are the nodes `first_child..first_child + children`, sorted by name
    /// ([`DiffTree::children`]).
    first_child: u32,
    children: u32,
    pub before: Option<Side>,
    pub after: Option<Side>,
    /// Bytes at and below this path in each image.
    pub before_total: u64,
    pub after_total: u64,
    /// Regular files at or below this path whose bytes changed (or that exist on one side).
    pub changed: u64,
}

impl DiffNode {
    pub fn has_children(&self) -> bool {
        self.children > 0
    }

    pub fn delta(&self) -> i64 {
        signed(self.after_total, self.before_total)
    }

    /// `Added`/`Removed` when on one side only; else grown, shrunk, changed (same bytes, changes
    /// below) or same. A path that is a file on one side and a directory on the other is
    /// grown or shrunk by its bytes.
    pub fn change(&self) -> Change {
        match (self.before, self.after) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            _ if self.after_total > self.before_total => Change::Grown,
            _ if self.after_total < self.before_total => Change::Shrunk,
            _ if self.changed > 0 => Change::Changed,
            _ => Change::Same,
        }
    }
}

/// The union of two images' final filesystems, with recursive byte totals per side. Node 0 is
/// `/`; parents come before their children, and a node's children are numbered one after the
/// other. Names are kept in one buffer.
#[derive(Debug, Clone)]
pub struct DiffTree {
    nodes: Vec<DiffNode>,
    names: Vec<u8>,
}

/// For inodes that several visible paths reach: the path that carries their bytes (the
/// smallest, bytewise, so the choice does not depend on tar order).
struct Carriers(HashMap<u32, (NodeId, Vec<u8>)>);

impl Carriers {
    fn new(tree: &Tree) -> Self {
        let mut map: HashMap<u32, (NodeId, Vec<u8>)> = HashMap::new();
        walk_visible(tree, |n, v| {
            if let Some((i, _)) = tree.inode_of(v).filter(|(_, ino)| ino.refs > 1) {
                let path = tree.path(n);
                match map.get(&i) {
                    Some((_, p)) if *p <= path => {}
                    _ => {
                        map.insert(i, (n, path));
                    }
                }
            }
        });
        Carriers(map)
    }

    fn side(&self, tree: &Tree, n: NodeId) -> Option<Side> {
        let v = tree.visible(n)?;
        let bytes = match tree.inode_of(v) {
            // Several visible paths reach it: only the carrier counts its bytes.
            Some((i, inode)) if inode.refs > 1 => {
                let carries = self.0.get(&i).is_some_and(|(c, _)| *c == n);
                if carries { inode.size } else { 0 }
            }
            Some((_, inode)) => inode.size,
            None => 0,
        };
        Some(Side {
            kind: v.kind,
            bytes,
            step: v.layer,
        })
    }
}

/// Calls `f` for every visible path below the root (depth first).
fn walk_visible(tree: &Tree, mut f: impl FnMut(NodeId, &Version)) {
    let mut stack = vec![ROOT];
    while let Some(n) = stack.pop() {
        for c in tree.children(n) {
            if let Some(v) = tree.visible(c) {
                f(c, v);
                if v.kind == Kind::Dir {
                    stack.push(c);
                }
            }
        }
    }
}

/// Puts the visible children of a visible directory in `out`, sorted by name.
fn visible_children<'t>(tree: &'t Tree, n: Option<NodeId>, out: &mut Vec<(&'t [u8], NodeId)>) {
    out.clear();
    let Some(n) = n else { return };
    if !tree.visible(n).is_some_and(|v| v.kind == Kind::Dir) {
        return;
    }
    out.extend(
        tree.children(n)
            .filter(|c| tree.visible(*c).is_some())
            .map(|c| (tree.name(c), c)),
    );
    out.sort_unstable_by(|x, y| x.0.cmp(y.0));
}

impl DiffTree {
    /// Walks both final filesystems side by side, matching paths by name.
    pub fn build(a: &Analysis, b: &Analysis) -> DiffTree {
        let (ca, cb) = (Carriers::new(&a.tree), Carriers::new(&b.tree));
        let root_side = Some(Side {
            kind: Kind::Dir,
            bytes: 0,
            step: 0,
        });
        let mut names: Vec<u8> = Vec::new();
        let mut nodes = vec![DiffNode {
            name: (0, 0),
            parent: NONE,
            first_child: 1,
            children: 0,
            before: root_side,
            after: root_side,
            before_total: 0,
            after_total: 0,
            changed: 0,
        }];
        let mut stack: Vec<(u32, Option<NodeId>, Option<NodeId>)> = vec![(0, Some(ROOT), Some(ROOT))];
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        while let Some((id, na, nb)) = stack.pop() {
            visible_children(&a.tree, na, &mut ka);
            visible_children(&b.tree, nb, &mut kb);
            nodes[id as usize].first_child = nodes.len() as u32;
            let (mut i, mut j) = (0, 0);
            while i < ka.len() || j < kb.len() {
                let (name, x, y) = match (ka.get(i), kb.get(j)) {
                    (Some(l), Some(r)) if l.0 == r.0 => {
                        i += 1;
                        j += 1;
                        (l.0, Some(l.1), Some(r.1))
                    }
                    (Some(l), Some(r)) if l.0 < r.0 => {
                        i += 1;
                        (l.0, Some(l.1), None)
                    }
                    (Some(l), None) => {
                        i += 1;
                        (l.0, Some(l.1), None)
                    }
                    (_, Some(r)) => {
                        j += 1;
                        (r.0, None, Some(r.1))
                    }
                    (None, None) => break,
                };
                let before = x.and_then(|x| ca.side(&a.tree, x));
                let after = y.and_then(|y| cb.side(&b.tree, y));
                let child = nodes.len() as u32;
                names.extend_from_slice(name);
                nodes.push(DiffNode {
                    name: (names.len() - name.len(), names.len()),
                    parent: id,
                    first_child: child + 1,
                    children: 0,
                    before,
                    after,
                    before_total: before.map_or(0, |s| s.bytes),
                    after_total: after.map_or(0, |s| s.bytes),
                    changed: 0,
                });
                nodes[id as usize].children += 1;
                if Side::is_dir(before) || Side::is_dir(after) {
                    stack.push((
                        child,
                        x.filter(|_| Side::is_dir(before)),
                        y.filter(|_| Side::is_dir(after)),
                    ));
                }
            }
        }
        for n in &mut nodes {
            let (fb, fa) = (Side::file_bytes(n.before), Side::file_bytes(n.after));
            if (fb.is_some() || fa.is_some()) && fb != fa {
                n.changed = 1;
            }
        }
        for id in (1..nodes.len()).rev() {
            let (p, bt, at, ch) = {
                let n = &nodes[id];
                (n.parent as usize, n.before_total, n.after_total, n.changed)
            };
            let parent = &mut nodes[p];
            parent.before_total += bt;
            parent.after_total += at;
            parent.changed += ch;
        }
        DiffTree { nodes, names }
    }

    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when both filesystems are empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    pub fn node(&self, id: u32) -> &DiffNode {
        &self.nodes[id as usize]
    }

    /// The last component of the node's path (empty for the root).
    pub fn name(&self, id: u32) -> &[u8] {
        let (from, to) = self.nodes[id as usize].name;
        &self.names[from..to]
    }

    /// The node's children, sorted by name.
    pub fn children(&self, id: u32) -> std::ops::Range<u32> {
        let n = &self.nodes[id as usize];
        n.first_child..n.first_child + n.children
    }

    pub fn nodes(&self) -> &[DiffNode] {
        &self.nodes
    }

    /// `/a/b` (the root is `/`).
    pub fn path(&self, id: u32) -> Vec<u8> {
        let mut comps = Vec::new();
        let mut n = id;
        while n != 0 && n != NONE {
            comps.push(n);
            n = self.nodes[n as usize].parent;
        }
        let mut out = Vec::new();
        for c in comps.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(self.name(*c));
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// Every regular-file path whose bytes differ or that is a file on one side only.
    pub fn file_changes(&self) -> Vec<FileChange> {
        (1..self.nodes.len() as u32)
            .filter_map(|id| {
                let n = &self.nodes[id as usize];
                let (before, after) = (Side::file_bytes(n.before), Side::file_bytes(n.after));
                ((before.is_some() || after.is_some()) && before != after).then(|| FileChange {
                    path: self.path(id),
                    before,
                    after,
                })
            })
            .collect()
    }

    /// Directory rows that partition the files: each file belongs to exactly one row, so the
    /// rows' deltas add up to the visible delta. Going down from `/`, a file's row is the first
    /// directory that exists (as a directory) in one image only, or that sits at `depth`; when
    /// there is none, it is the file's own directory. A row of the first two kinds holds its
    /// whole subtree (`recursive`); a row of the last kind holds only the files directly in it,
    /// its subdirectories having rows of their own. Only rows with a changed file are returned.
    pub fn dir_rows(&self, depth: usize) -> Vec<DirChange> {
        let n = self.nodes.len();
        // owner[d]: the row that files directly in directory d belong to.
        let mut owner: Vec<u32> = vec![0; n];
        let mut absorbs = vec![false; n];
        let mut level = vec![0usize; n];
        let mut rows: HashMap<u32, DirChange> = HashMap::new();
        for id in 1..n {
            let node = &self.nodes[id];
            let p = node.parent as usize;
            level[id] = level[p] + 1;
            let (fb, fa) = (Side::file_bytes(node.before), Side::file_bytes(node.after));
            if fb.is_some() || fa.is_some() {
                let row = owner[p];
                let r = rows.entry(row).or_insert_with(|| DirChange {
                    path: self.path(row),
                    change: Change::Same,
                    before: 0,
                    after: 0,
                    files: 0,
                    recursive: absorbs[row as usize],
                });
                r.before += fb.unwrap_or(0);
                r.after += fa.unwrap_or(0);
                r.files += u64::from(fb != fa);
            }
            if !(Side::is_dir(node.before) || Side::is_dir(node.after)) {
                continue;
            }
            let parent_owner = owner[p] as usize;
            if absorbs[parent_owner] {
                owner[id] = parent_owner as u32;
            } else {
                owner[id] = id as u32;
                let one_side = Side::is_dir(node.before) != Side::is_dir(node.after);
                absorbs[id] = one_side || level[id] >= depth;
            }
        }
        let mut out: Vec<DirChange> = rows
            .into_iter()
            .filter(|(_, r)| r.files > 0)
            .map(|(id, mut r)| {
                let node = &self.nodes[id as usize];
                r.change = match (Side::is_dir(node.before), Side::is_dir(node.after)) {
                    (false, true) => Change::Added,
                    (true, false) => Change::Removed,
                    _ if r.after > r.before => Change::Grown,
                    _ if r.after < r.before => Change::Shrunk,
                    _ => Change::Changed,
                };
                r
            })
            .collect();
        out.sort_by(|x, y| x.path.cmp(&y.path));
        out
    }
}

// ---------------------------------------------------------------- leftovers and waste by path

/// Pairs up per-path bytes of two images; a path listed twice on one side adds up. The later
/// image's `what` wins.
fn path_changes<T: Copy>(
    before: impl IntoIterator<Item = (Vec<u8>, T, u64)>,
    after: impl IntoIterator<Item = (Vec<u8>, T, u64)>,
) -> Vec<PathChange<T>> {
    let mut map: HashMap<Vec<u8>, PathChange<T>> = HashMap::new();
    for (side, items) in [
        (0, before.into_iter().collect::<Vec<_>>()),
        (1, after.into_iter().collect()),
    ] {
        for (path, what, bytes) in items {
            let e = map.entry(path.clone()).or_insert(PathChange {
                path,
                before: 0,
                after: 0,
                what,
            });
            if side == 0 {
                e.before += bytes;
            } else {
                e.what = what;
                e.after += bytes;
            }
        }
    }
    map.into_values().filter(|c| c.before != c.after).collect()
}

fn leftover_changes(a: &Analysis, b: &Analysis) -> Vec<LeftoverChange> {
    let items = |x: &Analysis| -> Vec<(Vec<u8>, LeftoverKind, u64)> {
        x.leftovers
            .iter()
            .map(|l| {
                let r = &RULES[l.rule];
                let what = LeftoverKind {
                    category: r.category,
                    label: r.label,
                };
                (x.tree.path(l.node), what, l.bytes)
            })
            .collect()
    };
    path_changes(items(a), items(b))
}

fn waste_changes(a: &Analysis, b: &Analysis) -> Vec<WasteChange> {
    let items = |x: &Analysis| -> Vec<(Vec<u8>, &'static str, u64)> {
        x.waste_groups
            .iter()
            .map(|g| (x.tree.path(g.node), g.cause.as_str(), g.bytes))
            .collect()
    };
    path_changes(items(a), items(b))
}

// ---------------------------------------------------------------- instructions

/// The text instructions are matched by.
pub fn instruction_key(a: &Analysis, step: usize) -> String {
    one_line(&a.steps[step].instruction.text)
}

/// Matches instructions by normalised text (the k-th occurrence of a text with the k-th), then
/// keeps the largest set of matches whose order is the same in both images (most instructions,
/// then most layer bytes); the other matches moved.
fn instruction_changes(a: &Analysis, b: &Analysis) -> Vec<InstructionChange> {
    let keys_a: Vec<String> = (0..a.steps.len()).map(|s| instruction_key(a, s)).collect();
    let keys_b: Vec<String> = (0..b.steps.len()).map(|s| instruction_key(b, s)).collect();
    let mut pending: HashMap<&str, std::collections::VecDeque<usize>> = HashMap::new();
    for (j, k) in keys_b.iter().enumerate() {
        pending.entry(k.as_str()).or_default().push_back(j);
    }
    let mut matched_b: Vec<Option<usize>> = vec![None; a.steps.len()];
    for (i, k) in keys_a.iter().enumerate() {
        matched_b[i] = pending.get_mut(k.as_str()).and_then(|q| q.pop_front());
    }
    let pairs: Vec<(usize, usize)> = matched_b
        .iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| (i, j)))
        .collect();
    let weights: Vec<u64> = pairs.iter().map(|(i, _)| a.steps[*i].size_bytes()).collect();
    let seq: Vec<usize> = pairs.iter().map(|(_, j)| *j).collect();
    let kept = increasing_subsequence(&seq, &weights);
    let size = |x: &Analysis, s: usize| x.steps[s].layer.as_ref().map(|l| l.size_bytes);
    let mut out = Vec::new();
    let mut in_a: Vec<Option<usize>> = vec![None; b.steps.len()];
    for (k, (i, j)) in pairs.iter().enumerate() {
        in_a[*j] = Some(*i);
        if !kept[k] {
            out.push((
                *j,
                InstructionChange {
                    kind: Move::Moved,
                    text: keys_b[*j].clone(),
                    from_step: Some(*i),
                    to_step: Some(*j),
                    before: size(a, *i),
                    after: size(b, *j),
                },
            ));
        }
    }
    for (j, k) in keys_b.iter().enumerate() {
        if in_a[j].is_none() {
            out.push((
                j,
                InstructionChange {
                    kind: Move::Added,
                    text: k.clone(),
                    from_step: None,
                    to_step: Some(j),
                    before: None,
                    after: size(b, j),
                },
            ));
        }
    }
    out.sort_by_key(|(j, _)| *j);
    let mut out: Vec<InstructionChange> = out.into_iter().map(|(_, c)| c).collect();
    for (i, k) in keys_a.iter().enumerate() {
        if matched_b[i].is_none() {
            out.push(InstructionChange {
                kind: Move::Removed,
                text: k.clone(),
                from_step: Some(i),
                to_step: None,
                before: size(a, i),
                after: None,
            });
        }
    }
    out
}

/// Marks a strictly increasing subsequence of `seq` with the most elements, then the most
/// weight (ties: the earliest). Quadratic; beyond 4,096 elements only the count is maximised
/// (patience sorting), which real histories never reach.
fn increasing_subsequence(seq: &[usize], weight: &[u64]) -> Vec<bool> {
    let n = seq.len();
    let mut kept = vec![false; n];
    if n == 0 {
        return kept;
    }
    let mut prev = vec![usize::MAX; n];
    let end;
    if n <= 4096 {
        let mut best: Vec<(usize, u64)> = vec![(0, 0); n];
        for i in 0..n {
            best[i] = (1, weight[i]);
            for k in 0..i {
                if seq[k] < seq[i] {
                    let cand = (best[k].0 + 1, best[k].1 + weight[i]);
                    if cand > best[i] {
                        best[i] = cand;
                        prev[i] = k;
                    }
                }
            }
        }
        let mut e = 0;
        for i in 1..n {
            if best[i] > best[e] {
                e = i;
            }
        }
        end = e;
    } else {
        // tails[l]: index of the smallest tail of an increasing run of length l + 1.
        let mut tails: Vec<usize> = Vec::new();
        for i in 0..n {
            let l = tails.partition_point(|&t| seq[t] < seq[i]);
            if l > 0 {
                prev[i] = tails[l - 1];
            }
            if l == tails.len() {
                tails.push(i);
            } else {
                tails[l] = i;
            }
        }
        end = *tails.last().unwrap_or(&0);
    }
    let mut i = end;
    loop {
        kept[i] = true;
        if prev[i] == usize::MAX {
            break;
        }
        i = prev[i];
    }
    kept
}

/// Added COPY/ADD steps of `b` that brought only files `a` already had, at the same paths with
/// the same sizes.
fn copied_steps(tree: &DiffTree, b: &Analysis, changes: &[InstructionChange]) -> Vec<usize> {
    // step -> (files, files identical in the earlier image)
    let mut per_step: HashMap<u16, (u64, u64)> = HashMap::new();
    for n in tree.nodes() {
        let Some(after) = n.after.filter(|s| matches!(s.kind, Kind::File | Kind::HardLink)) else {
            continue;
        };
        let e = per_step.entry(after.step).or_default();
        e.0 += 1;
        let same = n
            .before
            .is_some_and(|s| matches!(s.kind, Kind::File | Kind::HardLink) && s.bytes == after.bytes);
        e.1 += u64::from(same);
    }
    let mut out: Vec<usize> = changes
        .iter()
        .filter(|c| c.kind == Move::Added)
        .filter_map(|c| c.to_step)
        .filter(|s| matches!(b.steps[*s].instruction.keyword.as_str(), "COPY" | "ADD"))
        .filter(|s| {
            u16::try_from(*s)
                .ok()
                .and_then(|s| per_step.get(&s))
                .is_some_and(|(files, same)| *files > 0 && files == same)
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests;
