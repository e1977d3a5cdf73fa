//! Leftovers: paths visible in the final image that a Dockerfile usually should not ship.
//!
//! All knowledge lives in [`RULES`], one entry per pattern: a new category is one line. A pattern
//! names a directory (or file) whose whole subtree is the leftover; `**` as the first component
//! means "at any depth", `*` inside a component is a wildcard. The first rule that matches a path
//! wins, and nothing below a match is matched again.

use super::tree::{NodeId, ROOT, Tree};
use hashbrown::HashMap;

/// One leftover pattern.
#[derive(Debug)]
pub struct Rule {
    /// Stable machine name (JSON `category`).
    pub category: &'static str,
    /// Human name for reports.
    pub label: &'static str,
    /// Components from the root, e.g. `["var", "lib", "apt", "lists"]`, or `["**", ".git"]`.
    pub pattern: &'static [&'static str],
    /// The one-line fix.
    pub hint: &'static str,
}

const APT_LISTS: &str = "end the RUN that runs apt-get update with `&& rm -rf /var/lib/apt/lists/*`";
const APT_CACHE: &str =
    "run `apt-get clean` (or `rm -rf /var/cache/apt/*`) in the same RUN as apt-get install";
const PIP: &str = "use `pip install --no-cache-dir` (or ENV PIP_NO_CACHE_DIR=1)";
const NPM: &str = "run `npm cache clean --force` in the same RUN, or use `npm ci` in a build stage";
const YARN: &str = "run `yarn cache clean` in the same RUN, or install in a build stage";
const APK: &str = "use `apk add --no-cache`";
const DNF: &str = "run `dnf clean all` (or `yum clean all`) in the same RUN as the install";
const GO: &str = "build in a separate stage (multi-stage) or run `go clean -cache -modcache`";
const CARGO: &str = "build in a separate stage (multi-stage) so the cargo registry stays behind";
const GIT: &str = "add `.git` to .dockerignore, or COPY only what the app needs";
const TMP: &str = "delete temporary files in the same RUN that created them";
const TOOLCHAIN: &str = "compile in a build stage and COPY --from it only the artifacts (multi-stage build)";
const DOCS: &str = "remove docs in the same RUN (`rm -rf /usr/share/doc /usr/share/man /usr/share/info`) or tell the package manager to skip them";

/// The rule table, in priority order.
pub static RULES: &[Rule] = &[
    rule(
        "apt-lists",
        "apt lists",
        &["var", "lib", "apt", "lists"],
        APT_LISTS,
    ),
    rule(
        "apt-archives",
        "apt archives",
        &["var", "cache", "apt"],
        APT_CACHE,
    ),
    rule("pip-cache", "pip cache", &["**", ".cache", "pip"], PIP),
    rule("npm-cache", "npm cache", &["**", ".npm", "_cacache"], NPM),
    rule("yarn-cache", "yarn cache", &["**", ".cache", "yarn"], YARN),
    rule(
        "yarn-cache",
        "yarn cache",
        &["usr", "local", "share", ".cache", "yarn"],
        YARN,
    ),
    rule("apk-cache", "apk cache", &["var", "cache", "apk"], APK),
    rule("dnf-yum-cache", "dnf/yum cache", &["var", "cache", "dnf"], DNF),
    rule("dnf-yum-cache", "dnf/yum cache", &["var", "cache", "yum"], DNF),
    rule("go-cache", "go build cache", &["**", ".cache", "go-build"], GO),
    rule("go-cache", "go module cache", &["go", "pkg", "mod"], GO),
    rule("go-cache", "go module cache", &["**", "go", "pkg", "mod"], GO),
    rule(
        "cargo-cache",
        "cargo registry",
        &["**", ".cargo", "registry"],
        CARGO,
    ),
    rule(
        "cargo-cache",
        "cargo git checkouts",
        &["**", ".cargo", "git"],
        CARGO,
    ),
    rule("git", ".git directory", &["**", ".git"], GIT),
    rule("tmp", "temporary files", &["tmp"], TMP),
    rule("tmp", "temporary files", &["var", "tmp"], TMP),
    rule(
        "toolchain",
        "compiler toolchain",
        &["usr", "lib", "gcc"],
        TOOLCHAIN,
    ),
    rule(
        "toolchain",
        "compiler toolchain",
        &["usr", "libexec", "gcc"],
        TOOLCHAIN,
    ),
    rule(
        "toolchain",
        "compiler toolchain",
        &["usr", "lib", "llvm-*"],
        TOOLCHAIN,
    ),
    rule(
        "toolchain",
        "compiler toolchain",
        &["usr", "bin", "*gcc*"],
        TOOLCHAIN,
    ),
    rule(
        "toolchain",
        "compiler toolchain",
        &["usr", "bin", "*g++*"],
        TOOLCHAIN,
    ),
    rule(
        "toolchain",
        "compiler toolchain",
        &["usr", "bin", "clang*"],
        TOOLCHAIN,
    ),
    rule("toolchain", "development headers", &["usr", "include"], TOOLCHAIN),
    rule(
        "toolchain",
        "development headers",
        &["usr", "local", "include"],
        TOOLCHAIN,
    ),
    rule("docs", "docs", &["usr", "share", "doc"], DOCS),
    rule("docs", "man pages", &["usr", "share", "man"], DOCS),
    rule("docs", "info pages", &["usr", "share", "info"], DOCS),
];

