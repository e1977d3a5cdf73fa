//! Finding the daemon, the way the docker CLI does, as pure logic: the environment and the
//! files it reads are inputs ([`Env`], [`Files`]), so every rule is unit-tested without
//! touching the real machine.
//!
//! Docker: `DOCKER_HOST`, then `DOCKER_CONTEXT`, then `currentContext` in `config.json`
//! (`$DOCKER_CONFIG` or `~/.docker`; the endpoint is in
//! `contexts/meta/<sha256 of the name>/meta.json`), then `/var/run/docker.sock`. When only the
//! default socket was tried, Podman's sockets are the fallback. Podman: `CONTAINER_HOST`, then
//! `$XDG_RUNTIME_DIR/podman/podman.sock`, then `/run/podman/podman.sock`.
//!
//! TLS, as the docker CLI does it: with `DOCKER_TLS_VERIFY` set (any value), a `tcp://` host is
//! spoken to over TLS (default port 2376), the daemon's certificate checked against `ca.pem` in
//! `$DOCKER_CERT_PATH` (else the config directory), and `cert.pem`/`key.pem` there presented
//! when both exist. A context's TLS files live in `contexts/tls/<sha256 of the name>/docker/`.
//! TLS without checking the daemon (`DOCKER_TLS` alone, a context's `SkipTLSVerify`) is refused.
//! With `DOCKER_TLS_VERIFY` and neither `DOCKER_HOST` nor a context, the host is
//! `tcp://localhost:2376`, not the socket (the docker CLI's default).
//!
//! `ssh://[USER@]HOST[:PORT]` hosts are read as the docker CLI reads them (no path, no password);
//! [`super::ssh`] runs `docker system dial-stdio` there.
//!
//! No sockets are opened here; [`super::engine`] connects to what [`plan`] returns.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The socket every Docker install listens on unless told otherwise.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Podman's rootful service socket.
pub const PODMAN_SYSTEM_SOCKET: &str = "/run/podman/podman.sock";

/// The environment variables discovery reads.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    pub docker_config: Option<PathBuf>,
    pub docker_tls_verify: bool,
    /// `DOCKER_TLS`: TLS without checking the daemon's certificate (refused).
    pub docker_tls: bool,
    pub docker_cert_path: Option<PathBuf>,
    pub container_host: Option<String>,
    pub home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
}

impl Env {
    /// The process environment (empty values count as unset, like the docker CLI).
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            docker_tls_verify: var("DOCKER_TLS_VERIFY").is_some(),
            docker_tls: var("DOCKER_TLS").is_some(),
            docker_cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            container_host: var("CONTAINER_HOST"),
            home: var("HOME").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
        }
    }
}

/// The files discovery reads (the real file system, or a map in tests).
pub trait Files {
    /// The file's bytes, or `None` when it cannot be read.
    fn read(&self, path: &Path) -> Option<Vec<u8>>;
}

/// The real file system.
pub struct RealFiles;

impl Files for RealFiles {
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }
}

/// Which engine an endpoint is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

/// Where a daemon is expected to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket path.
    Unix(PathBuf),
    /// `host:port` spoken to in plain HTTP.
    Tcp(String),
    /// `host:port` spoken to over TLS with the files of a certificate directory ([`TLS_FILES`]:
    /// the CA the daemon's certificate must chain to, and the client certificate and key,
    /// presented when they are there).
    Tls(String, PathBuf),
    /// A daemon reached through ssh (`docker system dial-stdio` on the host).
    Ssh(SshTarget),
}

/// An `ssh://[USER@]HOST[:PORT]` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ssh://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// The files of a TLS certificate directory, as the docker CLI names them.
pub const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

/// `dir`, once its CA is readable and its client certificate and key are both there or both
/// missing. `why` says what asked for TLS, `where_from` where the files come from.
fn tls_dir(dir: PathBuf, files: &dyn Files, why: &str, where_from: &str) -> Result<PathBuf, String> {
    let [ca, cert, key] = TLS_FILES.map(|f| dir.join(f));
    if files.read(&ca).is_none() {
        return Err(format!(
            "{why}: {} cannot be read; the daemon's certificate is checked against it ({where_from})",
            ca.display()
        ));
    }
    let (has_cert, has_key) = (files.read(&cert).is_some(), files.read(&key).is_some());
    if has_cert != has_key {
        let (there, missing) = if has_cert { (&cert, &key) } else { (&key, &cert) };
        return Err(format!(
            "{why}: {} is there but {} cannot be read; the client certificate needs both",
            there.display(),
            missing.display()
        ));
    }
    Ok(dir)
}

