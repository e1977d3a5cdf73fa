//! The union file tree of an image: every path any layer touched, once, in an arena.
//!
//! Each node keeps a backward chain of [`Version`]s, one per layer that changed it (added, modified,
//! or removed it). "The filesystem as of layer N" is, for each node, its newest version at or
//! below N; "layer N's changes" are the versions made exactly at N. Nothing here does I/O; the tree
//! is built by [`crate::model::merge`] and only read afterwards.

use super::names::{NameId, Names};
use hashbrown::HashTable;
use std::hash::BuildHasher;

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
    pub name: NameId,
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

/// An entry of the child table: a node and 32 bits of its (parent, name) hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    node: NodeId,
    hash: u32,
}

impl Slot {
    /// The table's 64-bit hash from the kept 32 bits: the multiply spreads them into the top
    /// bits, which the table uses as tags.
    fn table_hash(h: u32) -> u64 {
        u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// Whether a child-table slot holds the child `name` of `parent` (`hash`: its key's hash bits).
fn slot_is<'a>(
    nodes: &'a [Node],
    names: &'a Names,
    parent: NodeId,
    name: &'a [u8],
    hash: u32,
) -> impl Fn(&Slot) -> bool + 'a {
    move |s| {
        let n = &nodes[s.node as usize];
        s.hash == hash && n.parent == parent && names.get(n.name) == name
    }
}

/// The arena.
pub struct Tree {
    pub(crate) names: Names,
    pub(crate) nodes: Vec<Node>,
    pub(crate) versions: Vec<Version>,
    /// Every node but the root, found by (parent, name bytes): the key is read from the node
    /// itself. Each slot keeps 32 bits of the key's hash, so growing the table never reads a
    /// node or a name again, and a lookup touches a node only when the hash bits agree.
    pub(crate) children: HashTable<Slot>,
    hasher: hashbrown::DefaultHashBuilder,
    pub(crate) inodes: Vec<Inode>,
}

impl Default for Tree {
    fn default() -> Self {
        let mut names = Names::default();
        let root_name = names.push(b"");
        let mut tree = Tree {
            names,
            nodes: Vec::new(),
            versions: Vec::new(),
            children: HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            inodes: Vec::new(),
        };
        tree.nodes.push(Node {
            name: root_name,
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
        self.names.get(self.nodes[id as usize].name)
    }

    /// Children in the order they first appeared.
    pub fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            tree: self,
            next: self.nodes[id as usize].first_child,
        }
    }

    /// The child of `parent` called `name`, if any layer ever had it.
    pub fn child(&self, parent: NodeId, name: &[u8]) -> Option<NodeId> {
        self.find_child(parent, name, self.child_hash(parent, name))
    }

    fn child_hash(&self, parent: NodeId, name: &[u8]) -> u32 {
        (self.hasher.hash_one((parent, name)) >> 32) as u32
    }

    fn find_child(&self, parent: NodeId, name: &[u8], hash: u32) -> Option<NodeId> {
        let is = slot_is(&self.nodes, &self.names, parent, name, hash);
        self.children.find(Slot::table_hash(hash), is).map(|s| s.node)
    }

    /// The node at a normalised path (`a/b`, leading slash optional), if any layer ever had it.
    pub fn lookup(&self, path: &[u8]) -> Option<NodeId> {
        let mut n = ROOT;
        for comp in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
            n = self.child(n, comp)?;
        }
        Some(n)
    }

    /// `/a/b` for a node (the root is `/`).
    pub fn path(&self, id: NodeId) -> Vec<u8> {
        let mut comps = Vec::new();
        let mut n = id;
        while n != ROOT && n != NONE {
            comps.push(self.nodes[n as usize].name);
            n = self.nodes[n as usize].parent;
        }
        let mut out = Vec::new();
        for c in comps.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(self.names.get(*c));
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
        self.names.heap_bytes()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.versions.capacity() * std::mem::size_of::<Version>()
            + self.children.capacity() * 9
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
    /// The child called `name`, created when missing.
    pub(crate) fn child_or_insert(&mut self, parent: NodeId, name: &[u8]) -> NodeId {
        let hash = self.child_hash(parent, name);
        let is = slot_is(&self.nodes, &self.names, parent, name, hash);
        // One probe finds the child or the slot a new one takes.
        let slot = match self
            .children
            .entry(Slot::table_hash(hash), is, |s| Slot::table_hash(s.hash))
        {
            hashbrown::hash_table::Entry::Occupied(e) => return e.get().node,
            hashbrown::hash_table::Entry::Vacant(v) => v,
        };
        let id = self.nodes.len() as NodeId;
        slot.insert(Slot { node: id, hash });
        let name = self.names.push(name);
        let p = &mut self.nodes[parent as usize];
        let sibling = p.first_child;
        p.first_child = id;
        self.nodes.push(Node {
            name,
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
    /// has at most one version per node); returns true when this is the node's first change in
    /// that layer.
    pub(crate) fn set_version(&mut self, id: NodeId, mut v: Version) -> bool {
        let last = self.nodes[id as usize].last;
        if last != NONE && self.versions[last as usize].layer == v.layer {
            v.prev = self.versions[last as usize].prev;
            self.versions[last as usize] = v;
            return false;
        }
        v.prev = last;
        self.nodes[id as usize].last = self.versions.len() as u32;
        self.versions.push(v);
        true
    }

    pub(crate) fn new_inode(&mut self, size: u64, layer: u16) -> u32 {
        self.inodes.push(Inode { size, refs: 1, layer });
        (self.inodes.len() - 1) as u32
    }

    pub(crate) fn inode_mut(&mut self, i: u32) -> &mut Inode {
        &mut self.inodes[i as usize]
    }
}
