//! The Docker Engine API source (bollard): inspect and history first, then the export stream
//! through the same archive parser as files.

use super::{Error, ReadOptions, Sink};
use crate::index::Progress;

/// Reads an image from the daemon.
pub fn read(
    name: &str,
    _podman: bool,
    _opts: &ReadOptions,
    _progress: &Progress,
    _sink: &mut dyn Sink,
) -> Result<(), Error> {
    Err(Error::new(
        name,
        "no such file, and reading images from a Docker daemon is not implemented yet; `docker save` it and pass the tar",
    ))
}
