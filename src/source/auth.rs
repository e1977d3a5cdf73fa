//! Registry credentials for `--pull`, found as the docker CLI finds them, as pure logic: the
//! environment, the files and the credential helpers are inputs ([`Env`], [`Files`],
//! [`Helpers`]), so every rule is unit-tested without touching the real machine.
//!
//! The registry is the image name's first component when it looks like a host (it holds a `.`
//! or a `:`, is `localhost`, or has capitals), else Docker Hub. In `config.json` (`$DOCKER_CONFIG`
//! or `~/.docker`), a `credHelpers` entry for that registry names the helper to ask, else
//! `credsStore` does; without a helper (or when it knows no credentials for the registry) the
//! `auths` entry is used, its key compared as a host (`https://host/v1/` and `host` are the
//! same). A helper is `docker-credential-NAME get`, given the registry on standard input, as in
//! the docker CLI. No credentials found: the pull is anonymous, as `docker pull` without a login.
//!
//! Secrets never appear in a message: errors name the helper or the file, never what they hold.

use super::discover::{Env, Files, config_dir};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Docker Hub as image names reach it (`ubuntu`, `library/ubuntu`, `docker.io/library/ubuntu`).
pub(super) const HUB: &str = "docker.io";
/// The key the docker CLI stores Docker Hub's login under, and asks helpers for.
const HUB_SERVER: &str = "https://index.docker.io/v1/";

/// What the daemon is given to log in to a registry for one pull.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The registry as the docker CLI names it to the daemon.
    pub server: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// A token a registry gave at login (a helper's `<token>` user, `identitytoken` in a file).
    pub identity_token: Option<String>,
    /// Where they came from, for messages: a helper or `config.json`.
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, even in a test failure.
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("identity_token", &self.identity_token.as_ref().map(|_| "…"))
            .field("source", &self.source)
            .finish()
    }
}

/// Asks a credential helper (`docker-credential-NAME get`) for a registry's login.
pub trait Helpers {
    /// `Ok(Some((username, secret)))`, `Ok(None)` when the helper has none for `server`.
    fn get(&self, helper: &str, server: &str) -> Result<Option<(String, String)>, String>;
}

/// The helpers installed on this machine, run as the docker CLI runs them.
pub struct RealHelpers;

impl Helpers for RealHelpers {
    fn get(&self, helper: &str, server: &str) -> Result<Option<(String, String)>, String> {
        let program = format!("docker-credential-{helper}");
        let mut child = Command::new(&program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!("{program} is not installed (not found in PATH)"),
                _ => format!("cannot run {program}: {e}"),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading says so below, in its status.
            let _ = stdin.write_all(server.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        let said = String::from_utf8_lossy(if out.stdout.is_empty() {
            &out.stderr
        } else {
            &out.stdout
        })
        .trim()
        .to_string();
        if !out.status.success() {
            // The helpers' protocol: this text when they hold nothing for the server.
            if said.contains("credentials not found") {
                return Ok(None);
            }
            let said = super::engine::one_line(&said);
            return Err(format!("{program} get failed ({}): {said}", out.status));
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Username", default)]
            username: String,
            #[serde(rename = "Secret", default)]
            secret: String,
        }
        let a: Answer = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{program} get gave no credentials JSON: {e}"))?;
        Ok(Some((a.username, a.secret)))
    }
}

/// The registry host of an image name (`docker.io` for Docker Hub), as the docker CLI splits it.
pub fn registry_of(name: &str) -> &str {
    match name.split_once('/') {
        Some((first, _))
            if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first =>
        {
            first
        }
        _ => HUB,
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// The registry host of an image name as logins are looked up: [`registry_of`] as a bare host,
/// Docker Hub's other names (`index.docker.io`, `registry-1.docker.io`) as `docker.io`.
pub fn registry_host(name: &str) -> &str {
    host_of(registry_of(name))
}

/// A config key or registry as a bare host: no scheme, no path; Docker Hub's names as one.
fn host_of(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" => HUB,
        h => h,
    }
}

/// The entry of a config map for a registry: the key spelled as the docker CLI spells it, else
/// the first key (in byte order) naming the same host.
fn entry_for<'a, V>(map: &'a HashMap<String, V>, host: &str, server: &str) -> Option<&'a V> {
    map.get(server).or_else(|| {
        map.iter()
            .filter(|(k, _)| host_of(k) == host)
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, v)| v)
    })
}

