//! The text panes' content (layer details, image summary, help), as wrapped lines. Pure functions
//! of the state, so the state can measure them for scrolling and the views can draw them.
//! Every name and instruction goes through `report::escape`/`escape_text`.

use crate::model::Step;
use crate::model::leftovers::RULES;
use crate::report::ci::Status as CiStatus;
use crate::report::{escape, escape_text, exact, human, percent};
use crate::tui::keys;
use crate::tui::state::tree::Status;
use crate::tui::state::{App, ItemKind};
use crate::tui::theme::Theme;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Greedy word wrap of styled pieces to `width` columns; continuation lines start with `indent`
/// spaces. Words longer than a line are cut.
pub fn wrap(pieces: &[(String, Style)], width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let indent = indent.min(width / 2);
    let mut lines = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    for (text, style) in pieces {
        for (i, word) in text.split(' ').enumerate() {
            let space = usize::from(i > 0);
            let w = Span::raw(word).width();
            // A word too long for any line is cut where it stands, not moved down first.
            let fits_a_line = w <= width - indent;
            if used > 0 && used + space + w > width && fits_a_line {
                lines.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw(" ".repeat(indent)));
                used = indent;
            } else if space == 1 {
                cur.push(Span::styled(" ", *style));
                used += 1;
            }
            let mut rest = word;
            while used + Span::raw(rest).width() > width && !rest.is_empty() {
                // Cut a word that does not fit on a line of its own.
                let mut take = 0;
                let mut tw = 0;
                for (j, c) in rest.char_indices() {
                    let cw = Span::raw(c.to_string()).width();
                    if used + tw + cw > width {
                        break;
                    }
                    tw += cw;
                    take = j + c.len_utf8();
                }
                if take == 0 && used == indent {
                    take = rest.chars().next().map_or(rest.len(), char::len_utf8);
                }
                cur.push(Span::styled(rest[..take].to_string(), *style));
                lines.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw(" ".repeat(indent)));
                used = indent;
                rest = &rest[take..];
            }
            if !rest.is_empty() {
                used += Span::raw(rest).width();
                cur.push(Span::styled(rest.to_string(), *style));
            }
        }
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

/// `label` padded to 11 columns then the value, wrapped under the value.
fn field(out: &mut Vec<Line<'static>>, t: &Theme, label: &str, value: Vec<(String, Style)>, width: usize) {
    let mut pieces = vec![(format!("{label:<10} "), t.dim())];
    pieces.extend(value);
    out.extend(wrap(&pieces, width, 11));
}

/// `style` for a nonzero amount, plain for zero.
fn marked(n: u64, style: Style) -> Style {
    if n > 0 { style } else { Style::new() }
}

fn plain(s: impl Into<String>) -> Vec<(String, Style)> {
    vec![(s.into(), Style::new())]
}

/// A step's instruction as shown: Dockerfile text, else the raw history, escaped.
pub fn instruction(step: &Step) -> String {
    if !step.instruction.text.is_empty() {
        escape_text(&step.instruction.text)
    } else {
        match &step.created_by {
            Some(c) if !c.is_empty() => escape_text(c),
            _ => "(no history)".to_string(),
        }
    }
}

/// `#3 RUN …`, cut to `width` columns.
pub fn step_ref(app: &App, step: usize, width: usize) -> String {
    let text = app.steps().get(step).map(instruction).unwrap_or_default();
    crate::report::truncate(&format!("#{step} {text}"), width)
}

