//! The text report: summary, one row per step, the biggest waste and the leftovers with fixes.

use super::{escape, exact, human, path, percent, step_label};
use crate::model::analysis::WasteGroup;
use crate::model::leftovers::RULES;
use crate::model::{Analysis, Cause};
use std::fmt::Write as _;

/// How much of the lists to show.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Rows of waste and of leftovers.
    pub top: usize,
    /// Line width for instructions.
    pub width: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions { top: 10, width: 100 }
    }
}

/// The whole report.
pub fn render(a: &Analysis, opts: TextOptions) -> String {
    let mut out = String::new();
    summary(a, &mut out);
    out.push('\n');
    steps(a, opts, &mut out);
    out.push('\n');
    waste(a, opts, &mut out);
    out.push('\n');
    leftovers(a, opts, &mut out);
    notes(a, &mut out);
    out
}

/// The header lines: what was read and the image-wide numbers.
pub fn summary(a: &Analysis, out: &mut String) {
    let t = &a.totals;
    let m = &a.meta;
    let _ = writeln!(out, "Image       {}", escape(m.name.as_bytes()));
    if !m.repo_tags.is_empty() {
        let tags: Vec<String> = m.repo_tags.iter().map(|t| escape(t.as_bytes())).collect();
        let _ = writeln!(out, "Tags        {}", tags.join(", "));
    }
    let _ = writeln!(
        out,
        "Format      {}{}",
        escape(m.format.as_bytes()),
        m.platform
            .as_ref()
            .map_or(String::new(), |p| format!(", platform {}", escape(p.as_bytes())))
    );
    let layers = a.steps.iter().filter(|s| s.layer.is_some()).count();
    let _ = writeln!(out, "Steps       {} ({} with a layer)", a.steps.len(), layers);
    let _ = writeln!(
        out,
        "Stored      {:>10}  ({} bytes; what `docker image ls` shows)",
        human(t.stored_bytes),
        exact(t.stored_bytes)
    );
    let _ = writeln!(
        out,
        "Visible     {:>10}  ({} bytes in the final filesystem)",
        human(t.visible_bytes),
        exact(t.visible_bytes)
    );
    let _ = writeln!(
        out,
        "Wasted      {:>10}  ({} bytes = stored − visible, {} of stored)",
        human(t.wasted_bytes),
        exact(t.wasted_bytes),
        percent(share(t.wasted_bytes, t.stored_bytes))
    );
    if let Some(c) = t.compressed_bytes {
        let _ = writeln!(
            out,
            "Compressed  {:>10}  ({} bytes of layer blobs)",
            human(c),
            exact(c)
        );
    }
    let _ = writeln!(out, "Efficiency  {:>10.4}  (visible / stored)", t.efficiency);
    let _ = writeln!(
        out,
        "User waste  {:>10}  ({} bytes hidden above the base ({} layer{}), of {} in those layers)",
        percent(t.user_wasted_percent),
        exact(t.user_wasted_bytes),
        t.base_layers,
        if t.base_layers == 1 { "" } else { "s" },
        human(t.user_bytes)
    );
    let _ = writeln!(
        out,
        "Leftovers   {:>10}  ({} bytes visible that images usually should not ship)",
        human(t.leftover_bytes),
        exact(t.leftover_bytes)
    );
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn steps(a: &Analysis, opts: TextOptions, out: &mut String) {
    let _ = writeln!(out, "Steps (size = bytes of regular files in the layer)");
    let _ = writeln!(
        out,
        "  {:>10} {:>10} {:>10}  INSTRUCTION",
        "SIZE", "WASTED", "LEFTOVER"
    );
    for s in &a.steps {
        let size = match &s.layer {
            Some(l) => human(l.size_bytes),
            None if s.missing_layer => "missing".into(),
            None => "—".into(),
        };
        let dash = |n: u64| if n == 0 { "·".to_string() } else { human(n) };
        let _ = writeln!(
            out,
            "  {:>10} {:>10} {:>10}  {}",
            size,
            dash(s.wasted_bytes),
            dash(s.leftover_bytes),
            step_label(a, s.index, opts.width.saturating_sub(38))
        );
    }
}

/// One line describing a waste group.
pub fn waste_line(a: &Analysis, g: &WasteGroup, width: usize) -> String {
    let verb = match g.cause {
        Cause::Overwritten => "overwritten",
        Cause::Deleted => "deleted",
        Cause::Opaque => "hidden by an opaque directory",
    };
    let files = if g.files == 1 {
        String::new()
    } else {
        format!(" ({} files)", exact(g.files))
    };
    format!(
        "{}{}\n      stored by {}\n      {} by {}",
        path(a, g.node),
        files,
        step_label(a, usize::from(g.layer), width),
        verb,
        step_label(a, usize::from(g.hidden_by), width)
    )
}

fn waste(a: &Analysis, opts: TextOptions, out: &mut String) {
    let groups = &a.waste_groups;
    let _ = writeln!(
        out,
        "Waste: {} ({} bytes in {} file{}) ships but cannot be seen",
        human(a.totals.wasted_bytes),
        exact(a.totals.wasted_bytes),
        exact(a.waste.len() as u64),
        if a.waste.len() == 1 { "" } else { "s" }
    );
    if groups.is_empty() {
        let _ = writeln!(out, "  none: every stored byte is visible");
        return;
    }
    for g in groups.iter().take(opts.top) {
        let _ = writeln!(
            out,
            "  {:>10}  {}",
            human(g.bytes),
            waste_line(a, g, opts.width.saturating_sub(20))
        );
        if let Some(r) = g.rule {
            let _ = writeln!(
                out,
                "      {} deleted in a later layer, so it still ships: remove it in the same RUN that created it",
                RULES[r].label
            );
        } else if g.cause == Cause::Deleted && g.layer != g.hidden_by {
            let _ = writeln!(
                out,
                "      deleted in a later layer, so it still ships: remove it in the same RUN that created it"
            );
        }
    }
    if groups.len() > opts.top {
        let rest: u64 = groups[opts.top..].iter().map(|g| g.bytes).sum();
        let _ = writeln!(
            out,
            "  … and {} more group(s), {} (see --json for every path)",
            groups.len() - opts.top,
            human(rest)
        );
    }
}

fn leftovers(a: &Analysis, opts: TextOptions, out: &mut String) {
    let _ = writeln!(
        out,
        "Leftovers: {} ({} bytes) visible in the final image",
        human(a.totals.leftover_bytes),
        exact(a.totals.leftover_bytes)
    );
    if a.leftovers.is_empty() {
        let _ = writeln!(out, "  none found");
        return;
    }
    // By category, biggest first, each with its fix once.
    let mut cats: Vec<(&str, u64)> = Vec::new();
    for l in &a.leftovers {
        match cats.iter_mut().find(|(c, _)| *c == l.category()) {
            Some(c) => c.1 += l.bytes,
            None => cats.push((l.category(), l.bytes)),
        }
    }
    cats.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    for (cat, bytes) in cats {
        let _ = writeln!(out, "  {:>10}  {}", human(bytes), cat);
        for l in a.leftovers.iter().filter(|l| l.category() == cat).take(opts.top) {
            let _ = writeln!(
                out,
                "      {:>10}  {} ({} file{}) from {}",
                human(l.bytes),
                path(a, l.node),
                exact(l.files),
                if l.files == 1 { "" } else { "s" },
                step_label(a, usize::from(l.layer), opts.width.saturating_sub(40))
            );
        }
        let _ = writeln!(out, "      fix: {}", crate::model::leftovers::hint_of(cat));
    }
}

fn notes(a: &Analysis, out: &mut String) {
    if a.notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nNotes");
    for n in &a.notes {
        let _ = writeln!(out, "  - {}", escape(n.as_bytes()));
    }
}
