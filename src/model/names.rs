//! Byte strings in one growing buffer, addressed by a `NameId`: [`Names::intern`] stores each
//! distinct name once. The tree keeps its symlink targets here (node names sit in the tree's own
//! buffer, each node knowing where its name is). Names are bytes, not `str`: tar paths need not
//! be UTF-8. No per-name heap allocation.

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Index of an interned name.
pub type NameId = u32;

/// An append-only interner over one byte buffer.
#[derive(Default)]
pub struct Names {
    buf: Vec<u8>,
    /// End offset of each name in `buf`; a name starts where the previous one ends.
    ends: Vec<u64>,
    table: HashTable<NameId>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl Names {
    /// Returns the id of `name`, adding it when new.
    pub fn intern(&mut self, name: &[u8]) -> NameId {
        if let Some(id) = self.find(name) {
            return id;
        }
        let hash = self.hasher.hash_one(name);
        let id = self.ends.len() as NameId;
        self.buf.extend_from_slice(name);
        self.ends.push(self.buf.len() as u64);
        let (buf, ends, hasher) = (&self.buf, &self.ends, &self.hasher);
        self.table
            .insert_unique(hash, id, |id| hasher.hash_one(span(buf, ends, *id)));
        id
    }

    /// The id of `name` if it was interned, without adding it.
    pub fn find(&self, name: &[u8]) -> Option<NameId> {
        let hash = self.hasher.hash_one(name);
        self.table.find(hash, |id| self.get(*id) == name).copied()
    }

    /// The bytes of an interned name.
    #[inline]
    pub fn get(&self, id: NameId) -> &[u8] {
        span(&self.buf, &self.ends, id)
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Heap bytes held (for memory accounting in benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.ends.capacity() * 8 + self.table.capacity() * 5
    }
}

#[inline]
fn span<'a>(buf: &'a [u8], ends: &[u64], id: NameId) -> &'a [u8] {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &buf[start..ends[i] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_deduplicated() {
        let mut n = Names::default();
        let a = n.intern(b"usr");
        let b = n.intern(b"bin");
        assert_eq!(n.intern(b"usr"), a);
        assert_ne!(a, b);
        assert_eq!(n.get(b), b"bin");
        assert_eq!(n.intern(b""), 2);
        assert_eq!(n.get(2), b"");
        assert_eq!(n.intern(b"\xff\x1b"), 3);
        assert_eq!(n.len(), 4);
    }

    #[test]
    fn many_names_survive_rehashing() {
        let mut n = Names::default();
        let ids: Vec<_> = (0..10_000)
            .map(|i| n.intern(format!("f{i}").as_bytes()))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(n.get(*id), format!("f{i}").as_bytes());
            assert_eq!(n.intern(format!("f{i}").as_bytes()), *id);
        }
    }
}