/// The credentials to pull `name` with, or `None` for an anonymous pull.
pub fn for_image(
    name: &str,
    env: &Env,
    files: &dyn Files,
    helpers: &dyn Helpers,
) -> Result<Option<Credentials>, String> {
    let host = registry_host(name);
    let server = if host == HUB { HUB_SERVER } else { host };
    let Some(path) = config_dir(env).map(|d| d.join("config.json")) else {
        return Ok(None);
    };
    let Some(bytes) = files.read(&path) else {
        return Ok(None);
    };
    let cfg: ConfigFile = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a docker config file: {e}", path.display()))?;
    let helper = entry_for(&cfg.cred_helpers, host, server)
        .map(|h| (h.as_str(), "credHelpers"))
        .or_else(|| cfg.creds_store.as_deref().map(|h| (h, "credsStore")))
        .filter(|(h, _)| !h.is_empty());
    if let Some((helper, why)) = helper {
        let from = format!("docker-credential-{helper} ({why} in {})", path.display());
        let found = helpers.get(helper, server).map_err(|e| {
            format!(
                "the credentials for {host}: {e} (named by {why} in {})",
                path.display()
            )
        })?;
        if let Some((user, secret)) = found.filter(|(u, s)| !u.is_empty() || !s.is_empty()) {
            let (username, password, identity_token) = if user == "<token>" {
                (None, None, Some(secret))
            } else {
                (Some(user), Some(secret), None)
            };
            return Ok(Some(Credentials {
                server: server.to_string(),
                username,
                password,
                identity_token,
                source: from,
            }));
        }
    }
    let Some(entry) = entry_for(&cfg.auths, host, server) else {
        return Ok(None);
    };
    let source = format!("auths in {}", path.display());
    let (mut username, mut password) = (entry.username.clone(), entry.password.clone());
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let pair = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
            .ok_or_else(|| {
                format!("{source}: the entry for {host} has an `auth` that is not base64 of user:password")
            })?;
        (username, password) = (Some(pair.0), Some(pair.1));
    }
    let identity_token = entry.identitytoken.clone().filter(|t| !t.is_empty());
    if username.is_none() && identity_token.is_none() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        server: server.to_string(),
        username,
        password,
        identity_token,
        source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    struct Map(HashMap<PathBuf, Vec<u8>>);
    impl Files for Map {
        fn read(&self, path: &Path) -> Option<Vec<u8>> {
            self.0.get(path).cloned()
        }
    }

    /// Helpers answering from a table, recording what they were asked.
    #[derive(Default)]
    struct Fake {
        known: HashMap<(String, String), (String, String)>,
        asked: RefCell<Vec<(String, String)>>,
    }
    impl Helpers for Fake {
        fn get(&self, helper: &str, server: &str) -> Result<Option<(String, String)>, String> {
            self.asked.borrow_mut().push((helper.into(), server.into()));
            if helper == "missing" {
                return Err("docker-credential-missing is not installed (not found in PATH)".into());
            }
            Ok(self.known.get(&(helper.into(), server.into())).cloned())
        }
    }

    fn env() -> Env {
        Env {
            home: Some("/home/u".into()),
            ..Env::default()
        }
    }

    fn config(json: &str) -> Map {
        Map(HashMap::from([(
            PathBuf::from("/home/u/.docker/config.json"),
            json.as_bytes().to_vec(),
        )]))
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn the_registry_is_the_first_component_only_when_it_looks_like_a_host() {
        for (name, host) in [
            ("ubuntu", "docker.io"),
            ("ubuntu:22.04", "docker.io"),
            ("library/ubuntu", "docker.io"),
            ("docker.io/library/ubuntu", "docker.io"),
            ("ghcr.io/org/app:v1", "ghcr.io"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000"),
            ("localhost/app", "localhost"),
            ("registry:5000/app", "registry:5000"),
            ("Registry/app", "Registry"),
            ("org/app@sha256:abc", "docker.io"),
        ] {
            assert_eq!(registry_of(name), host, "{name}");
        }
    }

    #[test]
    fn a_login_in_auths_is_found_under_any_spelling_of_its_host() {
        let files = config(&format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{}"}}, "http://reg.example:5000/v2/": {{"auth": "{}"}}}}}}"#,
            b64("hub:pw:with:colons"),
            b64("me:secret")
        ));
        let fake = Fake::default();
        let hub = for_image("alpine", &env(), &files, &fake).unwrap().unwrap();
        assert_eq!(hub.server, "https://index.docker.io/v1/");
        assert_eq!(
            (hub.username.as_deref(), hub.password.as_deref()),
            (Some("hub"), Some("pw:with:colons"))
        );
        // Docker Hub's other names find the same login.
        for other in [
            "index.docker.io/library/alpine",
            "registry-1.docker.io/library/alpine",
        ] {
            let c = for_image(other, &env(), &files, &fake).unwrap().unwrap();
            assert_eq!(
                (c.server.as_str(), c.username.as_deref()),
                ("https://index.docker.io/v1/", Some("hub"))
            );
        }
        let reg = for_image("reg.example:5000/app:1", &env(), &files, &fake)
            .unwrap()
            .unwrap();
        assert_eq!(reg.server, "reg.example:5000");
        assert_eq!(
            (reg.username.as_deref(), reg.password.as_deref()),
            (Some("me"), Some("secret"))
        );
        assert_eq!(reg.source, "auths in /home/u/.docker/config.json");
        // Another registry, no config, no file: anonymous.
        assert_eq!(for_image("ghcr.io/a/b", &env(), &files, &fake).unwrap(), None);
        assert_eq!(
            for_image("alpine", &env(), &Map(HashMap::new()), &fake).unwrap(),
            None
        );
        assert_eq!(for_image("alpine", &Env::default(), &files, &fake).unwrap(), None);
        assert!(fake.asked.borrow().is_empty());
    }

    #[test]
    fn docker_config_moves_the_file() {
        let e = Env {
            docker_config: Some("/cfg".into()),
            ..env()
        };
        let files = Map(HashMap::from([(
            PathBuf::from("/cfg/config.json"),
            format!(r#"{{"auths": {{"r.io": {{"auth": "{}"}}}}}}"#, b64("a:b")).into_bytes(),
        )]));
        let c = for_image("r.io/x", &e, &files, &Fake::default())
            .unwrap()
            .unwrap();
        assert_eq!(c.username.as_deref(), Some("a"));
        assert_eq!(c.source, "auths in /cfg/config.json");
    }

    #[test]
    fn a_helper_for_the_registry_wins_over_the_store_and_the_file() {
        let files = config(&format!(
            r#"{{"credsStore": "store", "credHelpers": {{"r.io": "ecr"}}, "auths": {{"r.io": {{"auth": "{}"}}, "o.io": {{}}}}}}"#,
            b64("file:pw")
        ));
        let mut fake = Fake::default();
        fake.known
            .insert(("ecr".into(), "r.io".into()), ("AWS".into(), "tok".into()));
        fake.known.insert(
            ("store".into(), "https://index.docker.io/v1/".into()),
            ("<token>".into(), "idtok".into()),
        );
        let c = for_image("r.io/app", &env(), &files, &fake).unwrap().unwrap();
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref()),
            (Some("AWS"), Some("tok"))
        );
        assert_eq!(
            c.source,
            "docker-credential-ecr (credHelpers in /home/u/.docker/config.json)"
        );
        // Docker Hub goes to the store, asked with the CLI's key; `<token>` is an identity token.
        let hub = for_image("alpine", &env(), &files, &fake).unwrap().unwrap();
        assert_eq!((hub.username, hub.password), (None, None));
        assert_eq!(hub.identity_token.as_deref(), Some("idtok"));
        // The store knows nothing of o.io and its auths entry is empty: anonymous.
        assert_eq!(for_image("o.io/app", &env(), &files, &fake).unwrap(), None);
        assert_eq!(
            *fake.asked.borrow(),
            [
                ("ecr".to_string(), "r.io".to_string()),
                ("store".to_string(), "https://index.docker.io/v1/".to_string()),
                ("store".to_string(), "o.io".to_string()),
            ]
        );
    }

    #[test]
    fn a_helper_with_nothing_falls_back_to_the_file() {
        let files = config(&format!(
            r#"{{"credsStore": "store", "auths": {{"r.io": {{"auth": "{}"}}}}}}"#,
            b64("file:pw")
        ));
        let c = for_image("r.io/app", &env(), &files, &Fake::default())
            .unwrap()
            .unwrap();
        assert_eq!(c.username.as_deref(), Some("file"));
    }

    #[test]
    fn broken_logins_are_one_line_without_secrets() {
        let fake = Fake::default();
        let missing = config(r#"{"credsStore": "missing"}"#);
        let err = for_image("alpine", &env(), &missing, &fake).unwrap_err();
        assert_eq!(
            err,
            "the credentials for docker.io: docker-credential-missing is not installed (not found in PATH) (named by credsStore in /home/u/.docker/config.json)"
        );
        let garbled = config(r#"{"auths": {"r.io": {"auth": "c2VjcmV0LXdpdGhvdXQtY29sb24="}}}"#);
        let err = for_image("r.io/app", &env(), &garbled, &fake).unwrap_err();
        assert!(err.contains("not base64 of user:password"), "{err}");
        assert!(!err.contains("secret") && !err.contains("c2Vj"), "{err}");
        let err = for_image("r.io/app", &env(), &config("{"), &fake).unwrap_err();
        assert!(
            err.starts_with("/home/u/.docker/config.json: not a docker config file"),
            "{err}"
        );
        let shown = format!(
            "{:?}",
            for_image(
                "r.io/app",
                &env(),
                &config(&format!(
                    r#"{{"auths": {{"r.io": {{"auth": "{}"}}}}}}"#,
                    b64("u:hunter2")
                )),
                &fake
            )
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
