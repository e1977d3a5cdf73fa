//! The Docker Engine API source (bollard), also spoken by Podman's service. The only async code
//! in dsize, with the ssh transport it may connect through ([`super::ssh`]).
//!
//! 1. Connect to what [`discover::plan`] names, asking `/version` (bounded wait).
//! 2. Inspect the image and read its history (bounded wait): the layer list and the steps are
//!    known, and announced to the sink, before the export starts.
//! 3. `GET /images/{name}/get`: the export stream goes through [`archive::read_stream_announced`],
//!    the one archive parser, which reads the body as a `Read` on the calling thread (each read
//!    runs the runtime until the next chunk is there) and indexes every layer on worker threads
//!    as its bytes pass. The archive is read once, never written to disk, and memory stays
//!    bounded. The export has no client timeout: a daemon on the classic store sends nothing
//!    until it has staged the whole image.
//!
//! Every failure is one line naming the endpoint and what to do. Nothing is pulled unless the
//! user asks (`--pull`): then a missing image is pulled first, with the docker CLI's login for
//! its registry ([`super::auth`]).

use super::discover::{self, Address, Endpoint, Engine, Plan, TLS_FILES};
use super::{Error, Platform, ReadOptions, Sink, archive};
use super::{auth, ssh};
use crate::index::Progress;
use crate::model::{HistoryEntry, ImageMeta, LayerMeta};
use bollard::models::{ImageHistoryResponseItem, ImageInspect, SystemVersion};
use bollard::{API_DEFAULT_VERSION, Docker};
use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a daemon may take to answer a small API call (version, inspect, history).
pub const API_TIMEOUT: Duration = Duration::from_secs(30);
/// Environment variable that overrides [`API_TIMEOUT`], in seconds.
pub const API_TIMEOUT_ENV: &str = "DSIZE_API_TIMEOUT";
/// The export's client timeout: none in practice (bollard's default of 2 minutes would cut off
/// a large image the daemon is still staging).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// The first API version whose export takes `platform`.
const PLATFORM_EXPORT_API: (u32, u32) = (1, 48);

/// Reads an image from the daemon (Podman's service when `podman`).
pub fn read(
    name: &str,
    podman: bool,
    opts: &ReadOptions,
    progress: &Progress,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let plan = discover::plan(&discover::Env::from_process(), podman, &discover::RealFiles)
        .map_err(|e| Error::new(name, e))?;
    let timeout = api_timeout(std::env::var(API_TIMEOUT_ENV).ok().as_deref());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(name, format!("cannot start the I/O runtime: {e}")))?;
    let daemon = rt
        .block_on(connect(&plan, timeout))
        .map_err(|e| Error::new(name, e))?;
    let (inspect, history) = match rt.block_on(inspect(&daemon, name, timeout, false)) {
        Err(Inspect::Missing(_)) if opts.pull => {
            rt.block_on(pull(&daemon, name, opts.platform.as_ref(), progress))
                .map_err(|e| {
                    if progress.cancel.load(Ordering::Relaxed) {
                        Error::cancelled()
                    } else {
                        Error::new(name, e)
                    }
                })?;
            rt.block_on(inspect(&daemon, name, timeout, true))
        }
        r => r,
    }
    .map_err(|e| match e {
        Inspect::Missing(why) | Inspect::Failed(why) => Error::new(name, why),
    })?;
    let id = inspect.id.clone().unwrap_or_else(|| name.to_string());
    let reference = export_reference(name, &id);

    // The platform: on a daemon older than API 1.48 the export is whatever the store holds.
    let mut export_platform = None;
    let inspected = inspect.os.as_ref().map(|os| Platform {
        os: os.clone(),
        architecture: inspect.architecture.clone().unwrap_or_default(),
        variant: inspect.variant.clone().filter(|v| !v.is_empty()),
    });
    if let (Some(want), Some(have)) = (&opts.platform, &inspected)
        && !want.accepts(have)
    {
        if daemon.api < PLATFORM_EXPORT_API {
            return Err(Error::new(
                name,
                format!(
                    "the {} {} at {} holds this image for {have}, not the requested {want}; exporting another platform needs API {}.{} and this daemon speaks {}.{} (upgrade it, or drop --platform)",
                    daemon.engine,
                    daemon.version,
                    daemon.endpoint.address,
                    PLATFORM_EXPORT_API.0,
                    PLATFORM_EXPORT_API.1,
                    daemon.api.0,
                    daemon.api.1
                ),
            ));
        }
        export_platform = Some(want.clone());
    }

    let mut announced = ImageMeta {
        name: name.to_string(),
        format: daemon.product(),
        notes: daemon.notes.clone(),
        ..ImageMeta::default()
    };
    if export_platform.is_none() {
        // What inspect and history say; the export's own config corrects it at the end.
        fill_from_api(&mut announced, &inspect, &history, &reference);
    }
    let docker = match &export_platform {
        Some(p) => with_query(daemon.docker.clone(), "platform", &platform_json(p)),
        None => daemon.docker.clone(),
    }
    .with_timeout(EXPORT_TIMEOUT);
    let ctx = format!("{name} (export from {})", daemon.endpoint.address);
    let mut input = Bridge {
        rt: &rt,
        stream: Box::pin(docker.export_image(&reference)),
        cur: Bytes::new(),
        ended: false,
        received: 0,
        failure: None,
        cancel: &progress.cancel,
    };
    let result = archive::read_stream_announced(&ctx, &mut input, opts, progress, sink, Some(&announced));
    if progress.cancel.load(Ordering::Relaxed) {
        return Err(Error::cancelled());
    }
    match (result, input.failure) {
        (Err(_), Some(f)) => {
            let after = if input.received == 0 {
                String::new()
            } else {
                format!(
                    "after {} of ",
                    humansize::format_size(input.received, humansize::DECIMAL)
                )
            };
            Err(Error::new(
                name,
                format!("{f} ({after}the export from {})", daemon.endpoint.address),
            ))
        }
        (r, _) => r,
    }
}

