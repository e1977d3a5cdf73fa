//! Reports over a [`Comparison`]: the plain-language explanation of each pair, the text table,
//! the Markdown table for pull-request comments, the JSON report (own types, schema version
//! [`SCHEMA_VERSION`], documented in the README) and the `--max-growth` CI gate.
//!
//! Everything here only reads the comparison. Paths and instructions pass through
//! [`super::escape`] before reaching a terminal or a Markdown document.

use super::ci::{CiOutcome, RuleResult, Status};
use super::{escape, escape_text, exact, human, percent, truncate};
use crate::model::compare::{
    Change, Comparison, Delta, DirChange, FileChange, ImageSummary, Move, PairDiff, WasteChange,
    category_label,
};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Bumped on any incompatible change of the compare JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// How much to list per pair in the text and Markdown reports.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rows per list (directories, files, leftovers, waste, instructions).
    pub top: usize,
    /// Characters of an instruction shown.
    pub width: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { top: 10, width: 80 }
    }
}

// ---------------------------------------------------------------- numbers

/// `+50`, `-226,300`, `0`.
pub fn signed(n: i64) -> String {
    match n {
        0 => "0".into(),
        n if n > 0 => format!("+{}", exact(n.unsigned_abs())),
        n => format!("-{}", exact(n.unsigned_abs())),
    }
}

/// `50 B` below 1 kB, else `226.30 kB (226,300 B)`.
pub fn bytes_phrase(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else {
        format!("{} ({} B)", human(n), exact(n))
    }
}

fn signed_percent(p: f64) -> String {
    if p > 0.0 {
        format!("+{}", percent(p))
    } else {
        percent(p)
    }
}

/// A path, escaped for the terminal.
fn p(bytes: &[u8]) -> String {
    escape(bytes)
}

/// How a directory row reads: `/var/lib/apt/` holds its subtree, `/app/*` only its own files.
pub fn row_path(r: &DirChange) -> String {
    let mut s = p(&r.path);
    if r.recursive {
        if !s.ends_with('/') {
            s.push('/');
        }
    } else if s.ends_with('/') {
        s.push('*');
    } else {
        s.push_str("/*");
    }
    s
}

// ---------------------------------------------------------------- explanation

