//! The pipeline: source -> index -> model, with events for live views and a cancel flag.
//!
//! [`analyze`] runs in the calling thread (the source spreads layer indexing over worker
//! threads itself); [`spawn`] runs it on a background thread and sends [`Event`]s over a channel,
//! so a UI can draw the first frame at once and fold progress in as it comes.

use crate::index::Progress;
use crate::model::{Analysis, AnalysisBuilder, AnalysisOptions, ImageMeta, LayerEntries};
use crate::source::{self, Error, ImageRef, ReadOptions, Sink};
use crossbeam_channel::{Receiver, unbounded};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Everything that changes how an image is read and measured.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub read: ReadOptions,
    pub analysis: AnalysisOptions,
    /// Use Podman's socket for daemon images.
    pub podman: bool,
}

/// What a running analysis reports.
#[derive(Debug)]
pub enum Event {
    /// The image's history and layer list are known.
    Meta(Box<ImageMeta>),
    /// One layer was indexed: its position, the step it belongs to, its size and entry count.
    Layer {
        diff_index: usize,
        step: usize,
        size_bytes: u64,
        entries: u64,
    },
    /// The analysis is complete.
    Done(Box<Analysis>),
    /// It failed (or was cancelled).
    Failed(Error),
}

/// Folds what the source reads into an [`AnalysisBuilder`].
struct Build<'a> {
    name: String,
    options: AnalysisOptions,
    builder: Option<AnalysisBuilder>,
    error: Option<Error>,
    delivered: u64,
    progress: &'a Progress,
    on_event: &'a mut dyn FnMut(Event),
}

impl Sink for Build<'_> {
    fn meta(&mut self, meta: &ImageMeta) {
        let mut meta = meta.clone();
        meta.name = self.name.clone();
        self.progress
            .layers_total
            .store(meta.layers.len() as u64, Ordering::Relaxed);
        (self.on_event)(Event::Meta(Box::new(meta.clone())));
        match AnalysisBuilder::new(meta, self.options) {
            Ok(b) => {
                self.builder = Some(b);
                self.error = None;
            }
            Err(e) => {
                self.builder = None;
                self.error = Some(Error::new(&self.name, e.to_string()));
            }
        }
    }

    fn layer(&mut self, diff_index: usize, entries: LayerEntries, compressed: Option<u64>) {
        // A stream source may have counted blobs as it indexed them; never count down.
        self.delivered += 1;
        self.progress
            .layers_done
            .fetch_max(self.delivered, Ordering::Relaxed);
        let Some(b) = self.builder.as_mut() else { return };
        (self.on_event)(Event::Layer {
            diff_index,
            step: b.step_of_layer(diff_index),
            size_bytes: entries.regular_bytes,
            entries: entries.entries.len() as u64,
        });
        b.add_layer(diff_index, entries, compressed);
    }
}

/// Reads and analyses one image in the calling thread, reporting events as they happen.
pub fn analyze(
    image: &ImageRef,
    opts: &Options,
    progress: &Progress,
    on_event: &mut dyn FnMut(Event),
) -> Result<Analysis, Error> {
    let mut build = Build {
        name: image.describe(),
        options: opts.analysis,
        builder: None,
        error: None,
        delivered: 0,
        progress,
        on_event,
    };
    let image = match image {
        ImageRef::Daemon { name, podman } if opts.podman && !podman => ImageRef::Daemon {
            name: name.clone(),
            podman: true,
        },
        other => other.clone(),
    };
    source::read(&image, &opts.read, progress, &mut build)?;
    if let Some(e) = build.error {
        return Err(e);
    }
    let builder = build
        .builder
        .ok_or_else(|| Error::new(&image.describe(), "the image has no metadata"))?;
    Ok(builder.finish())
}

/// A background analysis.
pub struct Job {
    pub progress: Arc<Progress>,
    pub events: Receiver<Event>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Job {
    /// Asks the work to stop; events end with `Failed(cancelled)` soon after.
    pub fn cancel(&self) {
        self.progress.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.cancel();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Starts an analysis on a background thread.
pub fn spawn(image: ImageRef, opts: Options) -> Job {
    let progress = Arc::new(Progress::default());
    let (tx, rx) = unbounded();
    let p = Arc::clone(&progress);
    let handle = std::thread::spawn(move || {
        let mut send = |e: Event| {
            let _ = tx.send(e);
        };
        let result = analyze(&image, &opts, &p, &mut send);
        let _ = tx.send(match result {
            Ok(a) => Event::Done(Box::new(a)),
            Err(e) => Event::Failed(e),
        });
    });
    Job {
        progress,
        events: rx,
        handle: Some(handle),
    }
}