/// Seconds from the environment, else [`API_TIMEOUT`].
fn api_timeout(env: Option<&str>) -> Duration {
    env.and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(API_TIMEOUT, Duration::from_secs_f64)
}

// ------------------------------------------------------------------------------ connecting

/// A daemon that answered `/version`.
struct Daemon {
    docker: Docker,
    endpoint: Endpoint,
    /// `Docker daemon` or `Podman`, and its version.
    engine: &'static str,
    version: String,
    api: (u32, u32),
    notes: Vec<String>,
}

impl Daemon {
    /// `Docker daemon at unix:///var/run/docker.sock`.
    fn at(&self) -> String {
        format!("{} at {}", self.engine, self.endpoint.address)
    }

    /// `Docker daemon 20.10.24 (API 1.41) at unix:///var/run/docker.sock`.
    fn product(&self) -> String {
        format!(
            "{} {} (API {}.{}) at {}",
            self.engine, self.version, self.api.0, self.api.1, self.endpoint.address
        )
    }
}

/// Why an endpoint did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// No socket there, or nothing listening.
    Absent(String),
    /// The socket exists but this user may not open it.
    Denied,
    /// Connected, but no answer in time.
    Stalled,
    /// An answer dsize cannot use.
    Broken(String),
    /// The TLS handshake failed: what went wrong, in the user's terms.
    Tls(String),
}

/// Tries the plan's endpoints in order, then the fallback (Podman) when Docker is absent.
async fn connect(plan: &Plan, timeout: Duration) -> Result<Daemon, String> {
    let mut tried: Vec<(Endpoint, Failure)> = Vec::new();
    for e in &plan.primary {
        match try_endpoint(e, timeout).await {
            Ok(d) => return Ok(d),
            Err(f) => tried.push((e.clone(), f)),
        }
    }
    let absent = tried.iter().all(|(_, f)| matches!(f, Failure::Absent(_)));
    if absent {
        for e in &plan.fallback {
            match try_endpoint(e, timeout).await {
                Ok(mut d) => {
                    let (docker, why) = &tried[0];
                    d.notes.push(format!(
                        "Docker is not reachable at {} ({}); read from Podman at {} instead",
                        docker.address,
                        failure_text(why, timeout),
                        e.address
                    ));
                    return Ok(d);
                }
                Err(f) => tried.push((e.clone(), f)),
            }
        }
    }
    Err(no_daemon(plan, &tried, timeout))
}

fn failure_text(f: &Failure, timeout: Duration) -> String {
    match f {
        Failure::Absent(why) => why.clone(),
        Failure::Denied => "permission denied".into(),
        Failure::Stalled => format!(
            "it accepted the connection but sent no answer within {}s",
            timeout.as_secs_f64()
        ),
        Failure::Broken(why) | Failure::Tls(why) => why.clone(),
    }
}

