//! Runs the real `dsize` binary on an input and checks what every hostile case must satisfy:
//! exit 0 with a JSON report, or exit 2 with exactly one escaped `dsize: …` line on stderr and
//! nothing on stdout; in both cases under 200 MB peak memory and 10 s, with nothing written to
//! the working directory or the temp directory but a requested JSON file.
//!
//! Memory: `ru_maxrss` of a child includes the test process's own memory at fork, so it is no
//! use here. The child's peak RSS is sampled from `/proc/PID/status` (`VmHWM`, which a new
//! program starts afresh), and `RLIMIT_DATA` caps its heap at the same 200 MB, so a spike between
//! two samples still fails the run (allocation failure aborts the child).

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const MAX_RSS_KB: u64 = 200 * 1000;
/// 10 s for the release binary (`cargo test --release --test hostile`); an unoptimised build
/// (plain `cargo test`) runs byte loops several times slower, so it gets 30 s.
pub const MAX_TIME: Duration = Duration::from_secs(if cfg!(debug_assertions) { 30 } else { 10 });
/// A hung child is killed after this, so a hang fails the test instead of blocking the run.
const WATCHDOG: Duration = Duration::from_secs(60);

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub max_rss_kb: u64,
    pub elapsed: Duration,
}

/// Writes a generated standard input.
pub type Feed = Box<dyn FnOnce(&mut dyn Write) + Send>;

/// Where the child's standard input comes from.
pub enum Stdin {
    Null,
    File(PathBuf),
    /// Written by a thread until done or until the child stops reading.
    Generated(Feed),
}

/// A scratch area: `input/` for test files, `cwd/` and `tmp/` handed to the child empty.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        for d in ["input", "cwd", "tmp"] {
            fs::create_dir(dir.path().join(d)).expect("scratch dirs");
        }
        Scratch { dir }
    }

    pub fn input(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join("input").join(name);
        fs::write(&p, bytes).expect("write input");
        p
    }

    pub fn cwd(&self) -> PathBuf {
        self.dir.path().join("cwd")
    }

    fn listing(&self, d: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.dir.path().join(d))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// Runs `dsize ARGS` in `scratch/cwd` with `TMPDIR=scratch/tmp`, measuring peak memory (wait4).
pub fn run_in(scratch: &Scratch, args: &[OsString], stdin: Stdin) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dsize"));
    cmd.args(args)
        .arg("--no-progress")
        .current_dir(scratch.cwd())
        .env("TMPDIR", scratch.dir.path().join("tmp"))
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut feeder = None;
    match stdin {
        Stdin::Null => {
            cmd.stdin(Stdio::null());
        }
        Stdin::File(p) => {
            cmd.stdin(fs::File::open(p).expect("stdin file"));
        }
        Stdin::Generated(f) => {
            cmd.stdin(Stdio::piped());
            feeder = Some(f);
        }
    }
    let start = Instant::now();
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let cap = MAX_RSS_KB * 1000;
            let lim = libc::rlimit {
                rlim_cur: cap,
                rlim_max: cap,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Reaped by wait4 below.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("spawn dsize");
    let pid = child.id() as libc::pid_t;
    let feeding = feeder.map(|f| {
        let mut input = child.stdin.take().expect("piped stdin");
        std::thread::spawn(move || f(&mut input))
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reading_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let reading_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        // Samples the peak RSS until the child exits; kills it if it hangs.
        let mut peak = 0;
        loop {
            // A zombie has no VmHWM line: the sample before it is the last one.
            if let Some(kb) = vm_hwm_kb(pid) {
                peak = peak.max(kb);
            }
            match done_rx.recv_timeout(Duration::from_millis(2)) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if start.elapsed() > WATCHDOG => {
                    // SAFETY: `pid` is our own child, not yet reaped (wait4 below reaps it).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return peak,
            }
        }
    });
    let mut status = 0;
    // SAFETY: plain syscall on our own child with a valid out-pointer. The child is not reaped
    // while the sampler may still read its /proc entry: it becomes a zombie first.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            std::ptr::null_mut(),
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(r, 0, "waitid failed");
    let elapsed = start.elapsed();
    let _ = done_tx.send(());
    let max_rss_kb = watchdog.join().expect("watchdog");
    // SAFETY: as above; this reaps the child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid failed");
    if let Some(f) = feeding {
        let _ = f.join();
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Outcome {
        code,
        stdout: reading_out.join().expect("stdout reader"),
        stderr: reading_err.join().expect("stderr reader"),
        max_rss_kb,
        elapsed,
    }
}

/// `VmHWM` of a live process, in kB.
fn vm_hwm_kb(pid: libc::pid_t) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Checks resources and the untouched disk; `json_file` is the one file allowed in `cwd/`.
pub fn check_resources(scratch: &Scratch, o: &Outcome, json_file: Option<&str>, what: &str) {
    assert!(
        o.max_rss_kb < MAX_RSS_KB,
        "{what}: peak memory {} kB (limit {MAX_RSS_KB} kB)",
        o.max_rss_kb
    );
    assert!(o.elapsed < MAX_TIME, "{what}: took {:?}", o.elapsed);
    let want: Vec<String> = json_file.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        scratch.listing("cwd"),
        want,
        "{what}: files written to the working directory"
    );
    assert!(
        scratch.listing("tmp").is_empty(),
        "{what}: files written to TMPDIR"
    );
}

