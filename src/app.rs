//! The program's policy: parse, run, print, and map the outcome to an exit code
//! (0 ok, 1 a CI rule failed, 2 error). A closed stdout (`dsize … | head`) is not an error.
//! `dsize compare` runs in the private `compare` module.

mod compare;

use crate::cli::{Cli, Command, Config, JsonTo};
use crate::index::Progress;
use crate::pipeline;
use crate::report::{self, ci, json, text};
use clap::Parser;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Exit codes.
pub const OK: u8 = 0;
pub const RULE_FAILED: u8 = 1;
pub const ERROR: u8 = 2;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { ERROR } else { OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command.take() {
        Some(Command::Compare(args)) => match args.into_config() {
            Ok(config) => compare::run(&config),
            Err(e) => fail(&e),
        },
        None => match cli.into_config() {
            Ok(config) => run(&config),
            Err(e) => fail(&e),
        },
    };
    ExitCode::from(code)
}

fn fail(message: &str) -> u8 {
    eprintln!("dsize: {}", report::escape(message.as_bytes()));
    ERROR
}

/// True when the run opens the interactive browser: `--tui`, or stdout is a terminal and no
/// other output (`--report`, `--json`, `--ci`) was asked for.
pub fn interactive(config: &Config, stdout_is_terminal: bool) -> bool {
    config.tui || (stdout_is_terminal && !config.report && config.json.is_none() && config.ci.is_none())
}

/// Runs one analysis as configured and prints what was asked.
pub fn run(config: &Config) -> u8 {
    if interactive(config, io::stdout().is_terminal()) {
        return crate::tui::run(config);
    }
    let progress = Arc::new(Progress::default());
    let show = config.progress && io::stderr().is_terminal();
    let ticker = show.then(|| ProgressLine::start(Arc::clone(&progress)));
    let result = pipeline::analyze(&config.image, &config.options, &progress, &mut |_| {});
    drop(ticker);
    let analysis = match result {
        Ok(a) => a,
        Err(e) => return fail(&e.to_string()),
    };
    let outcome = config.ci.as_ref().map(|r| ci::evaluate(&analysis, r));
    let json_to_stdout = config.json == Some(JsonTo::Stdout);
    if let Some(to) = &config.json
        && let Err(e) = write_json(to, &json::to_string(&analysis, outcome.clone()))
    {
        return fail(&e);
    }
    // Human text goes to stdout, or to stderr when stdout carries JSON.
    let mut human = String::new();
    if let Some(o) = &outcome {
        human.push_str(&ci::render(&analysis, o, config.top.min(5)));
    } else if config.report || config.json.is_none() {
        human.push_str(&text::render(
            &analysis,
            text::TextOptions {
                top: config.top,
                ..Default::default()
            },
        ));
    }
    if let Err(e) = print_human(&human, json_to_stdout) {
        return fail(&e);
    }
    match outcome {
        Some(o) if !o.pass => RULE_FAILED,
        _ => OK,
    }
}

/// Writes the JSON report to its file or to stdout.
fn write_json(to: &JsonTo, body: &str) -> Result<(), String> {
    match to {
        JsonTo::Stdout => print_stdout(body),
        JsonTo::File(p) => {
            std::fs::write(p, body).map_err(|e| format!("{}: cannot write the JSON report: {e}", p.display()))
        }
    }
}

/// Prints the human report: to stdout, or to stderr when stdout carries JSON.
fn print_human(human: &str, to_stderr: bool) -> Result<(), String> {
    if human.is_empty() {
        Ok(())
    } else if to_stderr {
        io::stderr()
            .write_all(human.as_bytes())
            .map_err(|e| e.to_string())
    } else {
        print_stdout(human)
    }
}

/// Writes to stdout; a reader that went away (broken pipe) is fine.
fn print_stdout(s: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("cannot write to stdout: {e}")),
        _ => Ok(()),
    }
}

/// A progress line on stderr (only when it is a terminal), redrawn a few times a second.
struct ProgressLine {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl ProgressLine {
    fn start(progress: Arc<Progress>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut shown = false;
            // Stay quiet for quick runs.
            let mut ticks = 0u32;
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                ticks += 1;
                if ticks < 3 {
                    continue;
                }
                let bytes = progress.bytes.load(Ordering::Relaxed);
                let done = progress.layers_done.load(Ordering::Relaxed);
                let total = progress.layers_total.load(Ordering::Relaxed);
                let layers = if total > 0 {
                    format!("{done}/{total} layers")
                } else {
                    format!("{done} layers")
                };
                if bytes == 0 && done == 0 {
                    // A daemon stages the whole export before its first byte.
                    eprint!("\r\x1b[2Kdsize: {}", report::waiting_text(&progress));
                } else {
                    eprint!(
                        "\r\x1b[2Kdsize: reading… {} read, {layers} indexed",
                        report::human(bytes)
                    );
                }
                shown = true;
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        ProgressLine {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
