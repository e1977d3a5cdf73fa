//! The merge: applies layers bottom to top to the union tree, in time linear in their entries.
//!
//! Per layer, in the order the OCI spec demands: opaque markers first, then `.wh.` whiteouts (both
//! only ever hit lower layers), then the layer's own entries in tar order. Every regular file is an
//! inode with a count of the visible paths that reach it; when the count drops to zero its bytes
//! become one [`Waste`] item, attributed to the path, the step that stored it and the step that hid
//! it. So `stored = visible + wasted` holds by construction, to the byte.

use super::child_table::{ROOT_KEY, child_key};
use super::entries::{EntryKind, LayerEntries};
use super::tree::{Cause, Kind, NONE, NodeId, Prefetch, ROOT, Tree, Version};

/// How far ahead of the entry being merged the merge asks for each step of a lookup.
const LOOKAHEAD: [(usize, Prefetch); 3] = [
    (8, Prefetch::Slot),
    (4, Prefetch::Node),
    (2, Prefetch::NameAndVersion),
];

/// Bytes that ship but can no longer be seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waste {
    pub node: NodeId,
    pub bytes: u64,
    /// The step whose layer stored the bytes.
    pub layer: u16,
    /// The step whose layer hid them.
    pub hidden_by: u16,
    pub cause: Cause,
}

/// What one layer did to the paths that were visible before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Paths not visible before the layer and visible after it.
    pub added: u64,
    pub added_bytes: u64,
    /// Paths visible before and after, with new content (a directory whose attributes alone
    /// changed does not count).
    pub modified: u64,
    pub modified_bytes: u64,
    /// Paths visible before and not after.
    pub removed: u64,
    pub removed_bytes: u64,
}

/// A directory on the merge's parent chain.
#[derive(Debug, Clone, Copy)]
struct Cached {
    /// Where its component ends in `cache_path`.
    end: usize,
    node: NodeId,
    /// Its path key.
    key: u32,
}

/// Builds the union tree and the waste list, one layer at a time.
#[derive(Default)]
pub struct Merger {
    pub tree: Tree,
    pub waste: Vec<Waste>,
    pub notes: Vec<String>,
    /// The nodes this layer changed, each with what it was before the layer: `None` when it was
    /// not there, else its stored bytes and whether it was a directory.
    touched: Vec<(NodeId, Option<(u64, bool)>)>,
    /// Parent chain of the previous entry, one directory per component of `cache_path`.
    cache: Vec<Cached>,
    cache_path: Vec<u8>,
    stack: Vec<NodeId>,
}