/// One line: what was tried, why each failed, and what to do.
fn no_daemon(plan: &Plan, tried: &[(Endpoint, Failure)], timeout: Duration) -> String {
    let (first, why) = &tried[0];
    let podman = first.engine == Engine::Podman;
    let what = if podman { "Podman service" } else { "Docker daemon" };
    let mut line = match why {
        Failure::Denied => format!(
            "permission denied on {} ({}): {}",
            first.address,
            first.origin,
            if podman {
                "run as the user that owns the Podman service, or with sudo"
            } else {
                "add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run with sudo"
            }
        ),
        Failure::Stalled => format!(
            "the {what} at {} ({}) accepted the connection but did not answer within {}s; is it hung? (set {API_TIMEOUT_ENV}=SECONDS to wait longer)",
            first.address,
            first.origin,
            timeout.as_secs_f64()
        ),
        Failure::Broken(why) => format!(
            "the {what} at {} ({}) gave an answer dsize cannot use (is it an Engine API?): {why}",
            first.address, first.origin
        ),
        Failure::Absent(why) => format!(
            "no {what} reachable at {} ({}): {why}",
            first.address, first.origin
        ),
        Failure::Tls(why) => format!("the {what} at {} ({}): {why}", first.address, first.origin),
    };
    for (e, f) in &tried[1..] {
        line.push_str(&format!("; {}: {}", e.address, failure_text(f, timeout)));
    }
    if let Address::Ssh(t) = &first.address {
        line.push_str(&format!(
            "; `{}` must work without a prompt (a key from ssh-agent or ~/.ssh/config) and reach the host's daemon",
            ssh::to_try(t)
        ));
    } else if tried.iter().all(|(_, f)| matches!(f, Failure::Absent(_))) {
        line.push_str(if podman {
            "; start it (systemctl --user start podman.socket, or podman system service --time=0 &) or set CONTAINER_HOST=unix:///path/to/podman.sock"
        } else if plan.fallback.is_empty() {
            "; start the daemon or point DOCKER_HOST at a running one (unix:///path/to/docker.sock or tcp://HOST:2375)"
        } else {
            "; start the daemon (sudo systemctl start docker, or dockerd &) or set DOCKER_HOST=unix:///path/to/docker.sock or tcp://HOST:2375"
        });
    }
    line
}

async fn try_endpoint(e: &Endpoint, timeout: Duration) -> Result<Daemon, Failure> {
    let secs = timeout.as_secs().max(1);
    // For an ssh:// host, what ssh says on stderr.
    let mut said = None;
    let docker = match &e.address {
        Address::Ssh(t) => {
            let (docker, s) = ssh::connect(t, secs).map_err(Failure::Absent)?;
            said = Some(s);
            Ok(docker)
        }
        Address::Unix(p) => Docker::connect_with_unix(&p.to_string_lossy(), secs, API_DEFAULT_VERSION),
        Address::Tcp(a) => Docker::connect_with_http(&format!("tcp://{a}"), secs, API_DEFAULT_VERSION),
        Address::Tls(a, dir) => {
            // The client certificate is presented when its files are there (discovery checked
            // that both or neither are).
            let [ca, cert, key] = TLS_FILES.map(|f| dir.join(f));
            Docker::connect_with_ssl(&format!("tcp://{a}"), &key, &cert, &ca, secs, API_DEFAULT_VERSION)
        }
    }
    .map_err(|err| classify(&err))?;
    let v: SystemVersion = match bounded(timeout, docker.version()).await {
        Ok(v) => v,
        Err(f) => {
            // Over ssh, ssh's own words say why (refused, no key, no docker there, …).
            if let Some(s) = &said
                && let Some(line) = s.last().await
            {
                return Err(Failure::Absent(format!("ssh said: {}", one_line(&line))));
            }
            return Err(match f {
                Failure::Broken(why) => Failure::Broken(format!("/version: {why}")),
                other => other,
            });
        }
    };
    let podman = e.engine == Engine::Podman
        || v.components
            .iter()
            .flatten()
            .any(|c| c.name.to_ascii_lowercase().contains("podman"));
    let api =
        v.api_version.as_deref().and_then(parse_api).ok_or_else(|| {
            Failure::Broken(format!("/version has no usable ApiVersion ({:?})", v.api_version))
        })?;
    Ok(Daemon {
        docker,
        endpoint: e.clone(),
        engine: if podman { "Podman" } else { "Docker daemon" },
        version: v.version.unwrap_or_else(|| "?".into()),
        api,
        notes: Vec::new(),
    })
}

/// `1.41` -> (1, 41).
fn parse_api(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Runs an API call with the bounded wait; maps its failure.
async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Err(Failure::Stalled),
        Ok(r) => r.map_err(|e| classify(&e)),
    }
}