/// The layer details pane.
pub fn details(app: &App, width: u16) -> Vec<Line<'static>> {
    let t = &app.theme;
    let width = usize::from(width);
    let mut out = Vec::new();
    let i = app.selected_step();
    let Some(step) = app.steps().get(i) else {
        out.extend(wrap(
            &[("Waiting for the image's history…".into(), t.dim())],
            width,
            0,
        ));
        return out;
    };
    let layers = app
        .steps()
        .iter()
        .filter(|s| !s.empty && !s.missing_layer)
        .count();
    let kind = if step.empty {
        "no layer (config only)".to_string()
    } else if step.missing_layer {
        "its layer is missing from the image".to_string()
    } else {
        let n = app.steps()[..i]
            .iter()
            .filter(|s| !s.empty && !s.missing_layer)
            .count();
        format!("layer {} of {layers}", n + 1)
    };
    field(
        &mut out,
        t,
        "Step",
        plain(format!("#{i} of {} · {kind}", app.steps().len())),
        width,
    );
    match (app.step_size(i), &step.layer) {
        (Some(size), Some(l)) => {
            let compressed = l
                .meta
                .compressed_bytes
                .map_or(String::new(), |c| format!(" · compressed {}", human(c)));
            field(
                &mut out,
                t,
                "Size",
                plain(format!("{} ({} B){compressed}", human(size), exact(size))),
                width,
            );
            let c = &step.changes;
            // `+3 1.2 kB`, the bytes only when there are some; no break inside one count.
            let count = |sign: &str, n: u64, bytes: u64| {
                let b = if bytes > 0 {
                    format!("\u{a0}{}", human(bytes).replace(' ', "\u{a0}"))
                } else {
                    String::new()
                };
                format!("{sign}{}{b}", exact(n))
            };
            let value = vec![
                (count("+", c.added, c.added_bytes), t.status(Status::Added)),
                (
                    format!("  {}", count("~", c.modified, c.modified_bytes)),
                    t.status(Status::Modified),
                ),
                (
                    format!("  {}", count("-", c.removed, c.removed_bytes)),
                    t.removed(),
                ),
            ];
            field(&mut out, t, "Changes", value, width);
            if step.wasted_bytes > 0 || step.hid_bytes > 0 {
                let mut v = Vec::new();
                if step.wasted_bytes > 0 {
                    v.push((
                        format!("{} stored here, hidden later", human(step.wasted_bytes)),
                        t.waste(),
                    ));
                }
                if step.hid_bytes > 0 {
                    let sep = if v.is_empty() { "" } else { " · " };
                    v.push((
                        format!("{sep}hid {} of earlier layers", human(step.hid_bytes)),
                        Style::new(),
                    ));
                }
                field(&mut out, t, "Waste", v, width);
            }
            if step.leftover_bytes > 0 {
                field(
                    &mut out,
                    t,
                    "Leftovers",
                    vec![(human(step.leftover_bytes), t.leftover())],
                    width,
                );
            }
        }
        (Some(size), None) => field(
            &mut out,
            t,
            "Size",
            plain(format!("{} (merging…)", human(size))),
            width,
        ),
        (None, _) if step.empty => field(&mut out, t, "Size", vec![("0 B".into(), t.dim())], width),
        (None, _) if app.loading() && !step.missing_layer => {
            field(&mut out, t, "Size", vec![("indexing…".into(), t.dim())], width)
        }
        (None, _) => {}
    }
    field(&mut out, t, "Command", plain(instruction(step)), width);
    if let Some(l) = &step.layer {
        if let Some(d) = &l.meta.diff_id {
            field(&mut out, t, "Diff ID", plain(escape(d.as_bytes())), width);
        }
        if let Some(d) = l
            .meta
            .blob_digest
            .as_ref()
            .filter(|d| l.meta.diff_id.as_ref() != Some(*d))
        {
            field(&mut out, t, "Blob", plain(escape(d.as_bytes())), width);
        }
    }
    out
}

