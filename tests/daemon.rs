//! The Engine API source, three ways:
//!
//! - against a REAL Docker daemon (`scripts/docker-up.sh`, base image from
//!   `scripts/base-image.sh`): images built here with the classic builder must analyse, through
//!   the daemon, exactly as their `docker save` file does, field by field, with the byte numbers
//!   the Dockerfiles imply; and real failures (dead socket, missing image, bad `DOCKER_HOST`,
//!   permission denied) give one line and exit 2;
//! - `--pull` against a REAL registry (Debian's `docker-registry`, started by the test): a
//!   missing image is an error that names `--pull`, and with it the daemon pulls the image and
//!   the report is the local image's; from a registry that wants a login, dsize uses the one a
//!   real `docker login` wrote, or a credential helper's (a script on PATH), and a missing login,
//!   a missing helper and a wrong password each give one line;
//! - against a second REAL dockerd listening with `--tlsverify` (certificates made with openssl,
//!   daemon started and stopped by the test): over TLS, by `DOCKER_HOST` and by a docker context,
//!   the report is the socket's; a wrong CA, a missing client certificate, a host the certificate
//!   does not name and plain HTTP to the TLS port each give one line;
//! - over ssh, through a REAL sshd (OpenSSH, keys made by the test) in front of the real daemon:
//!   by `DOCKER_HOST=ssh://…` and by a docker context the report is the socket's; a closed port,
//!   a key the server refuses and no `ssh` on PATH each give one line with ssh's own words;
//! - against REAL Podman (`podman system service`, started and stopped by the test; `.ci/run`
//!   installs Podman, and with `CI=true` a Podman that cannot serve or build fails the test);
//! - against a FAKE Engine API on a unix socket (a thread answering HTTP/1.1), which serves
//!   archives from the test kit in every shape and injects stalls, malformed answers, a stream
//!   cut mid-export and server errors: one clear line and exit 2, never a panic or a hang.
//!
//! Without a daemon, outside CI, each real-daemon test prints `skipped: <name>: no Docker daemon`
//! and passes; with `CI=true` a missing daemon fails. Images are built once per test binary.

use dsize::index::Progress;
use dsize::model::{Analysis, ImageMeta, LayerEntries};
use dsize::pipeline::{self, Options};
use dsize::report::json;
use dsize::source::{ImageRef, Sink, archive};
use dsize::testkit::{Image, Shape, image, layer};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dsize");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

// ------------------------------------------------------------------------------- helpers

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Says a test was skipped where `cargo test` shows it (print macros are captured).
fn skipped(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
}

/// A service a test starts for itself (a registry, a TLS daemon, Podman): with `CI=true` one
/// that cannot start fails the test; elsewhere the test says why it is skipped.
fn service<T>(test: &str, what: &str, started: Result<T, String>) -> Option<T> {
    match started {
        Ok(s) => Some(s),
        Err(why) if in_ci() => panic!("{test}: CI is set but {what}: {why}"),
        Err(why) => {
            skipped(test, &why);
            None
        }
    }
}

/// A local TCP port nothing listens on (when asked).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// Waits (30 s at most) until something accepts connections on a local port.
fn listening(what: &str, port: u16) -> Result<(), String> {
    wait_until(&format!("{what} did not listen"), 30, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

/// Waits up to `secs` for `ready`; the error is `not_yet` and how long it waited.
fn wait_until(not_yet: &str, secs: u64, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("{not_yet} within {secs}s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Runs a command, killing it after `secs`: no test may hang.
fn run(cmd: &mut Command, secs: u64) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        let late = rx.recv_timeout(Duration::from_secs(secs)).is_err();
        if late {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        late
    });
    let out = child.wait_with_output().expect("waiting for a child");
    let _ = tx.send(());
    assert!(!dog.join().unwrap(), "{cmd:?} did not finish within {secs}s");
    out
}

/// Runs a shell-free command and returns its stdout, or why it failed.
fn sh(cmd: &mut Command, secs: u64) -> Result<String, String> {
    let out = run(cmd, secs);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `dsize ARGS` with a clean daemon environment plus `env`.
fn dsize(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_TLS")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("CONTAINER_HOST");
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c, 120)
}

/// The JSON report a successful run printed (the run's stderr if it failed).
fn json_of(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The report's image format names the endpoint it was read from (`want`).
fn assert_names_endpoint(report: &Value, want: &str) {
    let format = report["image"]["format"].as_str().unwrap_or_default();
    assert!(
        format.contains(want),
        "the report names the endpoint {want}: {format}"
    );
}

/// The run failed with exit 2 and exactly one line on stderr, `dsize: …` containing `want`.
fn assert_one_line_error(out: &Output, want: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit status; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("dsize: "), "{err}");
    assert!(err.contains(want), "wanted {want:?} in: {err}");
    err
}

/// The JSON report minus what names the transport.
fn report_without_source(v: &mut Value) -> Value {
    let image = v["image"].as_object_mut().expect("image object");
    image.remove("name");
    image.remove("format");
    v.clone()
}

fn analysis_json(a: &Analysis) -> Value {
    serde_json::to_value(json::build(a, None)).unwrap()
}

fn analyse(r: &ImageRef) -> Result<Analysis, String> {
    pipeline::analyze(r, &Options::default(), &Progress::default(), &mut |_| {}).map_err(|e| e.to_string())
}

/// Asserts two reports agree on every field but the image's name and format; names the first
/// difference.
fn assert_same_report(mut daemon: Value, mut file: Value, what: &str) {
    let (d, f) = (
        report_without_source(&mut daemon),
        report_without_source(&mut file),
    );
    if d != f {
        for key in ["image", "layers", "waste", "leftovers", "notes"] {
            assert_eq!(
                d[key], f[key],
                "{what}: `{key}` differs between the daemon and the file"
            );
        }
        assert_eq!(d, f, "{what}: reports differ");
    }
}

fn layer_by_command<'a>(report: &'a Value, starts: &str) -> &'a Value {
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["command"].as_str().is_some_and(|c| c.starts_with(starts)))
        .unwrap_or_else(|| panic!("no step starting {starts:?} in {}", report["layers"]))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

// ---------------------------------------------------------------------- the real daemon

/// Images the tests build, once per test binary.
struct Built {
    _dir: tempfile::TempDir,
    /// tag -> `docker save` file
    saved: Vec<(String, PathBuf)>,
}

impl Built {
    fn saved(&self, tag: &str) -> &Path {
        &self.saved.iter().find(|(t, _)| t == tag).expect("built").1
    }
}

const LEFTOVERS: &str = "dsize-test-daemon-leftovers:t";
const CLEANUP: &str = "dsize-test-daemon-cleanup:t";
const V3: &str = "dsize-test-daemon-v3:t";

/// A RUN leaving apt lists (300,000 B) and a pip cache (200,000 B); ENV and WORKDIR; a COPY
/// (1,000 B) overwritten by another (1,500 B); a hard link (100,000 B counted once).
const DOCKERFILE_LEFTOVERS: &str = "FROM dsize-base:busybox
ENV APP_HOME=/app
WORKDIR /app
RUN mkdir -p /var/lib/apt/lists /root/.cache/pip/http && dd if=/dev/zero of=/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages bs=1000 count=300 && dd if=/dev/zero of=/root/.cache/pip/http/wheel.bin bs=1000 count=200
COPY app.txt /app/app.txt
COPY app2.txt /app/app.txt
RUN dd if=/dev/zero of=/app/data.bin bs=1000 count=100 && ln /app/data.bin /app/data-link.bin
";

