//! The union file tree of an image: every path any layer touched, once, in an arena.
//!
//! Each node keeps a backward chain of [`Version`]s, one per layer that changed it (added, modified,
//! or removed it). "The filesystem as of layer N" is, for each node, its newest version at or
//! below N; "layer N's changes" are the versions made exactly at N. Nothing here does I/O; the tree
//! is built by [`crate::model::merge`] and only read afterwards.

use super::child_table::{ChildTable, ROOT_KEY, child_key, prefetch_line};
use super::names::{NameId, Names};

/// Index of a node; the root is 0.
pub type NodeId = u32;
/// The root directory `/`.
pub const ROOT: NodeId = 0;
/// "No node / no version".
pub const NONE: u32 = u32::MAX;

/// What a version of a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    HardLink,
    Special,
    /// The path is gone from this layer on (`Version::cause` says why).
    Removed,
}

/// Why a path stopped being visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// A later layer wrote the same path again (or replaced its type).
    Overwritten,
    /// A `.wh.` whiteout deleted it (or a directory above it).
    Deleted,
    /// An opaque directory marker hid it.
    Opaque,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Overwritten => "overwritten",
            Cause::Deleted => "deleted",
            Cause::Opaque => "opaque",
        }
    }
}

/// One state of a path, made by one layer.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    /// File bytes (for a hard link: the linked file's bytes, which the link itself does not add).
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// File/HardLink: inode index; Symlink: target name; Removed: `Cause` as u32; else unused.
    pub(crate) extra: u32,
    /// The previous version of the same node, or `NONE`.
    pub(crate) prev: u32,
    /// The step (history index) that made this version.
    pub layer: u16,
    pub kind: Kind,
    /// A directory the layer did not list but needed as a parent.
    pub implicit: bool,
}

impl Version {
    pub(crate) fn new(kind: Kind, layer: u16, extra: u32) -> Self {
        Version {
            size: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            extra,
            prev: NONE,
            layer,
            kind,
            implicit: false,
        }
    }

    /// True for anything but `Removed`.
    pub fn is_present(&self) -> bool {
        self.kind != Kind::Removed
    }

    /// Bytes this path stores: a regular file's size; 0 for links, dirs and the rest.
    pub fn stored_bytes(&self) -> u64 {
        if self.kind == Kind::File { self.size } else { 0 }
    }

    /// Why a `Removed` version is removed.
    pub fn cause(&self) -> Option<Cause> {
        (self.kind == Kind::Removed).then_some(match self.extra {
            0 => Cause::Overwritten,
            1 => Cause::Deleted,
            _ => Cause::Opaque,
        })
    }
}

/// A path in the arena.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    /// Where the last component's bytes sit in the tree's name buffer: kept in the node, so
    /// a lookup that reads the node can go straight to the name.
    name_start: u64,
    name_len: u32,
    pub parent: NodeId,
    pub(crate) first_child: NodeId,
    pub(crate) next_sibling: NodeId,
    pub(crate) last: u32,
}

/// A regular file's content: shared by its hard links.
#[derive(Debug, Clone, Copy)]
pub struct Inode {
    pub size: u64,
    /// How many visible paths point at it now.
    pub refs: u32,
    /// The step that stored its bytes.
    pub layer: u16,
}

/// The steps of a lookup, each of which needs the one before in cache to be asked for early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefetch {
    /// The child-table slot where the probe begins.
    Slot,
    /// The node the first slot with a matching key names.
    Node,
    /// That node's name and newest version.
    NameAndVersion,
}

/// Whether node `n` is the child `name` of `parent` (each (parent, name) is one node).
#[inline]
fn is_child<'a>(
    nodes: &'a [Node],
    names: &'a [u8],
    parent: NodeId,
    name: &'a [u8],
) -> impl Fn(NodeId) -> bool + 'a {
    move |n| {
        let n = &nodes[n as usize];
        n.parent == parent && node_name(names, n) == name
    }
}

/// A node's name, from the tree's name buffer.
#[inline]
fn node_name<'a>(names: &'a [u8], n: &Node) -> &'a [u8] {
    let start = n.name_start as usize;
    &names[start..start + n.name_len as usize]
}

/// The arena.
pub struct Tree {
    /// Every node's name, back to back in node order (the root's is empty).
    node_names: Vec<u8>,
    /// Symlink targets, each stored once.
    pub(crate) names: Names,
    pub(crate) nodes: Vec<Node>,
    pub(crate) versions: Vec<Version>,
    /// Every node but the root, found by its path key and verified against its parent and name.
    pub(crate) children: ChildTable,
    pub(crate) inodes: Vec<Inode>,
}

