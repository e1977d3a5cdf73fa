//! The compare reports on the tutorial's three images in miniature, to the byte.

use super::*;
use crate::model::Analysis;
use crate::model::compare::compare;
use crate::testkit::tutorial::{self, analyse};

fn tutorial() -> Vec<Analysis> {
    vec![
        analyse(&tutorial::v1(), "v1.tar"),
        analyse(&tutorial::v2(), "v2.tar"),
        analyse(&tutorial::v3(), "v3.tar"),
    ]
}

fn comparison(a: &[Analysis]) -> Comparison {
    compare(&a.iter().collect::<Vec<_>>())
}

#[test]
fn explanations_check_against_the_numbers() {
    let a = tutorial();
    let c = comparison(&a);
    assert_eq!(
        explain(&c, &c.pairs[0]),
        "my-app:v2 is 50 B larger than my-app:v1: 50 B more waste. \
         Newly wasted: /app/requirements.txt (50 B, overwritten). \
         The final files are the same; 1 instruction moved, 2 added, 1 removed: \
         the build order changed, not what ships."
    );
    assert_eq!(
        explain(&c, &c.pairs[1]),
        "my-app:v3 is 226.30 kB (226,300 B) smaller than my-app:v2: \
         226,250 B fewer visible bytes and 50 B less waste. \
         Gone: apt lists (80 kB), compiler toolchain (79 kB), .git directory (30.20 kB), pip cache (12 kB). \
         Other files: /app/data.csv removed (20 kB), /usr/lib/x86_64-linux-gnu/libisl.so.19 removed (5 kB). \
         No longer wasted: /app/requirements.txt (50 B). \
         The RUN steps are gone and 2 COPY steps brought in their results unchanged (158.50 kB): \
         a multi-stage build."
    );
    // The other way round, everything is new.
    let back = compare(&[&a[2], &a[0]]);
    assert_eq!(
        explain(&back, &back.pairs[0]),
        "my-app:v1 is 226.25 kB (226,250 B) larger than my-app:v3: 226,250 B more visible bytes. \
         New leftovers: apt lists (80 kB), compiler toolchain (79 kB), .git directory (30.20 kB), pip cache (12 kB). \
         Other files: /app/data.csv added (20 kB), /usr/lib/x86_64-linux-gnu/libisl.so.19 added (5 kB)."
    );
    // Identical images.
    let same = compare(&[&a[0], &a[0]]);
    assert_eq!(
        explain(&same, &same.pairs[0]),
        "v1.tar (2) is the same size as v1.tar (584,750 B stored)."
    );
}

#[test]
fn text_report() {
    let c = comparison(&tutorial());
    insta::assert_snapshot!("tutorial_text", render(&c, Options::default()));
}

#[test]
fn markdown_report() {
    let c = comparison(&tutorial());
    let o = evaluate(&c, Growth::Percent(5.0));
    insta::assert_snapshot!("tutorial_markdown", markdown(&c, Options::default(), Some(&o)));
}

#[test]
fn table_columns_line_up() {
    let c = comparison(&tutorial());
    let t = table(&c);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        vec!["my-app:v1", "my-app:v2", "my-app:v3"]
    );
    let row = |label: &str| -> Vec<String> {
        let l = lines.iter().find(|l| l.starts_with(label)).unwrap();
        l[label.len()..]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("  bytes"), vec!["584,750", "584,800", "358,500"]);
    assert_eq!(row("Visible"), vec!["584,750", "584,750", "358,500"]);
    assert_eq!(row("Wasted"), vec!["0", "50", "0"]);
    assert_eq!(row("Layers"), vec!["4", "5", "3"]);
    assert_eq!(row("  toolchain"), vec!["79,000", "79,000", "0"]);
    assert_eq!(
        row("  vs previous"),
        vec!["·", "+50 (+0.01 %)", "-226,300 (-38.70 %)"]
    );
    assert_eq!(
        row("  vs first"),
        vec!["·", "+50 (+0.01 %)", "-226,250 (-38.69 %)"]
    );
}