/// The plain-language summary of what changed from `d.from` to `d.to`, every number of which
/// can be found in the tables.
pub fn explain(c: &Comparison, d: &PairDiff) -> String {
    let (a, b) = (&c.images[d.from], &c.images[d.to]);
    let (an, bn) = (escape(a.label.as_bytes()), escape(b.label.as_bytes()));
    let mut out = String::new();
    let dl = &d.delta;
    if dl.stored == 0 {
        let _ = write!(
            out,
            "{bn} is the same size as {an} ({} B stored)",
            exact(b.stored)
        );
    } else {
        let _ = write!(
            out,
            "{bn} is {} {} than {an}",
            bytes_phrase(dl.stored.unsigned_abs()),
            if dl.stored < 0 { "smaller" } else { "larger" }
        );
    }
    let mut parts = Vec::new();
    if dl.visible != 0 {
        parts.push(format!(
            "{} B {} visible bytes",
            exact(dl.visible.unsigned_abs()),
            if dl.visible < 0 { "fewer" } else { "more" }
        ));
    }
    if dl.wasted != 0 {
        parts.push(format!(
            "{} B {} waste",
            exact(dl.wasted.unsigned_abs()),
            if dl.wasted < 0 { "less" } else { "more" }
        ));
    }
    if !parts.is_empty() {
        let _ = write!(out, ": {}", parts.join(" and "));
    }
    out.push('.');

    // Leftovers by category.
    let mut cats = d.leftover_categories();
    cats.sort_by(|x, y| {
        let (dx, dy) = (x.1.abs_diff(x.2), y.1.abs_diff(y.2));
        dy.cmp(&dx).then(x.0.cmp(y.0))
    });
    let list = |f: &dyn Fn(u64, u64) -> Option<String>| -> Vec<String> {
        cats.iter()
            .filter_map(|(c, b, a)| f(*b, *a).map(|n| format!("{} ({n})", category_label(c))))
            .collect()
    };
    let gone = list(&|b, a| (b > 0 && a == 0).then(|| human(b)));
    let new = list(&|b, a| (b == 0 && a > 0).then(|| human(a)));
    let resized = list(&|b, a| (b > 0 && a > 0).then(|| signed_human(b, a)));
    for (label, items) in [
        ("Gone", gone),
        ("New leftovers", new),
        ("Leftovers resized", resized),
    ] {
        if !items.is_empty() {
            let _ = write!(out, " {label}: {}.", items.join(", "));
        }
    }

    // The biggest other files, outside the leftovers just named.
    let floor = (dl.visible.unsigned_abs() / 100).max(1);
    let under_leftover = |f: &FileChange| {
        d.leftovers.iter().any(|l| {
            f.path.starts_with(&l.path) && (f.path.len() == l.path.len() || f.path[l.path.len()] == b'/')
        })
    };
    let others: Vec<String> = d
        .files
        .iter()
        .filter(|f| f.delta().unsigned_abs() >= floor && !under_leftover(f))
        .take(3)
        .map(file_phrase)
        .collect();
    if !others.is_empty() {
        let _ = write!(out, " Other files: {}.", others.join(", "));
    }

    // Waste that appeared, went away or changed (the three biggest of each).
    let waste = |pick: fn(Change) -> bool, show: &dyn Fn(&WasteChange) -> String| -> Vec<String> {
        d.waste
            .iter()
            .filter(|w| pick(w.change()))
            .take(3)
            .map(show)
            .collect()
    };
    let new = waste(|c| c == Change::Added, &|w| {
        format!("{} ({}, {})", p(&w.path), human(w.after), w.what)
    });
    let gone = waste(|c| c == Change::Removed, &|w| {
        format!("{} ({})", p(&w.path), human(w.before))
    });
    let resized = waste(|c| matches!(c, Change::Grown | Change::Shrunk), &|w| {
        format!("{} ({})", p(&w.path), signed_human(w.before, w.after))
    });
    for (label, items) in [
        ("Newly wasted", new),
        ("No longer wasted", gone),
        ("Waste resized", resized),
    ] {
        if !items.is_empty() {
            let _ = write!(out, " {label}: {}.", items.join(", "));
        }
    }

    // What kind of change it looks like.
    let count = |k: Move| d.instructions.iter().filter(|i| i.kind == k).count();
    let (moved, added, removed) = (count(Move::Moved), count(Move::Added), count(Move::Removed));
    if d.same_files() && moved + added + removed > 0 {
        let _ = write!(
            out,
            " The final files are the same; {}: the build order changed, not what ships.",
            counts(moved, added, removed)
        );
    } else if d.multi_stage() {
        let bytes: u64 = d
            .copied_steps
            .iter()
            .filter_map(|s| d.instructions.iter().find(|i| i.to_step == Some(*s)))
            .filter_map(|i| i.after)
            .sum();
        let _ = write!(
            out,
            " The RUN steps are gone and {} COPY step{} brought in their results unchanged ({}): a multi-stage build.",
            d.copied_steps.len(),
            if d.copied_steps.len() == 1 { "" } else { "s" },
            human(bytes)
        );
    }
    out
}

/// `1 instruction moved, 2 added, 1 removed`.
fn counts(moved: usize, added: usize, removed: usize) -> String {
    let mut parts = Vec::new();
    for (n, what) in [(moved, "moved"), (added, "added"), (removed, "removed")] {
        if n > 0 {
            let noun = match (parts.is_empty(), n) {
                (true, 1) => " instruction",
                (true, _) => " instructions",
                _ => "",
            };
            parts.push(format!("{n}{noun} {what}"));
        }
    }
    parts.join(", ")
}

/// `+1.20 kB` / `-80 kB`.
fn signed_human(before: u64, after: u64) -> String {
    if after >= before {
        format!("+{}", human(after - before))
    } else {
        format!("-{}", human(before - after))
    }
}

fn file_phrase(f: &FileChange) -> String {
    let path = p(&f.path);
    match (f.before, f.after) {
        (None, Some(a)) => format!("{path} added ({})", human(a)),
        (Some(b), None) => format!("{path} removed ({})", human(b)),
        (Some(b), Some(a)) => format!(
            "{path} {} ({}, now {})",
            if a > b { "grew" } else { "shrank" },
            signed_human(b, a),
            human(a)
        ),
        (None, None) => path,
    }
}

