//! The key table: every binding once, as data (gitui's habit). The event loop looks keys up here,
//! and the footer and the help overlay are generated from the same table, so they cannot drift
//! from what the keys do. Owns no state and draws nothing.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Layers: show the file tree; tree: fold the directory; waste list: jump to the file.
    Enter,
    /// Tree: collapse or expand the selected directory.
    Toggle,
    /// Tree: collapse, or go to the parent.
    Left,
    /// Tree: expand.
    Right,
    CollapseAll,
    ExpandAll,
    /// The layer's changes or the whole filesystem as of the layer.
    ToggleMode,
    HideUnmodified,
    Sort,
    Attributes,
    Filter,
    /// Close the help or the filter.
    Back,
    /// Filter input: accept what was typed.
    FilterAccept,
    /// Filter input: delete the last character.
    FilterDelete,
    /// Filter input: clear the text.
    FilterClear,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Anywhere but in the filter input.
    Global,
    /// In every pane: moving the selection or scrolling.
    Move,
    Layers,
    Tree,
    Waste,
    /// While typing a filter (printable keys are typed, not looked up).
    FilterInput,
}

impl Scope {
    /// Heading in the help overlay.
    pub fn heading(self) -> &'static str {
        match self {
            Scope::Global => "Everywhere",
            Scope::Move => "Moving (every pane)",
            Scope::Layers => "Layers",
            Scope::Tree => "File tree",
            Scope::Waste => "Waste and leftovers",
            Scope::FilterInput => "Typing a filter",
        }
    }
}

/// One key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

/// One binding: the keys, how the help names them, what they do.
#[derive(Debug)]
pub struct Binding {
    pub keys: &'static [Key],
    /// The keys as shown (`j ↓`).
    pub label: &'static str,
    pub action: Action,
    pub scope: Scope,
    /// The help overlay's text.
    pub help: &'static str,
    /// The footer's short text, when the binding belongs in the footer.
    pub footer: Option<&'static str>,
}

const fn b(
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    scope: Scope,
    help: &'static str,
    footer: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        label,
        action,
        scope,
        help,
        footer,
    }
}

use Action as A;
use Scope as S;

