//! `dsize compare`: analyses every image at once (one thread each, each indexed once), compares
//! them in the order given, prints what was asked, and maps the `--max-growth` gate to the exit
//! code (0 ok, 1 grew too much, 2 error).

use super::{OK, ProgressLine, RULE_FAILED, fail, print_human, write_json};
use crate::cli::{CompareConfig, JsonTo};
use crate::index::Progress;
use crate::model::Analysis;
use crate::model::compare as model;
use crate::pipeline;
use crate::report::compare as report;
use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs a comparison as configured.
pub fn run(config: &CompareConfig) -> u8 {
    let analyses = match analyse_all(config) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let refs: Vec<&Analysis> = analyses.iter().collect();
    let cmp = model::compare(&refs);
    if interactive(config, io::stdout().is_terminal()) {
        return crate::tui::run_compare(&cmp, analyses);
    }
    let last = refs.len() - 1;
    let gate = config.max_growth.map(|limit| {
        let first_to_last = if last == 1 {
            cmp.pairs[0].clone()
        } else {
            model::diff(&cmp, refs[0], refs[last], 0, last)
        };
        (report::evaluate(&cmp, limit), first_to_last)
    });
    let outcome = gate.as_ref().map(|(o, _)| o);
    if let Some(to) = &config.json
        && let Err(e) = write_json(to, &report::to_string(&cmp, outcome.cloned()))
    {
        return fail(&e);
    }
    let opts = report::Options {
        top: config.top,
        ..Default::default()
    };
    let mut human = String::new();
    if config.markdown {
        human.push_str(&report::markdown(&cmp, opts, outcome));
    } else {
        if config.report || (config.json.is_none() && gate.is_none()) {
            human.push_str(&report::render(&cmp, opts));
        }
        if let Some((o, d)) = &gate {
            if !human.is_empty() {
                human.push('\n');
            }
            human.push_str(&report::render_ci(&cmp, d, o));
        }
    }
    if let Err(e) = print_human(&human, config.json == Some(JsonTo::Stdout)) {
        return fail(&e);
    }
    match outcome {
        Some(o) if !o.pass => RULE_FAILED,
        _ => OK,
    }
}

/// True when the comparison opens the interactive view: `--tui`, or stdout is a terminal and no
/// other output (`--report`, `--markdown`, `--json`, `--ci`) was asked for.
pub fn interactive(config: &CompareConfig, stdout_is_terminal: bool) -> bool {
    config.tui
        || (stdout_is_terminal
            && !config.report
            && !config.markdown
            && config.json.is_none()
            && config.max_growth.is_none())
}

/// Analyses every image in parallel; the first failure (in the order given) stops the others.
fn analyse_all(config: &CompareConfig) -> Result<Vec<Analysis>, String> {
    let n = config.images.len();
    let mut options = config.options.clone();
    if options.read.jobs == 0 {
        // Share the cores between the images instead of giving each all of them.
        let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
        options.read.jobs = (cores / n).max(1);
    }
    let progress: Vec<Arc<Progress>> = (0..n).map(|_| Arc::default()).collect();
    let total = Arc::new(Progress::default());
    let show = config.progress && io::stderr().is_terminal();
    let ticker = show.then(|| ProgressLine::start(Arc::clone(&total)));
    let finished = AtomicBool::new(false);
    // Err(None): cancelled because another image failed.
    let results: Vec<Result<Analysis, Option<String>>> = std::thread::scope(|s| {
        let (options, progress, total, finished) = (&options, &progress, &total, &finished);
        let workers: Vec<_> = config
            .images
            .iter()
            .zip(progress)
            .map(|(image, p)| {
                s.spawn(move || {
                    let r = pipeline::analyze(image, options, p, &mut |_| {});
                    if r.is_err() {
                        for other in progress {
                            other.cancel.store(true, Ordering::Relaxed);
                        }
                    }
                    r
                })
            })
            .collect();
        if show {
            s.spawn(move || {
                while !finished.load(Ordering::Relaxed) {
                    let sum = |f: fn(&Progress) -> u64| progress.iter().map(|p| f(p)).sum::<u64>();
                    total
                        .bytes
                        .store(sum(|p| p.bytes.load(Ordering::Relaxed)), Ordering::Relaxed);
                    total
                        .layers_done
                        .store(sum(|p| p.layers_done.load(Ordering::Relaxed)), Ordering::Relaxed);
                    total
                        .layers_total
                        .store(sum(|p| p.layers_total.load(Ordering::Relaxed)), Ordering::Relaxed);
                    total
                        .pulled
                        .store(sum(|p| p.pulled.load(Ordering::Relaxed)), Ordering::Relaxed);
                    let pulling = progress.iter().any(|p| p.pulling.load(Ordering::Relaxed));
                    total.pulling.store(pulling, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        }
        let results = workers
            .into_iter()
            .map(|w| match w.join() {
                Ok(Ok(a)) => Ok(a),
                Ok(Err(e)) if e.is_cancelled() => Err(None),
                Ok(Err(e)) => Err(Some(e.to_string())),
                Err(_) => Err(Some("an indexing thread panicked".to_string())),
            })
            .collect();
        finished.store(true, Ordering::Relaxed);
        results
    });
    drop(ticker);
    let mut out = Vec::with_capacity(n);
    let mut first_error = None;
    for r in results {
        match r {
            Ok(a) => out.push(a),
            Err(e) => first_error = first_error.or(e),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None if out.len() == n => Ok(out),
        None => Err("cancelled".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::interactive;
    use crate::cli::{Cli, Command, CompareConfig};
    use clap::Parser;

    fn config(args: &[&str]) -> Result<CompareConfig, String> {
        let mut all = vec!["dsize", "compare", "a.tar", "b.tar"];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all).map_err(|e| e.to_string())?;
        match cli.command {
            Some(Command::Compare(c)) => c.into_config(),
            _ => Err("not a comparison".into()),
        }
    }

    #[test]
    fn compare_opens_the_view_only_in_a_terminal_without_other_output() {
        let plain = config(&[]).unwrap();
        assert!(interactive(&plain, true));
        assert!(!interactive(&plain, false));
        for other in [
            &["--report"][..],
            &["--markdown"],
            &["--json", "-"],
            &["--ci", "--max-growth", "5%"],
        ] {
            assert!(!interactive(&config(other).unwrap(), true), "{other:?}");
        }
        assert!(interactive(&config(&["--tui"]).unwrap(), false));
        assert!(config(&["--tui", "--markdown"]).is_err());
        assert!(config(&["--tui", "--ci", "--max-growth", "5%"]).is_err());
        assert!(config(&["--tui", "--report"]).is_err());
    }
}
