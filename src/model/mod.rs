//! The pure model: no files, sockets, clocks or terminal.
pub mod instruction;