const fn rule(
    category: &'static str,
    label: &'static str,
    pattern: &'static [&'static str],
    hint: &'static str,
) -> Rule {
    Rule {
        category,
        label,
        pattern,
        hint,
    }
}

/// Distinct categories in table order (for reports that list every category).
pub fn categories() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RULES {
        if !out.contains(&r.category) {
            out.push(r.category);
        }
    }
    out
}

/// The hint of a category.
pub fn hint_of(category: &str) -> &'static str {
    RULES
        .iter()
        .find(|r| r.category == category)
        .map_or("", |r| r.hint)
}

/// Does a component match a pattern component (`*` wildcards)?
fn comp_matches(pat: &str, comp: &[u8]) -> bool {
    let pat = pat.as_bytes();
    match pat.iter().position(|b| *b == b'*') {
        None => pat == comp,
        Some(i) => {
            let (head, rest) = (&pat[..i], &pat[i + 1..]);
            if !comp.starts_with(head) {
                return false;
            }
            let tail = &comp[head.len()..];
            match rest.iter().position(|b| *b == b'*') {
                // `*mid*`: the middle must appear somewhere in what is left.
                Some(j) if j + 1 == rest.len() => {
                    let mid = &rest[..j];
                    mid.is_empty() || tail.windows(mid.len()).any(|w| w == mid)
                }
                _ => tail.ends_with(rest),
            }
        }
    }
}

/// A rule's pattern, prepared once: whether it may start at any depth, and its components.
struct Compiled {
    anywhere: bool,
    comps: Vec<Comp>,
}

enum Comp {
    Literal(&'static [u8]),
    Wildcard(&'static str),
}

impl Comp {
    fn matches(&self, c: &[u8]) -> bool {
        match self {
            Comp::Literal(l) => *l == c,
            Comp::Wildcard(p) => comp_matches(p, c),
        }
    }
}

/// The rule table, prepared: every rule, and for quick rejection the rules by the literal last
/// component of their pattern (plus those whose last component is a wildcard).
struct Matcher {
    rules: Vec<Compiled>,
    by_last: HashMap<&'static [u8], Vec<usize>>,
    wild_last: Vec<usize>,
    /// Path depths at which a rule of `wild_last` can match: bit `d` for a rule anchored at the
    /// root with `d` components, every depth from `wild_anywhere` on for a rule that may start
    /// anywhere (`usize::MAX`: none). Most paths are at other depths and skip the wildcards.
    wild_depths: u64,
    wild_anywhere: usize,
}

fn matcher() -> &'static Matcher {
    static MATCHER: std::sync::OnceLock<Matcher> = std::sync::OnceLock::new();
    MATCHER.get_or_init(|| {
        let rules: Vec<Compiled> = RULES
            .iter()
            .map(|r| {
                let (anywhere, pat) = match r.pattern.split_first() {
                    Some((&"**", rest)) => (true, rest),
                    _ => (false, r.pattern),
                };
                let comps = pat
                    .iter()
                    .map(|p| match p.contains('*') {
                        true => Comp::Wildcard(p),
                        false => Comp::Literal(p.as_bytes()),
                    })
                    .collect();
                Compiled { anywhere, comps }
            })
            .collect();
        let mut by_last: HashMap<&'static [u8], Vec<usize>> = HashMap::new();
        let mut wild_last = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match r.comps.last() {
                Some(Comp::Literal(l)) => by_last.entry(*l).or_default().push(i),
                _ => wild_last.push(i),
            }
        }
        let (mut wild_depths, mut wild_anywhere) = (0u64, usize::MAX);
        for r in &wild_last {
            let (anywhere, k) = (rules[*r].anywhere, rules[*r].comps.len());
            // A rule anchored deeper than the mask counts as one from there on.
            if anywhere || k >= 64 {
                wild_anywhere = wild_anywhere.min(k);
            } else {
                wild_depths |= 1 << k;
            }
        }
        Matcher {
            rules,
            by_last,
            wild_last,
            wild_depths,
            wild_anywhere,
        }
    })
}