// ---------------------------------------------------------------- text

/// A table with a label column and one right-aligned column per image.
struct Table {
    rows: Vec<(String, Vec<String>)>,
}

impl Table {
    fn row(&mut self, label: &str, cells: Vec<String>) {
        self.rows.push((label.to_string(), cells));
    }

    fn render(&self, header: &[String], out: &mut String) {
        let n = header.len();
        let lw = self.rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for (_, cells) in &self.rows {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |label: &str, cells: &[String], out: &mut String| {
            let mut s = format!("{label:<lw$}");
            for (i, c) in cells.iter().enumerate().take(n) {
                let _ = write!(s, "  {c:>w$}", w = widths[i]);
            }
            let _ = writeln!(out, "{}", s.trim_end());
        };
        line("", header, out);
        for (label, cells) in &self.rows {
            line(label, cells, out);
        }
    }
}

/// Delta rows for one number: against the previous image and against the first.
/// With two images the second row would repeat the first, so it is left out.
fn delta_rows(t: &mut Table, images: &[ImageSummary], get: impl Fn(&Delta) -> Option<String>) {
    let kinds: &[(&str, u8)] = if images.len() > 2 {
        &[("  vs previous", 0), ("  vs first", 1)]
    } else {
        &[("  vs previous", 0)]
    };
    for &(label, which) in kinds {
        let cells = images
            .iter()
            .map(|i| {
                let d = if which == 0 { i.vs_previous } else { i.vs_first };
                d.as_ref().and_then(&get).unwrap_or_else(|| "·".into())
            })
            .collect();
        t.row(label, cells);
    }
}

/// The per-image table (text).
pub fn table(c: &Comparison) -> String {
    let imgs = &c.images;
    let mut t = Table { rows: Vec::new() };
    let cells = |f: &dyn Fn(&ImageSummary) -> String| imgs.iter().map(f).collect::<Vec<_>>();
    if imgs.iter().any(|i| i.name != i.label) {
        t.row("Image", cells(&|i| escape(i.name.as_bytes())));
    }
    t.row("Stored", cells(&|i| human(i.stored)));
    t.row("  bytes", cells(&|i| exact(i.stored)));
    delta_rows(&mut t, imgs, |d| {
        Some(format!(
            "{} ({})",
            signed(d.stored),
            signed_percent(d.stored_percent)
        ))
    });
    t.row("Visible", cells(&|i| exact(i.visible)));
    delta_rows(&mut t, imgs, |d| Some(signed(d.visible)));
    t.row("Wasted", cells(&|i| exact(i.wasted)));
    delta_rows(&mut t, imgs, |d| Some(signed(d.wasted)));
    if imgs.iter().any(|i| i.compressed.is_some()) {
        t.row("Compressed", cells(&|i| i.compressed.map_or("—".into(), exact)));
        delta_rows(&mut t, imgs, |d| d.compressed.map(signed));
    }
    t.row("Efficiency", cells(&|i| format!("{:.4}", i.efficiency)));
    t.row("Layers", cells(&|i| i.layers.to_string()));
    t.row("Leftovers", cells(&|i| exact(i.leftover_bytes)));
    delta_rows(&mut t, imgs, |d| Some(signed(d.leftovers)));
    for cat in present_categories(c) {
        t.row(&format!("  {cat}"), cells(&|i| exact(i.leftover(cat))));
    }
    let header: Vec<String> = imgs.iter().map(|i| escape(i.label.as_bytes())).collect();
    let mut out = String::new();
    t.render(&header, &mut out);
    out
}

/// Leftover categories some image has, in table order.
fn present_categories(c: &Comparison) -> Vec<&'static str> {
    crate::model::leftovers::categories()
        .into_iter()
        .filter(|cat| c.images.iter().any(|i| i.leftover(cat) > 0))
        .collect()
}

fn more(out: &mut String, total: usize, shown: usize) {
    if total > shown {
        let _ = writeln!(
            out,
            "      … and {} more (see --json)",
            exact((total - shown) as u64)
        );
    }
}

fn step(s: Option<usize>) -> String {
    s.map_or(String::new(), |s| format!("#{s}"))
}

