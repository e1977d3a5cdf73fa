//! The example images in `assets/` (real `docker build` output, see scripts/assets-src/EXPECTED.md),
//! run through the real binary: exact numbers, every output, CI exit codes.

use dsize::report::json::Report;
use std::path::Path;
use std::process::{Command, Output};

fn dsize(args: &[&str]) -> Output {
    dsize_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn dsize_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dsize"))
        .args(args)
        .current_dir(dir)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run dsize")
}

fn asset(v: u8) -> String {
    format!("{}/assets/my-app-v{v}.tar", env!("CARGO_MANIFEST_DIR"))
}

fn report(v: u8) -> Report {
    let out = dsize(&["--json", "-", &asset(v)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the JSON report parses into its own types")
}

#[test]
fn v1_numbers_to_the_byte() {
    let r = report(1);
    let i = &r.image;
    assert_eq!(r.schema_version, 1);
    assert_eq!(i.stored_bytes, 2_338_716);
    assert_eq!(i.size_bytes, 2_322_735);
    assert_eq!(i.wasted_bytes, 15_981);
    assert_eq!(i.stored_bytes, i.size_bytes + i.wasted_bytes);
    assert_eq!(i.user_bytes, 2_338_716 - 1_982_296);
    assert_eq!(i.user_wasted_bytes, 15_981);
    assert!((i.user_wasted_percent - 15_981.0 * 100.0 / 356_420.0).abs() < 1e-9);
    assert!((i.efficiency - 2_322_735.0 / 2_338_716.0).abs() < 1e-12);
    assert_eq!(i.compressed_bytes, None);
    assert_eq!(i.repo_tags, vec!["my-app:v1".to_string()]);
    let sizes: Vec<(u64, bool)> = r.layers.iter().map(|l| (l.size_bytes, l.empty_layer)).collect();
    assert_eq!(
        sizes,
        vec![
            (1_982_296, false),
            (56_037, false),
            (138_000, false),
            (0, true),
            (133_200, false),
            (12_800, false),
            (0, false),
            (383, false),
            (16_000, false),
            (0, true),
            (0, true)
        ]
    );
    assert_eq!(r.layers[3].command, "WORKDIR /app");
    assert!(r.layers[6].command.starts_with("RUN rm -rf /root/.npm"));
    // Every wasted byte: path, storing step, hiding step, cause.
    let waste: Vec<(&str, u64, u16, u16, &str)> = r
        .waste
        .iter()
        .map(|w| (w.path.as_str(), w.bytes, w.layer, w.hidden_by, w.cause.as_str()))
        .collect();
    assert_eq!(
        waste,
        vec![
            (
                "/root/.npm/_cacache/content-v2/sha512/3f/a1/9c0b7d2e4f6a8c1e3b5d7f9a",
                12_000,
                5,
                6,
                "deleted"
            ),
            ("/usr/include/stdio.h", 3_000, 2, 6, "deleted"),
            (
                "/root/.npm/_cacache/index-v5/7c/2e/d41d8cd98f00b204e9800998",
                800,
                5,
                6,
                "deleted"
            ),
            ("/app/main.py", 181, 1, 7, "overwritten"),
        ]
    );
    assert_eq!(r.waste[0].category.as_deref(), Some("npm-cache"));
    let per_step: u64 = r.layers.iter().map(|l| l.wasted_bytes).sum();
    assert_eq!(per_step, 15_981);
    assert_eq!(r.layers[6].hid_bytes, 15_800);
    let left: Vec<(&str, &str, u64, u16)> = r
        .leftovers
        .iter()
        .map(|l| (l.category.as_str(), l.path.as_str(), l.bytes, l.layer))
        .collect();
    assert_eq!(
        left,
        vec![
            ("apt-lists", "/var/lib/apt/lists", 60_000, 2),
            ("pip-cache", "/root/.cache/pip", 50_000, 4),
            ("git", "/app/.git", 35_429, 1),
            ("toolchain", "/usr/lib/gcc", 30_000, 2),
            ("apt-archives", "/var/cache/apt", 30_000, 2),
            ("toolchain", "/usr/bin/gcc", 9_000, 2),
            ("toolchain", "/usr/include", 6_000, 2),
        ]
    );
    assert_eq!(r.image.leftover_bytes, 220_429);
    assert!(r.leftovers.iter().all(|l| !l.hint.is_empty()));
}

#[test]
fn v2_same_bytes_reordered_and_v3_multistage_has_no_waste() {
    let r = report(2);
    assert_eq!(
        (r.image.stored_bytes, r.image.size_bytes, r.image.wasted_bytes),
        (2_338_716, 2_322_735, 15_981)
    );
    assert_eq!(r.layers[8].size_bytes, 55_993, "COPY . /app comes last in v2");
    let r = report(3);
    assert_eq!(
        (r.image.stored_bytes, r.image.size_bytes, r.image.wasted_bytes),
        (2_065_879, 2_065_879, 0)
    );
    assert_eq!(r.image.efficiency, 1.0);
    assert!(r.leftovers.is_empty() && r.waste.is_empty());
    let sizes: Vec<u64> = r.layers.iter().map(|l| l.size_bytes).collect();
    assert_eq!(sizes, vec![1_982_296, 83_200, 383, 0, 0, 0]);
}

#[test]
fn text_report_snapshot() {
    let out = dsize(&["assets/my-app-v1.tar", "--report"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn ci_gate_exit_codes() {
    let pass = dsize(&[&asset(1), "--ci", "--max-waste", "20kB", "--max-size", "3MB"]);
    let text = String::from_utf8_lossy(&pass.stdout);
    assert_eq!(pass.status.code(), Some(0), "{text}");
    assert!(
        text.contains("PASS  max-waste") && text.contains("PASS  max-size"),
        "{text}"
    );
    assert!(text.contains("SKIP  min-efficiency"), "{text}");
    assert!(text.contains("Result: PASS (2 rules checked)"), "{text}");

    let fail = dsize(&[
        &asset(1),
        "--ci",
        "--max-waste",
        "10kB",
        "--max-leftovers",
        "200kB",
    ]);
    let text = String::from_utf8_lossy(&fail.stdout);
    assert_eq!(fail.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  max-waste") && text.contains("FAIL  max-leftovers"),
        "{text}"
    );
    assert!(text.contains("Result: FAIL (2 of 2 rules failed)"), "{text}");
    assert!(text.contains("/root/.npm") && text.contains("fix: "), "{text}");

    let pct = dsize(&[&asset(1), "--ci", "--max-waste", "0.5%"]);
    assert_eq!(pct.status.code(), Some(1), "0.68 % of stored is over 0.5 %");
    let pct = dsize(&[
        &asset(1),
        "--ci",
        "--max-user-waste",
        "5%",
        "--min-efficiency",
        "0.99",
    ]);
    assert_eq!(pct.status.code(), Some(0));

    let bad = dsize(&[&asset(1), "--ci", "--max-waste", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--max-waste") && err.contains("not a size"), "{err}");
}

#[test]
fn dive_ci_file_is_honoured_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.999\n  highest_wasted_bytes: disabled\n  highestUserWastedPercent: 0.5\n",
    )
    .unwrap();
    let out = dsize_in(dir.path(), &[&asset(1), "--ci"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  min-efficiency") && text.contains("(.dive-ci)"),
        "{text}"
    );
    assert!(
        text.contains("SKIP  max-waste") && text.contains("disabled in .dive-ci"),
        "{text}"
    );
    let out = dsize_in(dir.path(), &[&asset(1), "--ci", "--min-efficiency", "0.99"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let cfg = dir.path().join("other.yaml");
    std::fs::write(&cfg, "rules:\n  lowestEfficiency: 0.5\n").unwrap();
    let out = dsize(&[&asset(1), "--ci", "--ci-config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn json_file_with_ci_results_and_stdout_for_humans() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    let out = dsize(&[
        &asset(3),
        "--ci",
        "--max-waste",
        "0",
        "--json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS  max-waste"));
    let r: Report = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let ci = r.ci.expect("ci results in the JSON");
    assert!(ci.pass);
    assert_eq!(ci.rules.len(), 5);
    // With JSON on stdout, the CI text goes to stderr so stdout stays parseable.
    let out = dsize(&[&asset(1), "--ci", "--json", "-"]);
    let _: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Result: PASS"));
}

#[test]
fn stdin_and_prefixes_read_the_same_image() {
    let file = std::fs::File::open(asset(1)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dsize"))
        .args(["-", "--json", "-"])
        .stdin(file)
        .output()
        .unwrap();
    let r: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r.image.wasted_bytes, 15_981);
    let r2 = dsize(&[&format!("docker-archive:{}", asset(1)), "--json", "-"]);
    let r2: Report = serde_json::from_slice(&r2.stdout).unwrap();
    assert_eq!(r.layers, r2.layers);
    assert_eq!(r.waste, r2.waste);
}

#[test]
fn errors_are_one_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.tar");
    std::fs::write(&truncated, &std::fs::read(asset(1)).unwrap()[..100_000]).unwrap();
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, b"this is not an image archive at all, just text").unwrap();
    for (args, want) in [
        (vec!["./no-such-image.tar"], "no-such-image.tar: no such file"),
        (vec![truncated.to_str().unwrap()], "truncated.tar"),
        (vec![garbage.to_str().unwrap()], "garbage.tar"),
        (vec![asset(1).leak() as &str, "--platform", "linux"], "--platform"),
        (
            vec![asset(1).leak() as &str, "--platform", "linux/arm64"],
            "not the requested linux/arm64",
        ),
    ] {
        let out = dsize(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("dsize: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "nothing else written"
    );
}

#[test]
fn help_teaches() {
    let out = dsize(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let h = String::from_utf8_lossy(&out.stdout);
    for want in [
        "docker-archive:",
        "oci:",
        "--max-waste",
        "--json",
        "Exit status",
        "stored  =",
    ] {
        assert!(h.contains(want), "help lacks {want}");
    }
    let out = dsize(&[]);
    assert_eq!(out.status.code(), Some(2));
}