impl Matcher {
    /// Could a rule of `wild_last` match a path of `depth` components?
    fn wild_at(&self, depth: usize) -> bool {
        (depth < 64 && self.wild_depths & (1 << depth) != 0) || depth >= self.wild_anywhere
    }

    /// Could a rule match a path of `depth` components that ends in `name`? (False means
    /// [`match_rule`] gives `None` on every such path.)
    fn may_end_with(&self, name: &[u8], depth: usize) -> bool {
        self.by_last.contains_key(name)
            || self.wild_at(depth)
                && self.wild_last.iter().any(|r| {
                    let rule = &self.rules[*r];
                    rule.fits(depth) && rule.comps.last().is_some_and(|c| c.matches(name))
                })
    }
}

impl Compiled {
    /// Can the pattern match a path of `depth` components?
    fn fits(&self, depth: usize) -> bool {
        let k = self.comps.len();
        if self.anywhere { depth >= k } else { depth == k }
    }

    fn matches(&self, comps: &[&[u8]]) -> bool {
        let (n, k) = (comps.len(), self.comps.len());
        if !self.fits(n) {
            return false;
        }
        self.comps
            .iter()
            .zip(&comps[n - k..])
            .rev()
            .all(|(p, c)| p.matches(c))
    }
}

/// The first rule whose pattern ends exactly at the last of `comps` (the path from the root).
pub fn match_rule(comps: &[&[u8]]) -> Option<usize> {
    let m = matcher();
    let last = comps.last()?;
    // Only rules ending in this very name, or in a wildcard, can match; both lists are in
    // table order, so the first hit of each is that list's best.
    let literal = m
        .by_last
        .get(*last)
        .and_then(|rs| rs.iter().copied().find(|r| m.rules[*r].matches(comps)));
    let wild = m.wild_at(comps.len()).then(|| {
        m.wild_last
            .iter()
            .copied()
            .take_while(|r| literal.is_none_or(|l| *r < l))
            .find(|r| m.rules[*r].matches(comps))
    });
    wild.flatten().or(literal)
}

/// [`rule_covering`] for many nodes: each directory's answer is worked out once and kept, so
/// asking for every file of a deleted tree costs one rule match per file, not one per ancestor.
/// A file's own path is only put together when a rule could end at its name and depth; asking
/// about the files of one directory in a row looks the directory up once.
pub struct Covering<'a> {
    tree: &'a Tree,
    /// Directory -> its answer.
    memo: HashMap<NodeId, DirAnswer>,
    /// The directory asked about last.
    last: Option<(NodeId, DirAnswer)>,
    comps: Vec<&'a [u8]>,
    chain: Vec<NodeId>,
}

/// What [`Covering`] keeps per directory.
#[derive(Clone, Copy)]
struct DirAnswer {
    /// The rule covering the directory (matched at it or above) and where it matched.
    rule: Option<(usize, NodeId)>,
    /// Components from the root (the root is 0).
    depth: usize,
}

impl<'a> Covering<'a> {
    pub fn new(tree: &'a Tree) -> Self {
        Covering {
            tree,
            memo: HashMap::new(),
            last: None,
            comps: Vec::new(),
            chain: Vec::new(),
        }
    }

    /// Same answer as [`rule_covering`].
    pub fn of(&mut self, node: NodeId) -> Option<(usize, NodeId)> {
        if node == ROOT {
            return None;
        }
        let above = self.dir(self.tree.node(node).parent);
        if above.rule.is_some() {
            return above.rule;
        }
        if !matcher().may_end_with(self.tree.name(node), above.depth + 1) {
            return None;
        }
        self.path_to(node);
        match_rule(&self.comps).map(|r| (r, node))
    }

    /// Directory `d`'s answer.
    fn dir(&mut self, d: NodeId) -> DirAnswer {
        const TOP: DirAnswer = DirAnswer { rule: None, depth: 0 };
        if d == ROOT || d == super::tree::NONE {
            return TOP;
        }
        if let Some((n, a)) = self.last
            && n == d
        {
            return a;
        }
        // Climb to a known directory (or the root), then work down.
        self.chain.clear();
        let mut n = d;
        let mut known = TOP;
        while n != ROOT && n != super::tree::NONE {
            if let Some(a) = self.memo.get(&n) {
                known = *a;
                break;
            }
            self.chain.push(n);
            n = self.tree.node(n).parent;
        }
        let mut answer = known;
        if let Some(&top) = self.chain.last() {
            if known.rule.is_none() {
                self.path_to(top);
            }
            for i in (0..self.chain.len()).rev() {
                let c = self.chain[i];
                answer.depth += 1;
                if answer.rule.is_none() {
                    if i + 1 < self.chain.len() {
                        self.comps.push(self.tree.name(c));
                    }
                    answer.rule = match_rule(&self.comps).map(|r| (r, c));
                }
                self.memo.insert(c, answer);
            }
        }
        self.last = Some((d, answer));
        answer
    }

