//! The Engine API over ssh, as the docker CLI speaks it for `ssh://` hosts: every connection is
//! `ssh -l USER -p PORT -- HOST docker system dial-stdio`, and HTTP/1.1 runs over the child's
//! standard input and output. Connections are pooled like any other, so a run usually starts
//! one ssh. `ssh` is the one on `PATH`, with the user's own configuration and keys; it runs with
//! `BatchMode=yes` (a prompt cannot be answered while dsize reads, so keys come from an agent or
//! a key file without a passphrase). What ssh says on standard error is kept for messages.

use super::discover::SshTarget;
use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The arguments for `ssh`, as the docker CLI passes them (`--` before the host, so a host
/// cannot pass for an option).
pub fn args(t: &SshTarget) -> Vec<String> {
    let mut a = vec!["-o".to_string(), "BatchMode=yes".to_string()];
    if let Some(u) = &t.user {
        a.extend(["-l".to_string(), u.clone()]);
    }
    if let Some(p) = t.port {
        a.extend(["-p".to_string(), p.to_string()]);
    }
    a.extend(["--", &t.host, "docker", "system", "dial-stdio"].map(String::from));
    a
}

/// The command a user can try by hand when ssh fails (dsize's own adds only `-o BatchMode=yes`
/// and spells the user and port as options): `ssh [-p PORT] [USER@]HOST docker system dial-stdio`.
pub fn to_try(t: &SshTarget) -> String {
    let port = t.port.map(|p| format!("-p {p} ")).unwrap_or_default();
    let user = t.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
    format!("ssh {port}{user}{} docker system dial-stdio", t.host)
}

/// The one line for an `ssh` that is not on PATH.
const NO_SSH: &str = "ssh is not installed (not found in PATH)";

/// What ssh last said on standard error (its last non-empty line), shared with messages.
#[derive(Clone, Default)]
pub struct Said(Arc<Mutex<Stderr>>);

/// The state behind [`Said`], for the newest ssh.
#[derive(Default)]
struct Stderr {
    /// Its last non-empty line.
    last: String,
    /// Whether it has closed its standard error (it has exited, or is about to).
    closed: bool,
}

impl Said {
    /// ssh's last line when ssh is gone: it closed its standard error within a second (a
    /// failed connection shows first as a closed pipe, its reason follows on stderr). `None`
    /// while ssh still runs: then the failure is the daemon's, not ssh's.
    pub async fn last(&self) -> Option<String> {
        for _ in 0..50 {
            if let Ok(s) = self.0.lock()
                && s.closed
            {
                return (!s.last.is_empty()).then(|| s.last.clone());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }
}

/// A connection: the child's output to read, its input to write. The child is killed when the
/// connection is dropped.
struct ChildIo {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl AsyncRead for ChildIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

impl Connection for ChildIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// Starts one `ssh … docker system dial-stdio` per connection the client asks for.
#[derive(Clone)]
struct Connector {
    target: Arc<SshTarget>,
    said: Said,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<ChildIo>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let (target, said) = (Arc::clone(&self.target), self.said.clone());
        Box::pin(async move {
            let mut child = Command::new("ssh")
                .args(args(&target))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => io::Error::new(e.kind(), NO_SSH),
                    _ => io::Error::new(e.kind(), format!("cannot run ssh: {e}")),
                })?;
            let (Some(stdin), Some(stdout), Some(stderr)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err(io::Error::other("ssh started without its pipes"));
            };
            if let Ok(mut s) = said.0.lock() {
                s.closed = false;
            }
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = line.trim();
                    if !line.is_empty()
                        && let Ok(mut s) = said.0.lock()
                    {
                        s.last = line.to_string();
                    }
                }
                if let Ok(mut s) = said.0.lock() {
                    s.closed = true;
                }
            });
            Ok(TokioIo::new(ChildIo {
                _child: child,
                stdin,
                stdout,
            }))
        })
    }
}

/// A client for the daemon behind `target`, and what its ssh says on standard error.
pub fn connect(target: &SshTarget, timeout_secs: u64) -> Result<(Docker, Said), String> {
    let on_path =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("ssh").is_file()));
    if !on_path {
        return Err(NO_SSH.into());
    }
    let said = Said::default();
    let connector = Connector {
        target: Arc::new(target.clone()),
        said: said.clone(),
    };
    let client = Arc::new(Client::builder(TokioExecutor::new()).build(connector));
    let docker = Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let client = Arc::clone(&client);
            async move { client.request(req).await.map_err(bollard::errors::Error::from) }
        },
        // The host part of the URLs the client builds; the connector never looks at it.
        Some("http://docker.invalid"),
        timeout_secs,
        API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())?;
    Ok((docker, said))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_is_run_as_the_docker_cli_runs_it() {
        let t = SshTarget {
            user: Some("me".into()),
            host: "box.example".into(),
            port: Some(2222),
        };
        assert_eq!(
            args(&t).join(" "),
            "-o BatchMode=yes -l me -p 2222 -- box.example docker system dial-stdio"
        );
        assert_eq!(to_try(&t), "ssh -p 2222 me@box.example docker system dial-stdio");
        let bare = SshTarget {
            user: None,
            host: "-oProxyCommand=x".into(),
            port: None,
        };
        assert_eq!(
            args(&bare).join(" "),
            "-o BatchMode=yes -- -oProxyCommand=x docker system dial-stdio"
        );
    }
}
