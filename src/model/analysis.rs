//! The analysis of one image: steps (history entries mapped to layers), the merged tree, waste,
//! leftovers and totals. Built by [`AnalysisBuilder`] from what a source knows up front
//! ([`ImageMeta`]) and each layer's entries, fed in any order and merged in layer order.

use super::entries::LayerEntries;
use super::instruction::{Instruction, normalize};
use super::leftovers::{self, Leftover};
use super::merge::{Changes, Merger, Waste};
use super::tree::{Cause, NONE, NodeId, ROOT, Tree};
use rayon::slice::ParallelSliceMut;

/// One history entry from the image config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryEntry {
    pub created_by: String,
    pub comment: Option<String>,
    pub empty_layer: bool,
}

/// What the source knows of a layer before reading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerMeta {
    /// `sha256:…` of the uncompressed tar (config `rootfs.diff_ids`), when known.
    pub diff_id: Option<String>,
    /// Digest of the blob as stored, when it differs or the diff_id is unknown.
    pub blob_digest: Option<String>,
    pub media_type: Option<String>,
    /// Blob bytes when the blob is stored compressed.
    pub compressed_bytes: Option<u64>,
}

/// What a source knows of an image before its layers are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageMeta {
    /// What the user named.
    pub name: String,
    /// How it was read, e.g. `docker-archive (Docker 25+ OCI layout)`.
    pub format: String,
    /// `os/arch[/variant]` of the picked image, when known.
    pub platform: Option<String>,
    pub config_digest: Option<String>,
    pub repo_tags: Vec<String>,
    pub history: Vec<HistoryEntry>,
    /// Layers bottom to top.
    pub layers: Vec<LayerMeta>,
    pub notes: Vec<String>,
}

/// Facts about one layer's tar, after indexing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerInfo {
    /// Position among the image's layers (0 = bottom).
    pub diff_index: usize,
    pub meta: LayerMeta,
    /// Bytes of regular files in the tar (hard links add 0).
    pub size_bytes: u64,
    /// Length of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// Entries in the tar.
    pub entries: u64,
}

/// One step: a history entry, a layer, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    /// The raw `created_by`, when the step has a history entry.
    pub created_by: Option<String>,
    pub instruction: Instruction,
    /// The history says this step made no layer (ENV, WORKDIR with BuildKit's CMD, ...).
    pub empty: bool,
    /// The history says this step made a layer, but the image has no layer left for it.
    pub missing_layer: bool,
    pub layer: Option<LayerInfo>,
    pub changes: Changes,
    /// Bytes this step stored that a later step hid.
    pub wasted_bytes: u64,
    /// Bytes of earlier steps (or its own) that this step hid.
    pub hid_bytes: u64,
    /// Visible leftover bytes this step stored.
    pub leftover_bytes: u64,
}

impl Step {
    /// The layer size, 0 for steps without a layer.
    pub fn size_bytes(&self) -> u64 {
        self.layer.as_ref().map_or(0, |l| l.size_bytes)
    }
}

/// Image-wide numbers (definitions in the README).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Sum of layer sizes: what `docker image ls` shows.
    pub stored_bytes: u64,
    /// Bytes of regular files visible in the final filesystem, each hard-linked file once.
    pub visible_bytes: u64,
    /// stored − visible.
    pub wasted_bytes: u64,
    /// visible / stored (1.0 for an empty image).
    pub efficiency: f64,
    /// Sum of compressed blob sizes, when every layer is stored compressed.
    pub compressed_bytes: Option<u64>,
    /// Non-empty layers counted as the base image.
    pub base_layers: usize,
    /// Bytes of the layers above the base.
    pub user_bytes: u64,
    /// Waste hidden by a step above the base.
    pub user_wasted_bytes: u64,
    /// user_wasted_bytes / user_bytes × 100 (0 when there are no user layers).
    pub user_wasted_percent: f64,
    /// Visible bytes that match a leftover rule.
    pub leftover_bytes: u64,
    pub files: u64,
    pub paths: u64,
}

/// The whole result; views borrow it and never change it.
pub struct Analysis {
    pub meta: ImageMeta,
    pub steps: Vec<Step>,
    pub tree: Tree,
    /// Biggest first.
    pub waste: Vec<Waste>,
    /// For each `waste` item (same index), the leftover rule covering its path, if any:
    /// a cache deleted in a later layer.
    pub waste_rules: Vec<Option<usize>>,
    /// `waste` grouped by removal (all files one removal hid together), biggest first.
    pub waste_groups: Vec<WasteGroup>,
    /// Biggest first.
    pub leftovers: Vec<Leftover>,
    pub totals: Totals,
    pub notes: Vec<String>,
}

