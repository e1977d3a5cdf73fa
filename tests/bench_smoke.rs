//! Keeps the benchmark (`benches/dsize`) compiling and honest: generates tiny versions of every
//! benchmark image, runs dsize and the floor tools on them once (no dive), and checks that dsize's
//! stored bytes and path counts are exactly what the generator wrote. When a Docker daemon
//! answers, the tiny realistic image is also loaded, read through the daemon and removed; without
//! one its row says skipped. Takes a few seconds.

#[allow(dead_code)]
#[path = "../benches/dsize/daemon.rs"]
mod daemon;
#[allow(dead_code)]
#[path = "../benches/dsize/driver.rs"]
mod driver;
#[allow(dead_code)]
#[path = "../benches/dsize/images.rs"]
mod images;
#[allow(dead_code)]
#[path = "../benches/dsize/run.rs"]
mod run;

#[test]
fn bench_smoke_run() {
    let table = driver::smoke(std::path::Path::new(env!("CARGO_BIN_EXE_dsize"))).expect("smoke run");
    for name in ["files-400k", "paths-1m", "deletes-100k", "realistic-700m"] {
        assert!(table.contains(name), "{name} missing from\n{table}");
    }
    assert!(!table.contains("failed"), "{table}");
    // Each archive row of the ratio table pairs the floor with dsize round by round.
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.contains(" (tar) |") || l.contains(" (gzip) |") || l.contains(" (zstd) |"))
        .collect();
    assert_eq!(rows.len(), 6, "{table}");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (median, range) = cells[11].split_once("× (").unwrap_or_else(|| panic!("{row}"));
        let (lo, hi) = range
            .trim_end_matches(')')
            .split_once('–')
            .unwrap_or_else(|| panic!("{row}"));
        let [m, lo, hi] = [median, lo, hi].map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("{row}")));
        assert!(lo > 0.0 && lo <= m && m <= hi, "{row}");
    }
    // The compressed archives also get *lib* on every core, the most the cores give.
    for format in ["gzip", "zstd"] {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("- files-400k ({format}): *lib* on ")))
            .unwrap_or_else(|| panic!("no {format} ceiling in\n{table}"));
        assert!(
            line.contains("× *lib* on one") && line.contains(" % of it, per round "),
            "{line}"
        );
    }
}
