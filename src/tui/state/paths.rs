//! The filter's regex, matched against every full path (`/a/b`) of the browser's tree or of the
//! compare view's diff tree (both a [`PathTree`]).
//!
//! Paths share their directories, so the regex runs as a DFA down the tree: a node's state is the
//! state its parent's children start in (the parent's state fed `/`, kept once per directory) fed
//! the node's own name, so each name is read once instead of once per path below it, and nodes
//! are read in id order (parents first), the order the arena keeps them in. In the state most
//! names start in, the bytes that keep the DFA there are passed over without a transition.
//! Below a node that matched for good (every longer path matches too) or that can no longer
//! match (a dead state) nothing is read. Big trees are split in two id ranges walked on two
//! threads; a range starts from the states of the parents it needs, computed on the way.
//!
//! When the pattern only grew by letters, digits, `_` or `/` since the last filter, its matches
//! can only be fewer: then only the nodes that matched before, and the directories above them,
//! are walked. Should the lazy DFA give up (a Unicode word boundary on a non-ASCII byte, a cache
//! too small for the pattern), every path is matched by the regex itself.

use super::tree::Bits;
use crate::model::tree::{NONE, NodeId, ROOT, Tree};
use regex::bytes::{Regex, RegexBuilder};
use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::{start, syntax};

/// Bytes of compiled regex allowed (the regex crate's `size_limit`).
const SIZE_LIMIT: usize = 1 << 22;
/// Trees from this many nodes are walked on two threads.
const PARALLEL_FROM: usize = 100_000;

/// What the filter reads of a tree: nodes numbered from the root (`/`, node 0), every parent
/// before its children. The browser's [`Tree`] and the compare view's diff tree both are one.
pub trait PathTree: Sync {
    /// Nodes, the root included.
    fn node_count(&self) -> usize;
    /// The root's parent is anything (it is never asked).
    fn parent(&self, n: NodeId) -> NodeId;
    fn name(&self, n: NodeId) -> &[u8];
    fn has_children(&self, n: NodeId) -> bool;
    fn for_each_child(&self, n: NodeId, f: impl FnMut(NodeId));
}

impl PathTree for Tree {
    fn node_count(&self) -> usize {
        self.len()
    }
    fn parent(&self, n: NodeId) -> NodeId {
        self.node(n).parent
    }
    fn name(&self, n: NodeId) -> &[u8] {
        Tree::name(self, n)
    }
    fn has_children(&self, n: NodeId) -> bool {
        self.node(n).first_child != NONE
    }
    fn for_each_child(&self, n: NodeId, f: impl FnMut(NodeId)) {
        self.children(n).for_each(f);
    }
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub struct PathRegex {
    regex: Regex,
    /// The same pattern as a lazy DFA (None if it cannot be built; the regex then does it all).
    dfa: Option<DFA>,
    pattern: String,
}

impl PathRegex {
    /// Compiles `pattern`, case-insensitive when asked.
    pub fn new(pattern: &str, case_insensitive: bool) -> Result<Self, regex::Error> {
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .size_limit(SIZE_LIMIT)
            .build()?;
        // The byte-regex settings `regex::bytes` uses, so both agree on every path. The DFA
        // gives up rather than clear its cache: a cleared cache would invalidate the states kept
        // for the nodes.
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
        Ok(PathRegex {
            regex,
            dfa,
            pattern: pattern.to_string(),
        })
    }

    /// Every node whose full path the regex matches. `before`: the matches of an earlier
    /// pattern this one only narrows (see [`PathRegex::narrows`]).
    pub fn matches(&self, tree: &impl PathTree, before: Option<&Bits>) -> Bits {
        let only = before.map(|b| with_ancestors(tree, b));
        self.dfa
            .as_ref()
            .and_then(|dfa| walk(dfa, tree, only.as_ref()))
            .unwrap_or_else(|| by_regex(&self.regex, tree))
    }

    /// True for the same pattern (the same text gives the same case rule).
    pub fn same(&self, other: &PathRegex) -> bool {
        self.pattern == other.pattern
    }