/// Every binding, in the order the help lists them.
pub static BINDINGS: &[Binding] = &[
    b(
        &[k('q'), ctrl('c')],
        "q",
        A::Quit,
        S::Global,
        "quit (stops reading the image)",
        Some("quit"),
    ),
    b(
        &[k('?'), code(KeyCode::F(1))],
        "?",
        A::Help,
        S::Global,
        "show or hide this help",
        Some("help"),
    ),
    b(
        &[code(KeyCode::Tab)],
        "Tab",
        A::NextPane,
        S::Global,
        "next pane",
        Some("pane"),
    ),
    b(
        &[
            code(KeyCode::BackTab),
            Key {
                code: KeyCode::BackTab,
                mods: KeyModifiers::SHIFT,
            },
        ],
        "Shift-Tab",
        A::PrevPane,
        S::Global,
        "previous pane",
        None,
    ),
    b(
        &[k('/')],
        "/",
        A::Filter,
        S::Global,
        "filter the file tree by a regex on the path",
        Some("filter"),
    ),
    b(
        &[k('t'), ctrl('a')],
        "t",
        A::ToggleMode,
        S::Global,
        "file tree: the layer's changes, or the whole filesystem as of the layer",
        Some("changes/all"),
    ),
    b(
        &[code(KeyCode::Esc)],
        "Esc",
        A::Back,
        S::Global,
        "close the help; clear the filter",
        None,
    ),
    b(&[k('k'), code(KeyCode::Up)], "k ↑", A::Up, S::Move, "up", None),
    b(
        &[k('j'), code(KeyCode::Down)],
        "j ↓",
        A::Down,
        S::Move,
        "down",
        Some("move"),
    ),
    b(
        &[code(KeyCode::PageUp), ctrl('b'), ctrl('u')],
        "PgUp",
        A::PageUp,
        S::Move,
        "a page up",
        None,
    ),
    b(
        &[code(KeyCode::PageDown), ctrl('f'), ctrl('d')],
        "PgDn",
        A::PageDown,
        S::Move,
        "a page down",
        None,
    ),
    b(
        &[code(KeyCode::Home), k('g')],
        "Home g",
        A::Home,
        S::Move,
        "first row",
        None,
    ),
    b(
        &[code(KeyCode::End), k('G')],
        "End G",
        A::End,
        S::Move,
        "last row",
        None,
    ),
    b(
        &[code(KeyCode::Enter)],
        "Enter",
        A::Enter,
        S::Layers,
        "show the layer's files",
        Some("files"),
    ),
    b(
        &[code(KeyCode::Enter), k(' ')],
        "Space Enter",
        A::Toggle,
        S::Tree,
        "collapse or expand the directory",
        Some("fold"),
    ),
    b(
        &[k('h'), code(KeyCode::Left)],
        "h ←",
        A::Left,
        S::Tree,
        "collapse, or go to the parent",
        None,
    ),
    b(
        &[k('l'), code(KeyCode::Right)],
        "l →",
        A::Right,
        S::Tree,
        "expand",
        None,
    ),
    b(
        &[k('['), k('-')],
        "[",
        A::CollapseAll,
        S::Tree,
        "collapse every directory",
        Some("fold all"),
    ),
    b(
        &[k(']'), k('+'), k('=')],
        "]",
        A::ExpandAll,
        S::Tree,
        "expand every directory",
        Some("unfold all"),
    ),
    b(
        &[k('u')],
        "u",
        A::HideUnmodified,
        S::Tree,
        "hide or show unmodified files",
        Some("unmodified"),
    ),
    b(
        &[k('s')],
        "s",
        A::Sort,
        S::Tree,
        "sort by name or by size",
        Some("sort"),
    ),
    b(
        &[k('a'), ctrl('b')],
        "a",
        A::Attributes,
        S::Tree,
        "show or hide attributes (mode, uid:gid)",
        Some("attrs"),
    ),
    b(
        &[code(KeyCode::Enter), k(' ')],
        "Enter",
        A::Enter,
        S::Waste,
        "jump to the layer that stored it and select the file",
        Some("jump"),
    ),
    b(
        &[code(KeyCode::Enter)],
        "Enter",
        A::FilterAccept,
        S::FilterInput,
        "keep the filter, back to the tree",
        Some("keep"),
    ),
    b(
        &[code(KeyCode::Esc)],
        "Esc",
        A::Back,
        S::FilterInput,
        "clear the filter",
        Some("clear"),
    ),
    b(
        &[code(KeyCode::Backspace)],
        "Backspace",
        A::FilterDelete,
        S::FilterInput,
        "delete a character",
        None,
    ),
    b(
        &[ctrl('u')],
        "Ctrl-U",
        A::FilterClear,
        S::FilterInput,
        "delete everything typed",
        None,
    ),
];

/// Mouse actions, listed in the help after the keys.
pub static MOUSE: &[(&str, &str)] = &[
    (
        "click",
        "focus a pane and select a row (again on a directory: fold it)",
    ),
    ("wheel", "scroll the pane under the pointer"),
];

/// What decides which bindings apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The focused pane's scope (`Layers`, `Tree`, `Waste`, or `Move` for text panes).
    pub pane: Scope,
    pub typing_filter: bool,
}

impl Context {
    /// The scopes that apply, most specific first.
    pub fn scopes(self) -> &'static [Scope] {
        if self.typing_filter {
            return &[S::FilterInput];
        }
        match self.pane {
            S::Layers => &[S::Layers, S::Move, S::Global],
            S::Tree => &[S::Tree, S::Move, S::Global],
            S::Waste => &[S::Waste, S::Move, S::Global],
            _ => &[S::Move, S::Global],
        }
    }
}