    /// Fills `comps` with the components from the root to `n`.
    fn path_to(&mut self, n: NodeId) {
        self.comps.clear();
        let mut m = n;
        while m != ROOT && m != super::tree::NONE {
            self.comps.push(self.tree.name(m));
            m = self.tree.node(m).parent;
        }
        self.comps.reverse();
    }
}

/// The rule that covers a node, and the node where that rule's subtree starts (the node itself
/// or an ancestor), if any.
pub fn rule_covering(tree: &Tree, node: NodeId) -> Option<(usize, NodeId)> {
    let mut chain = Vec::new();
    let mut n = node;
    while n != ROOT {
        chain.push(n);
        n = tree.node(n).parent;
    }
    chain.reverse();
    let mut comps: Vec<&[u8]> = Vec::with_capacity(chain.len());
    for &n in &chain {
        comps.push(tree.name(n));
        if let Some(r) = match_rule(&comps) {
            return Some((r, n));
        }
    }
    None
}

/// One leftover: the visible bytes under one matched path that one step stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub rule: usize,
    pub node: NodeId,
    pub layer: u16,
    pub bytes: u64,
    pub files: u64,
}

impl Leftover {
    pub fn category(&self) -> &'static str {
        RULES[self.rule].category
    }
    pub fn hint(&self) -> &'static str {
        RULES[self.rule].hint
    }
}

/// Finds every leftover in the final filesystem. Each inode's bytes count once (at the first
/// visible path that reaches it), so leftover bytes never exceed visible bytes.
pub fn scan(tree: &Tree) -> Vec<Leftover> {
    let mut counted = vec![false; tree.inodes().len()];
    let mut out: Vec<Leftover> = Vec::new();
    // Depth-first over visible nodes with the component path on a stack.
    let mut comps: Vec<&[u8]> = Vec::new();
    let mut stack: Vec<(NodeId, usize)> = vec![(ROOT, 0)];
    while let Some((n, depth)) = stack.pop() {
        comps.truncate(depth);
        if n != ROOT {
            comps.push(tree.name(n));
            if let Some(r) = match_rule(&comps) {
                collect(tree, n, r, &mut counted, &mut out);
                continue;
            }
        }
        if tree.visible(n).is_some_and(|v| v.kind == super::tree::Kind::Dir) {
            for c in tree.children(n) {
                if tree.visible(c).is_some() {
                    stack.push((c, comps.len()));
                }
            }
        }
    }
    out.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(a.node.cmp(&b.node))
            .then(a.layer.cmp(&b.layer))
    });
    out
}