/// Options that change the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// How many non-empty layers form the base image (default 1, dive's convention).
    pub base_layers: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions { base_layers: 1 }
    }
}

/// Error: the image has more steps than the model can number.
#[derive(Debug, thiserror::Error)]
#[error("the image has {0} history entries and layers; at most 65535 are supported")]
pub struct TooManySteps(pub usize);

/// Builds an [`Analysis`]; layers may arrive in any order and merge as soon as their turn comes.
pub struct AnalysisBuilder {
    meta: ImageMeta,
    options: AnalysisOptions,
    steps: Vec<Step>,
    /// diff index -> step index.
    step_of_layer: Vec<usize>,
    pending: Vec<Option<LayerEntries>>,
    next: usize,
    merger: Merger,
}

impl AnalysisBuilder {
    /// Maps history to layers: each entry without `empty_layer` takes the next layer; layers left
    /// over become steps without history; entries left over are marked `missing_layer`.
    pub fn new(meta: ImageMeta, options: AnalysisOptions) -> Result<Self, TooManySteps> {
        let mut steps = Vec::new();
        let mut step_of_layer = Vec::new();
        let n_layers = meta.layers.len();
        for h in &meta.history {
            let index = steps.len();
            let takes = !h.empty_layer && step_of_layer.len() < n_layers;
            if takes {
                step_of_layer.push(index);
            }
            steps.push(Step {
                index,
                created_by: Some(h.created_by.clone()),
                instruction: normalize(&h.created_by, h.comment.as_deref()),
                empty: h.empty_layer,
                missing_layer: !h.empty_layer && !takes,
                layer: None,
                changes: Changes::default(),
                wasted_bytes: 0,
                hid_bytes: 0,
                leftover_bytes: 0,
            });
        }
        while step_of_layer.len() < n_layers {
            let index = steps.len();
            step_of_layer.push(index);
            steps.push(Step {
                index,
                created_by: None,
                instruction: normalize("", None),
                empty: false,
                missing_layer: false,
                layer: None,
                changes: Changes::default(),
                wasted_bytes: 0,
                hid_bytes: 0,
                leftover_bytes: 0,
            });
        }
        if steps.len() > usize::from(u16::MAX) {
            return Err(TooManySteps(steps.len()));
        }
        let mut notes = Vec::new();
        let missing = steps.iter().filter(|s| s.missing_layer).count();
        if missing > 0 {
            notes.push(format!(
                "the history lists {missing} more layer step(s) than the image has layers; they are shown without a layer"
            ));
        }
        let unnamed = steps.iter().filter(|s| s.created_by.is_none()).count();
        if unnamed > 0 && !meta.history.is_empty() {
            notes.push(format!(
                "{unnamed} layer(s) have no history entry; they are shown without an instruction"
            ));
        }
        let mut merger = Merger::default();
        merger.notes = notes;
        Ok(AnalysisBuilder {
            pending: (0..n_layers).map(|_| None).collect(),
            meta,
            options,
            steps,
            step_of_layer,
            next: 0,
            merger,
        })
    }

    /// The steps as known so far (for progress views).
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    /// The step a layer belongs to.
    pub fn step_of_layer(&self, diff_index: usize) -> usize {
        self.step_of_layer[diff_index]
    }

    /// Adds one layer's entries (with its blob size when stored compressed); merges every layer
    /// whose turn has come. An index past the layer list is ignored.
    pub fn add_layer(&mut self, diff_index: usize, entries: LayerEntries, compressed: Option<u64>) {
        let Some(slot) = self.pending.get_mut(diff_index) else {
            return;
        };
        *slot = Some(entries);
        self.meta.layers[diff_index].compressed_bytes = compressed;
        while self.next < self.pending.len() {
            let Some(entries) = self.pending[self.next].take() else {
                break;
            };
            let step = self.step_of_layer[self.next];
            let changes = self.merger.apply(step as u16, &entries);
            let meta = self.meta.layers[self.next].clone();
            let s = &mut self.steps[step];
            s.changes = changes;
            s.layer = Some(LayerInfo {
                diff_index: self.next,
                meta,
                size_bytes: entries.regular_bytes,
                tar_bytes: entries.tar_bytes,
                entries: entries.entries.len() as u64,
            });
            self.merger
                .notes
                .extend(entries.notes.into_iter().map(|n| format!("step {step}: {n}")));
            self.next += 1;
        }
    }

    /// Layers merged so far.
    pub fn merged(&self) -> usize {
        self.next
    }

    /// True when every layer has been merged.
    pub fn complete(&self) -> bool {
        self.next == self.pending.len()
    }

