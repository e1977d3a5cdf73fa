//! dsize: where a container image's bytes go.
//!
//! The library holds the engine; `main.rs` only maps a run to an exit code.
//! Dependencies point one way: `source -> index -> model <- report, tui`.
#![forbid(unsafe_code)]

pub mod model;
pub mod testkit;
