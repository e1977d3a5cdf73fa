//! The event loop (dua's shape): the pipeline runs on its own thread and sends events; this loop
//! owns the state, folds those events and the user's input in, and redraws: at once after input,
//! at most every [`PROGRESS_FRAME`] for progress. Input comes from an [`InputSource`]: the terminal,
//! or a script (journey tests and the benchmark drive this same loop).

use crate::pipeline::Event;
use crate::tui::state::{App, Input};
use crate::tui::view;
use crossbeam_channel::{Receiver, TryRecvError};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self as ct, Event as CtEvent, KeyEventKind};
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

/// Progress is redrawn at most this often.
pub const PROGRESS_FRAME: Duration = Duration::from_millis(50);
/// A typed filter on a big tree is applied after this long without a key.
pub const TYPING_PAUSE: Duration = Duration::from_millis(120);
/// While a typed filter is matched on its own thread, its result is looked for this often.
pub const FILTER_POLL: Duration = Duration::from_millis(4);
/// How long to wait for input when nothing else is going on.
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// What an input source has next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Input(Input),
    /// Nothing arrived within the timeout.
    Idle,
    /// A script ran out: the loop draws and returns [`Flow::Paused`].
    End,
}

/// Where input comes from.
pub trait InputSource {
    fn next(&mut self, timeout: Duration) -> io::Result<Next>;
}

/// The real terminal (crossterm).
#[derive(Debug, Default)]
pub struct TerminalInput;

impl InputSource for TerminalInput {
    fn next(&mut self, timeout: Duration) -> io::Result<Next> {
        if !ct::poll(timeout)? {
            return Ok(Next::Idle);
        }
        Ok(match ct::read()? {
            CtEvent::Key(k) if k.kind != KeyEventKind::Release => Next::Input(Input::Key(k)),
            CtEvent::Mouse(m) => Next::Input(Input::Mouse(m)),
            CtEvent::Resize(w, h) => Next::Input(Input::Resize(w, h)),
            _ => Next::Idle,
        })
    }
}

/// Scripted input: each item once, then [`Next::End`].
#[derive(Debug, Default, Clone)]
pub struct Script(pub VecDeque<Input>);

impl Script {
    pub fn new(inputs: impl IntoIterator<Item = Input>) -> Self {
        Script(inputs.into_iter().collect())
    }
}

impl InputSource for Script {
    fn next(&mut self, _timeout: Duration) -> io::Result<Next> {
        Ok(self.0.pop_front().map_or(Next::End, Next::Input))
    }
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The user quit.
    Quit,
    /// The script ran out (tests continue with another call).
    Paused,
}

fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App, idle: bool) -> io::Result<()> {
    app.prepare(idle);
    terminal
        .draw(|f| view::draw(f, app))
        .map(|_| ())
        .map_err(|e| io::Error::other(e.to_string()))
}

/// Runs until the user quits or the input source ends. The first frame is drawn at once.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: &mut dyn InputSource,
    events: &Receiver<Event>,
) -> io::Result<Flow> {
    let mut dirty = true;
    let mut urgent = true;
    let mut last_draw: Option<Instant> = None;
    let mut last_progress = None;
    loop {
        fold_events(app, events, &mut dirty);
        if app.tree.poll_filter(false) {
            (dirty, urgent) = (true, true);
        }
        if app.loading() {
            let p = app.progress_numbers();
            if last_progress != Some(p) {
                last_progress = Some(p);
                dirty = true;
            }
        }
        if app.quit {
            return Ok(Flow::Quit);
        }
        let since = last_draw.map_or(PROGRESS_FRAME, |t| t.elapsed());
        if dirty && (urgent || since >= PROGRESS_FRAME) {
            draw(terminal, app, false)?;
            last_draw = Some(Instant::now());
            (dirty, urgent) = (false, false);
        }
        let timeout = if app.tree.filter.pending() {
            TYPING_PAUSE
        } else if app.tree.filter.running() {
            FILTER_POLL
        } else if dirty {
            PROGRESS_FRAME.saturating_sub(since)
        } else if app.loading() {
            PROGRESS_FRAME
        } else {
            IDLE_WAIT
        };
        match input.next(timeout)? {
            Next::Input(i) => {
                app.on_input(i);
                (dirty, urgent) = (true, true);
                // Take whatever else is queued (key repeat) before drawing once.
                loop {
                    if app.quit {
                        return Ok(Flow::Quit);
                    }
                    match input.next(Duration::ZERO)? {
                        Next::Input(i) => app.on_input(i),
                        Next::Idle => break,
                        Next::End => return finish(terminal, app, events),
                    }
                }
            }
            Next::Idle => {
                if app.tree.filter.pending() {
                    draw(terminal, app, true)?;
                    last_draw = Some(Instant::now());
                }
            }
            Next::End => return finish(terminal, app, events),
        }
    }
}

/// The script ended: fold what the pipeline sent, draw once, pause.
fn finish<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &Receiver<Event>,
) -> io::Result<Flow> {
    if app.quit {
        return Ok(Flow::Quit);
    }
    let mut dirty = true;
    fold_events(app, events, &mut dirty);
    draw(terminal, app, true)?;
    Ok(Flow::Paused)
}

/// Lets a typed filter finish, as a pause in typing would (applied, matched on its own thread
/// for big trees, its matches taken), then draws. Scripts that look at a big tree's filtered
/// rows call this; the benchmark times it apart from the key's own frame.
pub fn settle<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> io::Result<()> {
    // A job that died (a bug) is retried a few times, not forever.
    for _ in 0..4 {
        if app.tree.filter.pending() {
            app.prepare(true);
        } else if app.tree.filter.running() {
            app.tree.poll_filter(true);
        } else {
            break;
        }
    }
    draw(terminal, app, true)
}

fn fold_events(app: &mut App, events: &Receiver<Event>, dirty: &mut bool) {
    loop {
        match events.try_recv() {
            Ok(e) => {
                app.on_event(e);
                *dirty = true;
            }
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                if app.loading() {
                    let why = crate::tui::worker_panic()
                        .unwrap_or_else(|| "the analysis stopped without a result".to_string());
                    app.error = Some(why);
                    *dirty = true;
                }
                break;
            }
        }
    }
}