impl Merger {
    /// Applies one layer as step `layer` and returns what it changed. Steps must come in order.
    pub fn apply(&mut self, layer: u16, entries: &LayerEntries) -> Changes {
        self.touched.clear();
        self.cache.clear();
        self.cache_path.clear();
        let mut missing_whiteouts = 0u64;
        let mut not_dirs = 0u64;
        for e in entries.entries.iter().filter(|e| e.kind == EntryKind::Opaque) {
            let Some(n) = self.tree.lookup(entries.bytes(e.path)) else {
                continue;
            };
            match self.tree.visible(n).map(|v| v.kind) {
                Some(Kind::Dir) => {
                    let kids: Vec<NodeId> = self.tree.children(n).collect();
                    for k in kids {
                        self.hide(k, layer, Cause::Opaque);
                    }
                }
                // Docker's applier leaves a file under a marker alone; so does dsize.
                Some(_) => not_dirs += 1,
                None => {}
            }
        }
        if not_dirs > 0 {
            self.notes.push(format!(
                "step {layer}: {not_dirs} opaque marker(s) sit under a path that is not a directory (ignored)"
            ));
        }
        for e in entries.entries.iter().filter(|e| e.kind == EntryKind::Whiteout) {
            match self.tree.lookup(entries.bytes(e.path)) {
                Some(n) if n != ROOT && self.tree.visible(n).is_some() => self.hide(n, layer, Cause::Deleted),
                _ => missing_whiteouts += 1,
            }
        }
        if missing_whiteouts > 0 {
            self.notes.push(format!(
                "step {layer}: {missing_whiteouts} whiteout(s) name paths no lower layer has (ignored)"
            ));
        }
        let mut missing_links = 0u64;
        for (i, e) in entries.entries.iter().enumerate() {
            // Each lookup reads a table slot, then the node it names, then that node's name and
            // newest version, each a likely cache miss on a big tree. Ask for them early, one
            // step per distance: by the time an entry comes up, all of it is in cache.
            for (ahead, step) in LOOKAHEAD {
                if let Some(a) = entries.entries.get(i + ahead) {
                    self.tree.prefetch(a.key, step);
                }
            }
            let path = entries.bytes(e.path);
            let kind = match e.kind {
                EntryKind::Whiteout | EntryKind::Opaque => continue,
                _ if path.is_empty() => continue, // the root's own entry: attributes only
                EntryKind::File => Kind::File,
                EntryKind::Dir => Kind::Dir,
                EntryKind::Symlink => Kind::Symlink,
                EntryKind::HardLink => Kind::HardLink,
                EntryKind::Special => Kind::Special,
            };
            let node = self.ensure_parents(path, e.parent_len as usize, e.key, layer);
            let mut v = Version::new(kind, layer, 0);
            v.mode = e.mode;
            v.uid = e.uid;
            v.gid = e.gid;
            match kind {
                Kind::File => {
                    v.size = e.size;
                    v.extra = self.tree.new_inode(e.size, layer);
                }
                Kind::HardLink => {
                    // Take the reference before the old path is hidden: a link to itself must
                    // not turn its own bytes into waste.
                    let target = self
                        .tree
                        .lookup(entries.bytes(e.link))
                        .and_then(|t| self.tree.visible(t))
                        .and_then(|t| self.tree.inode_of(t).map(|(i, _)| i));
                    let inode = match target {
                        Some(i) => {
                            self.tree.inode_mut(i).refs += 1;
                            i
                        }
                        None => {
                            missing_links += 1;
                            self.tree.new_inode(0, layer)
                        }
                    };
                    v.size = self.tree.inodes()[inode as usize].size;
                    v.extra = inode;
                }
                Kind::Symlink => v.extra = self.tree.intern(entries.bytes(e.link)),
                _ => {}
            }
            self.place(node, v);
            if kind == Kind::Dir {
                // Tar lists a directory before what it holds: its entries find it cached.
                // (`ensure_parents` left the cache at the parent of `path`.)
                self.cache_path.extend_from_slice(&path[self.cache_path.len()..]);
                self.cache.push(Cached {
                    end: path.len(),
                    node,
                    key: e.key,
                });
            }
        }
        if missing_links > 0 {
            self.notes.push(format!(
                "step {layer}: {missing_links} hard link(s) point at no earlier file (counted as empty files)"
            ));
        }
        self.classify(layer)
    }

    /// Walks (and creates) the parents of `path`, making each a visible directory at `layer`.
    /// Returns the node for `path` itself (whose parent is its first `parent_len` bytes, and whose
    /// key is `key`).
    fn ensure_parents(&mut self, path: &[u8], parent_len: usize, key: u32, layer: u16) -> NodeId {
        let parent = &path[..parent_len];
        let name = &path[if parent_len == 0 { 0 } else { parent_len + 1 }..];
        // Most entries sit in the directory of the entry before them: the whole cache holds.
        if parent == &self.cache_path[..] {
            let dir = self.cache.last().map_or(ROOT, |c| c.node);
            return self.tree.child_or_insert(dir, name, key);
        }
        // Reuse the longest cached prefix of whole components. Each cached prefix extends the one
        // before it, so only its last component needs comparing (deep paths stay linear).
        let mut keep = 0;
        let mut matched = 0;
        for &Cached { end, .. } in &self.cache {
            if end <= parent.len()
                && parent[matched..end] == self.cache_path[matched..end]
                && (end == parent.len() || parent[end] == b'/')
            {
                keep += 1;
                matched = end;
            } else {
                break;
            }
        }
        self.cache.truncate(keep);
        let (mut pos, mut node, mut node_key) = self
            .cache
            .last()
            .map_or((0, ROOT, ROOT_KEY), |c| (c.end, c.node, c.key));
        self.cache_path.truncate(pos);
        while pos < parent.len() {
            let start = if pos == 0 { 0 } else { pos + 1 };
            let end = parent[start..]
                .iter()
                .position(|b| *b == b'/')
                .map_or(parent.len(), |i| start + i);
            node_key = child_key(node_key, &parent[start..end]);
            node = self.tree.child_or_insert(node, &parent[start..end], node_key);
            match self.tree.visible(node).map(|v| v.kind) {
                Some(Kind::Dir) => {}
                other => {
                    if other.is_some() {
                        self.hide(node, layer, Cause::Overwritten);
                    }
                    let mut d = Version::new(Kind::Dir, layer, 0);
                    d.mode = 0o755;
                    d.implicit = true;
                    self.set(node, d);
                }
            }
            self.cache_path.truncate(pos);
            self.cache_path.extend_from_slice(&parent[pos..end]);
            self.cache.push(Cached {
                end,
                node,
                key: node_key,
            });
            pos = end;
        }
        self.tree.child_or_insert(node, name, key)
    }