/// The image summary pane.
pub fn summary(app: &App, width: u16) -> Vec<Line<'static>> {
    let t = &app.theme;
    let width = usize::from(width);
    let mut out = Vec::new();
    let Some(a) = &app.analysis else {
        let msg = match &app.error {
            Some(_) => "No summary: the image could not be read.",
            None => "The summary appears when every layer is merged.",
        };
        out.extend(wrap(&[(msg.into(), t.dim())], width, 0));
        return out;
    };
    let tot = &a.totals;
    if let Some(ci) = &app.ci {
        let failed = ci.rules.iter().filter(|r| r.status == CiStatus::Fail).count();
        let checked = ci.rules.iter().filter(|r| r.status != CiStatus::Skip).count();
        let verdict = if ci.pass {
            (
                format!(
                    "PASS ({checked} rule{} checked)",
                    if checked == 1 { "" } else { "s" }
                ),
                t.pass(),
            )
        } else {
            (format!("FAIL ({failed} of {checked} rules failed)"), t.error())
        };
        field(&mut out, t, "CI", vec![verdict], width);
        for r in ci.rules.iter().filter(|r| r.status != CiStatus::Skip) {
            let (tag, style) = match r.status {
                CiStatus::Pass => ("PASS", t.pass()),
                _ => ("FAIL", t.error()),
            };
            let pieces = vec![
                (format!("  {tag} "), style),
                (format!("{} ", r.name), t.bold()),
                (escape(r.message.as_bytes()), Style::new()),
            ];
            out.extend(wrap(&pieces, width, 7));
        }
    }
    let share = |part: u64| {
        if tot.stored_bytes == 0 {
            0.0
        } else {
            part as f64 * 100.0 / tot.stored_bytes as f64
        }
    };
    field(
        &mut out,
        t,
        "Stored",
        plain(format!(
            "{} ({} B)",
            human(tot.stored_bytes),
            exact(tot.stored_bytes)
        )),
        width,
    );
    field(
        &mut out,
        t,
        "Visible",
        plain(format!(
            "{} ({} B)",
            human(tot.visible_bytes),
            exact(tot.visible_bytes)
        )),
        width,
    );
    let wasted_style = marked(tot.wasted_bytes, t.waste());
    field(
        &mut out,
        t,
        "Wasted",
        vec![(
            format!(
                "{} ({} of stored)",
                human(tot.wasted_bytes),
                percent(share(tot.wasted_bytes))
            ),
            wasted_style,
        )],
        width,
    );
    field(
        &mut out,
        t,
        "Efficiency",
        plain(percent(tot.efficiency * 100.0)),
        width,
    );
    field(
        &mut out,
        t,
        "User waste",
        plain(format!(
            "{} ({} above the base, of {})",
            percent(tot.user_wasted_percent),
            human(tot.user_wasted_bytes),
            human(tot.user_bytes)
        )),
        width,
    );
    let left_style = marked(tot.leftover_bytes, t.leftover());
    field(
        &mut out,
        t,
        "Leftovers",
        vec![(human(tot.leftover_bytes), left_style)],
        width,
    );
    // Leftovers by category, biggest first, each with its fix.
    let mut cats: Vec<(usize, u64)> = Vec::new();
    for l in &a.leftovers {
        let first = RULES
            .iter()
            .position(|r| r.category == RULES[l.rule].category)
            .unwrap_or(l.rule);
        match cats.iter_mut().find(|(c, _)| *c == first) {
            Some(c) => c.1 += l.bytes,
            None => cats.push((first, l.bytes)),
        }
    }
    cats.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    for (rule, bytes) in cats {
        let r = &RULES[rule];
        let pieces = vec![
            (format!("  {:>9} ", human(bytes)), t.leftover()),
            (format!("{}: ", r.category), t.bold()),
            (r.hint.to_string(), Style::new()),
        ];
        out.extend(wrap(&pieces, width, 13));
    }
    let waste: Vec<_> = app
        .items
        .iter()
        .filter(|i| matches!(i.kind, ItemKind::Waste { .. }))
        .take(5)
        .collect();
    if !waste.is_empty() {
        out.push(Line::from(Span::styled("Top waste", t.dim())));
        for w in waste {
            let ItemKind::Waste { hidden_by, cause, .. } = &w.kind else {
                continue;
            };
            let pieces = vec![
                (format!("  {:>9} ", human(w.bytes)), t.waste()),
                (crate::report::path(a, w.node), Style::new()),
                (format!(" #{}→{} #{hidden_by}", w.layer, cause.as_str()), t.dim()),
            ];
            out.extend(wrap(&pieces, width, 13));
        }
    }
    if !a.notes.is_empty() {
        out.push(Line::from(Span::styled("Notes", t.dim())));
        for n in &a.notes {
            out.extend(wrap(
                &[(format!("- {}", escape(n.as_bytes())), Style::new())],
                width,
                2,
            ));
        }
    }
    out
}

/// The help overlay's lines, generated from the key table.
pub fn help(t: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut out = Vec::new();
    for (i, (heading, rows)) in keys::help().into_iter().enumerate() {
        if i > 0 {
            out.push(Line::default());
        }
        out.push(Line::from(Span::styled(heading, t.bold())));
        for (label, text) in rows {
            let pieces = [
                (format!("  {label:<12}"), t.key()),
                (text.to_string(), Style::new()),
            ];
            out.extend(wrap(&pieces, width, 14));
        }
    }
    out.push(Line::default());
    let legend = "File tree: + added (green), ~ modified (yellow), - removed (red), unmodified (plain); \
                  W a file whose bytes a later layer hides (waste), L a leftover.";
    out.extend(wrap(&[(legend.to_string(), t.dim())], width, 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_words_and_cuts_long_ones() {
        let l = wrap(&[("aaa bbb ccc".into(), Style::new())], 7, 2);
        assert_eq!(text(&l), vec!["aaa bbb", "  ccc"]);
        let l = wrap(&[("abcdefghij".into(), Style::new())], 4, 0);
        assert_eq!(text(&l), vec!["abcd", "efgh", "ij"]);
        let l = wrap(
            &[("Label".into(), Style::new()), (" x".into(), Style::new())],
            20,
            0,
        );
        assert_eq!(text(&l), vec!["Label x"]);
    }
}
