//! The filter's regex, matched against every full path of the tree (`/a/b`).
//!
//! Paths share their directories, so the regex runs as a lazy DFA down the tree: a node's state is
//! its parent's state fed `/` and the node's own name, so each name is read once instead of once
//! per path below it, and nodes are read in id order (parents first), the order the arena keeps
//! them in. Below a node that matched for good (every longer path matches too) or that can no
//! longer match (a dead state) nothing is read. Should the DFA give up (a Unicode word boundary
//! on a non-ASCII byte, a cache too small for the pattern), every path is matched by the regex
//! itself.

use super::tree::Bits;
use crate::model::tree::{NodeId, ROOT, Tree};
use regex::bytes::{Regex, RegexBuilder};
use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::{start, syntax};

/// Bytes of compiled regex allowed (the regex crate's `size_limit`).
const SIZE_LIMIT: usize = 1 << 22;

/// A compiled filter.
#[derive(Debug, Clone)]
pub struct PathRegex {
    regex: Regex,
    /// The same pattern as a lazy DFA (None if it cannot be built; the regex then does it all).
    dfa: Option<DFA>,
}

impl PathRegex {
    /// Compiles `pattern`, case-insensitive when asked.
    pub fn new(pattern: &str, case_insensitive: bool) -> Result<Self, regex::Error> {
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .size_limit(SIZE_LIMIT)
            .build()?;
        // The byte-regex settings `regex::bytes` uses, so both agree on every path.
        // The DFA gives up rather than clear its cache: a cleared cache would invalidate the
        // states kept for the nodes.
        let dfa = DFA::builder()
            .configure(DFA::config().minimum_cache_clear_count(Some(0)))
            .syntax(
                syntax::Config::new()
                    .case_insensitive(case_insensitive)
                    .utf8(false),
            )
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(SIZE_LIMIT)),
            )
            .build(pattern)
            .ok();
        Ok(PathRegex { regex, dfa })
    }

    /// Every node whose full path the regex matches.
    pub fn matches(&self, tree: &Tree) -> Bits {
        self.dfa
            .as_ref()
            .and_then(|dfa| by_dfa(dfa, tree))
            .unwrap_or_else(|| by_regex(&self.regex, tree))
    }
}

/// Feeds `bytes` from `sid`, stopping at a match (the path up to here matches whatever follows:
/// matches show one byte late, once the byte after them is known) or a dead state (nothing that
/// follows can match). None when the DFA gives up.
fn feed(dfa: &DFA, cache: &mut Cache, mut sid: LazyStateID, bytes: &[u8]) -> Option<LazyStateID> {
    for &b in bytes {
        sid = dfa.next_state(cache, sid, b).ok()?;
        if sid.is_tagged() {
            if sid.is_match() || sid.is_dead() {
                break;
            }
            if sid.is_quit() || sid.is_unknown() {
                return None;
            }
        }
    }
    Some(sid)
}

/// Nodes in id order (a parent before its children), each from its parent's state; None when
/// the DFA gives up.
fn by_dfa(dfa: &DFA, tree: &Tree) -> Option<Bits> {
    let mut cache = dfa.create_cache();
    let start = dfa.start_state(&mut cache, &start::Config::new()).ok()?;
    let mut bits = Bits::new(tree.len());
    // Each node's state after its path: a match state when it or a parent matched for good, a
    // dead state when nothing below can match.
    let mut states: Vec<LazyStateID> = Vec::with_capacity(tree.len());
    states.push(start);
    for n in 1..tree.len() as NodeId {
        let parent = states[tree.node(n).parent as usize];
        let sid = if parent.is_match() || parent.is_dead() {
            parent
        } else {
            let sid = feed(dfa, &mut cache, parent, b"/")?;
            if sid.is_match() || sid.is_dead() {
                sid
            } else {
                feed(dfa, &mut cache, sid, tree.name(n))?
            }
        };
        let matched =
            sid.is_match() || (!sid.is_dead() && dfa.next_eoi_state(&mut cache, sid).ok()?.is_match());
        if matched {
            bits.set(n as usize);
        }
        states.push(sid);
    }
    Some(bits)
}