/// Sorts a bollard error into what the user can act on.
fn classify(e: &bollard::errors::Error) -> Failure {
    use bollard::errors::Error as B;
    match e {
        B::SocketNotFoundError(_) => return Failure::Absent("no such socket".into()),
        B::RequestTimeoutError => return Failure::Stalled,
        B::DockerResponseServerError { status_code, message } => {
            let hint = if message.contains("HTTP request to an HTTPS server") {
                " (this port speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem)"
            } else {
                ""
            };
            return Failure::Broken(format!("HTTP {status_code}: {}{hint}", one_line(message)));
        }
        B::JsonDataError { message, .. } => {
            return Failure::Broken(format!("malformed JSON: {}", one_line(message)));
        }
        B::JsonSerdeError { err } => return Failure::Broken(format!("malformed JSON: {err}")),
        _ => {}
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::NotFound => return Failure::Absent("no such socket".into()),
                io::ErrorKind::ConnectionRefused => {
                    return Failure::Absent("connection refused (nothing listens there)".into());
                }
                io::ErrorKind::PermissionDenied => return Failure::Denied,
                _ => {}
            }
        }
        if let Some(tls) = tls_error(s) {
            return Failure::Tls(tls_text(tls));
        }
        source = s.source();
    }
    Failure::Broken(chain(e))
}

/// The TLS error in `e`, also when it is wrapped in I/O errors (which do not list what they
/// wrap as their source).
fn tls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        e = e.downcast_ref::<io::Error>()?.get_ref()?;
    }
}

/// What a TLS failure means for the user.
fn tls_text(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let hint = match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "the daemon's certificate is not signed by the ca.pem in use (is DOCKER_CERT_PATH the directory for this daemon?)"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the daemon's certificate does not name this host (use the host name the certificate was made for)"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the daemon's certificate has expired"
        }
        E::InvalidCertificate(_) => "the daemon's certificate was rejected",
        E::AlertReceived(
            A::BadCertificate | A::CertificateRequired | A::UnknownCA | A::CertificateUnknown,
        ) => {
            "the daemon refused the client certificate (cert.pem and key.pem beside ca.pem; the daemon wants one signed by its CA)"
        }
        E::InvalidMessage(_) => {
            "the port does not speak TLS (for a plain-HTTP port, unset DOCKER_TLS_VERIFY)"
        }
        _ => return e.to_string(),
    };
    format!("{hint}: {e}")
}

/// An error and its causes in one line, without repeats.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        let t = one_line(&c.to_string());
        if !t.is_empty() && !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = c.source();
    }
    parts.join(": ")
}

pub(super) fn one_line(s: &str) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 300 {
        let cut: String = s.chars().take(300).collect();
        format!("{cut}…")
    } else {
        s
    }
}

// ----------------------------------------------------------------------------- inspecting

/// Why inspecting an image failed: the daemon does not have it, or something else.
enum Inspect {
    Missing(String),
    Failed(String),
}

/// Inspect and history, each with the bounded wait. `after_pull`: the image was just pulled
/// (a missing one is then not the user's to pull).
async fn inspect(
    d: &Daemon,
    name: &str,
    timeout: Duration,
    after_pull: bool,
) -> Result<(ImageInspect, Vec<ImageHistoryResponseItem>), Inspect> {
    let at = d.at();
    let ls = if d.engine == "Podman" { "podman" } else { "docker" };
    let call_failed = |what: &str, f: Failure| match f {
        Failure::Broken(why) if why.starts_with("HTTP 404") && after_pull => Inspect::Failed(format!(
            "the {at} pulled the image but does not have it under this name; `{ls} image ls` lists the local images"
        )),
        Failure::Broken(why) if why.starts_with("HTTP 404") => Inspect::Missing(format!(
            "no such image in the {at}; `{ls} image ls` lists the local images (dsize pulls only when asked: add --pull, or `{ls} pull {name}` first)"
        )),
        f => Inspect::Failed(call_failed_text(d, what, f, timeout)),
    };
    let inspect = bounded(timeout, d.docker.inspect_image(name))
        .await
        .map_err(|f| call_failed("inspect", f))?;
    let id = inspect.id.clone().unwrap_or_else(|| name.to_string());
    let history = bounded(timeout, d.docker.image_history(&id))
        .await
        .map_err(|f| call_failed("history", f))?;
    Ok((inspect, history))
}

