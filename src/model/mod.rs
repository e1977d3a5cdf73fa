//! The pure model: no files, sockets, clocks or terminal.
//!
//! - [`entries`]: one layer's entries as the indexer found them (the merge's input);
//! - [`tree`]: the union file tree, an arena of interned names with per-layer versions;
//! - [`merge`]: applies layers in order (opaque markers, whiteouts, entries) and records waste;
//! - [`leftovers`]: the rule table of paths an image should not ship;
//! - [`instruction`]: history `created_by` -> Dockerfile text;
//! - [`analysis`]: steps, totals and the builder that ties the rest together;
//! - [`compare`]: several analyses side by side, matched by path.
pub mod analysis;
mod child_table;
pub mod compare;
pub mod entries;
pub mod instruction;
pub mod leftovers;
pub mod merge;
pub mod names;
pub mod tree;

pub use analysis::{
    Analysis, AnalysisBuilder, AnalysisOptions, HistoryEntry, ImageMeta, LayerMeta, Step, Totals,
};
pub use entries::{EntryKind, LayerEntries};
pub use tree::{Cause, Kind, NodeId, Tree};

#[cfg(test)]
mod tests;
