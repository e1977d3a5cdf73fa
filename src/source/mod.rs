//! All image I/O: naming an image ([`ImageRef`]), and reading it into a [`Sink`].
//!
//! - [`layout`]: resolution of manifests, indexes and configs (shared by every transport);
//! - [`archive`]: the one archive parser, over a file, a stream or an OCI layout directory;
//! - [`discover`]: where the Docker or Podman daemon listens (pure, from env and files);
//! - [`engine`]: the Engine API (bollard): inspect and history, then the export stream through
//!   [`archive::read_stream_announced`].

pub mod archive;
pub mod auth;
pub mod discover;
pub mod engine;
pub mod layout;
pub mod ssh;
pub mod verify;

use crate::index::Progress;
use crate::model::{ImageMeta, LayerEntries};
use std::fmt;
use std::path::{Path, PathBuf};

pub use archive::ReadOptions;
pub use layout::Platform;

/// Receives what a source reads, in this order: `meta`, then each layer once (any order).
pub trait Sink {
    /// The image's metadata (history, layer list) is known. A source that announced it early
    /// (the Engine API, from inspect and history) may send it once more, corrected from the
    /// image's own config, before the first layer: the later call replaces the earlier one.
    fn meta(&mut self, meta: &ImageMeta);
    /// Layer `diff_index` (0 = bottom) was indexed; `compressed` is its blob size when stored
    /// compressed.
    fn layer(&mut self, diff_index: usize, entries: LayerEntries, compressed: Option<u64>);
}

/// A failure, said in one line: where, then what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub context: String,
    pub message: String,
}

impl Error {
    pub fn new(context: &str, message: impl Into<String>) -> Self {
        Error {
            context: context.to_string(),
            message: message.into(),
        }
    }

    pub fn io(context: &str, e: std::io::Error) -> Self {
        let message = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        Error::new(context, message)
    }

    /// The user stopped the work (not a failure to report).
    pub fn cancelled() -> Self {
        Error::new("", "cancelled")
    }

    pub fn is_cancelled(&self) -> bool {
        self.context.is_empty() && self.message == "cancelled"
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.context.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.context, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A `docker save` tar or an OCI archive (which one is read from the content).
    Archive(PathBuf),
    /// An OCI layout directory.
    OciDir(PathBuf),
    /// A tar archive on standard input (`-`).
    Stdin,
    /// An image in a daemon's store (`name:tag`, id, `name@sha256:…`).
    Daemon { name: String, podman: bool },
}

impl ImageRef {
    /// Parses what the user typed. Prefixes (`docker-archive:`, `oci-archive:`, `oci:`,
    /// `docker:`, `docker-daemon:`, `podman:`) decide; otherwise an existing path is read from
    /// disk and anything else names a daemon image.
    pub fn parse(s: &str) -> ImageRef {
        if s == "-" {
            return ImageRef::Stdin;
        }
        for (prefix, dir) in [
            ("docker-archive:", false),
            ("oci-archive:", false),
            ("oci:", true),
        ] {
            if let Some(rest) = s.strip_prefix(prefix) {
                let path = strip_ref_suffix(rest);
                return if dir || Path::new(&path).is_dir() {
                    ImageRef::OciDir(path)
                } else {
                    ImageRef::Archive(path)
                };
            }
        }
        for (prefix, podman) in [("docker-daemon:", false), ("docker:", false), ("podman:", true)] {
            if let Some(rest) = s.strip_prefix(prefix) {
                let name = rest.trim_start_matches("//").to_string();
                return ImageRef::Daemon { name, podman };
            }
        }
        let p = Path::new(s);
        if p.is_dir() {
            ImageRef::OciDir(p.to_path_buf())
        } else if p.exists() || looks_like_path(s) {
            ImageRef::Archive(p.to_path_buf())
        } else {
            ImageRef::Daemon {
                name: s.to_string(),
                podman: false,
            }
        }
    }

    /// How the reference reads in messages.
    pub fn describe(&self) -> String {
        match self {
            ImageRef::Archive(p) | ImageRef::OciDir(p) => p.display().to_string(),
            ImageRef::Stdin => "standard input".into(),
            ImageRef::Daemon { name, .. } => name.clone(),
        }
    }
}

/// `path:ref` (skopeo's image-in-archive selector) -> `path` when only `path` exists.
fn strip_ref_suffix(s: &str) -> PathBuf {
    let p = PathBuf::from(s);
    if p.exists() {
        return p;
    }
    match s.rsplit_once(':') {
        Some((path, _)) if Path::new(path).exists() => PathBuf::from(path),
        _ => p,
    }
}

/// A name that can only be meant as a file (so a typo gives "no such file", not a daemon error).
fn looks_like_path(s: &str) -> bool {
    s.starts_with('/')
        || s.starts_with("./")
        || s.starts_with("../")
        || s.ends_with(".tar")
        || s.ends_with(".tar.gz")
}

/// Reads any image into the sink. Daemon images go through [`engine`], which feeds the export
/// stream to [`archive::read_stream`].
pub fn read(
    image: &ImageRef,
    opts: &ReadOptions,
    progress: &Progress,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    match image {
        ImageRef::Archive(p) => {
            let md = std::fs::metadata(p).map_err(|e| Error::io(&p.display().to_string(), e))?;
            if md.is_file() {
                archive::read_file(p, opts, progress, sink)
            } else {
                // A pipe or device: read it once, as a stream.
                let mut f = std::fs::File::open(p).map_err(|e| Error::io(&p.display().to_string(), e))?;
                archive::read_stream(&p.display().to_string(), &mut f, opts, progress, sink)
            }
        }
        ImageRef::OciDir(p) => archive::read_dir(p, opts, progress, sink),
        ImageRef::Stdin => {
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            archive::read_stream("standard input", &mut lock, opts, progress, sink)
        }
        ImageRef::Daemon { name, podman } => engine::read(name, *podman, opts, progress, sink),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(ImageRef::parse("-"), ImageRef::Stdin);
        assert_eq!(
            ImageRef::parse("oci:/nope/dir"),
            ImageRef::OciDir("/nope/dir".into())
        );
        assert_eq!(
            ImageRef::parse("oci-archive:/x/y.tar"),
            ImageRef::Archive("/x/y.tar".into())
        );
        assert_eq!(
            ImageRef::parse("docker-archive:a.tar"),
            ImageRef::Archive("a.tar".into())
        );
        assert_eq!(
            ImageRef::parse("my-app:v3"),
            ImageRef::Daemon {
                name: "my-app:v3".into(),
                podman: false
            }
        );
        assert_eq!(
            ImageRef::parse("podman:my-app"),
            ImageRef::Daemon {
                name: "my-app".into(),
                podman: true
            }
        );
        assert_eq!(
            ImageRef::parse("docker-daemon:busybox:latest"),
            ImageRef::Daemon {
                name: "busybox:latest".into(),
                podman: false
            }
        );
        assert_eq!(
            ImageRef::parse("./missing.tar"),
            ImageRef::Archive("./missing.tar".into())
        );
        assert!(matches!(ImageRef::parse("src"), ImageRef::OciDir(_)));
    }
}
