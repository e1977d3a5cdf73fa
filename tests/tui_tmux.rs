//! End to end: the real binary in a real terminal (tmux), driven by send-keys and read with
//! capture-pane, on `assets/my-app-v1.tar`. Skipped with a note when tmux is missing, unless CI is
//! set (then missing tmux fails the test).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server on its own socket, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// Sends keys, then waits until the screen contains `text`.
    fn press(&self, keys: &[&str], text: &str) -> String {
        self.keys(keys);
        self.wait_for(text)
    }

    /// Waits until the screen contains `text`.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited 20 s for {text:?}; the screen is:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tmux session running dsize with `args` (`assets/…` made absolute) in a 100×30 terminal, or
/// None (with a note) when tmux is missing outside CI.
fn session(name: &str, args: &str) -> Option<Tmux> {
    if !tmux_available() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "tmux is required under CI=true"
        );
        eprintln!("skipped: tmux is not installed (install tmux to run this end-to-end test)");
        return None;
    }
    let bin = env!("CARGO_BIN_EXE_dsize");
    let args = args.replace("assets/", concat!(env!("CARGO_MANIFEST_DIR"), "/assets/"));
    let t = Tmux {
        socket: format!("dsize-e2e-{name}-{}", std::process::id()),
    };
    let cmd = format!("env -u NO_COLOR '{bin}' {args}; echo \"dsize exited: $?\"; sleep 60");
    let started = t.run(&["new-session", "-d", "-x", "100", "-y", "30", "-s", "e2e", &cmd]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    Some(t)
}

#[test]
fn ci_rules_show_a_verdict_and_set_the_exit_code() {
    let Some(t) = session("ci", "assets/my-app-v1.tar --tui --ci --max-leftovers 1kB") else {
        return;
    };
    t.wait_for("CI FAIL");
    // Wait for the whole verdict rather than asserting on the frame that first showed "CI FAIL".
    t.wait_for("FAIL (1 of 1 rules failed)");
    t.keys(&["q"]);
    t.wait_for("dsize exited: 1");
}

#[test]
fn the_real_binary_in_tmux() {
    let Some(t) = session("main", "assets/my-app-v1.tar") else {
        return;
    };

    // The first frames, then the analysis.
    let s = t.wait_for("efficiency 99.32 %");
    assert!(s.contains("Layers") && s.contains("IMPORT"), "{s}");
    // Two layers down: step 2's changes.
    t.keys(&["j", "j"]);
    t.wait_for("Files · #2 changes");
    // The whole filesystem as of it.
    t.keys(&["t"]);
    t.wait_for("Files · as of #2");
    // Help, and back.
    t.keys(&["?"]);
    t.wait_for("Esc closes");
    t.keys(&["Escape"]);
    let s = t.wait_for("Files · as of #2");
    assert!(!s.contains("Esc closes"), "{s}");
    // Back to the first layer, then from the waste list to the biggest item's layer (#2).
    t.keys(&["g"]);
    t.wait_for("Files · as of #0");
    t.keys(&["Tab", "Tab"]);
    t.wait_for("fix: end the RUN that runs apt-get update");
    t.keys(&["Enter"]);
    t.wait_for("Files · as of #2");
    // Resize the terminal: it redraws for the new size.
    assert!(
        t.run(&["resize-window", "-t", "e2e", "-x", "70", "-y", "20"])
            .status
            .success()
    );
    t.wait_for("dsize my-app:v1");
    // q quits at once and gives the terminal back.
    t.keys(&["q"]);
    let s = t.wait_for("dsize exited: 0");
    assert!(!s.contains("Layers"), "the alternate screen was left:\n{s}");
}

/// `dsize compare` in a terminal: the pair list, the v2 → v3 diff tree, a filter, q.
#[test]
fn compare_in_tmux() {
    let Some(t) = session(
        "compare",
        "compare assets/my-app-v1.tar assets/my-app-v2.tar assets/my-app-v3.tar",
    ) else {
        return;
    };
    t.wait_for("my-app:v2 → my-app:v3");
    let s = t.press(&["j", "Enter"], "sorted by size change");
    assert!(s.contains("- .git/") && s.contains("< var/"), "{s}");
    t.press(&["/", "g", "i", "t"], "/git▏");
    t.press(&["Enter", "s"], "sorted by name");
    // Esc clears the filter, then goes back to the pairs (sent apart: a terminal reads two
    // Escapes at once as one Alt-Escape).
    t.press(&["Escape"], "Esc pairs");
    t.press(&["Escape"], "Pick a pair");
    let s = t.press(&["q"], "dsize exited: 0");
    assert!(!s.contains("Pick a pair"), "the alternate screen was left:\n{s}");
}