impl Default for Tree {
    fn default() -> Self {
        let mut tree = Tree {
            node_names: Vec::new(),
            names: Names::default(),
            nodes: Vec::new(),
            versions: Vec::new(),
            children: ChildTable::default(),
            inodes: Vec::new(),
        };
        tree.nodes.push(Node {
            name_start: 0,
            name_len: 0,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            last: NONE,
        });
        tree
    }
}

impl Tree {
    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the tree holds only the root.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    #[inline]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The last component's bytes (empty for the root).
    #[inline]
    pub fn name(&self, id: NodeId) -> &[u8] {
        node_name(&self.node_names, &self.nodes[id as usize])
    }

    /// Children in the order they first appeared.
    pub fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            tree: self,
            next: self.nodes[id as usize].first_child,
        }
    }

    /// The child `name` of `parent`, whose path has the key `key`, if any layer ever had it.
    fn find_child(&self, parent: NodeId, name: &[u8], key: u32) -> Option<NodeId> {
        self.children
            .find(key, is_child(&self.nodes, &self.node_names, parent, name))
            .ok()
    }

    /// The node at a normalised path (`a/b`, leading slash optional), if any layer ever had it.
    pub fn lookup(&self, path: &[u8]) -> Option<NodeId> {
        let (mut n, mut key) = (ROOT, ROOT_KEY);
        for comp in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
            key = child_key(key, comp);
            n = self.find_child(n, comp, key)?;
        }
        Some(n)
    }

    /// `/a/b` for a node (the root is `/`).
    pub fn path(&self, id: NodeId) -> Vec<u8> {
        let mut comps = Vec::new();
        let mut n = id;
        while n != ROOT && n != NONE {
            comps.push(n);
            n = self.nodes[n as usize].parent;
        }
        let mut out = Vec::new();
        for c in comps.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(self.name(*c));
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// Depth below the root (the root is 0).
    pub fn depth(&self, id: NodeId) -> usize {
        let mut d = 0;
        let mut n = id;
        while n != ROOT && n != NONE {
            d += 1;
            n = self.nodes[n as usize].parent;
        }
        d
    }

    /// The newest version of a node, if any layer touched it.
    pub fn last(&self, id: NodeId) -> Option<&Version> {
        let v = self.nodes[id as usize].last;
        (v != NONE).then(|| &self.versions[v as usize])
    }

    /// The node's state in the final image, if it is visible there.
    pub fn visible(&self, id: NodeId) -> Option<&Version> {
        if id == ROOT {
            return self.last(id).or(Some(&ROOT_DIR));
        }
        self.last(id).filter(|v| v.is_present())
    }

    /// The node's state as of step `layer` (the newest version at or below it), if present then.
    pub fn visible_at(&self, id: NodeId, layer: u16) -> Option<&Version> {
        if id == ROOT {
            return Some(&ROOT_DIR);
        }
        self.version_at(id, layer).filter(|v| v.is_present())
    }

    /// The newest version at or below `layer`, `Removed` included.
    pub fn version_at(&self, id: NodeId, layer: u16) -> Option<&Version> {
        let mut v = self.nodes[id as usize].last;
        while v != NONE {
            let ver = &self.versions[v as usize];
            if ver.layer <= layer {
                return Some(ver);
            }
            v = ver.prev;
        }
        None
    }

    /// The version `v` replaced (the same node's previous state), if any.
    pub fn previous(&self, v: &Version) -> Option<&Version> {
        (v.prev != NONE).then(|| &self.versions[v.prev as usize])
    }

    /// The change step `layer` made to the node: (state before, state after), if it made one.
    pub fn change_at(&self, id: NodeId, layer: u16) -> Option<(Option<&Version>, &Version)> {
        let mut v = self.nodes[id as usize].last;
        while v != NONE {
            let ver = &self.versions[v as usize];
            if ver.layer == layer {
                let before = (ver.prev != NONE).then(|| &self.versions[ver.prev as usize]);
                return Some((before, ver));
            }
            if ver.layer < layer {
                return None;
            }
            v = ver.prev;
        }
        None
    }

    /// All versions of a node, newest first.
    pub fn history(&self, id: NodeId) -> impl Iterator<Item = &Version> {
        self.history_ids(id).map(|(_, v)| v)
    }

    /// [`Tree::history`] with each version's index (for [`Tree::version`]).
    pub fn history_ids(&self, id: NodeId) -> impl Iterator<Item = (u32, &Version)> {
        let mut v = self.nodes[id as usize].last;
        std::iter::from_fn(move || {
            (v != NONE).then(|| {
                let (i, ver) = (v, &self.versions[v as usize]);
                v = ver.prev;
                (i, ver)
            })
        })
    }

    /// A version by its index, as [`Tree::history_ids`] gives it.
    pub fn version(&self, v: u32) -> &Version {
        &self.versions[v as usize]
    }

    /// A symlink version's target.
    pub fn link_target(&self, v: &Version) -> Option<&[u8]> {
        (v.kind == Kind::Symlink).then(|| self.names.get(v.extra))
    }

    /// The inode behind a file or hard-link version.
    pub fn inode_of(&self, v: &Version) -> Option<(u32, &Inode)> {
        matches!(v.kind, Kind::File | Kind::HardLink).then(|| (v.extra, &self.inodes[v.extra as usize]))
    }

    pub fn inodes(&self) -> &[Inode] {
        &self.inodes
    }

    /// Approximate heap bytes held by the tree.
    pub fn heap_bytes(&self) -> usize {
        self.node_names.capacity()
            + self.names.heap_bytes()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.versions.capacity() * std::mem::size_of::<Version>()
            + self.children.capacity() * 8
            + self.inodes.capacity() * std::mem::size_of::<Inode>()
    }
}