/// Every path built and matched on its own.
fn by_regex(re: &Regex, tree: &Tree) -> Bits {
    let mut bits = Bits::new(tree.len());
    let mut path: Vec<u8> = Vec::with_capacity(256);
    let mut stack: Vec<(NodeId, usize)> = tree.children(ROOT).map(|c| (c, 0)).collect();
    while let Some((n, parent_len)) = stack.pop() {
        path.truncate(parent_len);
        path.push(b'/');
        path.extend_from_slice(tree.name(n));
        if re.is_match(&path) {
            bits.set(n as usize);
        }
        let here = path.len();
        stack.extend(tree.children(n).map(|c| (c, here)));
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Analysis, AnalysisBuilder, AnalysisOptions, EntryKind, HistoryEntry, ImageMeta, LayerEntries,
        LayerMeta,
    };

    fn tree_of(paths: &[&[u8]]) -> Analysis {
        let meta = ImageMeta {
            history: vec![HistoryEntry::default()],
            layers: vec![LayerMeta::default()],
            ..Default::default()
        };
        let mut b = AnalysisBuilder::new(meta, AnalysisOptions::default()).unwrap();
        let mut e = LayerEntries::default();
        for p in paths {
            e.push(EntryKind::File, p, b"", 1, 0o644, 0, 0).unwrap();
        }
        b.add_layer(0, e, None);
        b.finish()
    }

    fn set(bits: &Bits, len: usize) -> Vec<usize> {
        (0..len).filter(|i| bits.get(*i)).collect()
    }

    #[test]
    fn the_walk_down_the_tree_agrees_with_the_regex_on_every_path() {
        let a = tree_of(&[
            b"usr/lib/x86_64/libc.so.6",
            b"usr/lib/python3/site.py",
            b"usr/libexec/a",
            b"usr/share/doc/lib/README",
            b"usr/bin/ls",
            b"etc/ld.so.conf.d/libc.conf",
            b"opt/Lib/UPPER",
            b"opt/caf\xc3\xa9/men\xc3\xbc",
            b"opt/raw\xff\xfe/bytes",
            b"lib",
            b"root/.cache/pip/x.whl",
        ]);
        let patterns = [
            "lib",
            "Lib",
            "^/usr",
            "^/usr/lib$",
            "lib$",
            "/lib/",
            r"\.so(\.\d+)?$",
            "r/l",
            "",
            "^$",
            "^/",
            "x?",
            r"\bls\b",
            r"(?-u:\bls\b)",
            r"\w+\.py$",
            "é|ü",
            r"(?-u:\xff)",
            "cache|share/doc",
            "[^/]+/[^/]+/[^/]+/[^/]+$",
        ];
        let len = a.tree.len();
        for p in patterns {
            for insensitive in [false, true] {
                let re = PathRegex::new(p, insensitive).unwrap();
                let expected = by_regex(&re.regex, &a.tree);
                assert_eq!(
                    set(&re.matches(&a.tree), len),
                    set(&expected, len),
                    "{p:?} insensitive {insensitive}"
                );
                if let Some(dfa) = &re.dfa
                    && let Some(bits) = by_dfa(dfa, &a.tree)
                {
                    assert_eq!(set(&bits, len), set(&expected, len), "{p:?} by the DFA");
                }
            }
        }
        // The common filters do not fall back; a Unicode word boundary on a non-ASCII name does.
        let re = PathRegex::new("lib", true).unwrap();
        assert!(by_dfa(re.dfa.as_ref().unwrap(), &a.tree).is_some());
        let re = PathRegex::new(r"\bls\b", true).unwrap();
        assert!(re.dfa.as_ref().is_none_or(|dfa| by_dfa(dfa, &a.tree).is_none()));
    }
}