fn opt_bytes(b: Option<u64>) -> String {
    b.map_or("—".into(), exact)
}

/// What changed between one image and the next (text).
pub fn pair_text(c: &Comparison, d: &PairDiff, opts: Options, out: &mut String) {
    let (a, b) = (&c.images[d.from], &c.images[d.to]);
    let _ = writeln!(
        out,
        "{} -> {}",
        escape(a.label.as_bytes()),
        escape(b.label.as_bytes())
    );
    out.push_str(&wrap(&explain(c, d), 100, "  "));
    if d.dirs.is_empty() {
        let _ = writeln!(out, "\n  Paths: no file was added, removed or resized");
    } else {
        let rows = d.dirs.iter().map(|r| {
            let (b, a) = (exact(r.before), exact(r.after));
            (r.change.as_str(), b, a, r.delta(), row_path(r))
        });
        section(
            out,
            "Directories (rows add up to the visible change; `dir/`: all below it, `dir/*`: its own files)",
            d.dirs.len(),
            rows,
            opts.top,
        );
        let rows = d.files.iter().map(|f| {
            let (b, a) = (opt_bytes(f.before), opt_bytes(f.after));
            (f.change().as_str(), b, a, f.delta(), p(&f.path))
        });
        section(out, "Files (biggest change first)", d.files.len(), rows, opts.top);
    }
    let rows = d.leftovers.iter().map(|l| {
        let path = format!("{} ({})", p(&l.path), l.what.category);
        (
            leftover_word(l.change()),
            exact(l.before),
            exact(l.after),
            l.delta(),
            path,
        )
    });
    section(out, "Leftovers", d.leftovers.len(), rows, opts.top);
    let rows = d.waste.iter().map(|w| {
        let path = format!("{} ({})", p(&w.path), w.what);
        (
            leftover_word(w.change()),
            exact(w.before),
            exact(w.after),
            w.delta(),
            path,
        )
    });
    section(
        out,
        "Waste (stored but hidden, by the path a removal hid)",
        d.waste.len(),
        rows,
        opts.top,
    );
    if !d.instructions.is_empty() {
        let _ = writeln!(
            out,
            "\n  Instructions (matched by normalised text; bytes = layer size)\n    {:<8} {:>5} {:>5} {:>12} {:>12}  INSTRUCTION",
            "CHANGE", "FROM", "TO", "BEFORE", "AFTER"
        );
        for i in d.instructions.iter().take(opts.top) {
            let _ = writeln!(
                out,
                "    {:<8} {:>5} {:>5} {:>12} {:>12}  {}",
                i.kind.as_str(),
                step(i.from_step),
                step(i.to_step),
                opt_bytes(i.before),
                opt_bytes(i.after),
                instruction(&i.text, opts.width)
            );
        }
        more(out, d.instructions.len(), opts.top);
    }
}

/// Word-wraps `text` to `width` columns, each line starting with `indent` and ending with a
/// newline. A word longer than the width gets a line of its own.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    // A unit stays with its number (`80 kB`, `50 B,`).
    let mut words: Vec<String> = Vec::new();
    for w in text.split(' ').filter(|w| !w.is_empty()) {
        let unit = matches!(
            w.trim_end_matches([',', '.', ')', ';', ':']),
            "B" | "kB" | "MB" | "GB" | "TB" | "PB" | "EB"
        );
        match words.last_mut() {
            Some(last) if unit => {
                last.push(' ');
                last.push_str(w);
            }
            _ => words.push(w.to_string()),
        }
    }
    for word in &words {
        let len = line.chars().count();
        if len > indent.len() && len + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// One titled list of `CHANGE BEFORE AFTER DELTA PATH` rows, the first `top` of `total`.
fn section<'a>(
    out: &mut String,
    title: &str,
    total: usize,
    rows: impl Iterator<Item = (&'a str, String, String, i64, String)>,
    top: usize,
) {
    if total == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "\n  {title}\n    {:<8} {:>12} {:>12} {:>12}  PATH",
        "CHANGE", "BEFORE", "AFTER", "DELTA"
    );
    for (change, before, after, delta, path) in rows.take(top) {
        let _ = writeln!(
            out,
            "    {change:<8} {before:>12} {after:>12} {:>12}  {path}",
            signed(delta)
        );
    }
    more(out, total, top);
}

