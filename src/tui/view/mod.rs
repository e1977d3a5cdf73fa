//! Drawing: one frame from `&App`. Views borrow the state and the model and change neither; they
//! draw only the rows that fit (the state keeps the selection and scroll).

mod chrome;
mod layers;
pub mod text;
mod tree;
mod waste;

use crate::tui::layout::{self, Areas};
use crate::tui::state::{App, Pane};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget};

/// Draws the whole frame.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let areas: Areas = layout::areas(area, app);
    if areas.too_small {
        chrome::too_small(frame, area);
        return;
    }
    chrome::header(frame.buffer_mut(), areas.header, app);
    for (pane, outer) in &areas.panes {
        let focused = *pane == app.focus;
        let block = pane_block(app, *pane, focused, outer.width);
        let body = layout::body(*pane, *outer, app);
        let buf = frame.buffer_mut();
        block.render(*outer, buf);
        match pane {
            Pane::Layers => layers::draw(buf, body, app, focused),
            Pane::Tree => tree::draw(frame, *outer, body, app, focused),
            Pane::Waste => waste::draw(buf, *outer, body, app, focused),
            Pane::Details => {
                let lines = text::details(app, body.width);
                scrolled(buf, body, lines, app.details.offset);
            }
            Pane::Summary => {
                let lines = text::summary(app, body.width);
                scrolled(buf, body, lines, app.summary.offset);
            }
        }
    }
    chrome::footer(frame.buffer_mut(), areas.footer, app);
    if app.help.is_some() {
        chrome::help(frame, area, app);
    }
}

/// A pane's frame: its title (with the pane's own extras on the right, when they fit), thick and
/// bright when focused.
fn pane_block(app: &App, pane: Pane, focused: bool, width: u16) -> Block<'static> {
    let t = &app.theme;
    let (title, right) = match pane {
        Pane::Tree => tree::titles(app),
        Pane::Waste => waste::titles(app),
        Pane::Layers => layers::titles(app),
        p => (p.title().to_string(), String::new()),
    };
    let mut block = Block::new()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(t.border(focused))
        .title(Line::styled(
            format!(" {title} "),
            if focused { t.bold() } else { Style::new() },
        ));
    // The right title only when both fit.
    let room = usize::from(width).saturating_sub(4);
    if !right.is_empty() && Line::raw(title.as_str()).width() + Line::raw(right.as_str()).width() + 4 <= room
    {
        block = block.title(Line::styled(format!(" {right} "), t.dim()).right_aligned());
    }
    block
}

/// Text lines from `offset`, clipped to the area.
fn scrolled(buf: &mut Buffer, area: Rect, lines: Vec<Line<'static>>, offset: usize) {
    let max = lines.len().saturating_sub(usize::from(area.height));
    let shown: Vec<Line> = lines
        .into_iter()
        .skip(offset.min(max))
        .take(usize::from(area.height))
        .collect();
    Paragraph::new(shown).render(area, buf);
}

/// Writes one row: the whole width in `base`, then the line over it.
fn row(buf: &mut Buffer, area: Rect, y: u16, line: &Line, base: Style) {
    let r = Rect { y, height: 1, ..area };
    buf.set_style(r, base);
    buf.set_line(area.x, y, line, area.width);
}

/// A size bar `width` cells wide for `value` of `max`, in eighths.
fn bar(value: u64, max: u64, width: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    if max == 0 || width == 0 {
        return " ".repeat(width);
    }
    let eighths = ((value as u128 * width as u128 * 8) / max as u128) as usize;
    let eighths = if value > 0 { eighths.max(1) } else { 0 };
    let full = eighths / 8;
    let mut s = "█".repeat(full.min(width));
    if full < width {
        s.push_str(PARTS[eighths % 8]);
        let used = full + usize::from(eighths % 8 > 0);
        s.push_str(&" ".repeat(width - used));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn bars_scale_in_eighths() {
        assert_eq!(super::bar(100, 100, 4), "████");
        assert_eq!(super::bar(50, 100, 4), "██  ");
        assert_eq!(super::bar(1, 100, 4), "▏   ");
        assert_eq!(super::bar(0, 100, 4), "    ");
        assert_eq!(super::bar(0, 0, 2), "  ");
    }
}
