//! Ties generation and measurement together: `gen`, `run`, and the tiny `smoke` run that CI
//! uses to keep the benchmark compiling and honest (it checks dsize's totals against the
//! generator's).

use crate::daemon::{self, DaemonRow};
use crate::images::{self, Facts};
use crate::run::{self, Opts, Row};
use std::io::{self, Write};
use std::path::Path;

/// Whether `--only` chose image `name` (every image when it is not given).
fn wanted(opts: &Opts, name: &str) -> bool {
    opts.only.is_empty() || opts.only.iter().any(|o| o.name == name)
}

/// Whether `run` measures this archive of image `name`: every archive of a chosen image, or only
/// the one in the chosen format.
fn wanted_file(opts: &Opts, name: &str, file: &str) -> bool {
    opts.only.is_empty()
        || opts
            .only
            .iter()
            .any(|o| o.name == name && o.format.is_none_or(|f| file.ends_with(f.suffix())))
}

/// Writes the images (all, or only the missing ones).
pub fn generate(opts: &Opts, scale: f64, missing_only: bool, log: &mut dyn Write) -> io::Result<Vec<Facts>> {
    let mut out = Vec::new();
    for spec in images::catalogue(scale) {
        if !wanted(opts, spec.name) {
            continue;
        }
        let done = spec
            .formats
            .iter()
            .all(|f| images::image_path(&opts.data, spec.name, *f).exists())
            && opts.data.join(format!("{}.json", spec.name)).exists();
        if missing_only && done {
            continue;
        }
        writeln!(log, "generating {}: {}", spec.name, spec.about)?;
        let facts = images::write(&spec, &opts.data, log)?;
        writeln!(
            log,
            "  {} file entries, {} whiteouts, {} opaque dirs, {} paths, {:.1} MB stored",
            facts.file_entries,
            facts.whiteouts,
            facts.opaque_dirs,
            facts.paths,
            facts.stored_bytes as f64 / 1e6
        )?;
        out.push(facts);
    }
    Ok(out)
}

fn facts(data: &Path, name: &str) -> io::Result<Facts> {
    let p = data.join(format!("{name}.json"));
    let b = std::fs::read(&p)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e} (run `gen` first)", p.display())))?;
    Ok(serde_json::from_slice(&b)?)
}

/// Measures every generated image and returns the report (machine line and table).
pub fn bench(opts: &Opts, log: &mut dyn Write) -> io::Result<String> {
    let mut rows = Vec::new();
    let mut tui = Vec::new();
    let before = run::machine();
    for spec in images::catalogue(1.0) {
        if !wanted(opts, spec.name) {
            continue;
        }
        let f = facts(&opts.data, spec.name)?;
        for file in f.files.iter().filter(|x| wanted_file(opts, spec.name, x)) {
            let row = run::measure(opts, &f, file, log)?;
            check(&f, &row)?;
            rows.push(row);
            run::settle();
        }
        if let Some(file) = f.files.first() {
            writeln!(log, "  browser on {file}")?;
            tui.push(run::tui(opts, &f, file)?);
        }
    }
    compare_with_last(opts, &rows, log)?;
    let ceiling = run::ceiling_lines(&rows);
    let ceiling = if ceiling.is_empty() {
        ceiling
    } else {
        format!("\nWhat all cores give at most on compressed layers:\n\n{ceiling}")
    };
    Ok(format!(
        "Before: {before}\nAfter:  {}\n\n{}{ceiling}\nThe browser (in process, 120×40 TestBackend):\n\n{}",
        run::machine(),
        run::table(&rows),
        run::tui_table(&tui)
    ))
}

/// dsize's totals must be the generator's (stored bytes and paths are known exactly).
fn check(f: &Facts, row: &Row) -> io::Result<()> {
    let (stored, visible, wasted) = row.numbers;
    exact(f, &row.image, (row.paths, stored, visible, wasted))
}

/// `(paths, stored, visible, wasted)` as dsize reported them, against the generator's facts.
fn exact(f: &Facts, what: &str, (paths, stored, visible, wasted): (u64, u64, u64, u64)) -> io::Result<()> {
    if stored != f.stored_bytes || paths != f.paths || stored != visible + wasted {
        return Err(io::Error::other(format!(
            "{what}: dsize says stored {stored}, {paths} paths; the generator wrote {} bytes, {} paths",
            f.stored_bytes, f.paths
        )));
    }
    Ok(())
}