fn leftover_word(c: Change) -> &'static str {
    match c {
        Change::Added => "new",
        Change::Removed => "gone",
        other => other.as_str(),
    }
}

fn instruction(text: &str, width: usize) -> String {
    if text.is_empty() {
        "(no history)".into()
    } else {
        truncate(&escape_text(text), width)
    }
}

/// The whole text report: the table, then each pair.
pub fn render(c: &Comparison, opts: Options) -> String {
    let mut out = String::new();
    let labels: Vec<String> = c.images.iter().map(|i| escape(i.label.as_bytes())).collect();
    let _ = writeln!(
        out,
        "Comparing {} images: {}\n(bytes, exact; stored = visible + wasted; deltas against the previous image and the first)\n",
        c.images.len(),
        labels.join(", ")
    );
    out.push_str(&table(c));
    for d in &c.pairs {
        out.push('\n');
        pair_text(c, d, opts, &mut out);
    }
    out
}

// ---------------------------------------------------------------- markdown

/// Text safe inside a Markdown table cell.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '|' | '\\' | '`' | '*' | '_' | '<' | '>' | '[' | ']' | '#') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A path or instruction as inline code in a table cell.
fn md_code(s: &str) -> String {
    if s.contains('`') {
        md(s)
    } else {
        format!("`{}`", s.replace('|', "\\|"))
    }
}

/// The Markdown report, for a pull-request comment: the table, each pair's explanation, and
/// the path changes folded in a `<details>` block.
pub fn markdown(c: &Comparison, opts: Options, ci: Option<&CiOutcome>) -> String {
    let mut out = String::new();
    let labels: Vec<String> = c.images.iter().map(|i| md(&escape(i.label.as_bytes()))).collect();
    let _ = writeln!(out, "### Image size: {}\n", labels.join(" → "));
    if let Some(o) = ci {
        for r in &o.rules {
            let _ = writeln!(out, "**CI {}**: {}\n", status_word(r.status), md(&r.message));
        }
    }
    let _ = writeln!(out, "| | {} |", labels.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(c.images.len()));
    let row = |out: &mut String, label: &str, cells: Vec<String>| {
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    };
    let imgs = &c.images;
    let delta = |f: &dyn Fn(&Delta) -> Option<String>, first: bool| -> Vec<String> {
        imgs.iter()
            .map(|i| {
                let d = if first { i.vs_first } else { i.vs_previous };
                d.as_ref().and_then(f).unwrap_or_default()
            })
            .collect()
    };
    let stored_delta = |d: &Delta| {
        Some(format!(
            "{} B ({})",
            signed(d.stored),
            signed_percent(d.stored_percent)
        ))
    };
    row(
        &mut out,
        "**stored**",
        imgs.iter()
            .map(|i| format!("**{}** ({} B)", human(i.stored), exact(i.stored)))
            .collect(),
    );
    row(&mut out, "vs previous", delta(&stored_delta, false));
    if imgs.len() > 2 {
        row(&mut out, "vs first", delta(&stored_delta, true));
    }
    row(
        &mut out,
        "visible",
        imgs.iter().map(|i| format!("{} B", exact(i.visible))).collect(),
    );
    row(
        &mut out,
        "wasted",
        imgs.iter().map(|i| format!("{} B", exact(i.wasted))).collect(),
    );
    if imgs.iter().any(|i| i.compressed.is_some()) {
        row(
            &mut out,
            "compressed",
            imgs.iter()
                .map(|i| i.compressed.map_or("—".into(), |b| format!("{} B", exact(b))))
                .collect(),
        );
    }
    row(
        &mut out,
        "efficiency",
        imgs.iter().map(|i| format!("{:.4}", i.efficiency)).collect(),
    );
    row(
        &mut out,
        "layers",
        imgs.iter().map(|i| i.layers.to_string()).collect(),
    );
    row(
        &mut out,
        "leftovers",
        imgs.iter()
            .map(|i| format!("{} B", exact(i.leftover_bytes)))
            .collect(),
    );
    for cat in present_categories(c) {
        row(
            &mut out,
            &format!("↳ {cat}"),
            imgs.iter()
                .map(|i| format!("{} B", exact(i.leftover(cat))))
                .collect(),
        );
    }
    for d in &c.pairs {
        let _ = writeln!(
            out,
            "\n**{} → {}**: {}",
            labels[d.from],
            labels[d.to],
            md(&explain(c, d))
        );
        pair_markdown(d, opts, &mut out);
    }
    out
}

