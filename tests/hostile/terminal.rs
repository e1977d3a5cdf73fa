//! Terminal safety: names and instructions full of control sequences reach stdout and stderr
//! escaped (text report, CI output, errors); JSON keeps the raw bytes with valid escaping.

use crate::rawtar::Tar;
use crate::run::{Scratch, Stdin, check_resources, docker_archive_with, error_line, outer, run_in};
use serde_json::{Value, json};
use std::ffi::OsString;

const TITLE: &str = "\x1b]0;pwned\x07";
const CLEAR: &str = "\x1b[2J";

/// No ESC, BEL, C1 CSI (U+009B) or other control byte but newline; `what` names the stream.
fn assert_clean(bytes: &[u8], what: &str) {
    let s = String::from_utf8_lossy(bytes);
    for (i, c) in s.char_indices() {
        let bad = (c < ' ' && c != '\n') || c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c);
        assert!(!bad, "{what}: control character {c:?} at {i}: {s}");
    }
}

fn evil_image() -> Vec<u8> {
    let l0 = Tar::new()
        .file(&format!("tmp/{TITLE}"), 1000)
        .file(&format!("app/{CLEAR}"), 2000)
        .file("app/caf\u{e9}\u{9b}[2J", 5)
        .raw_file(b"app/bad-utf8-\xff\xfe\x01", 7)
        .finish();
    let l1 = Tar::new()
        .file(&format!("app/.wh.{CLEAR}"), 0)
        .raw_file(b"app/.wh.bad-utf8-\xff\xfe\x01", 0)
        .file("app/.wh.caf\u{e9}\u{9b}[2J", 0)
        .finish();
    let history = json!([
        {"created_by": format!("/bin/sh -c echo {TITLE} > /tmp/{TITLE}")},
        {"created_by": format!("RUN /bin/sh -c rm -rf '/app/{CLEAR}'\n\r\t # buildkit"), "comment": "buildkit.dockerfile.v0"},
    ]);
    let bytes = docker_archive_with(&[l0, l1], history);
    // The tag too.
    let tag = serde_json::to_string(&format!("evil{CLEAR}:latest")).unwrap();
    replace(&bytes, b"\"hostile:latest\"", tag.as_bytes())
}

/// Replaces a JSON member body in place, rewriting the tar header size and checksum.
fn replace(archive: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    // Rebuild: read members with the tar crate, write them again with the new body.
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut a = tar::Archive::new(archive);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().to_vec()).unwrap();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        if let Some(i) = body.windows(from.len()).position(|w| w == from) {
            body.splice(i..i + from.len(), to.iter().copied());
        }
        out.push((name, body));
    }
    let refs: Vec<(&str, &[u8])> = out.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    outer(&refs)
}

fn run(s: &Scratch, image: &std::path::Path, args: &[&str]) -> crate::run::Outcome {
    let mut a: Vec<OsString> = vec![image.into()];
    a.extend(args.iter().map(OsString::from));
    run_in(s, &a, Stdin::Null)
}

