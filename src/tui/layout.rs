//! Where each pane goes for a terminal size: a pure function of the size and the state, used by
//! the views to draw and by the state to page and to map mouse clicks, so both always agree.
//!
//! Three shapes: every pane (64×16 and up), one pane at a time (smaller), or a note that the
//! terminal is too small (under 20×6).

use crate::tui::state::{App, Pane};
use ratatui::layout::Rect;

/// Below this, everything on one screen; above, one pane at a time.
pub const FULL: (u16, u16) = (64, 16);
/// Below this, only a note.
pub const MIN: (u16, u16) = (20, 6);

/// The areas of one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub footer: Rect,
    /// The panes shown, with their outer rectangle (border included).
    pub panes: Vec<(Pane, Rect)>,
    pub too_small: bool,
}

impl Areas {
    pub fn pane(&self, p: Pane) -> Option<Rect> {
        self.panes.iter().find(|(q, _)| *q == p).map(|(_, r)| *r)
    }

    /// The pane under a point.
    pub fn at(&self, x: u16, y: u16) -> Option<(Pane, Rect)> {
        let pos = ratatui::layout::Position::new(x, y);
        self.panes.iter().copied().find(|(_, r)| r.contains(pos))
    }
}

/// Computes the areas for a terminal of size `area`.
pub fn areas(area: Rect, app: &App) -> Areas {
    if area.width < MIN.0 || area.height < MIN.1 {
        return Areas {
            too_small: true,
            ..Areas::default()
        };
    }
    let header = Rect { height: 1, ..area };
    let footer = Rect {
        y: area.bottom() - 1,
        height: 1,
        ..area
    };
    let body = Rect {
        y: area.y + 1,
        height: area.height - 2,
        ..area
    };
    let panes = if area.width < FULL.0 || area.height < FULL.1 {
        vec![(app.focus, body)]
    } else {
        full(body, app)
    };
    Areas {
        header,
        footer,
        panes,
        too_small: false,
    }
}

fn full(body: Rect, app: &App) -> Vec<(Pane, Rect)> {
    let w = body.width;
    let left_w = if w < 140 { w / 2 } else { (w * 2 / 5).min(90) };
    let right_w = w - left_w;
    let b = body.height;
    // Left: layers sized to the steps (up to ~45 %), details and summary share the rest.
    let steps = app.steps().len() as u16;
    let layers_h = (steps + 2).clamp(4, (b * 45 / 100).max(4));
    let rest = b - layers_h;
    let details_h = rest.div_ceil(2).clamp(3.min(rest), 10);
    let summary_h = rest - details_h;
    let x = body.x;
    let mut y = body.y;
    let mut out = Vec::new();
    let mut push = |p: Pane, x: u16, y: u16, width: u16, h: u16| {
        if h > 0 {
            out.push((p, Rect::new(x, y, width, h)));
        }
    };
    push(Pane::Layers, x, y, left_w, layers_h);
    y += layers_h;
    if summary_h < 3 {
        push(Pane::Details, x, y, left_w, rest);
    } else {
        push(Pane::Details, x, y, left_w, details_h);
        push(Pane::Summary, x, y + details_h, left_w, summary_h);
    }
    // Right: the tree, and the waste list sized to its items (up to ~40 %).
    let items = app.items.len() as u16;
    let detail = if items > 0 { 2 } else { 0 };
    let waste_h = (items.max(1) + 2 + detail).clamp(3, (b * 40 / 100).max(3));
    let rx = x + left_w;
    push(Pane::Tree, rx, body.y, right_w, b - waste_h);
    push(Pane::Waste, rx, body.y + b - waste_h, right_w, waste_h);
    out
}

/// The rectangle inside a pane's border where its rows go (the tree keeps a legend line above and
/// a filter line below; the waste list keeps two lines for the selected item's details).
pub fn body(pane: Pane, outer: Rect, app: &App) -> Rect {
    let inner = outer.inner(ratatui::layout::Margin::new(1, 1));
    let (top, bottom) = match pane {
        Pane::Tree => {
            let filter = u16::from(app.tree.filter.typing || !app.tree.filter.text.is_empty());
            (1, filter)
        }
        Pane::Waste if inner.height >= 6 && !app.items.is_empty() => (0, 2),
        _ => (0, 0),
    };
    let top = top.min(inner.height);
    let bottom = bottom.min(inner.height - top);
    Rect {
        y: inner.y + top,
        height: inner.height - top - bottom,
        ..inner
    }
}

/// The help overlay: up to 80 columns wide, centred, as tall as its `lines` allow.
pub fn help_area(area: Rect, lines: usize) -> Rect {
    let w = area.width.saturating_sub(2).min(80);
    let h = (lines as u16)
        .saturating_add(2)
        .min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The width of the help overlay's text for a terminal of size `area`.
pub fn help_width(area: Rect) -> u16 {
    area.width.saturating_sub(2).min(80).saturating_sub(2)
}
