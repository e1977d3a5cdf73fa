//! dsize: where a container image's bytes go.
//!
//! The library holds the engine; `main.rs` only maps a run to an exit code.
//! Dependencies point one way: `source -> index -> model <- report, tui`; `pipeline` ties a source
//! to the model; `cli` and `app` hold the program's policy.
// Unsafe code is denied everywhere but in `index::zstd_ring` (calls into libzstd) and in
// `model::child_table::prefetch_line` (a cache prefetch hint), each of which says why.
#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod index;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod source;
pub mod testkit;
pub mod tui;