#[test]
fn terminal_text_report_ci_and_json_are_escaped() {
    let s = Scratch::new();
    let img = s.input(&format!("image{CLEAR}.tar"), &evil_image());

    let o = run(&s, &img, &["--report"]);
    check_resources(&s, &o, None, "text");
    assert_eq!(o.code, 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_clean(&o.stdout, "text stdout");
    assert_clean(&o.stderr, "text stderr");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\\x1b]0;pwned\\x07"), "{text}");
    assert!(text.contains("/app/\\x1b[2J"), "{text}");
    assert!(text.contains("\\u{9b}"), "{text}");
    assert!(text.contains("bad-utf8-\\xff\\xfe\\x01"), "{text}");
    assert!(text.contains("evil\\x1b[2J:latest"), "{text}");
    assert!(text.contains("image\\x1b[2J.tar"), "{text}");

    let o = run(&s, &img, &["--ci", "--max-waste", "1", "--max-leftovers", "1"]);
    check_resources(&s, &o, None, "ci");
    assert_eq!(o.code, 1, "{}", String::from_utf8_lossy(&o.stderr));
    assert_clean(&o.stdout, "ci stdout");
    assert_clean(&o.stderr, "ci stderr");
    let ci = String::from_utf8_lossy(&o.stdout);
    assert!(
        ci.contains("\\x1b[2J") && ci.contains("\\x1b]0;pwned\\x07"),
        "{ci}"
    );

    // JSON to stdout with the human report on stderr: both clean, names raw inside JSON.
    let o = run(&s, &img, &["--json", "-", "--report"]);
    check_resources(&s, &o, None, "json");
    assert_eq!(o.code, 0);
    assert_clean(&o.stdout, "json stdout");
    assert_clean(&o.stderr, "json stderr (text report)");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let waste: Vec<&str> = v["waste"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert!(waste.contains(&format!("/app/{CLEAR}").as_str()), "{waste:?}");
    assert!(
        waste.contains(&"/app/caf\u{e9}\u{9b}[2J"),
        "C1 kept raw in the value: {waste:?}"
    );
    assert_eq!(v["image"]["repoTags"][0], format!("evil{CLEAR}:latest"));
    assert!(v["layers"][0]["createdBy"].as_str().unwrap().contains(TITLE));

    // The requested JSON file is the only file written.
    let o = run(&s, &img, &["--json", "out.json"]);
    check_resources(&s, &o, Some("out.json"), "json file");
    let body = std::fs::read(s.cwd().join("out.json")).unwrap();
    assert_clean(&body, "json file");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["waste"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["path"] == format!("/app/{CLEAR}"))
    );
    // A name that is not UTF-8: lossy path, exact bytes in pathHex.
    let w = v["waste"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["pathHex"].is_string())
        .expect("a pathHex");
    assert_eq!(w["pathHex"], hex::encode(b"/app/bad-utf8-\xff\xfe\x01"));
    assert_eq!(w["path"], "/app/bad-utf8-\u{fffd}\u{fffd}\u{1}");
}

#[test]
fn terminal_errors_are_escaped() {
    let s = Scratch::new();
    // A corrupt layer whose member name carries escapes: the error names it, escaped.
    let bad_layer = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-garbage-garbage".to_vec();
    let name = format!("{TITLE}{CLEAR}/layer.tar");
    let manifest = serde_json::to_vec(&json!([{"Config": "c.json", "Layers": [name]}])).unwrap();
    let cfg = br#"{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}"#;
    let img = s.input(
        &format!("err{CLEAR}.tar"),
        &outer(&[
            (name.as_str(), &bad_layer),
            ("c.json", cfg),
            ("manifest.json", &manifest),
        ]),
    );
    for args in [&[][..], &["--json", "-"], &["--ci"]] {
        let o = run(&s, &img, args);
        check_resources(&s, &o, None, "error");
        let line = error_line(&o, "error");
        assert!(line.contains("\\x1b]0;pwned\\x07\\x1b[2J/layer.tar"), "{line}");
        assert!(line.contains("err\\x1b[2J.tar"), "{line}");
    }
    // A missing file and a bad flag value, both echoing what the user typed.
    let o = run_in(&s, &[format!("missing{CLEAR}.tar").into()], Stdin::Null);
    let line = error_line(&o, "missing");
    assert!(line.contains("missing\\x1b[2J.tar"), "{line}");
    let o = run(&s, &img, &["--platform", CLEAR]);
    let line = error_line(&o, "platform");
    assert!(!line.contains('\x1b'), "{line}");
}

#[test]
fn terminal_library_keeps_raw_names() {
    let a = crate::analysis(&evil_image());
    assert!(a.tree.lookup(format!("tmp/{TITLE}").as_bytes()).is_some());
    assert!(a.tree.lookup(b"app/bad-utf8-\xff\xfe\x01").is_some());
}
