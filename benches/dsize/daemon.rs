//! The Docker Engine API path: `dsize docker:IMAGE` against the daemon's own export of the same
//! image, side by side in one run.
//!
//! The image archive is loaded once (`POST /images/load`, skipped when its tag already names
//! the archive's image), then each round times
//! - the export alone: `GET /images/{tag}/get` (the request dsize makes), read to the end by the
//!   bench, with the time to the first body byte (a daemon on the classic image store stages the
//!   whole export before it sends anything);
//! - `dsize docker:TAG --ci`: wall, CPU and peak memory, as for the archive files.
//!
//! The bench speaks plain HTTP/1.0 to the endpoint dsize itself would use (`DOCKER_HOST`,
//! contexts, the default socket), so no docker CLI is needed. When no daemon answers, or the
//! image would not fit on the daemon's disk, the row says it was skipped and why; it never
//! carries a number it did not measure. Images the bench loaded are removed at the end unless
//! told to keep them.

use crate::images::Facts;
use crate::run::{self, End, Opts, Run};
use dsize::source::discover::{self, Address};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a small API call (ping, info, inspect, delete) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Space left free on the daemon's disk after a load, on top of the estimate.
const DISK_MARGIN: u64 = 2 << 30;

/// A daemon that answered.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub address: Address,
    /// `Docker 20.10.24+dfsg1, storage driver vfs`.
    pub about: String,
    driver: String,
    root: String,
}

/// The daemon's export read to the end by the bench.
#[derive(Debug, Clone, Copy)]
pub struct Export {
    /// Seconds from sending the request to the first body byte.
    pub first_byte: f64,
    pub wall: f64,
    pub bytes: u64,
}

/// One image through the daemon.
#[derive(Debug, Clone)]
pub struct DaemonRow {
    pub image: String,
    pub tag: String,
    pub paths: u64,
    pub outcome: Result<Measured, String>,
}

#[derive(Debug, Clone)]
pub struct Measured {
    pub export: Export,
    pub dsize: Run,
    /// (paths, stored, visible, wasted), as dsize reported them through the daemon.
    pub numbers: (u64, u64, u64, u64),
    /// Seconds the load took, when this run loaded the image.
    pub loaded: Option<f64>,
    /// dsize ÷ export of each round (the export's staging time varies from round to round;
    /// pairs measured back to back share the machine's load).
    pub ratios: Vec<f64>,
}

// ---------------------------------------------------------------------------------- HTTP

enum Conn {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
        }
    }
}

fn open(address: &Address, timeout: Option<Duration>) -> io::Result<Conn> {
    Ok(match address {
        Address::Unix(p) => {
            let s = UnixStream::connect(p)?;
            s.set_read_timeout(timeout)?;
            Conn::Unix(s)
        }
        Address::Tcp(a) => {
            let s = std::net::TcpStream::connect(a)?;
            s.set_read_timeout(timeout)?;
            Conn::Tcp(s)
        }
        Address::Tls(..) | Address::Ssh(_) => {
            return Err(io::Error::other(format!(
                "{address}: the daemon bench times the export over a socket or plain HTTP only; point DOCKER_HOST at the daemon's socket"
            )));
        }
    })
}

/// A response whose status line and headers were read; `body` reads the rest.
struct Response {
    status: u16,
    body: BufReader<Conn>,
}

impl Response {
    fn text(mut self) -> io::Result<(u16, String)> {
        let mut s = String::new();
        self.body.read_to_string(&mut s)?;
        Ok((self.status, s))
    }
}