/// Has the daemon pull `name` (`name:latest` when it names no tag or digest), counting the
/// bytes downloaded into `progress`, with the login the docker CLI would use for its registry
/// ([`auth`]; anonymous without one). No time limit: a pull takes as long as the registry does.
async fn pull(
    d: &Daemon,
    name: &str,
    platform: Option<&Platform>,
    progress: &Progress,
) -> Result<(), String> {
    let reference = with_tag(name);
    let mut options = bollard::query_parameters::CreateImageOptionsBuilder::new().from_image(&reference);
    if let Some(p) = platform {
        options = options.platform(&p.to_string());
    }
    let login = auth::for_image(
        &reference,
        &discover::Env::from_process(),
        &discover::RealFiles,
        &auth::RealHelpers,
    )
    .map_err(|e| format!("cannot pull {reference}: {e}"))?;
    let credentials = login.as_ref().map(|c| bollard::auth::DockerCredentials {
        username: c.username.clone(),
        password: c.password.clone(),
        serveraddress: Some(c.server.clone()),
        identitytoken: c.identity_token.clone(),
        ..Default::default()
    });
    let docker = d.docker.clone().with_timeout(EXPORT_TIMEOUT);
    let mut stream = docker.create_image(Some(options.build()), None, credentials);
    progress.pulling.store(true, Ordering::Relaxed);
    // Bytes downloaded per layer, as the daemon reports them.
    let mut layers: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut total = 0u64;
    let result = loop {
        if progress.cancel.load(Ordering::Relaxed) {
            break Err("cancelled".to_string());
        }
        // Wake up now and then to see the cancel flag: a pull may be quiet for long.
        let Ok(next) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await else {
            continue;
        };
        match next {
            None => break Ok(()),
            Some(Ok(info)) => {
                if let (Some(id), Some(current)) = (info.id, info.progress_detail.and_then(|p| p.current))
                    && info.status.as_deref() == Some("Downloading")
                {
                    let now = u64::try_from(current).unwrap_or(0);
                    let before = layers.insert(id, now).unwrap_or(0);
                    total = total.saturating_sub(before).saturating_add(now);
                    progress.pulled.store(total, Ordering::Relaxed);
                }
            }
            Some(Err(e)) => {
                let why = match e {
                    bollard::errors::Error::DockerStreamError { error } => one_line(&error),
                    e => failure_text(&classify(&e), API_TIMEOUT),
                };
                break Err(format!(
                    "the {} could not pull {reference}: {why}{}",
                    d.at(),
                    login_hint(&why, &reference, login.as_ref())
                ));
            }
        }
    };
    progress.pulling.store(false, Ordering::Relaxed);
    result
}

/// What to add to a failed pull's message when the registry refused the login (or its
/// absence): where the login came from, or how to make one.
fn login_hint(why: &str, reference: &str, login: Option<&auth::Credentials>) -> String {
    let why = why.to_lowercase();
    // "auth" also covers "unauthorized" and "authentication required".
    let refused = ["auth", "denied", "forbidden"].iter().any(|w| why.contains(w));
    match login {
        _ if !refused => String::new(),
        Some(c) => format!(" (the login used came from {})", c.source),
        None => {
            let host = auth::registry_host(reference);
            let login = if host == auth::HUB {
                String::new()
            } else {
                format!(" {host}")
            };
            format!(" (dsize found no login for {host}; `docker login{login}` makes one dsize uses)")
        }
    }
}

/// The message for an inspect or history call that failed other than by a missing image.
fn call_failed_text(d: &Daemon, what: &str, f: Failure, timeout: Duration) -> String {
    let at = d.at();
    match f {
        Failure::Stalled => format!(
            "the {at} did not answer the image {what} within {}s; is it hung or very busy? (set {API_TIMEOUT_ENV}=SECONDS to wait longer)",
            timeout.as_secs_f64()
        ),
        Failure::Denied => format!("permission denied on {}", d.endpoint.address),
        Failure::Absent(why) => format!("the {at} went away during the image {what}: {why}"),
        Failure::Broken(why) => format!("the {at} gave a malformed answer to the image {what}: {why}"),
        Failure::Tls(why) => format!("the {at}, during the image {what}: {why}"),
    }
}

/// What to export: ids and digests as given; a name without a tag gets `:latest` (a bare
/// repository name would export every tag of it).
fn export_reference(typed: &str, id: &str) -> String {
    let hex = typed.strip_prefix("sha256:").unwrap_or(typed);
    let id_hex = id.strip_prefix("sha256:").unwrap_or(id);
    let is_id = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) && id_hex.starts_with(hex);
    if is_id { typed.to_string() } else { with_tag(typed) }
}

/// `name:latest` for a name without a tag or digest (the API would take every tag of it).
fn with_tag(typed: &str) -> String {
    let last = typed.rsplit('/').next().unwrap_or(typed);
    if typed.contains('@') || last.contains(':') {
        typed.to_string()
    } else {
        format!("{typed}:latest")
    }
}

