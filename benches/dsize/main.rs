//! The dsize benchmark: generates large deterministic images and compares dsize with the
//! physical floor (`tar -t`, `zcat`, `zstdcat`, one core) and with dive. See the README's
//! "Performance" section.
//!
//! ```text
//! cargo bench --bench dsize -- gen   [--data DIR] [--only NAME,…]
//! cargo bench --bench dsize -- run   [--data DIR] [--only NAME[:FORMAT],…] [--runs N] [--dive-limit SECS | --no-dive]
//! cargo bench --bench dsize -- daemon [--data DIR] [--only NAME,…] [--runs N] [--keep-loaded]
//! cargo bench --bench dsize -- smoke            # tiny images in a temp dir, a few seconds
//! ```
//! `daemon` loads each image's `docker save` archive into the Docker daemon (unless its tag is
//! already that image), then times the daemon's export alone and `dsize docker:TAG`, side by side
//! (see `daemon.rs`); it removes what it loaded unless `--keep-loaded`. Without a daemon its rows
//! say skipped.
//! `cargo bench` builds dsize with the release profile; the bench runs that binary.

mod daemon;
mod driver;
mod images;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

/// Prints the usage: to stdout with success when asked for (`help`), else to stderr with 2.
fn usage(asked: bool) -> ExitCode {
    let text = format!(
        "usage: cargo bench --bench dsize -- (gen|run|all|daemon|smoke|help) [--data DIR] [--only NAME[:FORMAT],…] [--runs N] [--dive-limit SECS | --no-dive] [--keep-loaded]\n\
         gen: write the images; run: dsize, the floor and dive on each archive (NAME:FORMAT, e.g. files-400k:zstd,\n\
         \x20 only that archive: tar, gzip or zstd); all: gen (missing only) then run;\n\
         daemon: each image's docker save archive through the Docker daemon: load it (unless loaded), time the\n\
         \x20 export alone (GET /images/TAG/get, first byte and all) and `dsize docker:TAG --ci` side by side, remove\n\
         \x20 what was loaded (unless --keep-loaded); the vfs storage driver copies every layer, so pick images with --only;\n\
         smoke: tiny images in a temp dir (the daemon row says skipped when no daemon answers)\n\
         images: {}",
        images::catalogue(1.0)
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if asked {
        println!("{text}");
        ExitCode::SUCCESS
    } else {
        eprintln!("{text}");
        ExitCode::from(2)
    }
}

/// One `--only` value: `NAME` or `NAME:FORMAT`, an image and one of its archives.
fn parse_only(o: &str) -> Result<run::Only, String> {
    let catalogue = images::catalogue(1.0);
    let names: Vec<&str> = catalogue.iter().map(|s| s.name).collect();
    let (name, label) = o.split_once(':').map_or((o, None), |(n, f)| (n, Some(f)));
    let format = label.map(images::Format::from_label);
    let Some(spec) = catalogue
        .iter()
        .find(|s| s.name == name)
        .filter(|_| format.is_none_or(|f| f.is_some()))
    else {
        return Err(format!(
            "--only {o}: no such image or archive (images: {}; formats: tar, gzip, zstd)",
            names.join(", ")
        ));
    };
    if let Some(f) = format.flatten().filter(|f| !spec.formats.contains(f)) {
        let has: Vec<&str> = spec.formats.iter().map(|f| f.label()).collect();
        return Err(format!(
            "--only {o}: {name} has no {} archive (it has: {})",
            f.label(),
            has.join(", ")
        ));
    }
    Ok(run::Only {
        name: name.to_string(),
        format: format.flatten(),
    })
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; ignore it.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(cmd) = args.first().cloned() else {
        return usage(false);
    };
    if matches!(cmd.as_str(), "help" | "-h" | "--help") {
        return usage(true);
    }
    let mut data = std::env::var_os("DSIZE_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-data"));
    let mut only = Vec::new();
    let mut runs = 3;
    let mut dive_limit = Some(600.0);
    let mut keep_loaded = false;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--data" => data = PathBuf::from(value()),
            "--only" => {
                only = match value().split(',').map(parse_only).collect() {
                    Ok(o) => o,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(2);
                    }
                }
            }
            "--runs" => runs = value().parse().unwrap_or(3),
            "--dive-limit" => dive_limit = value().parse().ok(),
            "--no-dive" => dive_limit = None,
            "--keep-loaded" => keep_loaded = true,
            "-h" | "--help" => return usage(true),
            _ => return usage(false),
        }
    }
    // Only `run` (and `all`'s run) measures one archive of an image; the others take images.
    if let Some((o, f)) = only
        .iter()
        .find_map(|o| o.format.map(|f| (o, f)))
        .filter(|_| matches!(cmd.as_str(), "gen" | "daemon"))
    {
        let what = if cmd == "gen" {
            "gen writes every archive of an image"
        } else {
            "daemon loads the image's docker save archive"
        };
        eprintln!("--only {}:{}: {what}; name the image alone", o.name, f.label());
        return ExitCode::from(2);
    }
    let opts = run::Opts {
        data,
        dsize: PathBuf::from(env!("CARGO_BIN_EXE_dsize")),
        runs,
        dive_limit,
        only,
        keep_loaded,
    };
    let result = match cmd.as_str() {
        "gen" => driver::generate(&opts, 1.0, false, &mut std::io::stderr()).map(drop),
        "run" => driver::bench(&opts, &mut std::io::stderr()).map(|t| print!("{t}")),
        "all" => driver::generate(&opts, 1.0, true, &mut std::io::stderr())
            .and_then(|_| driver::bench(&opts, &mut std::io::stderr()))
            .map(|t| print!("{t}")),
        "daemon" => driver::bench_daemon(&opts, &mut std::io::stderr()).map(|t| print!("{t}")),
        "smoke" => driver::smoke(&opts.dsize).map(|t| print!("{t}")),
        _ => return usage(false),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dsize-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