#[test]
fn json_round_trips_with_every_number() {
    let c = comparison(&tutorial());
    let o = evaluate(&c, Growth::Bytes(1));
    let text = to_string(&c, Some(o.clone()));
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, build(&c, Some(o)));
    assert_eq!((back.schema_version, back.kind.as_str()), (1, "compare"));
    let v3 = &back.images[2];
    assert_eq!(
        (v3.stored_bytes, v3.size_bytes, v3.wasted_bytes, v3.layers),
        (358_500, 358_500, 0, 3)
    );
    let d = v3.vs_first.as_ref().unwrap();
    assert_eq!(
        (d.stored_bytes, d.size_bytes, d.leftover_bytes),
        (-226_250, -226_250, -201_200)
    );
    let p = &back.pairs[1];
    assert_eq!((p.from, p.to, p.multi_stage, p.same_files), (1, 2, true, false));
    let dirs: i64 = p.directories.iter().map(|d| d.delta_bytes).sum();
    assert_eq!(dirs, p.delta.size_bytes);
    assert_eq!(p.files.len(), 11);
    assert_eq!(p.directories[0].path, "/var/lib/apt");
    assert!(p.directories[0].recursive);
    assert_eq!(p.copied_steps, vec![1, 2]);
    assert_eq!(back.ci.as_ref().map(|c| c.pass), Some(true));
    // Raw JSON field names as documented.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["images"][1]["vsPrevious"]["storedBytes"], 50);
    assert_eq!(v["pairs"][0]["instructions"][1]["change"], "moved");
    assert_eq!(v["pairs"][1]["leftovers"][0]["change"], "removed");
}

#[test]
fn growth_gate() {
    let a = tutorial();
    // v1 -> v2 grows by 50 B (0.00855 %).
    let c = compare(&[&a[0], &a[1]]);
    assert!(evaluate(&c, Growth::Bytes(50)).pass);
    let o = evaluate(&c, Growth::Bytes(49));
    assert!(!o.pass);
    assert_eq!(
        o.rules[0].message,
        "stored grew 50 B (+0.01 %) from my-app:v1 to my-app:v2; limit at most 49 B (--max-growth)"
    );
    assert_eq!(o.rules[0].value, 50.0);
    assert!(evaluate(&c, Growth::Percent(0.01)).pass);
    assert!(!evaluate(&c, Growth::Percent(0.008)).pass);
    // Shrinking always passes, even with a zero limit.
    let c = comparison(&a);
    assert!(evaluate(&c, Growth::Bytes(0)).pass);
    let d = crate::model::compare::diff(&c, &a[0], &a[2], 0, 2);
    let text = render_ci(&c, &d, &evaluate(&c, Growth::Percent(5.0)));
    assert!(text.starts_with(
        "dsize CI: compare my-app:v1 -> my-app:v3\n  PASS  max-growth      stored shrank 226,250 B (-38.69 %) from my-app:v1 to my-app:v3; limit at most +5.00 % (--max-growth)\nResult: PASS (1 rule checked)\n\nmy-app:v3 is 226.25 kB (226,250 B) smaller than my-app:v1: 226,250 B fewer visible bytes. Gone: apt\nlists (80 kB)"
    ), "{text}");
    assert_eq!(parse_growth("5%"), Ok(Growth::Percent(5.0)));
    assert_eq!(parse_growth("20MB"), Ok(Growth::Bytes(20_000_000)));
    assert_eq!(parse_growth("20MiB"), Ok(Growth::Bytes(20 * 1024 * 1024)));
    assert!(parse_growth("lots").is_err());
    assert!(parse_growth("200%").is_err());
}

#[test]
fn wrapping() {
    assert_eq!(wrap("aa bb cc", 5, ""), "aa bb\ncc\n");
    assert_eq!(wrap("aa bb cc", 6, "  "), "  aa\n  bb\n  cc\n");
    assert_eq!(wrap("averylongword b", 4, ""), "averylongword\nb\n");
    assert_eq!(wrap("", 4, "  "), "  \n");
    assert_eq!(wrap("is 50 B, and 80 kB.", 6, ""), "is\n50 B,\nand\n80 kB.\n");
}

#[test]
fn markdown_cells_cannot_break_the_table() {
    assert_eq!(md("a|b_c"), "a\\|b\\_c");
    assert_eq!(md_code("/x|y"), "`/x\\|y`");
    assert_eq!(md_code("/x`y"), "/x\\`y");
}