    /// Finishes the analysis. Layers never added are reported in `notes` and count as empty.
    pub fn finish(mut self) -> Analysis {
        let missing = self.pending.len() - self.next;
        if missing > 0 {
            self.merger.notes.push(format!(
                "{missing} layer(s) could not be read; the numbers cover the first {} only",
                self.next
            ));
        }
        let Merger {
            tree,
            mut waste,
            mut notes,
            ..
        } = self.merger;
        waste.par_sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.node.cmp(&b.node)));
        // Both sides only read the tree: on two cores they take the time of the longer one.
        let ((waste_rules, waste_groups), leftovers) =
            rayon::join(|| group_waste(&tree, &waste), || leftovers::scan(&tree));
        let mut steps = self.steps;
        for w in &waste {
            steps[usize::from(w.layer)].wasted_bytes += w.bytes;
            steps[usize::from(w.hidden_by)].hid_bytes += w.bytes;
        }
        for l in &leftovers {
            steps[usize::from(l.layer)].leftover_bytes += l.bytes;
        }
        let totals = totals(&tree, &steps, &waste, &leftovers, self.options);
        let mut meta = self.meta;
        notes.splice(0..0, std::mem::take(&mut meta.notes));
        Analysis {
            meta,
            steps,
            tree,
            waste,
            waste_rules,
            waste_groups,
            leftovers,
            totals,
            notes,
        }
    }
}

fn totals(
    tree: &Tree,
    steps: &[Step],
    waste: &[Waste],
    leftovers: &[Leftover],
    options: AnalysisOptions,
) -> Totals {
    let stored_bytes: u64 = steps.iter().map(Step::size_bytes).sum();
    let visible_bytes: u64 = tree.inodes().iter().filter(|i| i.refs > 0).map(|i| i.size).sum();
    let wasted_bytes: u64 = waste.iter().map(|w| w.bytes).sum();
    let layered: Vec<&Step> = steps.iter().filter(|s| s.layer.is_some()).collect();
    let base_layers = options.base_layers.min(layered.len());
    // Steps up to and including the last base layer's step belong to the base image.
    let base_end = base_layers.checked_sub(1).map_or(0, |i| layered[i].index + 1);
    let user_bytes: u64 = layered[base_layers..].iter().map(|s| s.size_bytes()).sum();
    let user_wasted_bytes: u64 = waste
        .iter()
        .filter(|w| usize::from(w.hidden_by) >= base_end)
        .map(|w| w.bytes)
        .sum();
    let compressed_bytes = layered
        .iter()
        .map(|s| s.layer.as_ref().and_then(|l| l.meta.compressed_bytes))
        .sum::<Option<u64>>()
        .filter(|_| !layered.is_empty());
    Totals {
        stored_bytes,
        visible_bytes,
        wasted_bytes,
        efficiency: if stored_bytes == 0 {
            1.0
        } else {
            visible_bytes as f64 / stored_bytes as f64
        },
        compressed_bytes,
        base_layers,
        user_bytes,
        user_wasted_bytes,
        user_wasted_percent: if user_bytes == 0 {
            0.0
        } else {
            user_wasted_bytes as f64 * 100.0 / user_bytes as f64
        },
        leftover_bytes: leftovers.iter().map(|l| l.bytes).sum(),
        files: tree.inodes().iter().filter(|i| i.refs > 0).count() as u64,
        paths: tree.len() as u64 - 1,
    }
}

/// Waste folded for reading: all files one removal hid together (a deleted directory, a single
/// overwritten file), with the step that stored them and the step that hid them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasteGroup {
    /// The highest path the same step removed for the same reason.
    pub node: super::tree::NodeId,
    pub bytes: u64,
    pub files: u64,
    pub layer: u16,
    pub hidden_by: u16,
    pub cause: super::tree::Cause,
    /// The leftover rule covering it, when the waste is a cache deleted in a later layer.
    pub rule: Option<usize>,
}