    /// Puts a new version at `node`, hiding what it replaces.
    fn place(&mut self, node: NodeId, v: Version) {
        let cur = self.tree.visible(node).copied();
        match cur {
            Some(c) if c.kind == Kind::Dir && v.kind == Kind::Dir => {
                // Attributes only: keep the directory and its children.
                let mut d = v;
                d.implicit = false;
                self.set(node, d);
            }
            Some(c) => {
                if c.kind == Kind::Dir {
                    // A directory replaced by a non-directory: cached parents may be gone.
                    self.cache.clear();
                    self.cache_path.clear();
                }
                self.hide(node, v.layer, Cause::Overwritten);
                self.set(node, v);
            }
            None => self.set(node, v),
        }
    }

    fn set(&mut self, node: NodeId, v: Version) {
        if let Some(before) = self.tree.set_version(node, v) {
            let before = before.filter(Version::is_present);
            self.touched
                .push((node, before.map(|b| (b.stored_bytes(), b.kind == Kind::Dir))));
        }
    }

    /// Hides a visible node and everything below it, turning bytes that lose their last visible
    /// path into waste. Iterative: directory chains may be thousands of levels deep.
    fn hide(&mut self, node: NodeId, layer: u16, cause: Cause) {
        self.stack.clear();
        self.stack.push(node);
        while let Some(n) = self.stack.pop() {
            let Some(cur) = self.tree.visible(n).copied() else {
                continue;
            };
            if n == ROOT {
                continue;
            }
            if cur.kind == Kind::Dir {
                let mut c = self.tree.node(n).first_child;
                while c != NONE {
                    self.stack.push(c);
                    c = self.tree.node(c).next_sibling;
                }
            }
            if let Some((i, _)) = self.tree.inode_of(&cur) {
                let inode = self.tree.inode_mut(i);
                inode.refs -= 1;
                if inode.refs == 0 && inode.size > 0 {
                    let (bytes, stored) = (inode.size, inode.layer);
                    self.waste.push(Waste {
                        node: n,
                        bytes,
                        layer: stored,
                        hidden_by: layer,
                        cause,
                    });
                }
            }
            self.set(n, Version::new(Kind::Removed, layer, cause as u32));
        }
    }

    /// Sorts the nodes this layer touched into added, modified and removed.
    fn classify(&mut self, layer: u16) -> Changes {
        let mut ch = Changes::default();
        for &(n, before) in &self.touched {
            // Every touched node has this layer's version.
            let Some(after) = self.tree.last(n).filter(|v| v.layer == layer) else {
                continue;
            };
            match (before, after.is_present()) {
                (None, true) => {
                    ch.added += 1;
                    ch.added_bytes += after.stored_bytes();
                }
                (Some((_, was_dir)), true) => {
                    if !(was_dir && after.kind == Kind::Dir) {
                        ch.modified += 1;
                        ch.modified_bytes += after.stored_bytes();
                    }
                }
                (Some((bytes, _)), false) => {
                    ch.removed += 1;
                    ch.removed_bytes += bytes;
                }
                (None, false) => {}
            }
        }
        ch
    }

    /// (stored, visible, wasted) bytes of everything merged so far.
    pub fn totals(&self) -> (u64, u64, u64) {
        let stored = self.tree.inodes().iter().map(|i| i.size).sum();
        let visible = self
            .tree
            .inodes()
            .iter()
            .filter(|i| i.refs > 0)
            .map(|i| i.size)
            .sum();
        let wasted = self.waste.iter().map(|w| w.bytes).sum();
        (stored, visible, wasted)
    }
}