/// Fills the announced meta from inspect and history (history is newest first there, and it
/// has no `empty_layer` flag: a step with bytes made a layer, and the remaining layers go to
/// the steps that usually write files).
fn fill_from_api(
    m: &mut ImageMeta,
    inspect: &ImageInspect,
    history: &[ImageHistoryResponseItem],
    reference: &str,
) {
    let layers: Vec<String> = inspect
        .root_fs
        .as_ref()
        .and_then(|r| r.layers.clone())
        .unwrap_or_default();
    m.platform = inspect.os.as_ref().map(|os| {
        Platform {
            os: os.clone(),
            architecture: inspect.architecture.clone().unwrap_or_default(),
            variant: inspect.variant.clone().filter(|v| !v.is_empty()),
        }
        .to_string()
    });
    m.config_digest = inspect.id.clone();
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if !reference.contains('@') && last.contains(':') && !reference.starts_with("sha256:") {
        m.repo_tags = vec![reference.to_string()];
    }
    let steps: Vec<&ImageHistoryResponseItem> = history.iter().rev().collect();
    let mut makes: Vec<bool> = steps.iter().map(|h| h.size > 0).collect();
    let mut need = layers.len().saturating_sub(makes.iter().filter(|m| **m).count());
    for likely_only in [true, false] {
        for (i, h) in steps.iter().enumerate() {
            if need > 0 && !makes[i] && (!likely_only || writes_files(&h.created_by)) {
                makes[i] = true;
                need -= 1;
            }
        }
    }
    m.history = steps
        .iter()
        .zip(&makes)
        .map(|(h, makes)| HistoryEntry {
            created_by: h.created_by.clone(),
            comment: Some(h.comment.clone()).filter(|c| !c.is_empty()),
            empty_layer: !makes,
        })
        .collect();
    m.layers = layers
        .into_iter()
        .map(|d| LayerMeta {
            diff_id: Some(d),
            ..LayerMeta::default()
        })
        .collect();
}

/// Whether a step usually changes files (classic `#(nop)` steps other than COPY/ADD/WORKDIR,
/// and BuildKit's metadata instructions, do not).
fn writes_files(created_by: &str) -> bool {
    let word = |s: &str| {
        s.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase()
    };
    match created_by.split_once("#(nop)") {
        Some((_, rest)) => matches!(word(rest).as_str(), "COPY" | "ADD" | "WORKDIR"),
        None => !matches!(
            word(created_by).as_str(),
            "ENV"
                | "LABEL"
                | "CMD"
                | "ENTRYPOINT"
                | "EXPOSE"
                | "USER"
                | "ARG"
                | "VOLUME"
                | "STOPSIGNAL"
                | "HEALTHCHECK"
                | "SHELL"
                | "ONBUILD"
                | "MAINTAINER"
        ),
    }
}

/// `{"os":"linux","architecture":"arm64","variant":"v8"}`, as the export's `platform` wants it.
fn platform_json(p: &Platform) -> String {
    let mut v = serde_json::json!({ "os": p.os, "architecture": p.architecture });
    if let Some(var) = &p.variant {
        v["variant"] = var.clone().into();
    }
    v.to_string()
}

/// A client whose requests carry one more query parameter (bollard's export has no options).
fn with_query(docker: Docker, key: &'static str, value: &str) -> Docker {
    let pair = format!("{key}={}", percent_encode(value));
    docker.with_request_modifier(move |mut req| {
        let uri = req.uri().to_string();
        let joined = if uri.contains('?') {
            format!("{uri}&{pair}")
        } else {
            format!("{uri}?{pair}")
        };
        if let Ok(u) = joined.parse() {
            *req.uri_mut() = u;
        }
        req
    })
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// -------------------------------------------------------------------------------- the export

type Export<'a> = Pin<Box<dyn Stream<Item = Result<Bytes, bollard::errors::Error>> + 'a>>;

/// The parser's side of the export: a blocking `Read` that runs the runtime until the next chunk
/// of the body is there. The connection's task runs inside that wait, on the parser's thread, so
/// the bytes go from the socket to the parser without a hand-off between threads per chunk (a
/// wake-up per 32 KiB chunk cost more CPU than reading it, and that CPU is the daemon's on a
/// busy machine). The kernel's socket buffer holds what arrives while the parser works.
struct Bridge<'a> {
    rt: &'a tokio::runtime::Runtime,
    stream: Export<'a>,
    cur: Bytes,
    ended: bool,
    received: u64,
    /// Why the daemon's stream failed, when it did (it explains the parser's error better).
    failure: Option<String>,
    cancel: &'a AtomicBool,
}