/// The `HOST:PORT` part of a `tcp://` (or `http://`) address.
fn tcp_authority(host: &str) -> Option<&str> {
    host.strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix://{}", p.display()),
            Address::Tcp(a) => write!(f, "tcp://{a}"),
            Address::Tls(a, _) => write!(f, "tcp://{a} with TLS"),
            Address::Ssh(t) => write!(f, "{t}"),
        }
    }
}

/// One place to try, and why it was chosen (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub address: Address,
    pub engine: Engine,
    /// `DOCKER_HOST`, `context "colima"`, `the default socket`, …
    pub origin: String,
}

/// What to try, in order. `fallback` endpoints (Podman, when Docker was only the default
/// guess) are used only when every `primary` one cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub primary: Vec<Endpoint>,
    pub fallback: Vec<Endpoint>,
}

/// Parses a `DOCKER_HOST`-style address. `origin` names where it came from, for the message;
/// `tls`: the certificate directory to speak TLS with to a `tcp://` host.
pub fn parse_host(host: &str, origin: &str, tls: Option<PathBuf>) -> Result<Address, String> {
    let bad = |why: &str| {
        format!(
            "{origin}={host:?} {why}; use unix:///path/to/docker.sock or tcp://HOST:PORT (e.g. DOCKER_HOST=unix:///var/run/docker.sock)"
        )
    };
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(bad("names no socket"));
        }
        return Ok(Address::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = tcp_authority(host) {
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(bad("is not HOST:PORT"));
        }
        let port = if tls.is_some() { 2376 } else { 2375 };
        let with_port = if has_port(authority) {
            authority.to_string()
        } else {
            format!("{authority}:{port}")
        };
        return Ok(match tls {
            Some(dir) => Address::Tls(with_port, dir),
            None => Address::Tcp(with_port),
        });
    }
    if let Some(rest) = host.strip_prefix("ssh://") {
        return parse_ssh(rest).map(Address::Ssh).map_err(|why| {
            format!("{origin}={host:?}: {why}; write ssh://[USER@]HOST[:PORT] (e.g. ssh://me@build.example)")
        });
    }
    if host.starts_with("https://") || host.starts_with("npipe://") {
        let scheme = host.split("://").next().unwrap_or_default();
        let instead = if scheme == "https" {
            "write tcp://HOST:PORT with DOCKER_TLS_VERIFY=1 (and DOCKER_CERT_PATH) for TLS"
        } else {
            "named pipes are Windows-only"
        };
        return Err(format!(
            "{origin}={host:?}: {scheme}:// endpoints are not supported; {instead}"
        ));
    }
    Err(bad("is not a daemon address"))
}

/// The certificate directory `DOCKER_TLS_VERIFY` asks for (`None` without it).
fn env_tls(env: &Env, files: &dyn Files) -> Result<Option<PathBuf>, String> {
    if !env.docker_tls_verify {
        if env.docker_tls {
            return Err(
                "DOCKER_TLS without DOCKER_TLS_VERIFY asks for TLS without checking the daemon's certificate, which dsize does not do; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem".into(),
            );
        }
        return Ok(None);
    }
    let dir = env
        .docker_cert_path
        .clone()
        .or_else(|| config_dir(env))
        .ok_or_else(|| {
            "DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor $HOME says where ca.pem is".to_string()
        })?;
    tls_dir(
        dir,
        files,
        "DOCKER_TLS_VERIFY is set",
        "DOCKER_CERT_PATH names the directory holding ca.pem, cert.pem and key.pem",
    )
    .map(Some)
}

