//! The file tree pane: a legend, the rows that fit (status, waste/leftover mark, recursive size,
//! optional attributes, the folded name with its symlink target), and the filter line.

use super::row;
use crate::model::tree::{Kind, Version};
use crate::report::{escape, human};
use crate::tui::state::App;
use crate::tui::state::tree::{Mode, ROW_DIR, ROW_LEFTOVER, ROW_OPEN, Sort, Status, shown_version};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

pub fn titles(app: &App) -> (String, String) {
    let step = app.selected_step();
    let title = match app.tree.mode {
        Mode::Changes => format!("Files · #{step} changes"),
        Mode::Whole => format!("Files · as of #{step}"),
    };
    let total = app
        .tree
        .view()
        .filter(|v| usize::from(v.step) == step)
        .map(|v| v.size(0, app.tree.mode));
    let mut right = Vec::new();
    if let Some(t) = total {
        right.push(human(t));
    }
    if app.tree.sort == Sort::Size {
        right.push("by size".into());
    }
    if app.tree.hide_unmodified {
        right.push("changed only".into());
    }
    (title, right.join(" · "))
}

fn status_char(s: Status) -> &'static str {
    match s {
        Status::Added => "+",
        Status::Modified => "~",
        Status::Removed => "-",
        Status::Unmodified => " ",
    }
}