impl Bridge<'_> {
    /// The next chunk; `None` at the end, on a failure (kept in `failure`) or when cancelled.
    fn next_chunk(&mut self) -> Option<Bytes> {
        // A chunk the connection already delivered is taken without running the runtime (inside
        // its context: the stream may set timers).
        let ready = {
            let _context = self.rt.enter();
            self.stream.next().now_or_never()
        };
        let item = match ready {
            Some(item) => item,
            None => {
                let (stream, cancel) = (&mut self.stream, self.cancel);
                self.rt.block_on(async {
                    // Waiting (a classic-store daemon stages the whole image first): look at
                    // the cancel flag now and then.
                    loop {
                        if let Ok(item) =
                            tokio::time::timeout(Duration::from_millis(100), stream.next()).await
                        {
                            return item;
                        }
                        if cancel.load(Ordering::Relaxed) {
                            return None;
                        }
                    }
                })
            }
        };
        match item? {
            Ok(chunk) => {
                self.received += chunk.len() as u64;
                Some(chunk)
            }
            Err(e) => {
                self.failure = Some(match classify(&e) {
                    Failure::Broken(why) if why.starts_with("HTTP ") => {
                        format!("the daemon refused the export: {why}")
                    }
                    Failure::Stalled => "the export timed out".into(),
                    _ => format!("the daemon closed the export stream mid-way: {}", chain(&e)),
                });
                None
            }
        }
    }
}

