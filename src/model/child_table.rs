//! The tree's child table: every node but the root, found by its path key (a 32-bit hash of the
//! path, [`child_key`]) and verified by the caller against the node's parent and name. Open
//! addressing with linear probing over one array of `u64` slots (`key << 32 | node`, 0 = empty),
//! indexed by the key's top bits.
//!
//! The key depends on the path's bytes alone, not on node numbers, so the indexer works it out
//! for every entry on its own thread ([`super::entries::LayerEntries::push`]) and the merge can ask
//! for an entry's slot ([`ChildTable::prefetch`]) while it works on the entries before it: on a
//! tree bigger than the caches, a slot is a miss to memory. (hashbrown's table, used before,
//! costs two such misses, control bytes and slots living apart, and cannot be asked ahead.)

use super::tree::NodeId;
use std::hash::BuildHasher;
use std::sync::LazyLock;

/// The key of the root's path (the empty path).
pub(crate) const ROOT_KEY: u32 = 0;

/// One seed per process, so every thread keys a path the same way, and no image can be made
/// to collide on purpose.
static SEED: LazyLock<hashbrown::DefaultHashBuilder> = LazyLock::new(Default::default);

/// The key of the path `parent/name`, from the key of `parent`.
#[inline]
pub(crate) fn child_key(parent: u32, name: &[u8]) -> u32 {
    (SEED.hash_one((parent, name)) >> 32) as u32
}

/// The key of a normalised path (`a/b/c`; empty components are skipped).
pub(crate) fn path_key(path: &[u8]) -> u32 {
    path.split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .fold(ROOT_KEY, child_key)
}

/// Slots are at most this full (out of 8) before the table doubles: linear probing stays short.
const MAX_LOAD_EIGHTHS: usize = 5;

/// Nodes by path key. Only ever grows (the tree never forgets a node).
pub(crate) struct ChildTable {
    /// `key << 32 | node`, or 0 for an empty slot (node 0 is the root, never stored).
    slots: Vec<u64>,
    /// `32 - log2(slots.len())`: a key's home slot is `key >> shift`.
    shift: u32,
    len: usize,
}

impl Default for ChildTable {
    fn default() -> Self {
        ChildTable {
            slots: vec![0; 16],
            shift: 28,
            len: 0,
        }
    }
}

impl ChildTable {
    #[inline]
    fn home(&self, key: u32) -> usize {
        (key >> self.shift) as usize
    }

    /// The slots from `key`'s home on, up to the first empty one (there always is one).
    #[inline]
    fn probe(&self, key: u32) -> impl Iterator<Item = (usize, u64)> + '_ {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        std::iter::from_fn(move || {
            let at = i;
            i = (i + 1) & mask;
            Some((at, self.slots[at]))
        })
    }

    /// Asks the CPU to start loading the slot where a probe for `key` begins.
    #[inline]
    pub(crate) fn prefetch(&self, key: u32) {
        prefetch_line(&self.slots[self.home(key)]);
    }

    /// The first node stored under `key`: most likely the one [`ChildTable::find`] will return
    /// (for asking for the node early).
    #[inline]
    pub(crate) fn likely(&self, key: u32) -> Option<NodeId> {
        self.find(key, |_| true).ok()
    }

    /// The node stored under `key` for which `is` holds, or else the empty slot where it would
    /// go.
    #[inline]
    pub(crate) fn find(&self, key: u32, mut is: impl FnMut(NodeId) -> bool) -> Result<NodeId, usize> {
        for (at, s) in self.probe(key) {
            if s == 0 {
                return Err(at);
            }
            if (s >> 32) as u32 == key && is(s as NodeId) {
                return Ok(s as NodeId);
            }
        }
        unreachable!("a probe ends at an empty slot")
    }

    /// Stores `node` under `key` in the slot [`ChildTable::find`] returned, with no change to the
    /// table in between but [`ChildTable::reserve_one`] before the find. `node` is not 0.
    #[inline]
    pub(crate) fn insert_at(&mut self, slot: usize, key: u32, node: NodeId) {
        debug_assert!(node != 0 && self.slots[slot] == 0);
        self.slots[slot] = u64::from(key) << 32 | u64::from(node);
        self.len += 1;
    }

    /// Makes room for one more node (call it before the [`ChildTable::find`] whose slot an
    /// insert will use).
    #[inline]
    pub(crate) fn reserve_one(&mut self) {
        // At 2^32 slots the keys have no more bits to spread over; such a table (32 GiB) is far
        // past any memory budget, and it still has room for 2^32 * 3/8 more nodes.
        if (self.len + 1) * 8 > self.slots.len() * MAX_LOAD_EIGHTHS && self.shift > 0 {
            self.grow();
        }
    }

    #[cold]
    fn grow(&mut self) {
        let cap = self.slots.len() * 2;
        // Zeros written, not `vec![0; cap]`: that memory would come mapped to the kernel's zero
        // page, and the first write to each page would then flush the TLB of every core.
        #[allow(clippy::slow_vector_initialization)]
        let mut slots = Vec::with_capacity(cap);
        slots.resize(cap, 0);
        let old = std::mem::replace(&mut self.slots, slots);
        self.shift -= 1;
        // Homes are the keys' top bits, so the old slots come roughly in their new order.
        for s in old.into_iter().filter(|s| *s != 0) {
            let (at, _) = self
                .probe((s >> 32) as u32)
                .find(|(_, t)| *t == 0)
                .expect("a probe ends at an empty slot");
            self.slots[at] = s;
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// Asks the CPU to start loading the cache line of `x`; nothing waits for it.
#[inline]
pub(crate) fn prefetch_line<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and changes nothing the program can see
    // (and `x` is a valid reference anyway).
    #[allow(unsafe_code)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts like the tree does: find, then insert where the find failed.
    fn insert(t: &mut ChildTable, key: u32, node: NodeId) {
        t.reserve_one();
        let slot = t.find(key, |n| n == node).expect_err("not stored yet");
        t.insert_at(slot, key, node);
    }

    #[test]
    fn finds_every_node_across_growth_and_shared_keys() {
        let mut t = ChildTable::default();
        // Keys crowd the same homes (top bits) and some are shared by several nodes.
        let key = |n: u32| ((n % 1000).wrapping_mul(0x9E37_79B9) & 0xFFF0_0000) | (n % 7);
        for n in 1..20_000 {
            insert(&mut t, key(n), n);
        }
        assert!(t.capacity() >= 20_000 * 8 / MAX_LOAD_EIGHTHS);
        for n in 1..20_000 {
            assert_eq!(t.find(key(n), |m| m == n), Ok(n));
            // The first node under a key is one that has it.
            assert_eq!(key(t.likely(key(n)).unwrap()), key(n));
        }
        assert!(t.find(key(5), |_| false).is_err());
        assert_eq!(t.likely(0xFFFF_FFFF), None);
    }

    #[test]
    fn a_path_key_chains_its_components() {
        assert_eq!(path_key(b""), ROOT_KEY);
        assert_eq!(path_key(b"usr"), child_key(ROOT_KEY, b"usr"));
        assert_eq!(
            path_key(b"usr/lib/x"),
            child_key(child_key(path_key(b"usr"), b"lib"), b"x")
        );
        assert_eq!(path_key(b"/usr//lib/"), path_key(b"usr/lib"));
        assert_ne!(path_key(b"a/bc"), path_key(b"ab/c"));
    }
}