/// A later RUN deleting files (the hard-linked pair) and a whole directory (the pip cache).
const DOCKERFILE_CLEANUP: &str = "FROM dsize-test-daemon-leftovers:t
RUN rm /app/data.bin /app/data-link.bin && rm -rf /root/.cache/pip
";

/// Multi-stage: only the 50,000-byte artefact reaches the final image.
const DOCKERFILE_V3: &str = "FROM dsize-base:busybox AS build
RUN mkdir -p /out && dd if=/dev/zero of=/out/app.bin bs=1000 count=50 && dd if=/dev/zero of=/out/junk.o bs=1000 count=400
FROM dsize-base:busybox
COPY --from=build /out/app.bin /app/app.bin
ENV MODE=prod
WORKDIR /app
CMD [\"sh\"]
";

fn write_context(dir: &Path) {
    std::fs::write(dir.join("app.txt"), vec![b'a'; 1000]).unwrap();
    std::fs::write(dir.join("app2.txt"), vec![b'b'; 1500]).unwrap();
}

fn docker_answers() -> Result<(), String> {
    sh(
        Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]),
        30,
    )
    .map(|_| ())
    .map_err(|e| e.lines().last().unwrap_or_default().to_string())
}

fn build_with_docker() -> Result<Built, String> {
    docker_answers()?;
    sh(
        Command::new("bash").arg(format!("{REPO}/scripts/base-image.sh")),
        300,
    )?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    write_context(dir.path());
    let mut saved = Vec::new();
    for (tag, file) in [
        (LEFTOVERS, DOCKERFILE_LEFTOVERS),
        (CLEANUP, DOCKERFILE_CLEANUP),
        (V3, DOCKERFILE_V3),
    ] {
        let df = dir
            .path()
            .join(format!("Dockerfile.{}", tag.replace([':', '/'], "_")));
        std::fs::write(&df, file).map_err(|e| e.to_string())?;
        let mut b = Command::new("docker");
        b.env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-f"])
            .arg(&df)
            .args(["-t", tag])
            .arg(dir.path());
        sh(&mut b, 600)?;
        let tar = dir.path().join(format!("{}.tar", tag.replace([':', '/'], "_")));
        sh(
            Command::new("docker").args(["save", "-o"]).arg(&tar).arg(tag),
            300,
        )?;
        saved.push((tag.to_string(), tar));
    }
    // `name` alone means `name:latest`.
    sh(
        Command::new("docker").args(["tag", V3, "dsize-test-daemon-v3:latest"]),
        60,
    )?;
    Ok(Built { _dir: dir, saved })
}

static DOCKER: OnceLock<Result<Built, String>> = OnceLock::new();

/// The built images, or `None` after saying why the test is skipped (outside CI only).
fn docker(test: &str) -> Option<&'static Built> {
    match DOCKER.get_or_init(build_with_docker) {
        Ok(b) => Some(b),
        Err(why) if in_ci() => panic!("{test}: CI is set but the Docker daemon tests cannot run: {why}"),
        Err(why) => {
            skipped(test, "no Docker daemon");
            let _ = writeln!(std::io::stderr(), "  ({why})");
            None
        }
    }
}

fn daemon_ref(name: &str) -> ImageRef {
    ImageRef::Daemon {
        name: name.into(),
        podman: false,
    }
}

#[test]
fn daemon_analysis_equals_docker_save_field_by_field() {
    let Some(built) = docker("daemon_analysis_equals_docker_save_field_by_field") else {
        return;
    };
    for tag in [LEFTOVERS, CLEANUP, V3] {
        let from_daemon = analyse(&daemon_ref(tag)).unwrap_or_else(|e| panic!("{tag}: {e}"));
        let from_file = analyse(&ImageRef::Archive(built.saved(tag).to_path_buf())).unwrap();
        assert!(
            from_daemon.meta.format.starts_with("Docker daemon ")
                && from_daemon.meta.format.contains("(API 1.")
                && from_daemon.meta.format.contains(", docker save"),
            "{tag}: the report says where the image came from: {}",
            from_daemon.meta.format
        );
        assert_eq!(from_daemon.meta.name, tag);
        assert_same_report(analysis_json(&from_daemon), analysis_json(&from_file), tag);
    }
}

#[test]
fn daemon_numbers_are_the_bytes_the_dockerfiles_wrote() {
    let Some(_) = docker("daemon_numbers_are_the_bytes_the_dockerfiles_wrote") else {
        return;
    };
    let report = |tag: &str| analysis_json(&analyse(&daemon_ref(tag)).unwrap());

    let r = report(LEFTOVERS);
    let img = &r["image"];
    // Above the base: 300,000 + 200,000 + 1,000 + 1,500 + 100,000 (the hard link adds nothing).
    assert_eq!(u(&img["userBytes"]), 602_500);
    assert_eq!(u(&img["wastedBytes"]), 1_000, "the overwritten COPY");
    assert_eq!(u(&img["userWastedBytes"]), 1_000);
    assert_eq!(u(&img["leftoverBytes"]), 500_000, "apt lists + pip cache");
    let base = u(&img["storedBytes"]) - 602_500;
    assert_eq!(u(&r["layers"][0]["sizeBytes"]), base, "the base is one layer");
    assert_eq!(u(&img["sizeBytes"]), base + 602_500 - 1_000);
    assert_eq!(
        u(&layer_by_command(&r, "RUN mkdir -p /var/lib/apt/lists")["sizeBytes"]),
        500_000
    );
    assert_eq!(
        u(&layer_by_command(&r, "RUN mkdir -p /var/lib/apt/lists")["leftoverBytes"]),
        500_000
    );
    assert_eq!(
        u(&layer_by_command(&r, "RUN dd if=/dev/zero of=/app/data.bin")["sizeBytes"]),
        100_000
    );
    assert!(
        layer_by_command(&r, "ENV APP_HOME=/app")["emptyLayer"]
            .as_bool()
            .unwrap()
    );
    assert_eq!(u(&layer_by_command(&r, "WORKDIR /app")["sizeBytes"]), 0);
    let copies: Vec<u64> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["command"].as_str().unwrap().starts_with("COPY "))
        .map(|l| u(&l["sizeBytes"]))
        .collect();
    assert_eq!(copies, [1_000, 1_500]);
    let waste = &r["waste"][0];
    assert_eq!(
        (waste["path"].as_str(), u(&waste["bytes"])),
        (Some("/app/app.txt"), 1_000)
    );
    assert_eq!(waste["cause"], "overwritten");

    let r = report(CLEANUP);
    let img = &r["image"];
    assert_eq!(u(&img["userBytes"]), 602_500, "deleting adds no bytes");
    assert_eq!(u(&img["wastedBytes"]), 1_000 + 100_000 + 200_000);
    assert_eq!(u(&img["sizeBytes"]), base + 602_500 - 301_000);
    assert_eq!(u(&img["leftoverBytes"]), 300_000, "the apt lists remain");
    let deleted: u64 = r["waste"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["cause"] == "deleted")
        .map(|w| u(&w["bytes"]))
        .sum();
    assert_eq!(
        deleted, 300_000,
        "the hard-linked file once, and the pip cache directory"
    );

    let r = report(V3);
    let img = &r["image"];
    assert_eq!(
        u(&img["userBytes"]),
        50_000,
        "only the artefact leaves the build stage"
    );
    assert_eq!(u(&img["storedBytes"]), base + 50_000);
    assert_eq!(u(&img["wastedBytes"]), 0);
    assert_eq!(u(&img["leftoverBytes"]), 0);
}