/// `[USER@]HOST[:PORT]` of an `ssh://` host, as the docker CLI reads it.
fn parse_ssh(rest: &str) -> Result<SshTarget, String> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err("an ssh:// host takes no path".into());
    }
    let (user, authority) = match rest.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, rest),
    };
    if let Some(u) = user
        && (u.is_empty() || u.contains(':'))
    {
        return Err("the user part is empty or holds a password (ssh logs in with keys)".into());
    }
    let (name, port) = if has_port(authority) {
        let (h, p) = authority.rsplit_once(':').unwrap_or((authority, ""));
        let port = p
            .parse::<u16>()
            .map_err(|_| format!("port {p:?} is not a port number"))?;
        (h, Some(port))
    } else {
        (authority, None)
    };
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if name.is_empty() {
        return Err("names no host".into());
    }
    Ok(SshTarget {
        user: user.map(String::from),
        host: name.to_string(),
        port,
    })
}

fn has_port(authority: &str) -> bool {
    // `[::1]:2375`, `host:2375`; a bare IPv6 literal has colons but ends with `]`.
    match authority.rsplit_once(':') {
        Some((h, p)) => !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// The docker CLI's config directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub(super) fn config_dir(env: &Env) -> Option<PathBuf> {
    env.docker_config
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".docker")))
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct ContextMeta {
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::HashMap<String, ContextEndpoint>,
}

#[derive(Deserialize)]
struct ContextEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// The context to use and where that choice came from, if any is set.
fn chosen_context(env: &Env, files: &dyn Files) -> Option<(String, String)> {
    if let Some(c) = &env.docker_context {
        return Some((c.clone(), "DOCKER_CONTEXT".into()));
    }
    let path = config_dir(env)?.join("config.json");
    let bytes = files.read(&path)?;
    // A config.json the docker CLI would also choke on is not ours to judge: ignore it.
    let cfg: ConfigFile = serde_json::from_slice(&bytes).ok()?;
    let name = cfg.current_context.filter(|c| !c.is_empty())?;
    Some((name, format!("currentContext in {}", path.display())))
}

/// The Docker endpoint of a named context (`default` means the default socket).
fn context_endpoint(env: &Env, files: &dyn Files, name: &str, why: &str) -> Result<Option<Endpoint>, String> {
    if name == "default" {
        return Ok(None);
    }
    let dir = config_dir(env).ok_or_else(|| {
        format!("docker context {name:?} ({why}): no $HOME or $DOCKER_CONFIG to find it in")
    })?;
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    let path = dir.join("contexts").join("meta").join(&digest).join("meta.json");
    let bytes = files.read(&path).ok_or_else(|| {
        format!(
            "docker context {name:?} ({why}) does not exist ({} is missing); `docker context ls` lists contexts",
            path.display()
        )
    })?;
    let meta: ContextMeta = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a docker context: {e}", path.display()))?;
    let endpoint = meta
        .endpoints
        .get("docker")
        .filter(|e| e.host.as_ref().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| format!("{}: the context has no docker endpoint", path.display()))?;
    let host = endpoint.host.as_deref().unwrap_or_default();
    let origin = format!("context {name:?} ({why})");
    // The context's TLS files, when it has any: it then speaks TLS to a tcp:// host.
    let certs = dir.join("contexts").join("tls").join(&digest).join("docker");
    let has_tls = TLS_FILES.iter().any(|f| files.read(&certs.join(f)).is_some());
    let tls = if has_tls && tcp_authority(host).is_some() {
        let update = format!(
            "docker context update {name} --docker \"host={host},ca=PATH/ca.pem,cert=PATH/cert.pem,key=PATH/key.pem\""
        );
        if endpoint.skip_tls_verify {
            return Err(format!(
                "docker context {name:?} ({why}) sets SkipTLSVerify: dsize always checks the daemon's certificate; give the context the daemon's CA ({update})"
            ));
        }
        let context = format!("docker context {name:?}");
        Some(tls_dir(certs, files, &context, &format!("{update} stores them"))?)
    } else {
        None
    };
    let address = parse_host(host, &origin, tls)?;
    Ok(Some(Endpoint {
        address,
        engine: Engine::Docker,
        origin,
    }))
}