impl Read for Bridge<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            if self.ended || self.cancel.load(Ordering::Relaxed) {
                return Ok(0);
            }
            match self.next_chunk() {
                Some(c) => self.cur = c,
                None => self.ended = true,
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(created_by: &str, size: i64) -> ImageHistoryResponseItem {
        ImageHistoryResponseItem {
            id: "<missing>".into(),
            created: 0,
            created_by: created_by.into(),
            tags: vec![],
            size,
            comment: String::new(),
        }
    }

    #[test]
    fn export_reference_adds_latest_only_to_bare_names() {
        let id = "sha256:769f2c099b39aaaa";
        assert_eq!(export_reference("my-app", id), "my-app:latest");
        assert_eq!(export_reference("my-app:v3", id), "my-app:v3");
        assert_eq!(
            export_reference("localhost:5000/my-app", id),
            "localhost:5000/my-app:latest"
        );
        assert_eq!(export_reference("my-app@sha256:abcd", id), "my-app@sha256:abcd");
        assert_eq!(export_reference("769f2c099b39", id), "769f2c099b39");
        assert_eq!(export_reference("sha256:769f2c", id), "sha256:769f2c");
        // Hex that is not this image's id is a name.
        assert_eq!(export_reference("beef", id), "beef:latest");
    }

    #[test]
    fn history_from_the_api_maps_layers_like_the_config() {
        // Newest first, as the API sends it; the classic builder's WORKDIR made an empty layer
        // (size 0) that still counts.
        let history = vec![
            item("/bin/sh -c #(nop)  CMD [\"sh\"]", 0),
            item("/bin/sh -c rm -rf /x", 0),
            item("/bin/sh -c #(nop) WORKDIR /app", 0),
            item("/bin/sh -c #(nop)  ENV A=1", 0),
            item("/bin/sh -c dd if=/dev/zero of=/x bs=1000 count=5", 5000),
            item("", 100),
        ];
        let inspect = ImageInspect {
            id: Some("sha256:aa".into()),
            os: Some("linux".into()),
            architecture: Some("amd64".into()),
            root_fs: Some(bollard::models::ImageInspectRootFs {
                typ: "layers".into(),
                layers: Some((0..4).map(|i| format!("sha256:{i}")).collect()),
            }),
            ..ImageInspect::default()
        };
        let mut m = ImageMeta::default();
        fill_from_api(&mut m, &inspect, &history, "my-app:v3");
        let empty: Vec<bool> = m.history.iter().map(|h| h.empty_layer).collect();
        assert_eq!(empty, [false, false, true, false, false, true]);
        assert_eq!(m.layers.len(), 4);
        assert_eq!(m.layers[3].diff_id.as_deref(), Some("sha256:3"));
        assert_eq!(m.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(m.repo_tags, ["my-app:v3"]);
        // Not enough likely steps: the rest are taken bottom up, never more than the layers.
        let mut m2 = ImageMeta::default();
        let mut inspect5 = inspect.clone();
        inspect5.root_fs.as_mut().unwrap().layers = Some((0..5).map(|i| format!("sha256:{i}")).collect());
        fill_from_api(&mut m2, &inspect5, &history, "x");
        assert_eq!(m2.history.iter().filter(|h| !h.empty_layer).count(), 5);
        assert!(m2.repo_tags.is_empty());
    }

    #[test]
    fn steps_that_write_files() {
        assert!(writes_files("/bin/sh -c #(nop) COPY file:abc in /app "));
        assert!(writes_files("/bin/sh -c apt-get update"));
        assert!(writes_files("RUN /bin/sh -c make # buildkit"));
        assert!(writes_files("WORKDIR /app"));
        assert!(!writes_files("/bin/sh -c #(nop)  ENV A=1"));
        assert!(!writes_files("ENV A=1"));
        assert!(!writes_files("CMD [\"sh\"]"));
    }

    #[test]
    fn api_versions_and_timeouts() {
        assert_eq!(parse_api("1.41"), Some((1, 41)));
        assert!(parse_api("1.41") < Some(PLATFORM_EXPORT_API));
        assert!(parse_api("1.48") >= Some(PLATFORM_EXPORT_API));
        assert_eq!(parse_api("x"), None);
        assert_eq!(api_timeout(None), API_TIMEOUT);
        assert_eq!(api_timeout(Some("2")), Duration::from_secs(2));
        assert_eq!(api_timeout(Some("0.5")), Duration::from_millis(500));
        assert_eq!(api_timeout(Some("-1")), API_TIMEOUT);
        assert_eq!(api_timeout(Some("soon")), API_TIMEOUT);
    }

    #[test]
    fn platform_query() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(
            percent_encode(&platform_json(&p)),
            "%7B%22architecture%22%3A%22arm64%22%2C%22os%22%3A%22linux%22%2C%22variant%22%3A%22v8%22%7D"
        );
    }

    /// Answers one `/version` request on a unix socket, as Podman's service does.
    fn podman_version_once(sock: &std::path::Path) -> std::thread::JoinHandle<()> {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
        std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let body = r#"{"Version":"4.3.1","ApiVersion":"1.41","Components":[{"Name":"Podman Engine","Version":"4.3.1"}]}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            r.get_mut().write_all(reply.as_bytes()).unwrap();
        })
    }

    #[test]
    fn podman_answers_when_docker_is_absent_and_the_report_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("podman.sock");
        let server = podman_version_once(&podman);
        let endpoint = |p: std::path::PathBuf, engine, origin: &str| Endpoint {
            address: Address::Unix(p),
            engine,
            origin: origin.into(),
        };
        let plan = Plan {
            primary: vec![endpoint(
                dir.path().join("docker.sock"),
                Engine::Docker,
                "the default socket",
            )],
            fallback: vec![endpoint(podman.clone(), Engine::Podman, "Podman's system socket")],
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let d = rt.block_on(connect(&plan, Duration::from_secs(5))).unwrap();
        server.join().unwrap();
        assert_eq!(d.engine, "Podman");
        assert_eq!(d.api, (1, 41));
        assert!(
            d.product().starts_with("Podman 4.3.1 (API 1.41) at unix://"),
            "{}",
            d.product()
        );
        let docker = dir.path().join("docker.sock");
        assert_eq!(
            d.notes,
            [format!(
                "Docker is not reachable at unix://{} (no such socket); read from Podman at unix://{} instead",
                docker.display(),
                podman.display()
            )]
        );
    }

    #[test]
    fn absent_sockets_say_how_to_start_or_point() {
        let plan = discover::plan(&discover::Env::default(), false, &discover::RealFiles).unwrap();
        let tried: Vec<(Endpoint, Failure)> = plan
            .primary
            .iter()
            .chain(&plan.fallback)
            .map(|e| (e.clone(), Failure::Absent("no such socket".into())))
            .collect();
        let line = no_daemon(&plan, &tried, API_TIMEOUT);
        assert!(
            line.starts_with("no Docker daemon reachable at unix:///var/run/docker.sock (the default socket): no such socket; unix:///run/podman/podman.sock: no such socket; start the daemon"),
            "{line}"
        );
        assert!(line.contains("DOCKER_HOST=") && !line.contains('\n'), "{line}");
        let denied = no_daemon(&plan, &[(plan.primary[0].clone(), Failure::Denied)], API_TIMEOUT);
        assert!(
            denied.starts_with("permission denied on unix:///var/run/docker.sock"),
            "{denied}"
        );
        assert!(denied.contains("docker group"), "{denied}");
    }
}