/// For each `waste` item (biggest first) the leftover rule covering it, and the waste grouped by
/// removal, biggest first.
///
/// A file's group is the highest directory above it that the hiding step removed for the same
/// reason (or the file itself). Files are taken in the order of their directory, so the files
/// of one directory ask about it (and about the rule covering it) once, and the tree is read in
/// address order.
fn group_waste(tree: &Tree, waste: &[Waste]) -> (Vec<Option<usize>>, Vec<WasteGroup>) {
    // Sort keys are the tuples packed into one number, low bits the waste index: (parent,
    // hiding step, cause, index), then (group node, storing step, hiding step, cause, index).
    let mut by_dir: Vec<u128> = waste
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let p = tree.node(w.node).parent;
            u128::from(p) << 64 | u128::from(w.hidden_by) << 48 | u128::from(w.cause as u8) << 32 | i as u128
        })
        .collect();
    by_dir.par_sort_unstable();
    // Every answer depends on the tree alone, so the two halves are worked out side by side.
    let (lo, hi) = by_dir.split_at(by_dir.len() / 2);
    let ((mut members, mut found), (high, high_found)) =
        rayon::join(|| group_keys(tree, waste, lo), || group_keys(tree, waste, hi));
    members.extend(high);
    found.extend(high_found);
    let mut rules: Vec<Option<usize>> = vec![None; waste.len()];
    for (key, rule) in members.iter().zip(found) {
        rules[*key as u32 as usize] = rule;
    }
    // One group per run of equal keys; within a run, files in waste order (the first rule
    // found wins).
    members.par_sort_unstable();
    let mut out: Vec<WasteGroup> = Vec::new();
    let mut last_run = None;
    for key in members {
        let i = key as u32 as usize;
        let w = &waste[i];
        let rule = rules[i];
        match out.last_mut() {
            Some(g) if last_run == Some(run(key)) => {
                g.bytes += w.bytes;
                g.files += 1;
                g.rule = g.rule.or(rule);
            }
            _ => {
                last_run = Some(run(key));
                out.push(WasteGroup {
                    node: (key >> 96) as NodeId,
                    bytes: w.bytes,
                    files: 1,
                    layer: w.layer,
                    hidden_by: w.hidden_by,
                    cause: w.cause,
                    rule,
                });
            }
        }
    }
    // Biggest first; ties in the order of the runs (groups are distinct on these keys).
    out.par_sort_unstable_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(a.node.cmp(&b.node))
            .then(a.layer.cmp(&b.layer))
            .then(a.hidden_by.cmp(&b.hidden_by))
            .then(a.cause.cmp(&b.cause))
    });
    (rules, out)
}

/// A packed waste key without its waste index: the items of one run share it.
fn run(key: u128) -> u128 {
    key >> 32
}

/// For waste items keyed (parent, hiding step, cause, index) in key order: each item's group key
/// (group node, storing step, hiding step, cause, index), and the leftover rule covering it (in
/// the same order).
fn group_keys(tree: &Tree, waste: &[Waste], by_dir: &[u128]) -> (Vec<u128>, Vec<Option<usize>>) {
    // True when step `by` removed directory `p` for `cause` (so it belongs to the group of
    // what it held).
    let removed_with = |p: NodeId, by: u16, cause: Cause| {
        matches!(tree.change_at(p, by),
            Some((Some(before), after)) if before.is_present() && after.cause() == Some(cause))
    };
    // The highest directory of a removal that holds `p` (NONE when the step did not remove
    // `p` itself). Answers for directories above a removed one are kept: every directory
    // removed with the same parent asks the same question.
    let mut tops: hashbrown::HashMap<(NodeId, u16, Cause), NodeId> = hashbrown::HashMap::new();
    let mut chain: Vec<NodeId> = Vec::new();
    let mut top_of = |p: NodeId, by: u16, cause: Cause| -> NodeId {
        chain.clear();
        let mut d = p;
        let mut top = loop {
            if d == ROOT || d == NONE {
                break NONE;
            }
            if let Some(&t) = tops.get(&(d, by, cause)) {
                break t;
            }
            if !removed_with(d, by, cause) {
                if d != p {
                    tops.insert((d, by, cause), NONE);
                }
                break NONE;
            }
            chain.push(d);
            d = tree.node(d).parent;
        };
        for &d in chain.iter().rev() {
            if top == NONE {
                top = d;
            }
            tops.insert((d, by, cause), top);
        }
        top
    };
    let mut last: Option<(u128, NodeId)> = None;
    let mut covering = leftovers::Covering::new(tree);
    let mut keys = Vec::with_capacity(by_dir.len());
    let mut rules = Vec::with_capacity(by_dir.len());
    for &key in by_dir {
        let i = key as u32 as usize;
        let w = &waste[i];
        let top = match last {
            Some((r, top)) if r == run(key) => top,
            _ => {
                let top = top_of(tree.node(w.node).parent, w.hidden_by, w.cause);
                last = Some((run(key), top));
                top
            }
        };
        let node = if top == NONE { w.node } else { top };
        let group = u128::from(node) << 96
            | u128::from(w.layer) << 80
            | u128::from(w.hidden_by) << 64
            | u128::from(w.cause as u8) << 56
            | i as u128;
        keys.push(group);
        rules.push(covering.of(w.node).map(|(r, _)| r));
    }
    (keys, rules)
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("name", &self.meta.name)
            .field("steps", &self.steps.len())
            .field("paths", &self.totals.paths)
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}