/// A Markdown table: a header of (title, right-aligned) columns and rows of five cells.
fn md_table(out: &mut String, header: [(&str, bool); 5], rows: impl Iterator<Item = [String; 5]>) {
    let titles: Vec<&str> = header.iter().map(|h| h.0).collect();
    let align: String = header
        .iter()
        .map(|h| if h.1 { "---:|" } else { "---|" })
        .collect();
    let _ = writeln!(out, "\n| {} |\n|{align}", titles.join(" | "));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
}

fn pair_markdown(d: &PairDiff, opts: Options, out: &mut String) {
    if d.dirs.is_empty() && d.instructions.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n<details><summary>What changed, by path</summary>");
    let cols = |first| {
        [
            (first, false),
            ("change", false),
            ("before", true),
            ("after", true),
            ("delta", true),
        ]
    };
    if !d.dirs.is_empty() {
        let rows = d.dirs.iter().take(opts.top).map(|r| {
            let (b, a) = (exact(r.before), exact(r.after));
            [
                md_code(&row_path(r)),
                r.change.as_str().into(),
                b,
                a,
                signed(r.delta()),
            ]
        });
        md_table(out, cols("directory"), rows);
        let rows = d.files.iter().take(opts.top).map(|f| {
            let (b, a) = (opt_bytes(f.before), opt_bytes(f.after));
            [
                md_code(&p(&f.path)),
                f.change().as_str().into(),
                b,
                a,
                signed(f.delta()),
            ]
        });
        md_table(out, cols("file"), rows);
    }
    if !d.instructions.is_empty() {
        let rows = d.instructions.iter().take(opts.top).map(|i| {
            let steps = match (i.from_step, i.to_step) {
                (Some(f), Some(t)) => format!("#{f} → #{t}"),
                (f, t) => step(f.or(t)),
            };
            let text = md_code(&instruction(&i.text, opts.width));
            [
                text,
                i.kind.as_str().into(),
                steps,
                opt_bytes(i.before),
                opt_bytes(i.after),
            ]
        });
        let header = [
            ("instruction", false),
            ("change", false),
            ("steps", false),
            ("before", true),
            ("after", true),
        ];
        md_table(out, header, rows);
    }
    let _ = writeln!(out, "\n</details>");
}

// ---------------------------------------------------------------- CI

/// A `--max-growth` limit: bytes, or a share of the first image's stored bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Growth {
    Bytes(u64),
    Percent(f64),
}

/// Parses `--max-growth`: `5%` (of the first image's stored bytes) or a size (`20MB`, `20MiB`).
pub fn parse_growth(s: &str) -> Result<Growth, String> {
    if s.trim().ends_with('%') {
        super::ci::parse_percent(s).map(Growth::Percent)
    } else {
        super::ci::parse_size(s).map(Growth::Bytes)
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
    }
}

/// Checks the growth of the last image's stored bytes against the first's.
pub fn evaluate(c: &Comparison, limit: Growth) -> CiOutcome {
    let (first, last) = (&c.images[0], &c.images[c.images.len() - 1]);
    let grew = crate::model::compare::signed(last.stored, first.stored);
    let pct = if first.stored == 0 {
        0.0
    } else {
        grew as f64 * 100.0 / first.stored as f64
    };
    let (ok, limit_value, said) = match limit {
        Growth::Bytes(b) => (
            grew <= i64::try_from(b).unwrap_or(i64::MAX),
            b as f64,
            format!("at most {}", bytes_phrase(b)),
        ),
        Growth::Percent(l) => (pct <= l, l, format!("at most {}", signed_percent(l))),
    };
    let measured = format!(
        "stored {} {} B ({}) from {} to {}",
        if grew > 0 {
            "grew"
        } else if grew < 0 {
            "shrank"
        } else {
            "changed by"
        },
        exact(grew.unsigned_abs()),
        signed_percent(pct),
        escape(first.label.as_bytes()),
        escape(last.label.as_bytes())
    );
    CiOutcome {
        pass: ok,
        rules: vec![RuleResult {
            name: "max-growth".into(),
            status: if ok { Status::Pass } else { Status::Fail },
            value: grew as f64,
            limit: Some(limit_value),
            origin: Some("--max-growth".into()),
            message: format!("{measured}; limit {said} (--max-growth)"),
        }],
    }
}