    /// True when every path this pattern matches, `earlier` matches too: it is `earlier` with
    /// letters, digits, `_` or `/` appended (each a literal joined to the end, whatever
    /// precedes it; switching to case-sensitive by an upper-case letter only narrows more).
    pub fn narrows(&self, earlier: &PathRegex) -> bool {
        self.pattern.len() > earlier.pattern.len()
            && self.pattern.starts_with(&earlier.pattern)
            && self.pattern[earlier.pattern.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/')
    }
}

/// Feeds `bytes` from `sid`, stopping at a match (the path up to here matches whatever follows:
/// matches show one byte late, once the byte after them is known) or a dead state (nothing that
/// follows can match). While the DFA is in `skip`'s state, the bytes that keep it there are passed
/// over without a transition. None when the DFA gives up.
fn feed(
    dfa: &DFA,
    cache: &mut Cache,
    mut sid: LazyStateID,
    bytes: &[u8],
    skip: Option<&Skip>,
) -> Option<LazyStateID> {
    let mut i = 0;
    while i < bytes.len() {
        if let Some(k) = skip
            && sid == k.state
        {
            match k.next(&bytes[i..]) {
                Some(j) => i += j,
                None => break,
            }
        }
        sid = dfa.next_state(cache, sid, bytes[i]).ok()?;
        i += 1;
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

/// The state most names start in (the root's children's, the start state fed `/`) and the bytes
/// that move the DFA out of it. Every other byte keeps it there, so a run of them needs no
/// transitions: for a filter such as `lib`, a name is read by looking for an `l` or an `L`.
struct Skip {
    state: LazyStateID,
    leaves: [bool; 256],
}

impl Skip {
    /// None when the state keeps itself on fewer than half of the bytes (skipping would rarely
    /// pay), or is a match or dead. None also when the DFA gives up, which the walk then sees.
    fn new(dfa: &DFA, cache: &mut Cache, state: LazyStateID) -> Option<Skip> {
        if state.is_tagged() {
            return None;
        }
        let mut leaves = [false; 256];
        for (b, leaves) in leaves.iter_mut().enumerate() {
            *leaves = dfa.next_state(cache, state, b as u8).ok()? != state;
        }
        (leaves.iter().filter(|l| **l).count() <= 128).then_some(Skip { state, leaves })
    }

    /// Where the first byte that leaves the state is.
    fn next(&self, bytes: &[u8]) -> Option<usize> {
        bytes.iter().position(|&b| self.leaves[usize::from(b)])
    }
}

/// A match for good or a dead state: feeding more changes nothing.
fn settled(s: LazyStateID) -> bool {
    s.is_match() || s.is_dead()
}

/// Matches every node, on two threads for big trees; None when the DFA gives up.
fn walk<T: PathTree>(dfa: &DFA, tree: &T, only: Option<&Bits>) -> Option<Bits> {
    let n = tree.node_count();
    if n < PARALLEL_FROM {
        return Range::new(dfa, tree, 1, only).run(n);
    }
    let mid = n / 2;
    let (a, b) = rayon::join(
        || Range::new(dfa, tree, 1, only).run(mid),
        || Range::new(dfa, tree, mid, only).run(n),
    );
    let mut a = a?;
    a.or(&b?);
    Some(a)
}

/// A node's state (its path fed through the DFA) and the state its children start in (`/` fed
/// too, when it has children); None for both when the walk skips it (below a skipped node, or
/// not among the earlier matches).
type NodeStates = (Option<LazyStateID>, Option<LazyStateID>);

/// One id range of the walk, with its own DFA cache (state ids belong to the cache).
struct Range<'t, T> {
    dfa: &'t DFA,
    cache: Cache,
    tree: &'t T,
    /// The first node of the range.
    lo: usize,
    only: Option<&'t Bits>,
    /// The state each node's children start in (its own state for a file or a settled state),
    /// from `lo` on: None for a node the walk skips.
    states: Vec<Option<LazyStateID>>,
    /// The same for the nodes before `lo` that the range needed (parents of its nodes and
    /// theirs), by id; the outer None: not computed yet.
    before: Vec<Option<Option<LazyStateID>>>,
    skip: Option<Skip>,
}

impl<'t, T: PathTree> Range<'t, T> {
    fn new(dfa: &'t DFA, tree: &'t T, lo: usize, only: Option<&'t Bits>) -> Self {
        Range {
            dfa,
            cache: dfa.create_cache(),
            tree,
            lo,
            only,
            states: Vec::new(),
            before: vec![None; lo],
            skip: None,
        }
    }

    /// Walks the nodes `lo..hi`.
    fn run(mut self, hi: usize) -> Option<Bits> {
        let start = self
            .dfa
            .start_state(&mut self.cache, &start::Config::new())
            .ok()?;
        let root = feed(self.dfa, &mut self.cache, start, b"/", None)?;
        self.skip = Skip::new(self.dfa, &mut self.cache, root);
        let mut bits = Bits::new(self.tree.node_count());
        self.states.reserve(hi - self.lo);
        for n in self.lo..hi {
            let p = self.tree.parent(n as NodeId);
            let from = if p == ROOT {
                Some(root)
            } else if p as usize >= self.lo {
                self.states[p as usize - self.lo]
            } else {
                self.state_before(p, root)?
            };
            let (s, children) = self.step(from, n as NodeId)?;
            self.states.push(children);
            if let Some(s) = s
                && self.matched(s)?
            {
                bits.set(n);
            }
        }
        Some(bits)
    }

    /// Node `n`'s states from the state its parent's children start in. None when the DFA
    /// gives up.
    fn step(&mut self, from: Option<LazyStateID>, n: NodeId) -> Option<NodeStates> {
        let Some(f) = from else { return Some((None, None)) };
        if self.only.is_some_and(|o| !o.get(n as usize)) {
            return Some((None, None));
        }
        if settled(f) {
            return Some((Some(f), Some(f)));
        }
        let s = feed(
            self.dfa,
            &mut self.cache,
            f,
            self.tree.name(n),
            self.skip.as_ref(),
        )?;
        if settled(s) || !self.tree.has_children(n) {
            return Some((Some(s), Some(s)));
        }
        Some((Some(s), Some(feed(self.dfa, &mut self.cache, s, b"/", None)?)))
    }

    /// Whether the path that led to `s` matches.
    fn matched(&mut self, s: LazyStateID) -> Option<bool> {
        Some(s.is_match() || (!s.is_dead() && self.dfa.next_eoi_state(&mut self.cache, s).ok()?.is_match()))
    }

    /// The state of `p`, a node before the range: from the root or the nearest ancestor known.
    fn state_before(&mut self, p: NodeId, root: LazyStateID) -> Option<Option<LazyStateID>> {
        let mut chain = Vec::new();
        let mut q = p;
        let mut s = loop {
            if q == ROOT {
                break Some(root);
            }
            if let Some(s) = self.before[q as usize] {
                break s;
            }
            chain.push(q);
            q = self.tree.parent(q);
        };
        for &c in chain.iter().rev() {
            s = self.step(s, c)?.1;
            self.before[c as usize] = Some(s);
        }
        Some(s)
    }
}

/// The set with every ancestor of its nodes (children have higher ids than their parents).
pub fn with_ancestors(tree: &impl PathTree, bits: &Bits) -> Bits {
    let mut out = bits.clone();
    for id in (1..tree.node_count()).rev() {
        if out.get(id) {
            out.set(tree.parent(id as NodeId) as usize);
        }
    }
    out
}

/// Every path built and matched on its own.
fn by_regex(re: &Regex, tree: &impl PathTree) -> Bits {
    let mut bits = Bits::new(tree.node_count());
    let mut path: Vec<u8> = Vec::with_capacity(256);
    let mut stack: Vec<(NodeId, usize)> = Vec::new();
    tree.for_each_child(ROOT, |c| stack.push((c, 0)));
    while let Some((n, parent_len)) = stack.pop() {
        path.truncate(parent_len);
        path.push(b'/');
        path.extend_from_slice(tree.name(n));
        if re.is_match(&path) {
            bits.set(n as usize);
        }
        let here = path.len();
        tree.for_each_child(n, |c| stack.push((c, here)));
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
            // Skipping in the state most names start in: few bytes leave it, or most do.
            "ib+c|x86",
            "[^a]",
            r"(?-u:[\x80-\xff])",
            "/$",
        ];
        let len = a.tree.len();
        for p in patterns {
            for insensitive in [false, true] {
                let re = PathRegex::new(p, insensitive).unwrap();
                let expected = set(&by_regex(&re.regex, &a.tree), len);
                assert_eq!(
                    set(&re.matches(&a.tree, None), len),
                    expected,
                    "{p:?} {insensitive}"
                );
                // The DFA on its own, split in two ranges anywhere.
                for lo in [1, 2, 5, len / 2, len - 1] {
                    if let Some(dfa) = &re.dfa
                        && let (Some(mut first), Some(second)) = (
                            Range::new(dfa, &a.tree, 1, None).run(lo),
                            Range::new(dfa, &a.tree, lo, None).run(len),
                        )
                    {
                        first.or(&second);
                        assert_eq!(set(&first, len), expected, "{p:?} by the DFA, split at {lo}");
                    }
                }
            }
        }
        // Names are skipped through for a literal, not when most bytes leave the state.
        let skips = |p: &str| {
            let dfa = PathRegex::new(p, true).unwrap().dfa.unwrap();
            let mut cache = dfa.create_cache();
            let start = dfa.start_state(&mut cache, &start::Config::new()).unwrap();
            let root = feed(&dfa, &mut cache, start, b"/", None).unwrap();
            Skip::new(&dfa, &mut cache, root).map(|k| k.leaves.iter().filter(|l| **l).count())
        };
        assert_eq!(skips("lib"), Some(2));
        assert_eq!(skips(r"\.so$"), Some(1));
        assert_eq!(skips("[^a]"), None);
        // The common filters do not fall back; a Unicode word boundary on a non-ASCII name does.
        let re = PathRegex::new("lib", true).unwrap();
        assert!(walk(re.dfa.as_ref().unwrap(), &a.tree, None).is_some());
        let re = PathRegex::new(r"\bls\b", true).unwrap();
        assert!(
            re.dfa
                .as_ref()
                .is_none_or(|dfa| walk(dfa, &a.tree, None).is_none())
        );
    }

    #[test]
    fn a_pattern_that_only_grew_walks_only_what_matched_before() {
        let a = tree_of(&[
            b"usr/lib/x86_64/libc.so.6",
            b"usr/lib/libm.so",
            b"usr/libexec/a",
            b"usr/share/doc/lib/README",
            b"opt/Lib/UPPER",
            b"opt/liberty/x",
            b"li",
        ]);
        let len = a.tree.len();
        let chains: &[&[&str]] = &[
            &["l", "li", "lib", "libc"],
            &["u", "usr/l", "usr/lib/"],
            &["li", "liB"],
            &["^/u|li", "^/u|lib"],
            &["o.", "o.6"],
        ];
        for chain in chains {
            let mut before: Option<(PathRegex, Bits)> = None;
            for p in chain.iter() {
                let insensitive = !p.chars().any(char::is_uppercase);
                let re = PathRegex::new(p, insensitive).unwrap();
                let prior = before.as_ref().filter(|(old, _)| re.narrows(old));
                assert!(
                    prior.is_some() || before.is_none(),
                    "{p:?} narrows what came before"
                );
                let got = re.matches(&a.tree, prior.map(|(_, m)| m));
                assert_eq!(set(&got, len), set(&by_regex(&re.regex, &a.tree), len), "{p:?}");
                before = Some((re, got));
            }
        }
        // Growing by anything else is not narrowing.
        let re = |p: &str| PathRegex::new(p, true).unwrap();
        for (old, new) in [("ab", "ab?"), ("a", "a|b"), ("a", "a*"), ("a", "a."), ("a", "a")] {
            assert!(!re(new).narrows(&re(old)), "{old:?} -> {new:?}");
        }
    }
}
