//! The interactive browser: `dsize IMAGE` in a terminal.
//!
//! - [`keys`]: the key table, as data; the footer and the help overlay are generated from it;
//! - [`state`]: the app state and its updates, with each pane's widget state (selection, scroll);
//! - [`event_loop`]: folds pipeline events and input into the state and redraws on a throttle;
//! - [`view`]: draws a frame from `&App`, changing neither the state nor the model;
//! - [`layout`]: where the panes go, shared by drawing and mouse handling;
//! - [`mod@bench`]: first-frame and key-to-frame timings on `TestBackend`, for the benchmark.
//!
//! [`run`] owns the terminal: raw mode, the alternate screen and mouse capture are undone on every
//! way out, a panic included (a guard and a panic hook). It must not print while the browser runs.

pub mod bench;
pub mod compare;
pub mod event_loop;
pub mod keys;
pub mod layout;
pub mod state;
pub mod theme;
pub mod view;

use crate::app::{ERROR, OK, RULE_FAILED};
use crate::cli::Config;
use crate::pipeline;
use crossbeam_channel::RecvTimeoutError;
use event_loop::{TerminalInput, run_loop};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::layout::Rect;
use state::{App, AppOptions};
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

pub use bench::{FrameTimes, default_keys, measure_frames};
pub use event_loop::{Flow, InputSource, Next, Script};
pub use state::Input;

/// Runs the browser on the configured image; returns the exit code (1 when `--ci` rules fail).
pub fn run(config: &Config) -> u8 {
    let job = pipeline::spawn(config.image.clone(), config.options.clone());
    let mut term = match Screen::enter() {
        Ok(t) => t,
        Err(e) => {
            drop(job);
            eprintln!("dsize: cannot open the interactive browser: {e} (use --report for text)");
            return ERROR;
        }
    };
    let size = term.terminal.size().unwrap_or_default();
    let options = AppOptions {
        ci: config.ci.clone(),
        analysis: config.options.analysis,
        theme: None,
    };
    let name = config.image.describe();
    let mut app = App::new(
        &name,
        Arc::clone(&job.progress),
        options,
        Rect::new(0, 0, size.width, size.height),
    );
    let result = run_loop(&mut term.terminal, &mut app, &mut TerminalInput, &job.events);
    drop(term);
    stop(job);
    if let Err(e) = result {
        eprintln!("dsize: the terminal failed: {e}");
        return ERROR;
    }
    if let Some(e) = &app.error {
        eprintln!("dsize: {}", crate::report::escape(e.as_bytes()));
        return ERROR;
    }
    match &app.ci {
        Some(ci) if !ci.pass => RULE_FAILED,
        _ => OK,
    }
}

/// Runs the compare view on finished analyses (`dsize compare` in a terminal); returns the exit code.
pub fn run_compare(cmp: &crate::model::compare::Comparison, analyses: Vec<crate::model::Analysis>) -> u8 {
    let mut term = match Screen::enter() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dsize: cannot open the interactive view: {e} (use --report for text)");
            return ERROR;
        }
    };
    let size = term.terminal.size().unwrap_or_default();
    let mut app = compare::CompareApp::new(
        cmp,
        analyses,
        Rect::new(0, 0, size.width, size.height),
        theme::Theme::from_env(),
    );
    let result = compare::run_loop(&mut term.terminal, &mut app, &mut TerminalInput);
    drop(term);
    match result {
        Ok(_) => OK,
        Err(e) => {
            eprintln!("dsize: the terminal failed: {e}");
            ERROR
        }
    }
}

/// Cancels the analysis and waits briefly for it to stop; a source stuck in a blocking read is
/// left behind (the process is about to exit).
fn stop(job: pipeline::Job) {
    job.cancel();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match job.events.recv_deadline(deadline) {
            Ok(_) => continue,
            Err(RecvTimeoutError::Disconnected) => return drop(job),
            Err(RecvTimeoutError::Timeout) => {
                std::mem::forget(job);
                return;
            }
        }
    }
}

/// The terminal in browser mode; dropping it restores the terminal.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            cursor::Hide
        )
        .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// True while the terminal is in browser mode.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back: cooked mode, main screen, no mouse capture, cursor shown. Does nothing
/// when the browser is not running.
fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
}

static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
static WORKER_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// A panic on the browser's thread restores the terminal before the message is printed; a panic on
/// a worker thread is kept (the browser shows it) instead of being printed over the screen.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    if let Ok(mut t) = UI_THREAD.lock() {
        *t = Some(std::thread::current().id());
    }
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ui = UI_THREAD.lock().ok().and_then(|t| *t);
            let active = ACTIVE.load(Ordering::SeqCst);
            if active
                && ui.is_some_and(|id| id != std::thread::current().id())
                && let Ok(mut slot) = WORKER_PANIC.lock()
            {
                slot.get_or_insert_with(|| format!("internal error in the analysis: {info}"));
                return;
            }
            restore();
            previous(info);
        }));
    });
}

/// The message of a panic on a worker thread, if one happened.
pub(crate) fn worker_panic() -> Option<String> {
    WORKER_PANIC.lock().ok().and_then(|s| s.clone())
}