/// The CI report: the rule line, the verdict, then what changed from the first to the last.
pub fn render_ci(c: &Comparison, first_to_last: &PairDiff, outcome: &CiOutcome) -> String {
    let mut out = String::new();
    let (a, b) = (&c.images[0], &c.images[c.images.len() - 1]);
    let _ = writeln!(
        out,
        "dsize CI: compare {} -> {}",
        escape(a.label.as_bytes()),
        escape(b.label.as_bytes())
    );
    for r in &outcome.rules {
        let _ = writeln!(out, "  {}  {:<15} {}", status_word(r.status), r.name, r.message);
    }
    let failed = outcome.rules.iter().filter(|r| r.status == Status::Fail).count();
    if outcome.pass {
        let _ = writeln!(out, "Result: PASS ({} rule checked)", outcome.rules.len());
    } else {
        let _ = writeln!(
            out,
            "Result: FAIL ({failed} of {} rules failed)",
            outcome.rules.len()
        );
    }
    out.push('\n');
    out.push_str(&wrap(&explain(c, first_to_last), 100, ""));
    out
}

// ---------------------------------------------------------------- JSON

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema_version: u32,
    /// Always `compare`.
    pub kind: String,
    pub tool: super::json::Tool,
    pub images: Vec<JsonImage>,
    /// `pairs[i]` compares `images[i]` with `images[i + 1]`.
    pub pairs: Vec<JsonPair>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ci: Option<CiOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonImage {
    pub index: usize,
    pub label: String,
    pub name: String,
    pub stored_bytes: u64,
    /// Visible bytes.
    pub size_bytes: u64,
    pub wasted_bytes: u64,
    pub compressed_bytes: Option<u64>,
    pub efficiency: f64,
    pub layers: usize,
    pub steps: usize,
    pub leftover_bytes: u64,
    /// Categories with bytes, in table order.
    pub leftovers: Vec<JsonCategory>,
    pub vs_previous: Option<JsonDelta>,
    pub vs_first: Option<JsonDelta>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonCategory {
    pub category: String,
    pub bytes: u64,
}

/// `after − before`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonDelta {
    pub stored_bytes: i64,
    pub size_bytes: i64,
    pub wasted_bytes: i64,
    pub compressed_bytes: Option<i64>,
    pub leftover_bytes: i64,
    pub layers: i64,
    pub efficiency: f64,
    /// storedBytes × 100 / the earlier image's stored bytes.
    pub stored_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonPair {
    pub from: usize,
    pub to: usize,
    pub delta: JsonDelta,
    pub explanation: String,
    pub same_files: bool,
    pub multi_stage: bool,
    pub directories: Vec<JsonDir>,
    pub files: Vec<JsonFile>,
    pub leftovers: Vec<JsonLeftover>,
    pub waste: Vec<JsonWaste>,
    pub instructions: Vec<JsonInstruction>,
    /// Steps of the later image that copied in files the earlier one had, unchanged.
    pub copied_steps: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonDir {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_hex: Option<String>,
    /// added, removed, grown, shrunk or changed.
    pub change: String,
    /// True: the row holds everything below the path; false: only the files directly in it.
    pub recursive: bool,
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub delta_bytes: i64,
    pub files: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonFile {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_hex: Option<String>,
    pub change: String,
    pub before_bytes: Option<u64>,
    pub after_bytes: Option<u64>,
    pub delta_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonLeftover {
    pub category: String,
    pub label: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_hex: Option<String>,
    pub change: String,
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub delta_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonWaste {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_hex: Option<String>,
    pub cause: String,
    pub change: String,
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub delta_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonInstruction {
    /// added, removed or moved.
    pub change: String,
    pub text: String,
    pub from_step: Option<usize>,
    pub to_step: Option<usize>,
    pub before_bytes: Option<u64>,
    pub after_bytes: Option<u64>,
}

/// A path as JSON text, and its hex bytes when it is not UTF-8.
fn path_json(raw: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(raw) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (String::from_utf8_lossy(raw).into_owned(), Some(hex::encode(raw))),
    }
}

fn json_delta(d: &Delta) -> JsonDelta {
    JsonDelta {
        stored_bytes: d.stored,
        size_bytes: d.visible,
        wasted_bytes: d.wasted,
        compressed_bytes: d.compressed,
        leftover_bytes: d.leftovers,
        layers: d.layers,
        efficiency: d.efficiency,
        stored_percent: d.stored_percent,
    }
}

fn json_pair(c: &Comparison, d: &PairDiff) -> JsonPair {
    JsonPair {
        from: d.from,
        to: d.to,
        delta: json_delta(&d.delta),
        explanation: explain(c, d),
        same_files: d.same_files(),
        multi_stage: d.multi_stage(),
        directories: d
            .dirs
            .iter()
            .map(|r| {
                let (path, path_hex) = path_json(&r.path);
                JsonDir {
                    path,
                    path_hex,
                    change: r.change.as_str().into(),
                    recursive: r.recursive,
                    before_bytes: r.before,
                    after_bytes: r.after,
                    delta_bytes: r.delta(),
                    files: r.files,
                }
            })
            .collect(),
        files: d
            .files
            .iter()
            .map(|f| {
                let (path, path_hex) = path_json(&f.path);
                JsonFile {
                    path,
                    path_hex,
                    change: f.change().as_str().into(),
                    before_bytes: f.before,
                    after_bytes: f.after,
                    delta_bytes: f.delta(),
                }
            })
            .collect(),
        leftovers: d
            .leftovers
            .iter()
            .map(|l| {
                let (path, path_hex) = path_json(&l.path);
                JsonLeftover {
                    category: l.what.category.into(),
                    label: l.what.label.into(),
                    path,
                    path_hex,
                    change: l.change().as_str().into(),
                    before_bytes: l.before,
                    after_bytes: l.after,
                    delta_bytes: l.delta(),
                }
            })
            .collect(),
        waste: d
            .waste
            .iter()
            .map(|w| {
                let (path, path_hex) = path_json(&w.path);
                JsonWaste {
                    path,
                    path_hex,
                    cause: w.what.into(),
                    change: w.change().as_str().into(),
                    before_bytes: w.before,
                    after_bytes: w.after,
                    delta_bytes: w.delta(),
                }
            })
            .collect(),
        instructions: d
            .instructions
            .iter()
            .map(|i| JsonInstruction {
                change: i.kind.as_str().into(),
                text: i.text.clone(),
                from_step: i.from_step,
                to_step: i.to_step,
                before_bytes: i.before,
                after_bytes: i.after,
            })
            .collect(),
        copied_steps: d.copied_steps.clone(),
    }
}

/// Builds the JSON report.
pub fn build(c: &Comparison, ci: Option<CiOutcome>) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        kind: "compare".into(),
        tool: super::json::Tool {
            name: "dsize".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        images: c
            .images
            .iter()
            .enumerate()
            .map(|(index, i)| JsonImage {
                index,
                label: i.label.clone(),
                name: i.name.clone(),
                stored_bytes: i.stored,
                size_bytes: i.visible,
                wasted_bytes: i.wasted,
                compressed_bytes: i.compressed,
                efficiency: i.efficiency,
                layers: i.layers,
                steps: i.steps,
                leftover_bytes: i.leftover_bytes,
                leftovers: i
                    .leftovers
                    .iter()
                    .filter(|(_, b)| *b > 0)
                    .map(|(c, b)| JsonCategory {
                        category: (*c).into(),
                        bytes: *b,
                    })
                    .collect(),
                vs_previous: i.vs_previous.as_ref().map(json_delta),
                vs_first: i.vs_first.as_ref().map(json_delta),
            })
            .collect(),
        pairs: c.pairs.iter().map(|d| json_pair(c, d)).collect(),
        ci,
    }
}

/// The report as pretty JSON text with a trailing newline.
pub fn to_string(c: &Comparison, ci: Option<CiOutcome>) -> String {
    let mut s =
        serde_json::to_string_pretty(&build(c, ci)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