/// Sends one HTTP/1.0 request (the daemon answers without chunking and closes the connection
/// after the body). `body`: its length and a reader.
fn request(
    address: &Address,
    method: &str,
    path: &str,
    body: Option<(u64, &mut dyn Read)>,
    timeout: Option<Duration>,
) -> io::Result<Response> {
    let mut conn = open(address, timeout)?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: docker\r\n");
    if let Some((len, _)) = &body {
        head.push_str(&format!(
            "Content-Type: application/x-tar\r\nContent-Length: {len}\r\n"
        ));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    if let Some((_, r)) = body {
        io::copy(r, &mut conn)?;
    }
    conn.flush()?;
    let mut body = BufReader::with_capacity(1 << 20, conn);
    let mut line = String::new();
    body.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {:?}", line.trim())))?;
    loop {
        line.clear();
        if body.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    Ok(Response { status, body })
}

/// A small call whose answer is JSON (`None` on 404).
fn get_json(address: &Address, path: &str) -> io::Result<Option<serde_json::Value>> {
    let (status, text) = request(address, "GET", path, None, Some(CALL_TIMEOUT))?.text()?;
    match status {
        200 => Ok(Some(serde_json::from_str(&text)?)),
        404 => Ok(None),
        s => Err(io::Error::other(format!("GET {path}: HTTP {s}: {}", text.trim()))),
    }
}

// -------------------------------------------------------------------------------- the daemon

/// The daemon dsize would read from, if it answers (else why not, in one line).
pub fn find() -> Result<Daemon, String> {
    let plan = discover::plan(&discover::Env::from_process(), false, &discover::RealFiles)?;
    let endpoint = plan.primary.first().ok_or("no Docker endpoint to try")?;
    let address = endpoint.address.clone();
    let info = get_json(&address, "/info")
        .ok()
        .flatten()
        .ok_or_else(|| format!("no Docker daemon answers at {address} ({})", endpoint.origin))?;
    let s = |k: &str| info[k].as_str().unwrap_or("?").to_string();
    Ok(Daemon {
        about: format!(
            "Docker {}, storage driver {}, at {address}",
            s("ServerVersion"),
            s("Driver")
        ),
        driver: s("Driver"),
        root: s("DockerRootDir"),
        address,
    })
}

/// The tag and image id (`sha256:` + the config digest) an archive's `manifest.json` names.
fn archive_image(path: &Path) -> io::Result<(String, String)> {
    let mut archive = tar::Archive::new(File::open(path)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path_bytes().as_ref() != b"manifest.json" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_reader(&mut entry)?;
        let tag = v[0]["RepoTags"][0].as_str().unwrap_or_default();
        let config = v[0]["Config"].as_str().unwrap_or_default();
        let hex = config
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".json");
        if tag.is_empty() || hex.is_empty() {
            break;
        }
        return Ok((tag.to_string(), format!("sha256:{hex}")));
    }
    Err(io::Error::other(format!(
        "{}: no manifest.json with a tag and a config",
        path.display()
    )))
}

/// Bytes the daemon's disk needs for an image whose layers hold `layer_bytes`, bottom to top:
/// the vfs driver keeps a full copy of the file system for every layer, other drivers about the
/// layers once; and the archive's size once more, for the copy the daemon stages while it loads
/// (and, on the classic store, while it exports).
fn disk_estimate(driver: &str, layer_bytes: &[u64]) -> u64 {
    let once: u64 = layer_bytes.iter().sum();
    let store = if driver == "vfs" {
        let mut below = 0;
        layer_bytes
            .iter()
            .map(|b| {
                below += b;
                below
            })
            .sum()
    } else {
        once
    };
    store + once
}

/// Free bytes on the file system that holds `dir` (`None` when it is not here, e.g. a remote
/// daemon).
fn free_bytes(dir: &str) -> Option<u64> {
    let c = std::ffi::CString::new(dir).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed statvfs to fill.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

fn gb(b: u64) -> String {
    format!("{:.1} GB", b as f64 / 1e9)
}

/// Loads the archive unless `tag` already names its image; returns the seconds the load took
/// (`None`: it was there). The error says why the image was skipped or the load failed.
fn ensure_loaded(
    d: &Daemon,
    archive: &Path,
    tag: &str,
    id: &str,
    layer_bytes: &[u64],
) -> Result<Option<f64>, String> {
    let have = get_json(&d.address, &format!("/images/{tag}/json")).map_err(|e| format!("failed: {e}"))?;
    if have.as_ref().and_then(|v| v["Id"].as_str()) == Some(id) {
        return Ok(None);
    }
    let need = disk_estimate(&d.driver, layer_bytes);
    if let Some(free) = free_bytes(&d.root)
        && free < need + DISK_MARGIN
    {
        return Err(format!(
            "skipped: loading it needs about {} on the {} storage driver and {} has {} free",
            gb(need),
            d.driver,
            d.root,
            gb(free)
        ));
    }
    let mut f = File::open(archive).map_err(|e| format!("failed: {e}"))?;
    let len = f.metadata().map_err(|e| format!("failed: {e}"))?.len();
    let t = Instant::now();
    let (status, text) = request(
        &d.address,
        "POST",
        "/images/load?quiet=1",
        Some((len, &mut f)),
        None,
    )
    .and_then(Response::text)
    .map_err(|e| format!("failed to load: {e}"))?;
    if status != 200 || text.contains("\"error") {
        return Err(format!("failed to load: HTTP {status}: {}", text.trim()));
    }
    Ok(Some(t.elapsed().as_secs_f64()))
}

/// Removes `tag` (the image goes with its last tag).
fn remove(d: &Daemon, tag: &str) -> Result<(), String> {
    let (status, text) = request(
        &d.address,
        "DELETE",
        &format!("/images/{tag}"),
        None,
        Some(CALL_TIMEOUT),
    )
    .and_then(Response::text)
    .map_err(|e| e.to_string())?;
    if status == 200 {
        Ok(())
    } else {
        Err(format!("HTTP {status}: {}", text.trim()))
    }
}

/// The export, read to the end.
pub fn export(d: &Daemon, tag: &str) -> io::Result<Export> {
    let t = Instant::now();
    let mut r = request(&d.address, "GET", &format!("/images/{tag}/get"), None, None)?;
    if r.status != 200 {
        let (s, text) = r.text()?;
        return Err(io::Error::other(format!("export: HTTP {s}: {}", text.trim())));
    }
    let mut bytes = 0u64;
    let mut first_byte = None;
    loop {
        let n = {
            let buf = r.body.fill_buf()?;
            buf.len()
        };
        if n == 0 {
            break;
        }
        first_byte.get_or_insert_with(|| t.elapsed().as_secs_f64());
        r.body.consume(n);
        bytes += n as u64;
    }
    let wall = t.elapsed().as_secs_f64();
    Ok(Export {
        first_byte: first_byte.unwrap_or(wall),
        wall,
        bytes,
    })
}

/// Loads, measures and (unless kept) removes one image.
pub fn measure(
    opts: &Opts,
    d: &Daemon,
    facts: &Facts,
    file: &str,
    keep: bool,
    log: &mut dyn Write,
) -> io::Result<DaemonRow> {
    let archive = opts.data.join(file);
    let (tag, id) = archive_image(&archive)?;
    let layer_bytes: Vec<u64> = run::blobs(&archive)?.iter().map(|b| b.size).collect();
    let mut row = DaemonRow {
        image: facts.name.clone(),
        tag: tag.clone(),
        paths: facts.paths,
        outcome: Err(String::new()),
    };
    writeln!(log, "  {tag}: loading {file} into the daemon unless it is there…")?;
    let loaded = match ensure_loaded(d, &archive, &tag, &id, &layer_bytes) {
        Ok(l) => l,
        Err(why) => {
            row.outcome = Err(why);
            return Ok(row);
        }
    };
    let measured = rounds(opts, d, &tag, log);
    if loaded.is_some()
        && !keep
        && let Err(e) = remove(d, &tag)
    {
        writeln!(log, "  could not remove {tag}: {e}")?;
    }
    row.outcome = measured
        .map(|m| Measured { loaded, ..m })
        .map_err(|e| format!("failed: {e}"));
    Ok(row)
}

/// The exactness run, then `opts.runs` rounds of export and dsize, back to back.
fn rounds(opts: &Opts, d: &Daemon, tag: &str, log: &mut dyn Write) -> io::Result<Measured> {
    let source = format!("docker:{tag}");
    let numbers = run::numbers(opts, source.as_ref())?;
    let dsize = opts.dsize.display().to_string();
    let (mut exports, mut runs) = (Vec::new(), Vec::new());
    for i in 0..opts.runs.max(1) {
        // The order alternates, so neither side always follows the other's clean-up.
        let dsize_run = || run::timed(&dsize, &[&source, "--ci"], &opts.data, &[], None);
        let (e, r) = if i % 2 == 0 {
            let e = export(d, tag)?;
            (e, dsize_run()?)
        } else {
            let r = dsize_run()?;
            (export(d, tag)?, r)
        };
        writeln!(
            log,
            "  round {}: export {:.2} s (first byte {:.2} s), dsize {:.2} s",
            i + 1,
            e.wall,
            e.first_byte,
            r.wall
        )?;
        if r.end != End::Ok {
            return Err(io::Error::other(format!("dsize {source} ended {:?}", r.end)));
        }
        exports.push(e);
        runs.push(r);
    }
    let ratios = runs.iter().zip(&exports).map(|(r, e)| r.wall / e.wall).collect();
    let export = exports
        .into_iter()
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .expect("at least one round");
    Ok(Measured {
        export,
        dsize: run::best(runs),
        numbers,
        loaded: None,
        ratios,
    })
}

/// The daemon table, as Markdown (`daemon`: what answered, or why nothing did).
pub fn table(daemon: &Result<Daemon, String>, rows: &[DaemonRow]) -> String {
    let mut s = match daemon {
        Ok(d) => format!("\nThrough the Docker Engine API ({}):\n\n", d.about),
        Err(why) => format!("\nThrough the Docker Engine API: skipped, {why}.\n\n"),
    };
    s.push_str(
        "| image | paths | export bytes | export: first byte | export: all | dsize docker: wall (CPU) | dsize RSS (budget) | dsize − export | dsize ÷ export | per round: median (range) |\n",
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let m = match &r.outcome {
            Ok(m) => m,
            Err(why) => {
                s.push_str(&format!(
                    "| {} | {} | {why} | – | – | – | – | – | – | – |\n",
                    r.image, r.paths
                ));
                continue;
            }
        };
        let (e, d) = (&m.export, &m.dsize);
        let rss = d.rss_kb.map_or("–".into(), |k| {
            let b = k as f64 * 1024.0;
            let ok = if b <= run::budget(r.paths) { "ok" } else { "OVER" };
            format!("{:.0} MB ({:.0} MB {ok})", b / 1e6, run::budget(r.paths) / 1e6)
        });
        s.push_str(&format!(
            "| {} | {} | {:.0} MB | {:.2} s | {:.2} s | {:.2} s{} | {} | {:+.2} s | {:.2}× | {} |\n",
            r.image,
            r.paths,
            e.bytes as f64 / 1e6,
            e.first_byte,
            e.wall,
            d.wall,
            d.cpu.map_or(String::new(), |c| format!(" ({c:.2})")),
            rss,
            d.wall - e.wall,
            d.wall / e.wall,
            run::rounds_cell(&m.ratios)
        ));
    }
    for r in rows {
        if let Ok(Measured { loaded: Some(t), .. }) = &r.outcome {
            s.push_str(&format!("\n{} was loaded for this run in {t:.1} s.\n", r.tag));
        }
    }
    s
}