/// The action bound to a key in a context; `None` for unbound keys (or typed characters).
pub fn lookup(ev: &KeyEvent, cx: Context) -> Option<Action> {
    // Shift is part of the character for letters and symbols; ignore it for matching.
    let mods = ev.modifiers - KeyModifiers::SHIFT;
    let hit = |key: &Key| {
        key.code == ev.code
            && (key.mods == mods || (key.code == KeyCode::BackTab && key.mods == ev.modifiers))
    };
    if ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL) {
        return Some(A::Quit);
    }
    cx.scopes().iter().find_map(|scope| {
        BINDINGS
            .iter()
            .filter(|b| b.scope == *scope)
            .find(|b| b.keys.iter().any(hit))
            .map(|b| b.action)
    })
}

/// One footer entry: keys, short text, and whether it must stay when the line is too short.
pub type FooterEntry = (&'static str, &'static str, bool);

/// The footer's entries for a context, the pane's own first; quit, help and Tab are essential.
pub fn footer(cx: Context) -> Vec<FooterEntry> {
    let mut out = Vec::new();
    for scope in cx.scopes() {
        for b in BINDINGS.iter().filter(|b| b.scope == *scope) {
            if let Some(f) = b.footer {
                let label = match b.action {
                    A::Down => "↑↓",
                    _ => b.label,
                };
                let essential =
                    matches!(b.action, A::Quit | A::Help | A::NextPane) || *scope == S::FilterInput;
                out.push((label, f, essential));
            }
        }
    }
    out
}

/// Footer entries for chosen actions with their own short text (the help overlay's footer); the
/// keys still come from the table.
pub fn footer_for(entries: &[(Action, &'static str)]) -> Vec<FooterEntry> {
    entries
        .iter()
        .filter_map(|(a, what)| {
            BINDINGS
                .iter()
                .find(|b| b.action == *a && matches!(b.scope, S::Global | S::Move))
                .map(|b| (if *a == A::Down { "↑↓" } else { b.label }, *what, true))
        })
        .collect()
}

/// The help overlay's sections: heading and (keys, text) rows, mouse last.
pub fn help() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let scopes = [S::Global, S::Move, S::Layers, S::Tree, S::Waste, S::FilterInput];
    let mut out: Vec<(&'static str, Vec<(&'static str, &'static str)>)> = scopes
        .iter()
        .map(|s| {
            let rows = BINDINGS
                .iter()
                .filter(|b| b.scope == *s)
                .map(|b| (b.label, b.help))
                .collect();
            (s.heading(), rows)
        })
        .collect();
    out.push(("Mouse", MOUSE.to_vec()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn lookup_follows_the_pane() {
        let tree = Context {
            pane: S::Tree,
            typing_filter: false,
        };
        let layers = Context {
            pane: S::Layers,
            ..tree
        };
        let enter = ev(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(lookup(&enter, tree), Some(A::Toggle));
        assert_eq!(lookup(&enter, layers), Some(A::Enter));
        assert_eq!(
            lookup(&ev(KeyCode::Char('j'), KeyModifiers::NONE), layers),
            Some(A::Down)
        );
        assert_eq!(
            lookup(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT), tree),
            Some(A::End)
        );
        assert_eq!(
            lookup(&ev(KeyCode::BackTab, KeyModifiers::SHIFT), tree),
            Some(A::PrevPane)
        );
        assert_eq!(lookup(&ev(KeyCode::Char('s'), KeyModifiers::NONE), layers), None);
    }

    #[test]
    fn typing_a_filter_types_letters_but_ctrl_c_quits() {
        let cx = Context {
            pane: S::Tree,
            typing_filter: true,
        };
        assert_eq!(lookup(&ev(KeyCode::Char('q'), KeyModifiers::NONE), cx), None);
        assert_eq!(
            lookup(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL), cx),
            Some(A::Quit)
        );
        assert_eq!(lookup(&ev(KeyCode::Esc, KeyModifiers::NONE), cx), Some(A::Back));
    }

    #[test]
    fn footer_and_help_come_from_the_table() {
        let cx = Context {
            pane: S::Tree,
            typing_filter: false,
        };
        let f = footer(cx);
        assert_eq!(f.first(), Some(&("Space Enter", "fold", false)));
        assert!(f.contains(&("q", "quit", true)));
        let h = help();
        let listed: usize = h.iter().map(|(_, rows)| rows.len()).sum();
        assert_eq!(listed, BINDINGS.len() + MOUSE.len());
    }
}
