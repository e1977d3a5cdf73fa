//! The waste and leftovers pane: every waste group and leftover, biggest first, and for the
//! selected one where it came from and its fix.

use super::{row, text};
use crate::model::leftovers::RULES;
use crate::report::{exact, human, path};
use crate::tui::state::{App, ItemKind};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

pub fn titles(app: &App) -> (String, String) {
    let right = app.analysis.as_ref().map_or(String::new(), |a| {
        format!(
            "{} wasted · {} left over",
            human(a.totals.wasted_bytes),
            human(a.totals.leftover_bytes)
        )
    });
    ("Waste and leftovers".to_string(), right)
}

pub fn draw(buf: &mut Buffer, outer: Rect, body: Rect, app: &App, focused: bool) {
    let t = &app.theme;
    let Some(a) = &app.analysis else {
        let msg = if app.error.is_some() {
            "—"
        } else {
            "appears when every layer is merged"
        };
        buf.set_line(body.x, body.y, &Line::styled(msg, t.dim()), body.width);
        return;
    };
    if app.items.is_empty() {
        let msg = "Nothing wasted and no leftovers.";
        super::scrolled(
            buf,
            body,
            text::wrap(&[(msg.into(), t.pass())], usize::from(body.width), 0),
            0,
        );
        return;
    }
    let steps_w = a.steps.len().saturating_sub(1).to_string().len();
    for (y, i) in (body.y..).zip(app.waste.window(app.items.len(), usize::from(body.height))) {
        let item = &app.items[i];
        let files = if item.files == 1 {
            String::new()
        } else {
            format!(" ({} files)", exact(item.files))
        };
        let (mark, steps, what) = match &item.kind {
            ItemKind::Waste { hidden_by, .. } => (
                Span::styled("W", t.waste()),
                format!(
                    "{:<w$}",
                    format!("#{}→#{hidden_by}", item.layer),
                    w = 2 * steps_w + 3
                ),
                String::new(),
            ),
            ItemKind::Leftover { rule } => (
                Span::styled("L", t.leftover()),
                format!("{:<w$}", format!("#{}", item.layer), w = 2 * steps_w + 3),
                format!("  {}", RULES[*rule].label),
            ),
        };
        let line = Line::from(vec![
            mark,
            Span::raw(format!(" {:>9} ", human(item.bytes))),
            Span::styled(steps, t.dim()),
            Span::raw(" "),
            Span::raw(path(a, item.node)),
            Span::styled(format!("{files}{what}"), t.dim()),
        ]);
        let style = if i == app.waste.selected {
            t.selected(focused)
        } else {
            Style::new()
        };
        row(buf, body, y, &line, style);
    }
    // Details of the selected item, under the list.
    let inner = outer.inner(ratatui::layout::Margin::new(1, 1));
    if body.bottom() < inner.bottom()
        && let Some(item) = app.items.get(app.waste.selected)
    {
        let w = usize::from(inner.width);
        let origin = match &item.kind {
            ItemKind::Waste { hidden_by, cause, .. } => format!(
                "stored by {} · {} by #{hidden_by}",
                text::step_ref(app, usize::from(item.layer), w / 2),
                cause.as_str()
            ),
            ItemKind::Leftover { .. } => format!(
                "visible in the final image, stored by {}",
                text::step_ref(app, usize::from(item.layer), w)
            ),
        };
        let lines = [
            Line::styled(origin, t.dim()),
            Line::from(vec![Span::styled("fix: ", t.bold()), Span::raw(item.fix())]),
        ];
        for (k, line) in lines.iter().enumerate() {
            let y = body.bottom() + k as u16;
            if y < inner.bottom() {
                buf.set_line(inner.x, y, line, inner.width);
            }
        }
    }
}