#[test]
fn daemon_reference_forms() {
    let Some(built) = docker("daemon_reference_forms") else {
        return;
    };
    let file = analysis_json(&analyse(&ImageRef::Archive(built.saved(V3).to_path_buf())).unwrap());
    let id = sh(
        Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", V3]),
        30,
    )
    .unwrap()
    .trim()
    .to_string();
    let hex = id.strip_prefix("sha256:").unwrap();
    let untagged = |mut v: Value| {
        v["image"]["repoTags"] = Value::Null;
        v
    };
    // `name` means `name:latest`; `docker save` of that tag has that tag.
    let latest = analysis_json(&analyse(&daemon_ref("dsize-test-daemon-v3")).unwrap());
    assert_eq!(
        latest["image"]["repoTags"],
        serde_json::json!(["dsize-test-daemon-v3:latest"])
    );
    assert_same_report(untagged(latest), untagged(file.clone()), "name without tag");
    for r in [
        &hex[..12],
        hex,
        id.as_str(),
        &format!("docker:{V3}"),
        &format!("docker-daemon:{V3}"),
    ] {
        let image = ImageRef::parse(r);
        let a = analyse(&image).unwrap_or_else(|e| panic!("{r}: {e}"));
        assert_same_report(untagged(analysis_json(&a)), untagged(file.clone()), r);
    }
}

