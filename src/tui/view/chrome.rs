//! The frame around the panes: the header (image, totals or progress, CI verdict), the footer
//! (keys from the key table), the help overlay, and the too-small note.

use super::text;
use crate::report::{escape, human, percent};
use crate::tui::keys;
use crate::tui::state::App;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

/// The first line: what is shown, and either the totals or the progress.
pub fn header(buf: &mut Buffer, area: Rect, app: &App) {
    let t = &app.theme;
    let base = t.header();
    buf.set_style(area, base);
    let name = app
        .meta
        .as_ref()
        .and_then(|m| m.repo_tags.first().cloned())
        .unwrap_or_else(|| app.name.clone());
    let mut spans = vec![
        Span::styled(" dsize ", base.patch(t.bold())),
        Span::styled(escape(name.as_bytes()), base),
        Span::styled("  ", base),
    ];
    let mut right = Vec::new();
    if let Some(a) = &app.analysis {
        let tot = &a.totals;
        let wasted_share = if tot.stored_bytes == 0 {
            0.0
        } else {
            tot.wasted_bytes as f64 * 100.0 / tot.stored_bytes as f64
        };
        spans.push(Span::styled(
            format!(
                "stored {} · wasted {} ({}) · efficiency {}",
                human(tot.stored_bytes),
                human(tot.wasted_bytes),
                percent(wasted_share),
                percent(tot.efficiency * 100.0)
            ),
            base,
        ));
        if let Some(ci) = &app.ci {
            let (label, style) = if ci.pass {
                (" CI PASS ", t.pass())
            } else {
                (" CI FAIL ", t.error())
            };
            right.push(Span::styled(
                label,
                style.patch(ratatui::style::Style::new().add_modifier(ratatui::style::Modifier::REVERSED)),
            ));
        }
    } else if let Some(e) = &app.error {
        spans.push(Span::styled(
            format!("failed: {}", escape(e.as_bytes())),
            base.patch(t.error()),
        ));
    } else {
        let (bytes, done, total) = app.progress_numbers();
        let layers = if total > 0 {
            format!("{done}/{total} layers")
        } else {
            format!("{done} layers")
        };
        let label = if bytes == 0 && done == 0 {
            crate::report::waiting_text(&app.progress)
        } else {
            format!("reading {} · {layers} indexed ", human(bytes))
        };
        spans.push(Span::styled(label, base));
        let used: usize = spans.iter().map(Span::width).sum();
        let room = usize::from(area.width).saturating_sub(used + 2).min(30);
        if total > 0 && room >= 4 {
            let filled = (done.min(total) as usize * room) / total as usize;
            spans.push(Span::styled("━".repeat(filled), base.patch(t.pass())));
            spans.push(Span::styled("─".repeat(room - filled), base));
        }
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    let rw: u16 = right.iter().map(|s| s.width() as u16).sum();
    if rw > 0 && rw < area.width {
        buf.set_line(area.right() - rw, area.y, &Line::from(right), rw);
    }
}

/// The last line: the focused pane's keys and the global ones, from the key table.
pub fn footer(buf: &mut Buffer, area: Rect, app: &App) {
    let t = &app.theme;
    let mut spans = Vec::new();
    if let Some(n) = &app.notice {
        spans.push(Span::styled(format!("{} ", escape(n.as_bytes())), t.error()));
    }
    let entries = if app.help.is_some() {
        keys::footer_for(&[
            (keys::Action::Back, "close help"),
            (keys::Action::Down, "scroll"),
            (keys::Action::Quit, "quit"),
        ])
    } else {
        keys::footer(app.context())
    };
    // Essential entries always; the others in order while they fit.
    let width = |l: &str, w: &str| Line::raw(format!(" {l} {w} ")).width();
    let mut room = usize::from(area.width).saturating_sub(spans.iter().map(Span::width).sum());
    room = room.saturating_sub(entries.iter().filter(|e| e.2).map(|e| width(e.0, e.1)).sum());
    for (label, what, essential) in entries {
        if !essential {
            let w = width(label, what);
            if w > room {
                continue;
            }
            room -= w;
        }
        spans.push(Span::styled(format!(" {label}"), t.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// The help overlay, over everything, generated from the key table.
pub fn help(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let lines = text::help(t, crate::tui::layout::help_width(area));
    let r = crate::tui::layout::help_area(area, lines.len());
    frame.render_widget(Clear, r);
    let offset = app.help.map_or(0, |s| s.offset);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Line::styled(" Keys ", t.bold()))
        .title(Line::styled(" Esc closes ", t.dim()).right_aligned());
    let max = lines
        .len()
        .saturating_sub(usize::from(r.height.saturating_sub(2)));
    let shown: Vec<Line> = lines.into_iter().skip(offset.min(max)).collect();
    Paragraph::new(shown).block(block).render(r, frame.buffer_mut());
}

/// Shown instead of the panes when the terminal is too small for them.
pub fn too_small(frame: &mut Frame, area: Rect) {
    let (w, h) = crate::tui::layout::MIN;
    let msg = format!(
        "dsize needs a terminal of at least {w}×{h} (this one is {}×{}). q quits.",
        area.width, area.height
    );
    Paragraph::new(msg)
        .style(Style::new())
        .wrap(Wrap { trim: true })
        .render(area, frame.buffer_mut());
}