/// Measures the `docker save` archive of each image through the Docker daemon (export alone,
/// then `dsize docker:TAG`); every row says skipped, and why, when no daemon answers.
fn daemon_rows(opts: &Opts, names: &[&str], log: &mut dyn Write) -> io::Result<String> {
    let found = daemon::find();
    match &found {
        Ok(d) => writeln!(log, "daemon: {}", d.about)?,
        Err(why) => writeln!(log, "daemon: skipped, {why}")?,
    }
    let mut rows = Vec::new();
    for name in names {
        let f = facts(&opts.data, name)?;
        let Some(file) = f
            .files
            .iter()
            .find(|x| x.ends_with(images::Format::DockerSave.suffix()))
        else {
            continue;
        };
        let row = match &found {
            Ok(d) => daemon::measure(opts, d, &f, file, opts.keep_loaded, log)?,
            Err(_) => DaemonRow {
                image: f.name.clone(),
                tag: String::new(),
                paths: f.paths,
                outcome: Err("skipped: no daemon".into()),
            },
        };
        if let Ok(m) = &row.outcome {
            exact(&f, &format!("{} through the daemon", row.tag), m.numbers)?;
        }
        rows.push(row);
        run::settle();
    }
    Ok(daemon::table(&found, &rows))
}

/// The `daemon` command: the Engine API path of the chosen images (all when none are chosen).
pub fn bench_daemon(opts: &Opts, log: &mut dyn Write) -> io::Result<String> {
    let before = run::machine();
    let names: Vec<&str> = images::catalogue(1.0)
        .iter()
        .map(|s| s.name)
        .filter(|n| wanted(opts, n))
        .collect();
    let table = daemon_rows(opts, &names, log)?;
    Ok(format!("Before: {before}\nAfter:  {}\n\n{table}", run::machine()))
}

/// Keeps the last run's numbers in `DATA/last-numbers.json` and says loudly when they change.
fn compare_with_last(opts: &Opts, rows: &[Row], log: &mut dyn Write) -> io::Result<()> {
    let path = opts.data.join("last-numbers.json");
    let mut last: serde_json::Map<String, serde_json::Value> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    for r in rows {
        let key = format!("{} ({})", r.image, r.format);
        let now = serde_json::json!([r.numbers.0, r.numbers.1, r.numbers.2, r.paths]);
        match last.get(&key) {
            Some(prev) if *prev != now => writeln!(log, "NUMBERS CHANGED for {key}: was {prev}, now {now}")?,
            Some(_) => writeln!(log, "  {key}: numbers unchanged {now}")?,
            None => {}
        }
        last.insert(key, now);
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&last)?)
}

/// Generates tiny versions of every image in a temporary directory, measures them once (no
/// dive) and checks dsize's totals against the generator's; reads the tiny realistic image
/// through the Docker daemon too when one answers (the row says skipped when none does). Takes
/// seconds.
pub fn smoke(dsize: &Path) -> io::Result<String> {
    let dir = std::env::temp_dir().join(format!("dsize-bench-smoke-{}", std::process::id()));
    let opts = Opts {
        data: dir.clone(),
        dsize: dsize.to_path_buf(),
        runs: 1,
        dive_limit: None,
        only: Vec::new(),
        keep_loaded: false,
    };
    let mut log = io::sink();
    let result = generate(&opts, 0.002, false, &mut log).and_then(|_| {
        let mut rows = Vec::new();
        let mut tui = Vec::new();
        for spec in images::catalogue(0.002) {
            let f = facts(&dir, spec.name)?;
            for file in &f.files {
                let row = run::measure(&opts, &f, file, &mut log)?;
                check(&f, &row)?;
                rows.push(row);
            }
            if let Some(file) = f.files.first() {
                tui.push(run::tui(&opts, &f, file)?);
            }
        }
        let daemon = daemon_rows(&opts, &["realistic-700m"], &mut log)?;
        Ok(run::table(&rows) + &run::ceiling_lines(&rows) + &run::tui_table(&tui) + &daemon)
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}
