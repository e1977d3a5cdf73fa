//! The layers pane: one row per history step with its index, size, a bar scaled to the largest
//! layer, waste and leftover marks, and the instruction. Empty steps are dim at 0 B.

use super::{bar, row, text};
use crate::report::human;
use crate::tui::state::App;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

pub fn titles(app: &App) -> (String, String) {
    let steps = app.steps();
    let right = if steps.is_empty() {
        String::new()
    } else {
        format!("{}/{}", app.layers.selected + 1, steps.len())
    };
    ("Layers".to_string(), right)
}

pub fn draw(buf: &mut Buffer, area: Rect, app: &App, focused: bool) {
    let t = &app.theme;
    let steps = app.steps();
    if steps.is_empty() {
        let msg = if app.error.is_some() {
            "no history"
        } else {
            "reading the image's history…"
        };
        buf.set_line(area.x, area.y, &Line::styled(msg, t.dim()), area.width);
        return;
    }
    let max = (0..steps.len())
        .filter_map(|i| app.step_size(i))
        .max()
        .unwrap_or(0);
    let idx_w = (steps.len() - 1).to_string().len();
    let width = usize::from(area.width);
    let bar_w = (width / 8).clamp(3, 12);
    let range = app.layers.window(steps.len(), usize::from(area.height));
    for (y, i) in (area.y..).zip(range) {
        let s = &steps[i];
        let size = app.step_size(i);
        let size_text = match size {
            Some(b) => human(b),
            None if s.empty => "0 B".into(),
            None if s.missing_layer => "missing".into(),
            None if app.loading() => "…".into(),
            None => "—".into(),
        };
        let dim = s.empty || s.missing_layer;
        let base = if dim { t.dim() } else { Style::new() };
        let mark = |on: bool, c: &'static str, style: Style| {
            if on {
                Span::styled(c, style)
            } else {
                Span::raw(" ")
            }
        };
        let line = Line::from(vec![
            Span::styled(format!("{i:>idx_w$} "), t.dim()),
            Span::styled(format!("{size_text:>9} "), base),
            Span::styled(bar(size.unwrap_or(0), max, bar_w), t.bar()),
            Span::raw(" "),
            mark(s.wasted_bytes > 0, "W", t.waste()),
            mark(s.leftover_bytes > 0, "L", t.leftover()),
            Span::raw(" "),
            Span::styled(text::instruction(s), base),
        ]);
        let selected = i == app.layers.selected;
        let style = if selected {
            t.selected(focused)
        } else {
            Style::new()
        };
        row(buf, area, y, &line, style);
    }
}
