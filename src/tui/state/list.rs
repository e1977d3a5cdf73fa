//! Widget state for anything that scrolls: a selected row and the first row shown (bottom's habit:
//! kept apart from the drawing code, which only reads it).

use crate::tui::keys::Action;

/// Selection and scroll of a list of `len` rows shown `height` at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListState {
    pub selected: usize,
    pub offset: usize,
}

impl ListState {
    /// Applies a movement key; returns true when the selection changed.
    pub fn apply(&mut self, action: Action, len: usize, height: usize) -> bool {
        let before = self.selected;
        let page = height.max(1);
        let last = len.saturating_sub(1);
        self.selected = match action {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => (self.selected + 1).min(last),
            Action::PageUp => self.selected.saturating_sub(page),
            Action::PageDown => (self.selected + page).min(last),
            Action::Home => 0,
            Action::End => last,
            _ => self.selected,
        };
        self.clamp(len, height);
        self.selected != before
    }

    /// Moves the selection by `delta` rows (the mouse wheel).
    pub fn step(&mut self, delta: isize, len: usize, height: usize) -> bool {
        let before = self.selected;
        self.selected = self
            .selected
            .saturating_add_signed(delta)
            .min(len.saturating_sub(1));
        self.clamp(len, height);
        self.selected != before
    }

    /// Selects a row and scrolls so it is shown.
    pub fn select(&mut self, row: usize, len: usize, height: usize) {
        self.selected = row;
        self.clamp(len, height);
    }

    /// Selects a row and puts it near the middle of the view.
    pub fn select_centered(&mut self, row: usize, len: usize, height: usize) {
        self.selected = row;
        self.offset = row.saturating_sub(height / 2);
        self.clamp(len, height);
    }

    /// Keeps the selection inside the list and on screen, and the view filled.
    pub fn clamp(&mut self, len: usize, height: usize) {
        let height = height.max(1);
        self.selected = self.selected.min(len.saturating_sub(1));
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
    }

    /// The rows shown: `offset..offset + height`, cut to the list.
    pub fn window(&self, len: usize, height: usize) -> std::ops::Range<usize> {
        let start = self.offset.min(len);
        start..(start + height).min(len)
    }
}

/// Scroll state of a text pane (no selection): the first line shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scroll {
    pub offset: usize,
}

impl Scroll {
    /// Applies a movement key to a text of `len` lines shown `height` at a time.
    pub fn apply(&mut self, action: Action, len: usize, height: usize) {
        let max = len.saturating_sub(height);
        let page = height.max(1);
        self.offset = match action {
            Action::Up => self.offset.saturating_sub(1),
            Action::Down => self.offset + 1,
            Action::PageUp => self.offset.saturating_sub(page),
            Action::PageDown => self.offset + page,
            Action::Home => 0,
            Action::End => max,
            _ => self.offset,
        }
        .min(max);
    }

    /// Scrolls by `delta` lines (the mouse wheel).
    pub fn step(&mut self, delta: isize, len: usize, height: usize) {
        self.offset = self
            .offset
            .saturating_add_signed(delta)
            .min(len.saturating_sub(height));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_stays_visible() {
        let mut s = ListState::default();
        for _ in 0..7 {
            s.apply(Action::Down, 10, 5);
        }
        assert_eq!((s.selected, s.offset), (7, 3));
        s.apply(Action::End, 10, 5);
        assert_eq!((s.selected, s.offset), (9, 5));
        s.apply(Action::PageUp, 10, 5);
        assert_eq!((s.selected, s.offset), (4, 4));
        s.apply(Action::Home, 10, 5);
        assert_eq!((s.selected, s.offset), (0, 0));
        s.clamp(0, 5);
        assert_eq!((s.selected, s.offset), (0, 0));
        s.select_centered(8, 20, 6);
        assert_eq!((s.selected, s.offset), (8, 5));
        assert_eq!(s.window(20, 6), 5..11);
    }

    #[test]
    fn text_scroll_stops_at_the_end() {
        let mut s = Scroll::default();
        s.apply(Action::PageDown, 12, 5);
        s.apply(Action::PageDown, 12, 5);
        assert_eq!(s.offset, 7);
        s.step(-3, 12, 5);
        assert_eq!(s.offset, 4);
    }
}