/// `drwxr-xr-x`.
pub fn mode_string(v: &Version) -> String {
    let t = match v.kind {
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Special => 'c',
        Kind::File | Kind::HardLink | Kind::Removed => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    for shift in [6, 3, 0] {
        let bits = (v.mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

pub fn draw(frame: &mut Frame, outer: Rect, body: Rect, app: &App, focused: bool) {
    let t = &app.theme;
    let inner = outer.inner(ratatui::layout::Margin::new(1, 1));
    let buf = frame.buffer_mut();
    // Legend: the longest form that fits.
    if inner.height > 0 {
        let forms: [[&str; 6]; 4] = [
            [
                "+ added  ",
                "~ modified  ",
                "- removed  ",
                "unmodified  ",
                " waste  ",
                " leftover",
            ],
            [
                "+added ",
                "~modified ",
                "-removed ",
                "unmodified ",
                " waste ",
                " leftover",
            ],
            ["+add ", "~mod ", "-del ", "same ", " waste ", " leftover"],
            ["+add ", "~mod ", "-del ", "same ", "", ""],
        ];
        let legend = forms
            .iter()
            .map(|f| {
                Line::from(vec![
                    Span::styled(f[0], t.status(Status::Added)),
                    Span::styled(f[1], t.status(Status::Modified)),
                    Span::styled(f[2], t.removed()),
                    Span::raw(f[3]),
                    Span::styled("W", t.waste()),
                    Span::raw(f[4]),
                    Span::styled(if f[5].is_empty() { " L" } else { "L" }, t.leftover()),
                    Span::raw(f[5]),
                ])
            })
            .find(|l| l.width() <= usize::from(inner.width))
            .unwrap_or_default();
        buf.set_line(inner.x, inner.y, &legend, inner.width);
    }
    let Some(a) = &app.analysis else {
        let msg = match &app.error {
            Some(e) => vec![(
                format!("The image could not be read: {}", escape(e.as_bytes())),
                t.error(),
            )],
            None => vec![(
                "Reading the image… the file tree appears when every layer is merged.".to_string(),
                t.dim(),
            )],
        };
        let lines = super::text::wrap(&msg, usize::from(body.width), 0);
        super::scrolled(buf, body, lines, 0);
        return;
    };
    let step = app.selected_step().min(a.steps.len().saturating_sub(1)) as u16;
    let Some(view) = app.tree.view().filter(|v| v.step == step) else {
        return;
    };
    let mode = app.tree.mode;
    let rows = app.tree.rows();
    if rows.is_empty() {
        let msg = if app.tree.filter.active() {
            "No path matches the filter in this view."
        } else if app.tree.hide_unmodified || mode == Mode::Changes {
            "This layer changed no files."
        } else {
            "No files."
        };
        buf.set_line(body.x, body.y, &Line::styled(msg, t.dim()), body.width);
    }
    let width = usize::from(body.width);
    let attrs_w = if app.tree.attrs { 21 } else { 0 };
    // Room for the name after status, mark, size and attributes; indentation yields to it.
    let fixed = 2 + 10 + attrs_w + 2;
    let max_indent = width.saturating_sub(fixed + 12);
    for (y, i) in (body.y..).zip(app.tree.list.window(rows.len(), usize::from(body.height))) {
        let r = rows[i];
        let n = r.node;
        let status = view.display_status(n);
        let v = shown_version(&a.tree, n, step);
        let waste = v.is_some_and(|v| app.marks.waste.contains(&(n, v.layer)));
        let mark = if waste {
            Span::styled("W", t.waste())
        } else if r.flags & ROW_LEFTOVER != 0 {
            Span::styled("L", t.leftover())
        } else {
            Span::raw(" ")
        };
        let size = if r.flags & ROW_DIR != 0 {
            let s = view.size(n, mode);
            if s == 0 && mode == Mode::Changes && view.removed_bytes(n) > 0 && status != Status::Removed {
                Span::styled(
                    format!("{:>9}", format!("-{}", human(view.removed_bytes(n)))),
                    t.removed(),
                )
            } else {
                Span::raw(format!("{:>9}", human(s)))
            }
        } else {
            match v.map(|v| v.kind) {
                Some(Kind::File) => Span::raw(format!("{:>9}", human(v.map_or(0, |v| v.size)))),
                Some(Kind::HardLink) => {
                    Span::styled(format!("{:>9}", human(v.map_or(0, |v| v.size))), t.dim())
                }
                _ => Span::raw(" ".repeat(9)),
            }
        };
        let mut spans = vec![
            Span::styled(status_char(status), t.status(status)),
            mark,
            Span::raw(" "),
            size,
            Span::raw(" "),
        ];
        if app.tree.attrs {
            let attrs = v.map_or(String::new(), |v| {
                format!("{} {}:{}", mode_string(v), v.uid, v.gid)
            });
            spans.push(Span::styled(format!("{attrs:<20} "), t.dim()));
        }
        spans.push(Span::raw(" ".repeat((usize::from(r.depth) * 2).min(max_indent))));
        let arrow = match (r.flags & ROW_DIR != 0, r.flags & ROW_OPEN != 0) {
            (true, true) => "▾ ",
            (true, false) => "▸ ",
            _ => "  ",
        };
        spans.push(Span::styled(arrow, t.dim()));
        spans.push(Span::styled(escape(a.tree.name(n)), t.status(status)));
        if let Some(v) = v {
            match v.kind {
                Kind::Symlink => {
                    let target = a.tree.link_target(v).map(escape).unwrap_or_default();
                    spans.push(Span::styled(format!(" → {target}"), t.dim()));
                }
                Kind::HardLink => spans.push(Span::styled(" ⇒ hard link", t.dim())),
                _ => {}
            }
        }
        let style = if i == app.tree.list.selected {
            t.selected(focused)
        } else {
            Style::new()
        };
        row(buf, body, y, &Line::from(spans), style);
    }
    // The filter line.
    let f = &app.tree.filter;
    if f.typing || !f.text.is_empty() {
        let y = inner.bottom().saturating_sub(1);
        let mut spans = vec![Span::styled("/", t.key()), Span::raw(escape(f.text.as_bytes()))];
        let cursor_x = inner.x + spans.iter().map(|s| s.width() as u16).sum::<u16>();
        let status = if let Some(e) = &f.error {
            Span::styled(format!("  {}", escape(e.as_bytes())), t.error())
        } else if f.pending() {
            Span::styled("  (applied when typing pauses)", t.dim())
        } else if f.running() {
            Span::styled("  matching…", t.dim())
        } else if f.active() {
            let n = app.tree.match_count;
            Span::styled(format!("  {n} match{}", if n == 1 { "" } else { "es" }), t.bold())
        } else {
            Span::styled("  type a regex (Enter keeps it, Esc clears)", t.dim())
        };
        spans.push(status);
        let line = Line::from(spans);
        let r = Rect {
            y,
            height: 1,
            ..inner
        };
        buf.set_style(r, Style::new());
        buf.set_line(inner.x, y, &line, inner.width);
        if f.typing && focused && app.help.is_none() && cursor_x < inner.right() {
            frame.set_cursor_position(Position::new(cursor_x, y));
        }
    }
}
