//! `dsize compare` end to end: the built binary on the tutorial's images in miniature (written
//! by the test kit in several shapes, so sources are mixed), on the example images in `assets/`
//! (numbers from `scripts/assets-src/EXPECTED.md`), and on the same three built with
//! `docker build` and read through a real Docker daemon (skipped, by name, when no daemon
//! answers outside CI; with `CI=true` a missing daemon fails).

use dsize::report::compare::Report;
use dsize::testkit::{Compression, Shape, tutorial};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn dsize(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dsize"))
        .args(args)
        .arg("--no-progress")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// v1, v2, v3 as `docker save` tars in a temporary directory.
fn tutorial_tars(dir: &Path) -> Vec<String> {
    [tutorial::v1(), tutorial::v2(), tutorial::v3()]
        .iter()
        .enumerate()
        .map(|(i, img)| {
            let p = dir.join(format!("v{}.tar", i + 1));
            std::fs::write(&p, img.archive(Shape::DockerLegacy)).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect()
}

fn report(o: &Output) -> Report {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// (stored − base, visible − base, wasted, layers) per image.
fn numbers(r: &Report, base: u64) -> Vec<(u64, u64, u64, usize)> {
    r.images
        .iter()
        .map(|i| {
            (
                i.stored_bytes - base,
                i.size_bytes - base,
                i.wasted_bytes,
                i.layers,
            )
        })
        .collect()
}

fn assets() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    (1..=3)
        .map(|i| {
            root.join(format!("assets/my-app-v{i}.tar"))
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn compare_prints_the_table_and_the_explanations() {
    let dir = tempfile::tempdir().unwrap();
    let tars = tutorial_tars(dir.path());
    let args: Vec<&str> = ["compare"]
        .into_iter()
        .chain(tars.iter().map(String::as_str))
        .collect();
    let o = dsize(&args, None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Comparing 3 images: my-app:v1, my-app:v2, my-app:v3\n"),
        "{out}"
    );
    let bytes = out.lines().find(|l| l.starts_with("  bytes")).unwrap();
    assert_eq!(
        bytes.split_whitespace().collect::<Vec<_>>(),
        vec!["bytes", "584,750", "584,800", "358,500"]
    );
    let flat = out.replace("\n  ", " ");
    assert!(flat.contains("\nmy-app:v2 -> my-app:v3 my-app:v3 is 226.30 kB (226,300 B) smaller than my-app:v2: 226,250 B fewer visible bytes and 50 B less waste. Gone: apt lists (80 kB), compiler toolchain (79 kB), .git directory (30.20 kB), pip cache (12 kB)."), "{out}");
    assert!(
        out.contains("    removed        80,000            0      -80,000  /var/lib/apt/\n"),
        "{out}"
    );
}

#[test]
fn sources_may_be_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.tar");
    std::fs::write(&v1, tutorial::v1().archive(Shape::Docker25)).unwrap();
    let v2 = dir.path().join("v2-layout");
    tutorial::v2()
        .compression(Compression::Zstd)
        .write_oci_dir(&v2)
        .unwrap();
    let v3 = tutorial::v3().archive(Shape::OciArchive);
    let o = dsize(
        &[
            "compare",
            v1.to_str().unwrap(),
            &format!("oci:{}", v2.display()),
            "-",
            "--json",
            "-",
        ],
        Some(&v3),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&o);
    let got: Vec<(u64, u64, u64)> = r
        .images
        .iter()
        .map(|i| (i.stored_bytes, i.size_bytes, i.wasted_bytes))
        .collect();
    assert_eq!(
        got,
        vec![
            (584_750, 584_750, 0),
            (584_800, 584_750, 50),
            (358_500, 358_500, 0)
        ]
    );
    // Compressed sizes are known for the compressed blobs only.
    assert!(r.images[0].compressed_bytes.is_none());
    assert!(r.images[1].compressed_bytes.is_some() && r.images[2].compressed_bytes.is_some());
    assert!(
        r.images[2]
            .vs_previous
            .as_ref()
            .unwrap()
            .compressed_bytes
            .is_some()
    );
    assert!(r.pairs[0].same_files && r.pairs[1].multi_stage);
    // With --json -, nothing else goes to stdout.
    assert_eq!(r.images[2].name, "standard input");
}

#[test]
fn growth_gate_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let tars = tutorial_tars(dir.path());
    let o = dsize(
        &["compare", &tars[0], &tars[2], "--ci", "--max-growth", "0%"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("  PASS  max-growth      stored shrank 226,250 B (-38.69 %) from my-app:v1 to my-app:v3; limit at most 0.00 % (--max-growth)\nResult: PASS (1 rule checked)\n"), "{}", stdout(&o));
    let o = dsize(
        &["compare", &tars[2], &tars[0], "--ci", "--max-growth", "20MB"],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let o = dsize(
        &["compare", &tars[2], &tars[0], "--ci", "--max-growth", "5%"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("  FAIL  max-growth      stored grew 226,250 B (+63.11 %) from my-app:v3 to my-app:v1; limit at most +5.00 % (--max-growth)\nResult: FAIL (1 of 1 rules failed)\n"), "{}", stdout(&o));
    // v1 -> v2 grew by 50 B: a byte limit is exact.
    let o = dsize(
        &["compare", &tars[0], &tars[1], "--ci", "--max-growth", "49"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let o = dsize(
        &["compare", &tars[0], &tars[1], "--ci", "--max-growth", "50"],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    // The gate in JSON and in Markdown.
    let o = dsize(
        &[
            "compare",
            &tars[2],
            &tars[0],
            "--ci",
            "--max-growth",
            "5%",
            "--json",
            "-",
            "--markdown",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let r = report(&o);
    assert_eq!(r.ci.as_ref().map(|c| c.pass), Some(false));
    assert!(
        stderr(&o).contains("**CI FAIL**: stored grew 226,250 B"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn markdown_for_a_pull_request() {
    let dir = tempfile::tempdir().unwrap();
    let tars = tutorial_tars(dir.path());
    let o = dsize(&["compare", &tars[1], &tars[2], "--markdown"], None);
    assert_eq!(o.status.code(), Some(0));
    let md = stdout(&o);
    assert!(md.starts_with("### Image size: my-app:v2 → my-app:v3\n\n| | my-app:v2 | my-app:v3 |\n|---|---:|---:|\n| **stored** | **584.80 kB** (584,800 B) | **358.50 kB** (358,500 B) |\n| vs previous |  | -226,300 B (-38.70 %) |\n"), "{md}");
    assert!(
        md.contains("| `/var/lib/apt/` | removed | 80,000 | 0 | -80,000 |\n"),
        "{md}"
    );
}

#[test]
fn json_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let tars = tutorial_tars(dir.path());
    let out = dir.path().join("diff.json");
    let o = dsize(
        &["compare", &tars[0], &tars[1], "--json", out.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    let r: Report = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(r.pairs[0].instructions.len(), 4);
    assert_eq!(r.pairs[0].waste[0].path, "/app/requirements.txt");
}

#[test]
fn one_image_still_works_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let tars = tutorial_tars(dir.path());
    let o = dsize(&[&tars[0], "--report"], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("Stored       584.75 kB  (584,750 bytes;"),
        "{}",
        stdout(&o)
    );
    let o = dsize(&["compare", &tars[0]], None);
    assert_eq!(o.status.code(), Some(2));
    let o = dsize(&["compare", &tars[0], &tars[1], "--ci"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-growth"), "{}", stderr(&o));
    let o = dsize(
        &["compare", &tars[0], &tars[1], "--ci", "--max-growth", "lots"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let o = dsize(&["compare", "-", "-"], Some(b""));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("only once"));
    let missing = dir.path().join("missing.tar");
    let o = dsize(&["compare", &tars[0], missing.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.tar"), "{}", stderr(&o));
}

#[test]
fn example_images_in_assets() {
    let a = assets();
    let o = dsize(&["compare", &a[0], &a[1], &a[2], "--json", "-"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&o);
    let labels: Vec<&str> = r.images.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["my-app:v1", "my-app:v2", "my-app:v3"]);
    assert_eq!(
        numbers(&r, 0),
        vec![
            (2_338_716, 2_322_735, 15_981, 8),
            (2_338_716, 2_322_735, 15_981, 10),
            (2_065_879, 2_065_879, 0, 3),
        ]
    );
    // v2 has v1's final tree: nothing changed by path, only the order of the instructions.
    let p = &r.pairs[0];
    assert!(p.same_files && p.files.is_empty() && p.directories.is_empty());
    let moved: Vec<(&str, Option<usize>, Option<usize>)> = p
        .instructions
        .iter()
        .map(|i| (i.change.as_str(), i.from_step, i.to_step))
        .collect();
    assert_eq!(
        moved,
        vec![
            ("added", None, Some(3)),
            ("moved", Some(1), Some(8)),
            ("moved", Some(7), Some(9))
        ]
    );
    // v3: 256,856 fewer visible bytes (the rows add up to it) and the 15,981 wasted gone.
    let p = &r.pairs[1];
    assert_eq!(
        (p.delta.stored_bytes, p.delta.size_bytes, p.delta.wasted_bytes),
        (-272_837, -256_856, -15_981)
    );
    assert_eq!(p.directories.iter().map(|d| d.delta_bytes).sum::<i64>(), -256_856);
    assert_eq!(p.files.iter().map(|d| d.delta_bytes).sum::<i64>(), -256_856);
    assert_eq!(p.files.len(), 24);
    assert_eq!(
        p.explanation,
        "my-app:v3 is 272.84 kB (272,837 B) smaller than my-app:v2: 256,856 B fewer visible bytes and 15,981 B less waste. \
         Gone: apt lists (60 kB), pip cache (50 kB), compiler toolchain (45 kB), .git directory (35.43 kB), apt archives (30 kB). \
         Other files: /app/data.bin removed (20 kB), /app/model-link.bin removed (16 kB). \
         No longer wasted: /root/.npm (12.80 kB), /usr/include/stdio.h (3 kB), /app/main.py (181 B). \
         The RUN steps are gone and 2 COPY steps brought in their results unchanged (83.58 kB): a multi-stage build."
    );
    assert_eq!(r.images[2].vs_first.as_ref().unwrap().leftover_bytes, -220_429);
}

/// The README's examples are real output: rerun them and compare.
#[test]
fn readme_examples_are_real_output() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(Path::new(root).join("README.md")).unwrap();
    let section = &readme[readme.find("## Comparing versions").unwrap()..];
    for command in [
        "dsize compare assets/my-app-v1.tar assets/my-app-v2.tar assets/my-app-v3.tar --top 3",
        "dsize compare assets/my-app-v1.tar assets/my-app-v3.tar --ci --max-growth 5%",
    ] {
        let args: Vec<&str> = command.split(' ').skip(1).collect();
        let o = Command::new(env!("CARGO_BIN_EXE_dsize"))
            .args(&args)
            .arg("--no-progress")
            .current_dir(root)
            .output()
            .unwrap();
        let out = stdout(&o);
        let first = out.lines().next().unwrap();
        let start = section
            .find(&format!("```text\n{first}\n"))
            .unwrap_or_else(|| panic!("the README shows the output of `{command}`"))
            + "```text\n".len();
        let len = section[start..].find("\n```").unwrap() + 1;
        assert_eq!(&section[start..start + len], out, "README output of `{command}`");
    }
}

// ------------------------------------------------------------------- through a real daemon

const TAGS: [&str; 3] = [
    "dsize-test-compare:v1",
    "dsize-test-compare:v2",
    "dsize-test-compare:v3",
];

/// Runs a command under `timeout` (no test may hang); its stdout, or why it failed.
fn sh(program: &str, args: &[&str], secs: u32) -> Result<String, String> {
    let o = Command::new("timeout")
        .arg(secs.to_string())
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if o.status.success() {
        Ok(stdout(&o))
    } else {
        let err = stderr(&o);
        Err(format!("{program} {}: {}", args.join(" "), err.trim()))
    }
}

/// The build context of `scripts/make-assets.sh`: the committed files, data.bin and a `.git`
/// directory, with fixed sizes, zero bodies and mtime 2000-01-01.
fn write_tutorial_context(ctx: &Path) -> std::io::Result<()> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/assets-src/context");
    for f in ["main.py", "main-v2.py", "requirements.txt"] {
        std::fs::copy(src.join(f), ctx.join(f))?;
    }
    let pack = ".git/objects/pack/pack-5f3c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
    let files: [(String, Vec<u8>); 9] = [
        ("data.bin".into(), vec![0; 20_000]),
        (".git/HEAD".into(), b"ref: refs/heads/main\n".to_vec()),
        (
            ".git/config".into(),
            b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n".to_vec(),
        ),
        (".git/index".into(), vec![0; 1_200]),
        (format!("{pack}.pack"), vec![0; 30_000]),
        (format!("{pack}.idx"), vec![0; 3_000]),
        (
            ".git/objects/3b/18e512dba79e4c8300dd08aeb37f8e728b8dad".into(),
            vec![0; 700],
        ),
        (
            ".git/objects/8a/b686eafeb1f44702738c8b0f24f2567c36da6d".into(),
            vec![0; 400],
        ),
        (
            ".git/refs/heads/main".into(),
            b"5f3c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39\n".to_vec(),
        ),
    ];
    for (name, body) in files {
        let p = ctx.join(name);
        std::fs::create_dir_all(p.parent().unwrap_or(ctx))?;
        std::fs::write(p, body)?;
    }
    let y2k = std::time::UNIX_EPOCH + std::time::Duration::from_secs(946_684_800);
    let mut stack = vec![ctx.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                std::fs::File::options().write(true).open(&p)?.set_modified(y2k)?;
            }
        }
    }
    Ok(())
}

/// Builds my-app v1, v2, v3 from `scripts/assets-src` with the classic builder, as
/// `make-assets.sh` does, under test tags.
fn build_tutorial_with_docker() -> Result<(), String> {
    sh("docker", &["version", "--format", "{{.Server.Version}}"], 30)?;
    let repo = env!("CARGO_MANIFEST_DIR");
    sh("bash", &[&format!("{repo}/scripts/base-image.sh")], 300)?;
    let ctx = tempfile::tempdir().map_err(|e| e.to_string())?;
    write_tutorial_context(ctx.path()).map_err(|e| e.to_string())?;
    for (v, tag) in TAGS.iter().enumerate() {
        let dockerfile = format!("{repo}/scripts/assets-src/Dockerfile.v{}", v + 1);
        let context = ctx.path().to_str().ok_or("temporary path is not UTF-8")?;
        let build = Command::new("timeout")
            .args([
                "600",
                "docker",
                "build",
                "-q",
                "-f",
                &dockerfile,
                "-t",
                tag,
                context,
            ])
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if !build.status.success() {
            return Err(format!("docker build {tag}: {}", stderr(&build).trim()));
        }
    }
    Ok(())
}

static DOCKER: OnceLock<Result<(), String>> = OnceLock::new();

/// True when the images are built; else says why the test is skipped (outside CI only).
fn docker(test: &str) -> bool {
    match DOCKER.get_or_init(build_tutorial_with_docker) {
        Ok(()) => true,
        Err(why) if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") => {
            panic!("{test}: CI is set but the Docker daemon tests cannot run: {why}")
        }
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "skipped: {test}: no Docker daemon\n  ({why})");
            false
        }
    }
}

#[test]
fn daemon_compare_of_the_tutorial_built_with_docker() {
    if !docker("daemon_compare_of_the_tutorial_built_with_docker") {
        return;
    }
    let o = dsize(&["compare", TAGS[0], TAGS[1], TAGS[2], "--json", "-"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&o);
    let labels: Vec<&str> = r.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(labels, TAGS);
    // The numbers of EXPECTED.md, as deltas and above the base (which depends on the host's
    // busybox build). On overlay2 (not vfs) v2 stores requirements.txt twice: 44 B more waste.
    let base = r.images[2].stored_bytes - 83_583;
    let quirk = r.images[1].wasted_bytes - 15_981;
    assert!(
        quirk == 0 || quirk == 44,
        "v2 wasted {}",
        r.images[1].wasted_bytes
    );
    assert_eq!(
        numbers(&r, base),
        vec![
            (356_420, 340_439, 15_981, 8),
            (356_420 + quirk, 340_439, 15_981 + quirk, 10),
            (83_583, 83_583, 0, 3),
        ]
    );
    assert!(r.pairs[0].same_files);
    let p = &r.pairs[1];
    assert!(p.multi_stage);
    assert_eq!(p.delta.size_bytes, -256_856);
    assert_eq!(p.directories.iter().map(|d| d.delta_bytes).sum::<i64>(), -256_856);
    assert_eq!(r.images[2].vs_first.as_ref().unwrap().leftover_bytes, -220_429);
    // Mixed sources: the daemon's v1 against the committed v3 tar.
    let v3 = assets().pop().unwrap();
    let o = dsize(&["compare", TAGS[0], &v3, "--ci", "--max-growth", "0%"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("stored shrank 272,837 B (-11.67 %) from {}", TAGS[0])),
        "{}",
        stdout(&o)
    );
}