/// The one stderr line of a failed run, after checking exit 2, empty stdout and escaping.
pub fn error_line(o: &Outcome, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.code, 2, "{what}: exit code (stderr: {err})");
    assert!(
        o.stdout.is_empty(),
        "{what}: stdout not empty: {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(err.starts_with("dsize: "), "{what}: {err:?}");
    assert!(
        err.ends_with('\n') && err.matches('\n').count() == 1,
        "{what}: not one line: {err:?}"
    );
    assert!(
        !o.stderr[..o.stderr.len() - 1]
            .iter()
            .any(|b| *b < 0x20 || *b == 0x7f),
        "{what}: control bytes on stderr: {err:?}"
    );
    err.trim_end().to_string()
}

/// The JSON report of a successful run (`--json -`).
pub fn json_report(o: &Outcome, what: &str) -> Value {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.code, 0, "{what}: exit code (stderr: {err})");
    assert!(o.stderr.is_empty(), "{what}: stderr: {err}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{what}: bad JSON: {e}"))
}

/// Success or the error message without its context (which names the input).
#[derive(Debug)]
pub enum Got {
    Report(Value),
    Error(String),
}

impl Got {
    pub fn report(self) -> Value {
        match self {
            Got::Report(v) => v,
            Got::Error(e) => panic!("expected a report, got error: {e}"),
        }
    }
    pub fn error(self) -> String {
        match self {
            Got::Error(e) => e,
            Got::Report(v) => panic!("expected an error, got a report: {v}"),
        }
    }
}

fn classify(scratch: &Scratch, o: &Outcome, ctx: &str, what: &str) -> Got {
    check_resources(scratch, o, None, what);
    if o.code == 0 {
        return Got::Report(json_report(o, what));
    }
    let line = error_line(o, what);
    eprintln!("{what}: {line}");
    let prefix = format!("dsize: {ctx}: ");
    let msg = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{what}: the error does not name {ctx:?} first: {line}"));
    Got::Error(msg.to_string())
}

/// Runs an archive as a file and as standard input; both readers must agree.
pub fn archive(bytes: &[u8], extra: &[&str]) -> Got {
    let scratch = Scratch::new();
    let path = scratch.input("image.tar", bytes);
    let mut args: Vec<OsString> = vec![path.clone().into(), "--json".into(), "-".into()];
    args.extend(extra.iter().map(OsString::from));
    let from_file = run_in(&scratch, &args, Stdin::Null);
    let file = classify(&scratch, &from_file, &path.display().to_string(), "file");
    args[0] = "-".into();
    let from_stdin = run_in(&scratch, &args, Stdin::File(path));
    let stream = classify(&scratch, &from_stdin, "standard input", "stdin");
    match (&file, &stream) {
        (Got::Report(a), Got::Report(b)) => {
            assert_eq!(a["image"]["storedBytes"], b["image"]["storedBytes"]);
            assert_eq!(a["image"]["sizeBytes"], b["image"]["sizeBytes"]);
            assert_eq!(a["waste"], b["waste"]);
            assert_eq!(a["notes"], b["notes"], "file and stream notes differ");
        }
        (Got::Error(a), Got::Error(b)) => assert_eq!(a, b, "file and stream errors differ"),
        _ => panic!("file and stream disagree: {file:?} vs {stream:?}"),
    }
    file
}

/// An image whose single layer is `layer` (docker save legacy shape).
pub fn layer(layer: &[u8]) -> Got {
    archive(&docker_archive(&[layer.to_vec()]), &[])
}

// ------------------------------------------------------------------------------- archives

pub fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// An outer tar with these members, in this order.
pub fn outer(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut t = crate::rawtar::Tar::new();
    for (name, body) in members {
        t = if name.ends_with('/') {
            t.dir(name)
        } else {
            t.entry(crate::rawtar::Hdr::file(name, body.len() as u64), body)
        };
    }
    t.finish()
}

/// A legacy `docker save` archive with one history step per layer.
pub fn docker_archive(layers: &[Vec<u8>]) -> Vec<u8> {
    let history: Vec<Value> = (0..layers.len())
        .map(|i| serde_json::json!({"created_by": format!("/bin/sh -c echo step{i}")}))
        .collect();
    docker_archive_with(layers, serde_json::json!(history))
}

/// A legacy `docker save` archive with the given history array.
pub fn docker_archive_with(layers: &[Vec<u8>], history: Value) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("sha256:{}", sha(l))).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .expect("json");
    let cfg_name = format!("{}.json", sha(&config));
    let names: Vec<String> = (0..layers.len()).map(|i| format!("l{i}/layer.tar")).collect();
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": cfg_name, "RepoTags": ["hostile:latest"], "Layers": names}
    ]))
    .expect("json");
    let mut members: Vec<(&str, &[u8])> = Vec::new();
    for (n, l) in names.iter().zip(layers) {
        members.push((n.as_str(), l.as_slice()));
    }
    members.push((cfg_name.as_str(), &config));
    members.push(("manifest.json", &manifest));
    outer(&members)
}

/// Numbers of a report: (stored, visible, wasted).
pub fn totals(v: &Value) -> (u64, u64, u64) {
    let i = &v["image"];
    let n = |k: &str| i[k].as_u64().unwrap_or_else(|| panic!("image.{k} in {i}"));
    let (s, vis, w) = (n("storedBytes"), n("sizeBytes"), n("wastedBytes"));
    assert_eq!(s, vis + w, "stored = visible + wasted");
    (s, vis, w)
}

/// The notes of a report, joined.
pub fn notes(v: &Value) -> String {
    v["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n.as_str().expect("note").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