static ROOT_DIR: Version = Version {
    size: 0,
    mode: 0o755,
    uid: 0,
    gid: 0,
    extra: 0,
    prev: NONE,
    layer: 0,
    kind: Kind::Dir,
    implicit: true,
};

/// Iterator over a node's children.
pub struct Children<'a> {
    tree: &'a Tree,
    next: NodeId,
}

impl Iterator for Children<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        (self.next != NONE).then(|| {
            let id = self.next;
            self.next = self.tree.nodes[id as usize].next_sibling;
            id
        })
    }
}

/// Mutation used by the merge only.
impl Tree {
    /// Starts loading one step of what a lookup of the path with this key will read (see
    /// [`Prefetch`]). Only a hint: nothing waits for it, and a wrong guess costs nothing but time.
    #[inline]
    pub(crate) fn prefetch(&self, key: u32, step: Prefetch) {
        if step == Prefetch::Slot {
            return self.children.prefetch(key);
        }
        let Some(n) = self.children.likely(key).and_then(|n| self.nodes.get(n as usize)) else {
            return;
        };
        if step == Prefetch::Node {
            return prefetch_line(n);
        }
        if let Some(b) = self.node_names.get(n.name_start as usize) {
            prefetch_line(b);
        }
        if let Some(v) = self.versions.get(n.last as usize) {
            prefetch_line(v);
        }
    }

    /// The child `name` of `parent`, whose path has the key `key` ([`child_key`]), created when
    /// missing.
    pub(crate) fn child_or_insert(&mut self, parent: NodeId, name: &[u8], key: u32) -> NodeId {
        self.children.reserve_one();
        let slot = match self
            .children
            .find(key, is_child(&self.nodes, &self.node_names, parent, name))
        {
            Ok(n) => return n,
            Err(slot) => slot,
        };
        let id = self.nodes.len() as NodeId;
        self.children.insert_at(slot, key, id);
        let name_start = self.node_names.len() as u64;
        self.node_names.extend_from_slice(name);
        let p = &mut self.nodes[parent as usize];
        let sibling = p.first_child;
        p.first_child = id;
        self.nodes.push(Node {
            name_start,
            name_len: name.len() as u32,
            parent,
            first_child: NONE,
            next_sibling: sibling,
            last: NONE,
        });
        id
    }

    pub(crate) fn intern(&mut self, bytes: &[u8]) -> NameId {
        self.names.intern(bytes)
    }

    /// Sets the node's state at `v.layer`. Replaces a version of the same layer in place (a layer
    /// has at most one version per node). On the node's first change in that layer, returns
    /// `Some` with the state it replaces (`None` inside when the node had none).
    pub(crate) fn set_version(&mut self, id: NodeId, mut v: Version) -> Option<Option<Version>> {
        let last = self.nodes[id as usize].last;
        let before = (last != NONE).then(|| self.versions[last as usize]);
        if let Some(b) = before.filter(|b| b.layer == v.layer) {
            v.prev = b.prev;
            self.versions[last as usize] = v;
            return None;
        }
        v.prev = last;
        self.nodes[id as usize].last = self.versions.len() as u32;
        self.versions.push(v);
        Some(before)
    }

    pub(crate) fn new_inode(&mut self, size: u64, layer: u16) -> u32 {
        self.inodes.push(Inode { size, refs: 1, layer });
        (self.inodes.len() - 1) as u32
    }

    pub(crate) fn inode_mut(&mut self, i: u32) -> &mut Inode {
        &mut self.inodes[i as usize]
    }
}