/// Podman's sockets, in the order Podman's own clients try them.
fn podman_endpoints(env: &Env) -> Vec<Endpoint> {
    let mut out = Vec::new();
    if let Some(dir) = &env.xdg_runtime_dir {
        out.push(Endpoint {
            address: Address::Unix(dir.join("podman").join("podman.sock")),
            engine: Engine::Podman,
            origin: "Podman's user socket ($XDG_RUNTIME_DIR)".into(),
        });
    }
    out.push(Endpoint {
        address: Address::Unix(PODMAN_SYSTEM_SOCKET.into()),
        engine: Engine::Podman,
        origin: "Podman's system socket".into(),
    });
    out
}

/// Decides where to look for the daemon.
pub fn plan(env: &Env, podman: bool, files: &dyn Files) -> Result<Plan, String> {
    if podman {
        if let Some(h) = &env.container_host {
            let address = parse_host(h, "CONTAINER_HOST", None)?;
            return Ok(Plan {
                primary: vec![Endpoint {
                    address,
                    engine: Engine::Podman,
                    origin: "CONTAINER_HOST".into(),
                }],
                fallback: vec![],
            });
        }
        return Ok(Plan {
            primary: podman_endpoints(env),
            fallback: vec![],
        });
    }
    if let Some(h) = &env.docker_host {
        // TLS settings only concern tcp:// hosts (the docker CLI ignores them for sockets).
        let tls = match tcp_authority(h) {
            Some(_) => env_tls(env, files)?,
            None => None,
        };
        let address = parse_host(h, "DOCKER_HOST", tls)?;
        return Ok(Plan {
            primary: vec![Endpoint {
                address,
                engine: Engine::Docker,
                origin: "DOCKER_HOST".into(),
            }],
            fallback: vec![],
        });
    }
    if let Some((name, why)) = chosen_context(env, files)
        && let Some(e) = context_endpoint(env, files, &name, &why)?
    {
        return Ok(Plan {
            primary: vec![e],
            fallback: vec![],
        });
    }
    if env.docker_tls_verify {
        // The docker CLI's default host with TLS on is tcp://localhost:2376, not the socket.
        let tls = env_tls(env, files)?;
        return Ok(Plan {
            primary: vec![Endpoint {
                address: parse_host("tcp://localhost", "DOCKER_TLS_VERIFY", tls)?,
                engine: Engine::Docker,
                origin: "DOCKER_TLS_VERIFY without DOCKER_HOST, as the docker CLI does".into(),
            }],
            fallback: vec![],
        });
    }
    let default = Endpoint {
        address: Address::Unix(DEFAULT_DOCKER_SOCKET.into()),
        engine: Engine::Docker,
        origin: "the default socket".into(),
    };
    Ok(Plan {
        primary: vec![default],
        fallback: podman_endpoints(env),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Fake(HashMap<PathBuf, Vec<u8>>);

    impl Fake {
        fn with(mut self, path: &str, body: &str) -> Self {
            self.0.insert(path.into(), body.as_bytes().to_vec());
            self
        }
    }

    impl Files for Fake {
        fn read(&self, path: &Path) -> Option<Vec<u8>> {
            self.0.get(path).cloned()
        }
    }

    fn home() -> Env {
        Env {
            home: Some("/home/u".into()),
            ..Env::default()
        }
    }

    fn unix(p: &str) -> Address {
        Address::Unix(p.into())
    }

    fn meta_path(dir: &str, name: &str) -> String {
        format!(
            "{dir}/contexts/meta/{}/meta.json",
            hex::encode(Sha256::digest(name.as_bytes()))
        )
    }

    #[test]
    fn default_socket_then_podman_fallback() {
        let env = Env {
            xdg_runtime_dir: Some("/run/user/1000".into()),
            ..home()
        };
        let p = plan(&env, false, &Fake::default()).unwrap();
        assert_eq!(p.primary.len(), 1);
        assert_eq!(p.primary[0].address, unix("/var/run/docker.sock"));
        assert_eq!(p.primary[0].origin, "the default socket");
        let fb: Vec<_> = p.fallback.iter().map(|e| e.address.clone()).collect();
        assert_eq!(
            fb,
            [
                unix("/run/user/1000/podman/podman.sock"),
                unix("/run/podman/podman.sock")
            ]
        );
        assert!(p.fallback.iter().all(|e| e.engine == Engine::Podman));
    }

    #[test]
    fn docker_host_wins_and_has_no_fallback() {
        let env = Env {
            docker_host: Some("unix:///tmp/d.sock".into()),
            docker_context: Some("other".into()),
            ..home()
        };
        let p = plan(&env, false, &Fake::default()).unwrap();
        assert_eq!(p.primary[0].address, unix("/tmp/d.sock"));
        assert_eq!(p.primary[0].origin, "DOCKER_HOST");
        assert!(p.fallback.is_empty());
    }

    #[test]
    fn tcp_hosts_get_the_default_port() {
        assert_eq!(
            parse_host("tcp://10.0.0.2", "DOCKER_HOST", None).unwrap(),
            Address::Tcp("10.0.0.2:2375".into())
        );
        assert_eq!(
            parse_host("tcp://build:2376/", "DOCKER_HOST", None).unwrap(),
            Address::Tcp("build:2376".into())
        );
        assert_eq!(
            parse_host("tcp://[::1]:2375", "DOCKER_HOST", None).unwrap(),
            Address::Tcp("[::1]:2375".into())
        );
        assert_eq!(
            parse_host("tcp://[::1]", "DOCKER_HOST", None).unwrap(),
            Address::Tcp("[::1]:2375".into())
        );
    }

    #[test]
    fn ssh_hosts_are_read_as_the_docker_cli_reads_them() {
        let ssh = |user: Option<&str>, host: &str, port: Option<u16>| {
            Address::Ssh(SshTarget {
                user: user.map(String::from),
                host: host.into(),
                port,
            })
        };
        for (h, want, shown) in [
            (
                "ssh://me@box.example",
                ssh(Some("me"), "box.example", None),
                "ssh://me@box.example",
            ),
            ("ssh://box:2222/", ssh(None, "box", Some(2222)), "ssh://box:2222"),
            (
                "ssh://root@[::1]:22",
                ssh(Some("root"), "::1", Some(22)),
                "ssh://root@[::1]:22",
            ),
            ("ssh://[::1]", ssh(None, "::1", None), "ssh://[::1]"),
        ] {
            let a = parse_host(h, "DOCKER_HOST", None).unwrap();
            assert_eq!(a, want, "{h}");
            assert_eq!(a.to_string(), shown);
        }
    }

    #[test]
    fn bad_hosts_say_what_to_write() {
        for h in ["foo", "unix://", "tcp://", "tcp://a/b", "/var/run/docker.sock"] {
            let e = parse_host(h, "DOCKER_HOST", None).unwrap_err();
            assert!(e.contains("DOCKER_HOST=") && e.contains("unix://"), "{h}: {e}");
        }
        for (h, why) in [
            ("ssh://", "names no host"),
            ("ssh://me@", "names no host"),
            ("ssh://box/path", "takes no path"),
            ("ssh://me:pw@box", "holds a password"),
            ("ssh://@box", "user part is empty"),
            ("ssh://box:99999", "is not a port number"),
        ] {
            let e = parse_host(h, "DOCKER_HOST", None).unwrap_err();
            assert!(
                e.contains(why) && e.contains("write ssh://[USER@]HOST[:PORT]"),
                "{h}: {e}"
            );
        }
        let e = parse_host("https://box:2376", "DOCKER_HOST", None).unwrap_err();
        assert!(e.contains("tcp://HOST:PORT with DOCKER_TLS_VERIFY=1"), "{e}");
    }

    fn tls_at(authority: &str, dir: &str) -> Address {
        Address::Tls(authority.into(), dir.into())
    }

    fn certs_in(files: Fake, dir: &str, names: &[&str]) -> Fake {
        names.iter().fold(files, |f, n| {
            f.with(&format!("{dir}/{n}"), "-----BEGIN CERTIFICATE-----")
        })
    }

    #[test]
    fn tls_verify_speaks_tls_to_tcp_hosts_with_the_cert_path_files() {
        let tls = |host: &str, cert_path: Option<&str>| Env {
            docker_host: Some(host.into()),
            docker_tls_verify: true,
            docker_cert_path: cert_path.map(PathBuf::from),
            ..home()
        };
        let files = certs_in(
            Fake::default(),
            "/certs/client",
            &["ca.pem", "cert.pem", "key.pem"],
        );
        let p = plan(&tls("tcp://docker", Some("/certs/client")), false, &files).unwrap();
        let want = tls_at("docker:2376", "/certs/client");
        assert_eq!(p.primary[0].address, want);
        assert_eq!(p.primary[0].address.to_string(), "tcp://docker:2376 with TLS");
        // Without DOCKER_CERT_PATH the files are in the config directory; the client pair is
        // optional.
        let files = certs_in(Fake::default(), "/home/u/.docker", &["ca.pem"]);
        let p = plan(&tls("tcp://box:12376", None), false, &files).unwrap();
        let want = tls_at("box:12376", "/home/u/.docker");
        assert_eq!(p.primary[0].address, want);
        // A socket ignores the TLS settings, as the docker CLI does.
        let p = plan(
            &tls("unix:///tmp/d.sock", Some("/nowhere")),
            false,
            &Fake::default(),
        )
        .unwrap();
        assert_eq!(p.primary[0].address, unix("/tmp/d.sock"));
        // Without DOCKER_HOST the docker CLI's TLS default is localhost:2376, not the socket.
        let env = Env {
            docker_host: None,
            ..tls("", Some("/certs/client"))
        };
        let files = certs_in(Fake::default(), "/certs/client", &["ca.pem"]);
        let p = plan(&env, false, &files).unwrap();
        let want = tls_at("localhost:2376", "/certs/client");
        assert_eq!((p.primary[0].address.clone(), p.fallback.len()), (want, 0));
    }

    #[test]
    fn tls_settings_that_cannot_work_say_why() {
        let env = Env {
            docker_host: Some("tcp://docker:2376".into()),
            docker_tls_verify: true,
            docker_cert_path: Some("/certs".into()),
            ..home()
        };
        let e = plan(&env, false, &Fake::default()).unwrap_err();
        assert!(e.contains("/certs/ca.pem cannot be read"), "{e}");
        let half = certs_in(Fake::default(), "/certs", &["ca.pem", "cert.pem"]);
        let e = plan(&env, false, &half).unwrap_err();
        assert!(
            e.contains("/certs/cert.pem is there but /certs/key.pem cannot be read"),
            "{e}"
        );
        let unchecked = Env {
            docker_tls_verify: false,
            docker_tls: true,
            ..env
        };
        let e = plan(&unchecked, false, &Fake::default()).unwrap_err();
        assert!(e.contains("DOCKER_TLS without DOCKER_TLS_VERIFY"), "{e}");
    }

    #[test]
    fn a_context_with_tls_files_speaks_tls() {
        let tls_dir = format!(
            "/home/u/.docker/contexts/tls/{}/docker",
            hex::encode(Sha256::digest(b"dind"))
        );
        let meta = |skip: bool| {
            format!(r#"{{"Endpoints":{{"docker":{{"Host":"tcp://docker:2376","SkipTLSVerify":{skip}}}}}}}"#)
        };
        let env = Env {
            docker_context: Some("dind".into()),
            ..home()
        };
        let files = Fake::default().with(&meta_path("/home/u/.docker", "dind"), &meta(false));
        let files = certs_in(files, &tls_dir, &["ca.pem", "cert.pem", "key.pem"]);
        let p = plan(&env, false, &files).unwrap();
        assert_eq!(p.primary[0].address, tls_at("docker:2376", &tls_dir));
        let files = Fake::default().with(&meta_path("/home/u/.docker", "dind"), &meta(true));
        let files = certs_in(files, &tls_dir, &["ca.pem"]);
        let e = plan(&env, false, &files).unwrap_err();
        assert!(e.contains("SkipTLSVerify"), "{e}");
        // TLS files without the CA: the message says how the context gets one.
        let files = Fake::default().with(&meta_path("/home/u/.docker", "dind"), &meta(false));
        let files = certs_in(files, &tls_dir, &["cert.pem", "key.pem"]);
        let e = plan(&env, false, &files).unwrap_err();
        assert!(
            e.contains("ca.pem cannot be read") && e.contains("docker context update dind"),
            "{e}"
        );
        // Without TLS files the context's tcp host is plain HTTP.
        let files = Fake::default().with(&meta_path("/home/u/.docker", "dind"), &meta(false));
        let p = plan(&env, false, &files).unwrap();
        assert_eq!(p.primary[0].address, Address::Tcp("docker:2376".into()));
    }

    #[test]
    fn docker_context_env_reads_the_meta_file() {
        let files = Fake::default().with(
            &meta_path("/home/u/.docker", "colima"),
            r#"{"Name":"colima","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///home/u/.colima/docker.sock","SkipTLSVerify":false}}}"#,
        );
        let env = Env {
            docker_context: Some("colima".into()),
            ..home()
        };
        let p = plan(&env, false, &files).unwrap();
        assert_eq!(p.primary[0].address, unix("/home/u/.colima/docker.sock"));
        assert_eq!(p.primary[0].origin, "context \"colima\" (DOCKER_CONTEXT)");
        assert!(p.fallback.is_empty());
    }

    #[test]
    fn current_context_from_config_json_and_docker_config() {
        let files = Fake::default()
            .with("/cfg/config.json", r#"{"auths":{},"currentContext":"remote"}"#)
            .with(
                &meta_path("/cfg", "remote"),
                r#"{"Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2375"}}}"#,
            );
        let env = Env {
            docker_config: Some("/cfg".into()),
            ..home()
        };
        let p = plan(&env, false, &files).unwrap();
        assert_eq!(p.primary[0].address, Address::Tcp("10.1.2.3:2375".into()));
        assert!(p.primary[0].origin.contains("currentContext in /cfg/config.json"));
    }

    #[test]
    fn default_context_and_unreadable_config_mean_the_default_socket() {
        let files = Fake::default().with("/home/u/.docker/config.json", r#"{"currentContext":"default"}"#);
        let p = plan(&home(), false, &files).unwrap();
        assert_eq!(p.primary[0].address, unix(DEFAULT_DOCKER_SOCKET));
        let files = Fake::default().with("/home/u/.docker/config.json", "not json");
        let p = plan(&home(), false, &files).unwrap();
        assert_eq!(p.primary[0].address, unix(DEFAULT_DOCKER_SOCKET));
    }

    #[test]
    fn missing_context_is_an_error_naming_it() {
        let env = Env {
            docker_context: Some("gone".into()),
            ..home()
        };
        let e = plan(&env, false, &Fake::default()).unwrap_err();
        assert!(e.contains("\"gone\"") && e.contains("does not exist"), "{e}");
        let files = Fake::default().with(&meta_path("/home/u/.docker", "gone"), r#"{"Endpoints":{}}"#);
        let e = plan(&env, false, &files).unwrap_err();
        assert!(e.contains("no docker endpoint"), "{e}");
    }

    #[test]
    fn podman_sockets() {
        let env = Env {
            xdg_runtime_dir: Some("/run/user/1000".into()),
            docker_host: Some("unix:///var/run/docker.sock".into()),
            ..home()
        };
        let p = plan(&env, true, &Fake::default()).unwrap();
        let a: Vec<_> = p.primary.iter().map(|e| e.address.clone()).collect();
        assert_eq!(
            a,
            [
                unix("/run/user/1000/podman/podman.sock"),
                unix("/run/podman/podman.sock")
            ]
        );
        assert!(p.primary.iter().all(|e| e.engine == Engine::Podman));
        // No XDG_RUNTIME_DIR (root, or a bare CI shell): the system socket only.
        let p = plan(&home(), true, &Fake::default()).unwrap();
        assert_eq!(p.primary.len(), 1);
        assert_eq!(p.primary[0].address, unix(PODMAN_SYSTEM_SOCKET));
        // CONTAINER_HOST (Podman's DOCKER_HOST) wins.
        let env = Env {
            container_host: Some("unix:///tmp/p.sock".into()),
            ..home()
        };
        let p = plan(&env, true, &Fake::default()).unwrap();
        assert_eq!(p.primary[0].address, unix("/tmp/p.sock"));
    }
}