#[test]
fn daemon_cli_gate_and_json() {
    let Some(_) = docker("daemon_cli_gate_and_json") else {
        return;
    };
    let out = dsize(&[CLEANUP, "--ci", "--max-waste", "100kB"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
    let out = dsize(&[V3, "--ci", "--max-waste", "100kB", "--json", "-"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["image"]["name"], V3);
    assert_eq!(u(&v["image"]["userBytes"]), 50_000);
    // Not a terminal: nothing but the report (which goes to stderr with --json -), no progress.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("reading…") && !err.contains('\r'), "{err}");
}

#[test]
fn daemon_missing_image_is_one_line() {
    let Some(_) = docker("daemon_missing_image_is_one_line") else {
        return;
    };
    let out = dsize(&["dsize-test-daemon-missing:nope"], &[]);
    let err = assert_one_line_error(&out, "no such image in the Docker daemon");
    assert!(
        err.contains("`docker image ls`") && err.contains("pulls only when asked: add --pull"),
        "{err}"
    );
    let out = dsize(
        &["dsize-test-daemon-v3@sha256:0000000000000000000000000000000000000000000000000000000000000000"],
        &[],
    );
    assert_one_line_error(&out, "no such image");
}

#[test]
fn daemon_platform_mismatch_on_an_old_api_is_reported() {
    let Some(_) = docker("daemon_platform_mismatch_on_an_old_api_is_reported") else {
        return;
    };
    let api = sh(
        Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]),
        30,
    )
    .unwrap();
    let other = if cfg!(target_arch = "x86_64") {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let out = dsize(&[V3, "--platform", other], &[]);
    let minor: u32 = api
        .trim()
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if minor < 48 {
        assert_one_line_error(&out, "exporting another platform needs API 1.48");
    } else {
        // A newer daemon is asked for that platform; a single-platform store has none.
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn daemon_permission_denied_is_one_line() {
    let Some(_) = docker("daemon_permission_denied_is_one_line") else {
        return;
    };
    // Root passes every permission check: drop to `nobody` when we are root.
    let root = sh(Command::new("id").arg("-u"), 10).is_ok_and(|u| u.trim() == "0");
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    if !root || Command::new("setpriv").arg("--version").output().is_err() {
        skipped(
            "daemon_permission_denied_is_one_line",
            "needs root and setpriv to act as another user",
        );
        return;
    }
    let world = std::fs::metadata(&socket)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o006 == 0o006);
    if world.unwrap_or(true) {
        skipped(
            "daemon_permission_denied_is_one_line",
            "the socket is open to everyone",
        );
        return;
    }
    let out = run(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, V3])
            .env("DOCKER_HOST", format!("unix://{socket}")),
        60,
    );
    let err = assert_one_line_error(&out, &format!("permission denied on unix://{socket}"));
    assert!(err.contains("docker group"), "{err}");
}

// ---------------------------------------------------- failures that need no daemon at all

#[test]
fn stopped_daemon_socket_is_one_line() {
    // A socket file nobody listens on: what a stopped daemon leaves behind.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    drop(UnixListener::bind(&sock).unwrap());
    let host = format!("unix://{}", sock.display());
    let out = dsize(&["my-app:v3"], &[("DOCKER_HOST", &host)]);
    let err = assert_one_line_error(
        &out,
        &format!("no Docker daemon reachable at {host} (DOCKER_HOST): connection refused"),
    );
    assert!(err.contains("start the daemon or point DOCKER_HOST"), "{err}");
    let gone = format!("unix://{}", dir.path().join("none.sock").display());
    let out = dsize(&["my-app:v3"], &[("DOCKER_HOST", &gone)]);
    assert_one_line_error(&out, &format!("{gone} (DOCKER_HOST): no such socket"));
    // A TCP port with nothing behind it.
    let port = free_port();
    let out = dsize(
        &["my-app:v3"],
        &[("DOCKER_HOST", &format!("tcp://127.0.0.1:{port}"))],
    );
    assert_one_line_error(&out, "connection refused");
}

#[test]
fn bad_docker_host_is_one_line() {
    for (host, want) in [
        (
            "tcp//localhost:2375",
            "is not a daemon address; use unix:///path/to/docker.sock or tcp://HOST:PORT",
        ),
        ("unix://", "names no socket"),
        (
            "ssh://me@build/x",
            "an ssh:// host takes no path; write ssh://[USER@]HOST[:PORT]",
        ),
        (
            "npipe:////./pipe/docker_engine",
            "npipe:// endpoints are not supported",
        ),
    ] {
        let out = dsize(&["my-app:v3"], &[("DOCKER_HOST", host)]);
        assert_one_line_error(&out, want);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dsize(
        &["my-app:v3"],
        &[
            ("DOCKER_HOST", ""), // empty is unset, as for the docker CLI
            ("DOCKER_CONTEXT", "nowhere"),
            ("DOCKER_CONFIG", dir.path().to_str().unwrap()),
        ],
    );
    assert_one_line_error(&out, "docker context \"nowhere\" (DOCKER_CONTEXT) does not exist");
}

// ------------------------------------------------------------------- the fake Engine API

/// How the fake answers one route.
#[derive(Clone)]
enum Reply {
    /// 200 with a JSON body.
    Json(String),
    /// An error status with Docker's `{"message": …}` body.
    Status(u16, String),
    /// 200 with a body that is not what the route returns.
    Body(String),
    /// Reads the request and never answers.
    Stall,
    /// Not HTTP at all.
    Garbage,
    /// A chunked `application/x-tar` body, cut (connection closed) after `cut` bytes if given.
    Export { tar: Arc<Vec<u8>>, cut: Option<usize> },
}

/// Route key (a part of the request path) and its reply, first match wins.
type Routes = Vec<(&'static str, Reply)>;

/// A fake Engine API on a unix socket; the first route whose key the request path contains
/// answers. Requests are recorded.
struct Fake {
    dir: tempfile::TempDir,
    sock: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn start(routes: Routes) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        listener.set_nonblocking(true).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (Arc::clone(&seen), Arc::clone(&stop));
        let routes = Arc::new(routes);
        std::thread::spawn(move || {
            while !st2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (routes, seen, stop) = (Arc::clone(&routes), Arc::clone(&s2), Arc::clone(&st2));
                        std::thread::spawn(move || serve(conn, &routes, &seen, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Fake {
            dir,
            sock,
            seen,
            stop,
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// `dsize ARGS` against this fake (HOME elsewhere: no user context can interfere).
    fn dsize(&self, args: &[&str], timeout: &str) -> Output {
        let home = self.dir.path().to_str().unwrap();
        dsize(
            args,
            &[
                ("DOCKER_HOST", &self.host()),
                ("HOME", home),
                ("DSIZE_API_TIMEOUT", timeout),
            ],
        )
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(conn: UnixStream, routes: &[(&'static str, Reply)], seen: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let mut r = BufReader::new(conn);
    let mut request = String::new();
    if r.read_line(&mut request).is_err() {
        return;
    }
    let mut line = String::new();
    while r.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or_default().to_string();
    seen.lock().unwrap().push(path.clone());
    let reply = routes
        .iter()
        .find(|(k, _)| path.contains(k))
        .map_or(Reply::Status(404, format!("page not found: {path}")), |(_, r)| {
            r.clone()
        });
    let mut w = r.into_inner();
    let head = |status: u16, ctype: &str, len: Option<usize>| {
        let length = len.map_or("Transfer-Encoding: chunked".to_string(), |n| {
            format!("Content-Length: {n}")
        });
        format!("HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n{length}\r\nConnection: close\r\n\r\n")
    };
    let _ = match reply {
        Reply::Json(body) | Reply::Body(body) => {
            w.write_all(format!("{}{body}", head(200, "application/json", Some(body.len()))).as_bytes())
        }
        Reply::Status(code, msg) => {
            let body = serde_json::json!({ "message": msg }).to_string();
            w.write_all(format!("{}{body}", head(code, "application/json", Some(body.len()))).as_bytes())
        }
        Reply::Stall => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        Reply::Garbage => w.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n"),
        Reply::Export { tar, cut } => (|| {
            w.write_all(head(200, "application/x-tar", None).as_bytes())?;
            let end = cut.unwrap_or(tar.len()).min(tar.len());
            for chunk in tar[..end].chunks(32 << 10) {
                w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                w.write_all(chunk)?;
                w.write_all(b"\r\n")?;
            }
            if cut.is_none() {
                w.write_all(b"0\r\n\r\n")?;
            }
            w.flush()
        })(),
    };
}

/// What the fake serves: a small image with a base, an ENV step, a RUN leaving caches and a
/// RUN deleting one.
fn fake_image() -> Image {
    image()
        .step(
            "/bin/sh -c #(nop) ADD file:0123456789abcdef in / ",
            layer().file("bin/busybox", 100_000).file("etc/passwd", 30),
        )
        .empty_step("/bin/sh -c #(nop)  ENV A=1")
        .step(
            "/bin/sh -c apt-get update && pip install x",
            layer()
                .file("var/lib/apt/lists/main_Packages", 50_000)
                .file("root/.cache/pip/x.whl", 9_000)
                .file("app/data.bin", 2_000)
                .hardlink("app/data-link.bin", "app/data.bin"),
        )
        .step("/bin/sh -c rm -rf /root/.cache", layer().whiteout("root/.cache"))
        .empty_step("/bin/sh -c #(nop)  CMD [\"sh\"]")
        .repo_tag("fake:1")
}

/// What the archive itself says (meta and layer sizes), read by dsize's own parser.
fn archive_facts(tar: &[u8]) -> (ImageMeta, Vec<u64>) {
    struct Facts(Option<ImageMeta>, Vec<(usize, u64)>);
    impl Sink for Facts {
        fn meta(&mut self, meta: &ImageMeta) {
            self.0 = Some(meta.clone());
        }
        fn layer(&mut self, d: usize, e: LayerEntries, _: Option<u64>) {
            self.1.push((d, e.regular_bytes));
        }
    }
    let mut f = Facts(None, Vec::new());
    archive::read_stream(
        "fake",
        &mut std::io::Cursor::new(tar),
        &Default::default(),
        &Progress::default(),
        &mut f,
    )
    .unwrap();
    f.1.sort();
    (f.0.unwrap(), f.1.into_iter().map(|(_, b)| b).collect())
}

/// `/version`, `/images/{name}/json` and `/images/{id}/history` bodies for an archive.
fn api_answers(tar: &[u8], api: &str) -> (String, String, String) {
    let (meta, sizes) = archive_facts(tar);
    let version = serde_json::json!({
        "Version": "99.0.0-fake", "ApiVersion": api, "MinAPIVersion": "1.12",
        "Os": "linux", "Arch": "amd64",
        "Components": [{"Name": "Engine", "Version": "99.0.0-fake"}]
    });
    let (os, arch) = meta.platform.as_deref().and_then(|p| p.split_once('/')).unwrap();
    let inspect = serde_json::json!({
        "Id": meta.config_digest, "RepoTags": ["fake:1"], "Os": os, "Architecture": arch,
        "RootFS": {"Type": "layers", "Layers": meta.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()}
    });
    let mut sizes = sizes.into_iter();
    let mut history: Vec<Value> = meta
        .history
        .iter()
        .map(|h| {
            let size = if h.empty_layer { 0 } else { sizes.next().unwrap_or(0) };
            serde_json::json!({"Id": "<missing>", "Created": 0, "CreatedBy": h.created_by, "Tags": null, "Size": size, "Comment": ""})
        })
        .collect();
    history.reverse();
    (
        version.to_string(),
        inspect.to_string(),
        Value::Array(history).to_string(),
    )
}

/// Routes of a healthy fake daemon serving `tar`.
fn healthy(tar: &[u8], api: &str) -> Routes {
    let (version, inspect, history) = api_answers(tar, api);
    vec![
        ("/version", Reply::Json(version)),
        ("/history", Reply::Json(history)),
        ("/json", Reply::Json(inspect)),
        (
            "/get",
            Reply::Export {
                tar: Arc::new(tar.to_vec()),
                cut: None,
            },
        ),
    ]
}

/// Replaces one route of a healthy daemon.
fn with(
    mut routes: Vec<(&'static str, Reply)>,
    key: &'static str,
    reply: Reply,
) -> Vec<(&'static str, Reply)> {
    for r in &mut routes {
        if r.0 == key {
            r.1 = reply.clone();
        }
    }
    routes
}

#[test]
fn fake_daemon_export_reads_like_the_file_in_every_shape() {
    let dir = tempfile::tempdir().unwrap();
    for shape in [Shape::DockerLegacy, Shape::Docker25, Shape::Containerd] {
        let tar = fake_image().archive(shape);
        let file = dir.path().join("fake.tar");
        std::fs::write(&file, &tar).unwrap();
        let fake = Fake::start(healthy(&tar, "1.41"));
        let daemon = json_of(&fake.dsize(&["fake:1", "--json", "-"], "10"));
        let from_file = json_of(&dsize(&[file.to_str().unwrap(), "--json", "-"], &[]));
        let format = daemon["image"]["format"].as_str().unwrap();
        assert!(
            format.starts_with(&format!(
                "Docker daemon 99.0.0-fake (API 1.41) at {}, ",
                fake.host()
            )),
            "{shape:?}: {format}"
        );
        assert_same_report(daemon.clone(), from_file, &format!("{shape:?}"));
        assert_eq!(u(&daemon["image"]["userBytes"]), 61_000, "{shape:?}");
        assert_eq!(u(&daemon["image"]["wastedBytes"]), 9_000, "{shape:?}");
        let seen = fake.seen();
        assert!(seen.iter().any(|p| p.ends_with("/images/fake:1/get")), "{seen:?}");
        assert!(!seen.iter().any(|p| p.contains("platform=")), "{seen:?}");
    }
}

#[test]
fn fake_daemon_platform_is_passed_from_api_1_48() {
    let arm = fake_image()
        .platform("linux", "arm64", None)
        .archive(Shape::Docker25);
    let amd = fake_image().archive(Shape::Docker25);
    // Inspect describes the host's amd64 image; the export returns what `platform` asked for.
    let (version, inspect, history) = api_answers(&amd, "1.48");
    let fake = Fake::start(vec![
        ("/version", Reply::Json(version.clone())),
        ("/history", Reply::Json(history.clone())),
        ("/json", Reply::Json(inspect.clone())),
        (
            "/get?platform=%7B%22architecture%22%3A%22arm64%22%2C%22os%22%3A%22linux%22%7D",
            Reply::Export {
                tar: Arc::new(arm),
                cut: None,
            },
        ),
    ]);
    let v = json_of(&fake.dsize(&["fake:1", "--platform", "linux/arm64", "--json", "-"], "10"));
    assert_eq!(v["image"]["platform"], "linux/arm64");
    // The same request to a daemon that speaks 1.41: refused before any export.
    let old = Fake::start(with(
        healthy(&amd, "1.41"),
        "/version",
        Reply::Json(version.replace("1.48", "1.41")),
    ));
    let out = old.dsize(&["fake:1", "--platform", "linux/arm64"], "10");
    let err = assert_one_line_error(
        &out,
        "holds this image for linux/amd64, not the requested linux/arm64",
    );
    assert!(
        err.contains("needs API 1.48 and this daemon speaks 1.41"),
        "{err}"
    );
    assert!(!old.seen().iter().any(|p| p.contains("/get")), "{:?}", old.seen());
}

#[test]
fn fake_daemon_failures_are_one_line_and_never_hang() {
    let tar = fake_image().archive(Shape::DockerLegacy);
    let t0 = Instant::now();
    // (what, the route that misbehaves, how, what the one line must say)
    let cut = |cut| Reply::Export {
        tar: Arc::new(tar.clone()),
        cut,
    };
    let other = image().step("x", layer().file("x", 1)).repo_tag("fake:1");
    let cases: Vec<(&str, &'static str, Reply, &str)> = vec![
        (
            "stalls on /version",
            "/version",
            Reply::Stall,
            "accepted the connection but did not answer within 1s",
        ),
        (
            "stalls on inspect",
            "/json",
            Reply::Stall,
            "did not answer the image inspect within 1s",
        ),
        (
            "stalls on history",
            "/history",
            Reply::Stall,
            "did not answer the image history within 1s",
        ),
        (
            "not HTTP",
            "/version",
            Reply::Garbage,
            "gave an answer dsize cannot use",
        ),
        (
            "malformed inspect",
            "/json",
            Reply::Body("{\"Id\": 5, \"RootFS\": ".into()),
            "gave a malformed answer to the image inspect: malformed JSON",
        ),
        (
            "HTML instead of JSON",
            "/json",
            Reply::Body("<html>proxy error</html>".into()),
            "gave a malformed answer to the image inspect",
        ),
        (
            "missing image",
            "/json",
            Reply::Status(404, "No such image: fake:1".into()),
            "no such image in the Docker daemon at unix://",
        ),
        (
            "export refused",
            "/get",
            Reply::Status(500, "write /var/lib/docker/tmp/x: no space left on device".into()),
            "the daemon refused the export: HTTP 500: write /var/lib/docker/tmp/x: no space left on device (the export from unix://",
        ),
        (
            "stream cut mid-export",
            "/get",
            cut(Some(tar.len() / 2)),
            "the daemon closed the export stream mid-way",
        ),
        (
            "export is not an image",
            "/get",
            Reply::Export {
                tar: Arc::new(b"this is not a tar archive at all".repeat(40)),
                cut: None,
            },
            "(export from unix://",
        ),
        (
            "tag moved between inspect and export",
            "/get",
            Reply::Export {
                tar: Arc::new(other.archive(Shape::DockerLegacy)),
                cut: None,
            },
            "layer(s) are not the 3 the daemon reported on inspect",
        ),
    ];
    for (what, route, reply, want) in cases {
        let fake = Fake::start(with(healthy(&tar, "1.41"), route, reply));
        let started = Instant::now();
        let out = fake.dsize(&["fake:1"], "1");
        let err = assert_one_line_error(&out, want);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: took {:?}",
            started.elapsed()
        );
        if what == "stream cut mid-export" {
            assert!(
                err.contains("(after ") && err.contains("of the export from unix://"),
                "{err}"
            );
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(90));
}

#[test]
fn fake_daemon_socket_absent_or_forbidden() {
    let fake = Fake::start(healthy(&fake_image().archive(Shape::DockerLegacy), "1.41"));
    let gone = format!("unix://{}", fake.dir.path().join("nothing.sock").display());
    let out = dsize(&["fake:1"], &[("DOCKER_HOST", &gone)]);
    assert_one_line_error(&out, "no such socket; start the daemon or point DOCKER_HOST");
    // Permission denied: root passes every check, so act as `nobody` (the socket's directory
    // is private to its owner).
    let root = sh(Command::new("id").arg("-u"), 10).is_ok_and(|u| u.trim() == "0");
    let out = if root {
        if Command::new("setpriv").arg("--version").output().is_err() {
            skipped(
                "fake_daemon_socket_absent_or_forbidden",
                "permission part needs setpriv as root",
            );
            return;
        }
        run(
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "fake:1"])
                .env("DOCKER_HOST", fake.host()),
            60,
        )
    } else {
        std::fs::set_permissions(&fake.sock, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
        fake.dsize(&["fake:1"], "5")
    };
    assert_one_line_error(&out, &format!("permission denied on {}", fake.host()));
}

// --------------------------------------------------------------------------------- --pull

/// A service a test started on a free local port, with its files in a temp dir; stopped when
/// dropped.
struct Served {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// Starts `cmd` (quiet) and waits until it listens on `port`.
fn start_served(cmd: &mut Command, what: &str, port: u16, dir: tempfile::TempDir) -> Result<Served, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let served = Served { child, port, dir };
    listening(what, port)?;
    Ok(served)
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real registry (Debian's `docker-registry`, the distribution project's) on a free local port,
/// storing in a temp dir; stopped when dropped. The daemon pushes to and pulls from 127.0.0.1
/// over plain HTTP, which it allows for loopback registries. `htpasswd`: a line
/// `user:bcrypt-hash`; the registry then wants that login for everything.
fn start_registry(htpasswd: Option<&str>) -> Result<Served, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port();
    let config = dir.path().join("config.yml");
    let mut yml = format!(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.path().join("data").display()
    );
    if let Some(line) = htpasswd {
        let file = dir.path().join("htpasswd");
        std::fs::write(&file, format!("{line}\n")).map_err(|e| e.to_string())?;
        yml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: dsize-test\n    path: {}\n",
            file.display()
        ));
    }
    std::fs::write(&config, yml).map_err(|e| e.to_string())?;
    start_served(
        Command::new("docker-registry").arg("serve").arg(&config),
        "docker-registry (Debian: apt-get install docker-registry)",
        port,
        dir,
    )
}

#[test]
fn daemon_pull_fetches_a_missing_image_only_when_asked() {
    const TEST: &str = "daemon_pull_fetches_a_missing_image_only_when_asked";
    let Some(_) = docker(TEST) else {
        return;
    };
    let Some(registry) = service(TEST, "no registry can run", start_registry(None)) else {
        return;
    };
    let remote = format!("127.0.0.1:{}/dsize-test-pull", registry.port);
    let tagged = format!("{remote}:t");
    push_and_untag(&tagged, &[]);
    let out = dsize(&[&tagged, "--report"], &[]);
    assert_one_line_error(&out, "dsize pulls only when asked: add --pull");
    assert_pulls_v3(&tagged, &[], "pulled against the local image");

    // A name without a tag pulls `:latest`, which this registry does not have.
    let out = dsize(&[&remote, "--pull", "--report"], &[]);
    let err = assert_one_line_error(&out, &format!("could not pull {remote}:latest"));
    assert!(err.contains("not found") || err.contains("unknown"), "{err}");
}

/// Pushes V3 as `tagged` (docker run with `env`), then untags it: the daemon no longer has that
/// name (its layers stay, as V3 keeps them).
fn push_and_untag(tagged: &str, env: &[(&str, &str)]) {
    for args in [vec!["tag", V3, tagged], vec!["push", tagged], vec!["rmi", tagged]] {
        sh(Command::new("docker").args(&args).envs(env.iter().copied()), 300).unwrap();
    }
}

/// `dsize TAGGED --pull` (run with `env`) succeeds, leaves the image under its name (untagged
/// again here), and its report is V3's, tags aside.
fn assert_pulls_v3(tagged: &str, env: &[(&str, &str)], what: &str) {
    let pulled = dsize(&[tagged, "--pull", "--json", "-"], env);
    let cleanup = sh(Command::new("docker").args(["rmi", tagged]), 120);
    assert!(
        pulled.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    cleanup.expect("the pull left the image under its name");
    let on_daemon = dsize(&[V3, "--json", "-"], &[]);
    // The same image under another name: every number agrees, the tags are the names.
    let json = |o: &Output, tag: &str| -> Value {
        let mut v = json_of(o);
        let tags = v["image"].as_object_mut().unwrap().remove("repoTags");
        assert_eq!(tags, Some(serde_json::json!([tag])));
        v
    };
    assert_same_report(json(&pulled, tagged), json(&on_daemon, V3), what);
}

/// bcrypt (cost 4) of `dsize-secret`, as `htpasswd -B` writes it: the registry's login below.
const REGISTRY_LOGIN: &str = "dsize:$2b$04$AIgOI0sisZ2A/S7aiTwpH.0Po.EYFOcT9II2NkHe9FXRvmHfnnwdS";

#[test]
fn daemon_pull_logs_in_as_the_docker_cli_would() {
    const TEST: &str = "daemon_pull_logs_in_as_the_docker_cli_would";
    let Some(_) = docker(TEST) else {
        return;
    };
    let Some(registry) = service(TEST, "no registry can run", start_registry(Some(REGISTRY_LOGIN))) else {
        return;
    };
    let host = format!("127.0.0.1:{}", registry.port);
    let tagged = format!("{host}/dsize-test-login:t");
    let dirs = tempfile::tempdir().unwrap();
    let config = |name: &str| -> String {
        let d = dirs.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d.to_str().unwrap().to_string()
    };
    // A real `docker login` writes the file dsize reads (no helper here: `auths`, in base64).
    let logged_in = config("logged-in");
    let mut login = Command::new("docker")
        .args([
            "--config",
            &logged_in,
            "login",
            &host,
            "-u",
            "dsize",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    login.stdin.take().unwrap().write_all(b"dsize-secret").unwrap();
    let out = login.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    push_and_untag(&tagged, &[("DOCKER_CONFIG", &logged_in)]);

    // No login: the registry refuses, and the message says how to make one.
    let none = config("none");
    let out = dsize(&[&tagged, "--pull", "--report"], &[("DOCKER_CONFIG", &none)]);
    let err = assert_one_line_error(
        &out,
        &format!("(dsize found no login for {host}; `docker login {host}` makes one dsize uses)"),
    );
    assert!(
        err.contains("no basic auth credentials") || err.contains("unauthorized"),
        "{err}"
    );

    // The CLI's login: pulled, and the same image.
    assert_pulls_v3(
        &tagged,
        &[("DOCKER_CONFIG", &logged_in)],
        "pulled with docker login's file",
    );

    // A credential helper named for the registry, asked as the CLI asks (the host on stdin).
    let helped = config("helped");
    let bin = config("bin");
    let asked = dirs.path().join("asked");
    let helper = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread -r server\necho \"$server\" > {}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"dsize\",\"Secret\":\"dsize-secret\"}}' \"$server\"\n",
        asked.display()
    );
    let script = Path::new(&bin).join("docker-credential-dsizetest");
    write_script(&script, &helper).unwrap();
    std::fs::write(
        Path::new(&helped).join("config.json"),
        format!(r#"{{"credsStore": "nosuch", "credHelpers": {{"{host}": "dsizetest"}}}}"#),
    )
    .unwrap();
    let path = path_with(Path::new(&bin));
    let env = [("DOCKER_CONFIG", helped.as_str()), ("PATH", path.as_str())];
    assert_pulls_v3(&tagged, &env, "pulled with a credential helper's login");
    assert_eq!(std::fs::read_to_string(&asked).unwrap().trim(), host);

    // The store named for every other registry is not installed: one line naming it.
    std::fs::write(
        Path::new(&helped).join("config.json"),
        r#"{"credsStore": "nosuch"}"#,
    )
    .unwrap();
    let out = dsize(&[&tagged, "--pull", "--report"], &env);
    assert_one_line_error(
        &out,
        &format!(
            "the credentials for {host}: docker-credential-nosuch is not installed (not found in PATH) (named by credsStore in {helped}/config.json)"
        ),
    );

    // A wrong password: the registry's refusal, and where the login came from.
    let wrong = config("wrong");
    std::fs::write(
        Path::new(&wrong).join("config.json"),
        format!(r#"{{"auths": {{"http://{host}/v2/": {{"username": "dsize", "password": "not-the-secret-7f3a"}}}}}}"#),
    )
    .unwrap();
    let out = dsize(&[&tagged, "--pull", "--report"], &[("DOCKER_CONFIG", &wrong)]);
    let err = assert_one_line_error(
        &out,
        &format!("(the login used came from auths in {wrong}/config.json)"),
    );
    assert!(err.contains("unauthorized"), "{err}");
    assert!(!err.contains("not-the-secret-7f3a"), "{err}");
}

// ---------------------------------------------------------------------------------- ssh

impl Served {
    fn bin(&self, key: &str) -> PathBuf {
        self.dir.path().join(format!("bin-{key}"))
    }

    /// `PATH` with the `ssh` that logs in with `key` first.
    fn path(&self, key: &str) -> String {
        path_with(&self.bin(key))
    }
}

/// This process's `PATH` with `dir` first.
fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// Writes an executable shell script.
fn write_script(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
}

/// The first `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A real sshd (OpenSSH, Debian's `openssh-server`) on a free local port with keys of its own,
/// all in a temp dir; stopped when dropped. `bin-KEY` holds an `ssh` that runs the real one with
/// this test's client configuration (that key, no known-hosts file), put first on dsize's PATH
/// as a user's `~/.ssh/config` would be read.
fn start_sshd() -> Result<Served, String> {
    let sshd = Path::new("/usr/sbin/sshd");
    let ssh = on_path("ssh").ok_or("no ssh client (Debian: apt-get install openssh-client)")?;
    if !sshd.is_file() {
        return Err("no /usr/sbin/sshd (Debian: apt-get install openssh-server)".into());
    }
    if sh(Command::new("id").arg("-u"), 10)?.trim() != "0" {
        return Err("sshd logs users in only when it runs as root".into());
    }
    // sshd's privilege separation directory, which its service unit makes at boot.
    std::fs::create_dir_all("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    for key in ["host", "client", "stranger"] {
        sh(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key)),
            30,
        )?;
    }
    std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).map_err(|e| e.to_string())?;
    let port = free_port();
    let config = d.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {h}\nAuthorizedKeysFile {a}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\nPidFile {p}\n",
            h = d.join("host").display(),
            a = d.join("authorized_keys").display(),
            p = d.join("sshd.pid").display(),
        ),
    )
    .map_err(|e| e.to_string())?;
    for key in ["client", "stranger"] {
        let client = d.join(format!("ssh_config-{key}"));
        std::fs::write(
            &client,
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  LogLevel ERROR\n",
                d.join(key).display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let bin = d.join(format!("bin-{key}"));
        std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        let wrapper = format!(
            "#!/bin/sh\nexec {} -F {} \"$@\"\n",
            ssh.display(),
            client.display()
        );
        write_script(&bin.join("ssh"), &wrapper).map_err(|e| e.to_string())?;
    }
    start_served(
        Command::new(sshd).args(["-D", "-e", "-f"]).arg(&config),
        "sshd",
        port,
        dir,
    )
}

#[test]
fn daemon_over_ssh_reads_what_the_socket_reads() {
    const TEST: &str = "daemon_over_ssh_reads_what_the_socket_reads";
    let Some(_) = docker(TEST) else {
        return;
    };
    let Some(sshd) = service(TEST, "no sshd can run", start_sshd()) else {
        return;
    };
    let host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let path = sshd.path("client");
    // The sshd runs on this machine, so the daemon behind it is the one the socket reaches.
    let over_ssh = json_of(&dsize(
        &[V3, "--json", "-"],
        &[("DOCKER_HOST", &host), ("PATH", &path)],
    ));
    assert_names_endpoint(&over_ssh, &format!("at {host},"));
    let on_socket = json_of(&dsize(&[V3, "--json", "-"], &[]));
    assert_same_report(over_ssh.clone(), on_socket, "ssh against the socket");
    // The same endpoint as a docker context made by the docker CLI.
    let config = sshd.dir.path().join("config");
    sh(
        Command::new("docker").env("DOCKER_CONFIG", &config).args([
            "context",
            "create",
            "ssh-test",
            "--docker",
            &format!("host={host}"),
        ]),
        60,
    )
    .unwrap();
    let config = config.display().to_string();
    let by_context = json_of(&dsize(
        &[V3, "--json", "-"],
        &[
            ("DOCKER_CONFIG", &config),
            ("DOCKER_CONTEXT", "ssh-test"),
            ("PATH", &path),
        ],
    ));
    assert_eq!(by_context, over_ssh, "the context reads as DOCKER_HOST does");

    // What goes wrong: ssh's own words, and the command that must work.
    let hint = |h: &str| format!("`ssh -p {} root@127.0.0.1 docker system dial-stdio` must work", h);
    let closed = free_port();
    let out = dsize(
        &[V3, "--report"],
        &[
            ("DOCKER_HOST", &format!("ssh://root@127.0.0.1:{closed}")),
            ("PATH", &path),
        ],
    );
    let err = assert_one_line_error(&out, &format!("port {closed}: Connection refused"));
    assert!(err.contains(&hint(&closed.to_string())), "{err}");
    let stranger = sshd.path("stranger");
    let out = dsize(&[V3, "--report"], &[("DOCKER_HOST", &host), ("PATH", &stranger)]);
    let err = assert_one_line_error(&out, "ssh said: root@127.0.0.1: Permission denied (publickey)");
    assert!(err.contains(&hint(&sshd.port.to_string())), "{err}");
    let empty = sshd.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = dsize(
        &[V3, "--report"],
        &[("DOCKER_HOST", &host), ("PATH", &empty.display().to_string())],
    );
    assert_one_line_error(&out, "ssh is not installed (not found in PATH)");
}

// ---------------------------------------------------------------------------------- TLS

/// A second, real dockerd that listens on TCP with `--tlsverify` (as GitLab's docker:dind and
/// docker-machine hosts do), on private directories; stopped when dropped.
struct TlsDaemon {
    child: std::process::Child,
    sock: PathBuf,
    port: u16,
    /// `ca.pem`, `cert.pem`, `key.pem` of the client, and the server's files.
    certs: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for TlsDaemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// openssl with its arguments, in `dir`.
fn openssl(dir: &Path, args: &str) -> Result<String, String> {
    sh(Command::new("openssl").args(args.split(' ')).current_dir(dir), 60)
}

/// A CA, a server certificate for `localhost` only, a client certificate, and a second CA that
/// signed neither (`other/ca.pem`), and a directory with the CA but no client certificate.
fn make_certs(dir: &Path) -> Result<(), String> {
    openssl(dir, "version").map_err(|e| format!("openssl is not installed: {e}"))?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").map_err(|e| e.to_string())?;
    for args in [
        "req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=dsize-test-ca",
        "req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost",
        "x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext",
        "req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=dsize-test-client",
        "x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile client.ext",
    ] {
        openssl(dir, args)?;
    }
    for sub in ["other", "ca-only"] {
        std::fs::create_dir(dir.join(sub)).map_err(|e| e.to_string())?;
    }
    openssl(
        &dir.join("other"),
        "req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=another-ca",
    )?;
    std::fs::copy(dir.join("ca.pem"), dir.join("ca-only/ca.pem")).map_err(|e| e.to_string())?;
    Ok(())
}

fn start_tls_daemon() -> Result<TlsDaemon, String> {
    if sh(Command::new("id").arg("-u"), 10).map_or(true, |u| u.trim() != "0") {
        return Err("starting a second dockerd needs root".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).map_err(|e| e.to_string())?;
    make_certs(&certs)?;
    let port = free_port();
    let sock = dir.path().join("d.sock");
    let c = |f: &str| certs.join(f).display().to_string();
    let child = Command::new("dockerd")
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(dir.path().join("d.pid"))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .arg("-H")
        .arg(format!("tcp://127.0.0.1:{port}"))
        .args([
            "--tlsverify",
            "--tlscacert",
            &c("ca.pem"),
            "--tlscert",
            &c("server-cert.pem"),
        ])
        .args(["--tlskey", &c("server-key.pem")])
        .args(["--storage-driver=vfs", "--iptables=false", "--bridge=none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start dockerd: {e}"))?;
    let daemon = TlsDaemon {
        child,
        sock,
        port,
        certs,
        dir,
    };
    wait_until("the TLS dockerd did not answer on its socket", 60, || {
        sh(
            Command::new("docker").arg("-H").arg(daemon.host()).arg("info"),
            30,
        )
        .is_ok()
    })?;
    Ok(daemon)
}

impl TlsDaemon {
    /// Its private unix socket (for loading the image).
    fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// `dsize ARGS` against its TLS port at `host`, with the certificates in `certs`.
    fn dsize(&self, host: &str, certs: &Path, args: &[&str]) -> Output {
        let h = format!("tcp://{host}:{}", self.port);
        let c = certs.display().to_string();
        dsize(
            args,
            &[
                ("DOCKER_HOST", &h),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", &c),
            ],
        )
    }
}

#[test]
fn daemon_over_tls_reads_what_the_socket_reads() {
    const TEST: &str = "daemon_over_tls_reads_what_the_socket_reads";
    let Some(built) = docker(TEST) else {
        return;
    };
    let Some(daemon) = service(TEST, "the TLS daemon cannot start", start_tls_daemon()) else {
        return;
    };
    sh(
        Command::new("docker")
            .arg("-H")
            .arg(daemon.host())
            .args(["load", "-i"])
            .arg(built.saved(V3)),
        300,
    )
    .unwrap();
    let over_tls = json_of(&daemon.dsize("localhost", &daemon.certs, &[V3, "--json", "-"]));
    assert_names_endpoint(&over_tls, &format!("at tcp://localhost:{} with TLS", daemon.port));
    let on_socket = json_of(&dsize(&[V3, "--json", "-"], &[]));
    assert_same_report(over_tls.clone(), on_socket, "TLS against the socket");
    // The same endpoint as a docker context made by the docker CLI (its TLS files are kept in
    // the context store).
    let config = daemon.dir.path().join("config");
    let c = |f: &str| daemon.certs.join(f).display().to_string();
    let docker_spec = format!(
        "host=tcp://localhost:{},ca={},cert={},key={}",
        daemon.port,
        c("ca.pem"),
        c("cert.pem"),
        c("key.pem")
    );
    sh(
        Command::new("docker").env("DOCKER_CONFIG", &config).args([
            "context",
            "create",
            "tls-test",
            "--docker",
            &docker_spec,
        ]),
        60,
    )
    .unwrap();
    let config = config.display().to_string();
    let by_context = json_of(&dsize(
        &[V3, "--json", "-"],
        &[("DOCKER_CONFIG", &config), ("DOCKER_CONTEXT", "tls-test")],
    ));
    assert_eq!(by_context, over_tls, "the context reads as DOCKER_HOST does");

    // What goes wrong, each in one line that says what to do.
    let certs = &daemon.certs;
    let out = daemon.dsize("localhost", &certs.join("other"), &[V3, "--report"]);
    assert_one_line_error(&out, "not signed by the ca.pem in use");
    let out = daemon.dsize("localhost", &certs.join("ca-only"), &[V3, "--report"]);
    assert_one_line_error(&out, "the daemon refused the client certificate");
    let out = daemon.dsize("127.0.0.1", certs, &[V3, "--report"]);
    assert_one_line_error(&out, "does not name this host");
    let plain = format!("tcp://localhost:{}", daemon.port);
    let out = dsize(&[V3, "--report"], &[("DOCKER_HOST", &plain)]);
    assert_one_line_error(&out, "this port speaks TLS: set DOCKER_TLS_VERIFY=1");
    let missing = daemon.dir.path().join("nothing");
    let out = daemon.dsize("localhost", &missing, &[V3, "--report"]);
    assert_one_line_error(&out, "ca.pem cannot be read");
}

// ------------------------------------------------------------------------------- Podman

/// `podman system service` on a private socket, stopped when dropped.
struct PodmanService {
    child: std::process::Child,
    sock: PathBuf,
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.sock);
    }
}

fn start_podman(dir: &Path) -> Result<PodmanService, String> {
    sh(Command::new("podman").arg("--version"), 30).map_err(|_| "podman is not installed".to_string())?;
    let sock = dir.join("podman.sock");
    let child = Command::new("podman")
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start podman system service: {e}"))?;
    let service = PodmanService { child, sock };
    wait_until("podman system service did not open its socket", 30, || {
        UnixStream::connect(&service.sock).is_ok()
    })?;
    Ok(service)
}

/// Podman's store gets the same base image (from Docker when it has it, else `docker-archive`
/// from the base-image script is not available: skip).
fn podman_base() -> Result<(), String> {
    if sh(
        Command::new("podman").args(["image", "exists", "dsize-base:busybox"]),
        30,
    )
    .is_ok()
    {
        return Ok(());
    }
    docker_answers().map_err(|e| format!("the base image comes from Docker, which does not answer: {e}"))?;
    sh(
        Command::new("bash").arg(format!("{REPO}/scripts/base-image.sh")),
        300,
    )?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let tar = dir.path().join("base.tar");
    sh(
        Command::new("docker")
            .args(["save", "-o"])
            .arg(&tar)
            .arg("dsize-base:busybox"),
        120,
    )?;
    sh(Command::new("podman").args(["load", "-i"]).arg(&tar), 120).map(|_| ())
}

#[test]
fn podman_source_equals_podman_save() {
    const TEST: &str = "podman_source_equals_podman_save";
    let dir = tempfile::tempdir().unwrap();
    let Some(service) = service(TEST, "Podman cannot serve here", start_podman(dir.path())) else {
        return;
    };
    if let Err(why) = podman_base() {
        if in_ci() {
            panic!("{TEST}: CI is set but Podman has no base image: {why}");
        }
        skipped(TEST, &why);
        return;
    }
    write_context(dir.path());
    let leftovers = "dsize-test-podman-leftovers:t";
    for (tag, file) in [
        (leftovers, DOCKERFILE_LEFTOVERS.to_string()),
        (
            "dsize-test-podman-cleanup:t",
            DOCKERFILE_CLEANUP.replace(LEFTOVERS, leftovers),
        ),
        ("dsize-test-podman-v3:t", DOCKERFILE_V3.to_string()),
    ] {
        let df = dir.path().join("Dockerfile");
        std::fs::write(&df, file).unwrap();
        let built = sh(
            Command::new("podman")
                .args(["build", "-q", "--format", "docker", "-f"])
                .arg(&df)
                .args(["-t", tag])
                .arg(dir.path()),
            600,
        );
        // Podman that serves but cannot build here (no user namespaces, …) is not dsize's bug.
        if let Err(why) = built {
            if in_ci() {
                panic!("{TEST}: CI is set but podman cannot build here: {why}");
            }
            skipped(TEST, &format!("podman cannot build here: {why}"));
            return;
        }
        let tar = dir.path().join("saved.tar");
        let _ = std::fs::remove_file(&tar);
        sh(
            Command::new("podman").args(["save", "-o"]).arg(&tar).arg(tag),
            300,
        )
        .unwrap();
        let host = format!("unix://{}", service.sock.display());
        let home = dir.path().to_str().unwrap();
        let env = [("CONTAINER_HOST", host.as_str()), ("HOME", home)];
        let mut via_prefix = Command::new(BIN);
        via_prefix
            .args([&format!("podman:{tag}"), "--json", "-"])
            .envs(env);
        let mut via_flag = Command::new(BIN);
        via_flag
            .args([tag, "--source", "podman", "--json", "-"])
            .envs(env);
        let from_file = json_of(&dsize(&[tar.to_str().unwrap(), "--json", "-"], &[]));
        for cmd in [&mut via_prefix, &mut via_flag] {
            let v = json_of(&run(cmd, 120));
            let format = v["image"]["format"].as_str().unwrap();
            assert!(format.starts_with("Podman "), "{tag}: {format}");
            assert_same_report(v, from_file.clone(), tag);
        }
        if tag.contains("leftovers") {
            assert_eq!(u(&from_file["image"]["userBytes"]), 602_500);
            assert_eq!(u(&from_file["image"]["leftoverBytes"]), 500_000);
        }
    }
    drop(service);
}

#[test]
fn podman_missing_service_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}", dir.path().join("podman.sock").display());
    let out = dsize(&["podman:my-app:v3"], &[("CONTAINER_HOST", &host)]);
    let err = assert_one_line_error(
        &out,
        &format!("no Podman service reachable at {host} (CONTAINER_HOST)"),
    );
    assert!(err.contains("podman system service"), "{err}");
    // With XDG_RUNTIME_DIR, the user socket is tried first.
    let out = dsize(
        &["my-app:v3", "--source", "podman"],
        &[("XDG_RUNTIME_DIR", dir.path().to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(2) && err.contains("no Podman service reachable") {
        assert!(
            err.contains(&format!("unix://{}/podman/podman.sock", dir.path().display())),
            "{err}"
        );
    }
}
