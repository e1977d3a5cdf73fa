//! Reports over a finished [`Analysis`]: text, JSON (versioned, own types) and CI rules; and over
//! a comparison of several ([`compare`]).
//!
//! Everything here only reads the analysis. Paths and instructions that reach a terminal pass
//! through [`escape`], so a file name can never send control sequences to it.

pub mod ci;
pub mod compare;
pub mod json;
pub mod text;

use crate::model::{Analysis, NodeId};
use std::fmt::Write as _;

/// Human size in decimal units, as `docker image ls` prints them (`2.34 MB`, `181 B`).
pub fn human(n: u64) -> String {
    humansize::format_size(n, humansize::DECIMAL)
}

/// What a progress view says before the image's first byte: the daemon is pulling it (with
/// `--pull`), or staging its export.
pub fn waiting_text(progress: &crate::index::Progress) -> String {
    use std::sync::atomic::Ordering;
    if progress.pulling.load(Ordering::Relaxed) {
        format!(
            "pulling the image: {} downloaded…",
            human(progress.pulled.load(Ordering::Relaxed))
        )
    } else {
        "waiting for the image's first bytes…".to_string()
    }
}

/// Exact bytes with thousands separators (`2,338,716`).
pub fn exact(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Makes bytes safe to print: valid UTF-8 stays (but for control characters and `\`), control
/// characters become `\n`, `\t`, `\x1b`, `\u{9b}`, invalid bytes become `\xff`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                // C1 controls (0x80-0x9f) include CSI, which some terminals obey; bidi overrides
                // can disguise names.
                c if ('\u{80}'..='\u{9f}').contains(&c)
                    || ('\u{202a}'..='\u{202e}').contains(&c)
                    || ('\u{2066}'..='\u{2069}').contains(&c) =>
                {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Escapes text that may contain newlines meant for display (instructions): newlines fold to
/// spaces first, then everything else is escaped.
pub fn escape_text(s: &str) -> String {
    let folded = s.replace("\\\n", " ").replace(['\n', '\r', '\t'], " ");
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    escape(words.join(" ").as_bytes())
}

/// A node's path, escaped for the terminal.
pub fn path(a: &Analysis, node: NodeId) -> String {
    escape(&a.tree.path(node))
}

/// A node's path for JSON: lossless when it is UTF-8.
pub fn path_lossy(a: &Analysis, node: NodeId) -> String {
    String::from_utf8_lossy(&a.tree.path(node)).into_owned()
}

/// `#3 RUN apt-get update …`, escaped, cut to `width` characters.
pub fn step_label(a: &Analysis, step: usize, width: usize) -> String {
    let s = &a.steps[step];
    let text = if s.instruction.text.is_empty() {
        match &s.created_by {
            Some(c) if !c.is_empty() => escape_text(c),
            _ => "(no history)".to_string(),
        }
    } else {
        escape_text(&s.instruction.text)
    };
    truncate(&format!("#{step} {text}"), width)
}

/// Cuts a string to `width` characters, ending with `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A percentage with two decimals.
pub fn percent(x: f64) -> String {
    format!("{x:.2} %")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_text_says_whether_the_daemon_pulls() {
        use std::sync::atomic::Ordering;
        let p = crate::index::Progress::default();
        assert_eq!(waiting_text(&p), "waiting for the image's first bytes…");
        p.pulling.store(true, Ordering::Relaxed);
        p.pulled.store(12_345_678, Ordering::Relaxed);
        assert_eq!(waiting_text(&p), "pulling the image: 12.35 MB downloaded…");
    }

    #[test]
    fn escapes_terminal_attacks() {
        assert_eq!(escape(b"a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(escape(b"\x1b[2J"), "\\x1b[2J");
        assert_eq!(escape(b"ok/\xff\xfe"), "ok/\\xff\\xfe");
        assert_eq!(escape("caf\u{e9}\u{9b}x".as_bytes()), "caf\u{e9}\\u{9b}x");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape("\u{202e}txt.exe".as_bytes()), "\\u{202e}txt.exe");
        assert_eq!(escape_text("RUN a \\\n  && b\x1b[2J"), "RUN a && b\\x1b[2J");
    }

    #[test]
    fn numbers() {
        assert_eq!(exact(2338716), "2,338,716");
        assert_eq!(exact(0), "0");
        assert_eq!(exact(999), "999");
        assert_eq!(exact(1000), "1,000");
        assert_eq!(human(181), "181 B");
        assert_eq!(human(2_338_716), "2.34 MB");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