/// Adds up one matched subtree's visible bytes per storing step.
fn collect(tree: &Tree, root: NodeId, rule: usize, counted: &mut [bool], out: &mut Vec<Leftover>) {
    let mut per_layer: Vec<(u16, u64, u64)> = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        let Some(v) = tree.visible(n) else { continue };
        if let Some((i, inode)) = tree.inode_of(v).filter(|(i, _)| !counted[*i as usize]) {
            counted[i as usize] = true;
            match per_layer.iter_mut().find(|(l, _, _)| *l == inode.layer) {
                Some(e) => {
                    e.1 += inode.size;
                    e.2 += 1;
                }
                None => per_layer.push((inode.layer, inode.size, 1)),
            }
        }
        stack.extend(tree.children(n));
    }
    for (layer, bytes, files) in per_layer {
        if bytes > 0 {
            out.push(Leftover {
                rule,
                node: root,
                layer,
                bytes,
                files,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(path: &str) -> Option<&'static str> {
        let comps: Vec<&[u8]> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::as_bytes)
            .collect();
        match_rule(&comps).map(|r| RULES[r].category)
    }

    #[test]
    fn patterns_match_where_they_should() {
        assert_eq!(m("/var/lib/apt/lists"), Some("apt-lists"));
        assert_eq!(m("/var/lib/apt"), None);
        assert_eq!(m("/root/.cache/pip"), Some("pip-cache"));
        assert_eq!(m("/home/app/.cache/pip"), Some("pip-cache"));
        assert_eq!(m("/app/.git"), Some("git"));
        assert_eq!(m("/.git"), Some("git"));
        assert_eq!(m("/usr/bin/gcc-12"), Some("toolchain"));
        assert_eq!(m("/usr/bin/x86_64-linux-gnu-gcc-12"), Some("toolchain"));
        assert_eq!(m("/usr/bin/c++"), None);
        assert_eq!(m("/usr/lib/llvm-14"), Some("toolchain"));
        assert_eq!(m("/tmp"), Some("tmp"));
        assert_eq!(m("/app/tmp"), None);
        assert_eq!(m("/usr/share/man"), Some("docs"));
        assert_eq!(m("/root/.npm/_cacache"), Some("npm-cache"));
        assert_eq!(m("/go/pkg/mod"), Some("go-cache"));
    }

    #[test]
    fn wildcard_components() {
        assert!(comp_matches("*gcc*", b"gcc"));
        assert!(comp_matches("*gcc*", b"x-gcc-ar"));
        assert!(!comp_matches("*gcc*", b"gc"));
        assert!(comp_matches("llvm-*", b"llvm-"));
        assert!(comp_matches("clang*", b"clang++"));
        assert!(!comp_matches("clang*", b"xclang"));
    }

    #[test]
    fn every_category_has_a_hint() {
        for r in RULES {
            assert!(!r.hint.is_empty(), "{}", r.category);
        }
        assert_eq!(categories().len(), 13);
    }

    #[test]
    fn memoised_covering_agrees_with_rule_covering() {
        use crate::model::entries::{EntryKind, LayerEntries};
        use crate::model::merge::Merger;
        let mut l = LayerEntries::default();
        for p in [
            "var/lib/apt/lists/a",
            "var/lib/apt/lists/sub/b",
            "var/lib/apt/x",
            "root/.cache/pip/wheels/c",
            "app/.git/objects/d",
            "app/src/.git",
            "usr/bin/gcc-12",
            "usr/bin/ls",
            "usr/lib/llvm-14/lib/e",
            "tmp/f",
            "srv/a/b/c/d/e",
            "home/u/.npm/_cacache/g",
            "opt/usr/bin/gcc-9",
            "usr/bin/sub/clang",
            "x/y/z/.git/h",
            "usr/lib/llvm-15",
        ] {
            l.push(EntryKind::File, p.as_bytes(), b"", 1, 0o644, 0, 0)
                .unwrap();
        }
        let mut m = Merger::default();
        m.apply(0, &l);
        let mut cov = Covering::new(&m.tree);
        // Twice over, in both orders, so memoised answers are used as well as computed.
        let ids: Vec<NodeId> = (0..m.tree.len() as NodeId).collect();
        for n in ids.iter().chain(ids.iter().rev()) {
            assert_eq!(cov.of(*n), rule_covering(&m.tree, *n), "node {n}");
        }
    }

    /// The prepared matcher gives the plain table scan's answer on every path made of pattern
    /// components and other names, at every depth up to 6.
    #[test]
    fn prepared_matcher_agrees_with_a_plain_scan() {
        fn plain(comps: &[&[u8]]) -> Option<usize> {
            RULES.iter().position(|r| {
                let (anywhere, pat) = match r.pattern.split_first() {
                    Some((&"**", rest)) => (true, rest),
                    _ => (false, r.pattern),
                };
                if comps.len() < pat.len() || (!anywhere && comps.len() != pat.len()) {
                    return false;
                }
                let tail = &comps[comps.len() - pat.len()..];
                pat.iter().zip(tail).all(|(p, c)| comp_matches(p, c))
            })
        }
        let mut words: Vec<&[u8]> = vec![
            b"x",
            b"gcc",
            b"llvm-15",
            b"x86_64-gcc-12",
            b"clang++",
            b"g++-9",
            b"home",
        ];
        for r in RULES {
            for p in r.pattern.iter().filter(|p| **p != "**" && !p.contains('*')) {
                words.push(p.as_bytes());
            }
        }
        words.sort();
        words.dedup();
        let mut seed = 1u64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let depth = 1 + (seed % 6) as usize;
            let comps: Vec<&[u8]> = (0..depth)
                .map(|i| words[((seed >> (8 + 5 * i)) % words.len() as u64) as usize])
                .collect();
            let expected = plain(&comps);
            assert_eq!(match_rule(&comps), expected, "{comps:?}");
            // The quick test a memoised covering asks first never rules out a match.
            if expected.is_some() {
                assert!(matcher().may_end_with(comps[depth - 1], depth), "{comps:?}");
            }
        }
    }
}
