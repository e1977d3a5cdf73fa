//! Unit tests of the merge and the analysis, with layers built directly as entries.

use super::Analysis;
use super::analysis::{AnalysisBuilder, AnalysisOptions, HistoryEntry, ImageMeta, LayerMeta};
use super::entries::{EntryKind, LayerEntries, normalize_path};
use super::tree::{Cause, Kind};

/// A layer built in code: `l().file("a/b", 10).whiteout("c")`.
#[derive(Default)]
struct L(LayerEntries);

fn l() -> L {
    L::default()
}

impl L {
    fn add(mut self, kind: EntryKind, path: &str, link: &str, size: u64) -> Self {
        let mut p = Vec::new();
        normalize_path(path.as_bytes(), &mut p);
        let mut k = Vec::new();
        normalize_path(link.as_bytes(), &mut k);
        let link = if kind == EntryKind::Symlink {
            link.as_bytes().to_vec()
        } else {
            k
        };
        self.0.push(kind, &p, &link, size, 0o644, 0, 0).unwrap();
        self
    }
    fn file(self, p: &str, size: u64) -> Self {
        self.add(EntryKind::File, p, "", size)
    }
    fn dir(self, p: &str) -> Self {
        self.add(EntryKind::Dir, p, "", 0)
    }
    fn whiteout(self, p: &str) -> Self {
        self.add(EntryKind::Whiteout, p, "", 0)
    }
    fn opaque(self, p: &str) -> Self {
        self.add(EntryKind::Opaque, p, "", 0)
    }
    fn hardlink(self, p: &str, target: &str) -> Self {
        self.add(EntryKind::HardLink, p, target, 0)
    }
    fn symlink(self, p: &str, target: &str) -> Self {
        self.add(EntryKind::Symlink, p, target, 0)
    }
}

/// Analyses layers, one history step each (`RUN step N`).
fn analyse(layers: Vec<L>) -> Analysis {
    let meta = ImageMeta {
        name: "test".into(),
        history: (0..layers.len())
            .map(|i| HistoryEntry {
                created_by: format!("/bin/sh -c step {i}"),
                ..Default::default()
            })
            .collect(),
        layers: vec![LayerMeta::default(); layers.len()],
        ..Default::default()
    };
    let mut b = AnalysisBuilder::new(meta, AnalysisOptions::default()).unwrap();
    // Feed in reverse to prove the builder merges in layer order whatever the arrival order.
    for (i, layer) in layers.into_iter().enumerate().rev() {
        b.add_layer(i, layer.0, None);
    }
    let a = b.finish();
    check_invariant(&a);
    a
}

fn check_invariant(a: &Analysis) {
    let t = &a.totals;
    assert_eq!(
        t.stored_bytes,
        t.visible_bytes + t.wasted_bytes,
        "stored = visible + wasted"
    );
    let per_step: u64 = a.steps.iter().map(|s| s.wasted_bytes).sum();
    assert_eq!(per_step, t.wasted_bytes);
    let hid: u64 = a.steps.iter().map(|s| s.hid_bytes).sum();
    assert_eq!(hid, t.wasted_bytes);
}

fn waste(a: &Analysis) -> Vec<(String, u64, u16, u16, Cause)> {
    let mut v: Vec<_> = a
        .waste
        .iter()
        .map(|w| {
            let p = String::from_utf8(a.tree.path(w.node)).unwrap();
            (p, w.bytes, w.layer, w.hidden_by, w.cause)
        })
        .collect();
    v.sort();
    v
}

fn visible(a: &Analysis, path: &str) -> Option<Kind> {
    a.tree
        .lookup(path.as_bytes())
        .and_then(|n| a.tree.visible(n))
        .map(|v| v.kind)
}

#[test]
fn overwrite_counts_only_the_hidden_copy() {
    let a = analyse(vec![l().file("app/main.py", 100), l().file("app/main.py", 120)]);
    assert_eq!(a.totals.stored_bytes, 220);
    assert_eq!(a.totals.visible_bytes, 120);
    assert_eq!(a.totals.wasted_bytes, 100);
    assert_eq!(
        waste(&a),
        vec![("/app/main.py".into(), 100, 0, 1, Cause::Overwritten)]
    );
    assert_eq!(a.steps[1].changes.modified, 1);
    assert_eq!(a.steps[1].changes.modified_bytes, 120);
    assert_eq!(a.steps[1].changes.added, 0);
    assert_eq!(a.steps[0].changes.added, 2); // app/ (implicit) and main.py
}

#[test]
fn whiteout_of_file_and_of_whole_directory() {
    let a = analyse(vec![
        l().file("a", 5).file("d/x", 10).file("d/sub/y", 20),
        l().whiteout("a").whiteout("d"),
    ]);
    assert_eq!(a.totals.visible_bytes, 0);
    assert_eq!(a.totals.wasted_bytes, 35);
    assert_eq!(visible(&a, "d"), None);
    assert_eq!(visible(&a, "d/sub/y"), None);
    assert!(waste(&a).iter().all(|w| w.4 == Cause::Deleted && w.3 == 1));
    let ch = a.steps[1].changes;
    assert_eq!((ch.removed, ch.removed_bytes), (5, 35)); // a, d, d/x, d/sub, d/sub/y
}

#[test]
fn whiteout_does_not_hide_its_own_layer() {
    // Tar order puts the new file before the whiteout; the whiteout still only hits lower layers.
    let a = analyse(vec![l().file("f", 7), l().file("f", 3).whiteout("f")]);
    assert_eq!(visible(&a, "f"), Some(Kind::File));
    assert_eq!(a.totals.visible_bytes, 3);
    assert_eq!(waste(&a), vec![("/f".into(), 7, 0, 1, Cause::Deleted)]);
    assert_eq!(a.steps[1].changes.modified, 1);
}

#[test]
fn opaque_directory_hides_lower_children_before_own_entries() {
    let a = analyse(vec![
        l().file("etc/conf/a", 10)
            .file("etc/conf/deep/b", 20)
            .file("etc/keep", 1),
        // The marker comes after the layer's own file in tar order; it must not hide it.
        l().dir("etc/conf").file("etc/conf/new", 4).opaque("etc/conf"),
    ]);
    assert_eq!(visible(&a, "etc/conf/new"), Some(Kind::File));
    assert_eq!(visible(&a, "etc/conf/a"), None);
    assert_eq!(visible(&a, "etc/conf/deep"), None);
    assert_eq!(visible(&a, "etc/keep"), Some(Kind::File));
    assert_eq!(a.totals.visible_bytes, 5);
    assert_eq!(a.totals.wasted_bytes, 30);
    assert!(waste(&a).iter().all(|w| w.4 == Cause::Opaque));
}

#[test]
fn type_changes_are_delete_plus_add() {
    let a = analyse(vec![
        l().file("x", 10).file("y/inner", 20),
        l().file("x/now-a-dir-child", 1).file("y", 2),
    ]);
    assert_eq!(visible(&a, "x"), Some(Kind::Dir));
    assert_eq!(visible(&a, "y"), Some(Kind::File));
    assert_eq!(visible(&a, "y/inner"), None);
    assert_eq!(a.totals.visible_bytes, 3);
    assert_eq!(a.totals.wasted_bytes, 30);
    let ch = a.steps[1].changes;
    assert_eq!(ch.modified, 2); // x (file -> dir) and y (dir -> file)
    assert_eq!(ch.removed, 1); // y/inner
    assert_eq!(ch.added, 1); // x/now-a-dir-child
}

#[test]
fn directory_over_directory_keeps_children() {
    let a = analyse(vec![l().file("d/a", 1), l().dir("d").file("d/b", 2)]);
    assert_eq!(visible(&a, "d/a"), Some(Kind::File));
    assert_eq!(a.totals.wasted_bytes, 0);
    assert_eq!(a.steps[1].changes.modified, 0);
    assert_eq!(a.steps[1].changes.added, 1);
}

#[test]
fn hard_links_count_bytes_once() {
    let a = analyse(vec![
        l().file("data.bin", 1000).hardlink("data-link.bin", "data.bin"),
    ]);
    assert_eq!(a.steps[0].size_bytes(), 1000);
    assert_eq!(a.totals.stored_bytes, 1000);
    assert_eq!(a.totals.visible_bytes, 1000);
    assert_eq!(a.steps[0].changes.added_bytes, 1000);
}

#[test]
fn deleting_one_hard_link_keeps_the_bytes_visible() {
    let a = analyse(vec![l().file("a", 50).hardlink("b", "a"), l().whiteout("a")]);
    assert_eq!(a.totals.visible_bytes, 50);
    assert_eq!(a.totals.wasted_bytes, 0);
    let b = analyse(vec![
        l().file("a", 50).hardlink("b", "a"),
        l().whiteout("a").whiteout("b"),
    ]);
    assert_eq!(b.totals.wasted_bytes, 50);
    assert_eq!(waste(&b).len(), 1);
}

#[test]
fn hard_link_to_missing_target_and_to_itself() {
    let a = analyse(vec![l().hardlink("x", "nowhere").file("s", 9).hardlink("s", "s")]);
    assert_eq!(visible(&a, "x"), Some(Kind::HardLink));
    assert_eq!(a.totals.visible_bytes, 9);
    assert_eq!(a.totals.wasted_bytes, 0);
    assert!(a.notes.iter().any(|n| n.contains("hard link")));
}

#[test]
fn whiteout_of_path_that_never_existed_is_harmless() {
    let a = analyse(vec![
        l().file("a", 1),
        l().whiteout("ghost").whiteout("no/such/dir").file("b", 2),
    ]);
    assert_eq!(visible(&a, "b"), Some(Kind::File));
    assert_eq!(a.totals.visible_bytes, 3);
    assert!(a.notes.iter().any(|n| n.contains("2 whiteout")));
}

#[test]
fn duplicate_entries_in_one_layer_last_wins() {
    let a = analyse(vec![l().file("f", 10).file("f", 4)]);
    assert_eq!(a.totals.stored_bytes, 14);
    assert_eq!(a.totals.visible_bytes, 4);
    assert_eq!(waste(&a), vec![("/f".into(), 10, 0, 0, Cause::Overwritten)]);
    assert_eq!(a.steps[0].changes.added, 1);
}

#[test]
fn symlinks_are_paths_not_bytes() {
    let a = analyse(vec![l().file("bin/busybox", 100).symlink("bin/sh", "busybox")]);
    let n = a.tree.lookup(b"bin/sh").unwrap();
    let v = a.tree.visible(n).unwrap();
    assert_eq!(a.tree.link_target(v), Some(&b"busybox"[..]));
    assert_eq!(a.totals.visible_bytes, 100);
}

#[test]
fn file_replaces_parent_directory_path_implicitly() {
    // A layer adds a/b while a lower layer has a as a file: a becomes a directory.
    let a = analyse(vec![l().file("a", 3), l().file("a/b", 1)]);
    assert_eq!(visible(&a, "a"), Some(Kind::Dir));
    assert_eq!(a.totals.wasted_bytes, 3);
}

#[test]
fn recreated_after_delete_is_modified_not_added() {
    let a = analyse(vec![l().file("f", 1), l().whiteout("f").file("f", 2)]);
    assert_eq!(a.steps[1].changes.modified, 1);
    assert_eq!(a.steps[1].changes.removed, 0);
    assert_eq!(a.totals.wasted_bytes, 1);
}

#[test]
fn deep_chains_do_not_recurse() {
    let deep: String = (0..10_000).map(|i| format!("d{i}/")).collect::<String>() + "f";
    let a = analyse(vec![l().file(&deep, 8), l().whiteout("d0")]);
    assert_eq!(a.totals.wasted_bytes, 8);
    assert_eq!(a.steps[1].changes.removed, 10_001);
}

#[test]
fn layer_views_see_history() {
    let a = analyse(vec![l().file("f", 1), l().file("f", 2), l().whiteout("f")]);
    let n = a.tree.lookup(b"f").unwrap();
    assert_eq!(a.tree.visible_at(n, 0).unwrap().size, 1);
    assert_eq!(a.tree.visible_at(n, 1).unwrap().size, 2);
    assert!(a.tree.visible_at(n, 2).is_none());
    let (before, after) = a.tree.change_at(n, 1).unwrap();
    assert_eq!(before.unwrap().size, 1);
    assert_eq!(after.size, 2);
    assert!(a.tree.change_at(n, 0).unwrap().0.is_none());
    assert_eq!(a.tree.history(n).count(), 3);
}

#[test]
fn leftovers_are_visible_only_and_deleted_caches_are_waste() {
    let a = analyse(vec![
        l().file("var/lib/apt/lists/main_Packages", 800)
            .file("root/.cache/pip/http/x", 300),
        l().file("root/.npm/_cacache/index", 50).file("app/.git/HEAD", 2),
        l().whiteout("root/.npm"),
    ]);
    let cats: Vec<_> = a
        .leftovers
        .iter()
        .map(|l| (l.category(), l.bytes, l.layer))
        .collect();
    assert_eq!(
        cats,
        vec![("apt-lists", 800, 0), ("pip-cache", 300, 0), ("git", 2, 1)]
    );
    assert_eq!(a.totals.leftover_bytes, 1102);
    assert_eq!(a.steps[0].leftover_bytes, 1100);
    // The npm cache was deleted in a later layer: waste, tagged with its category.
    assert_eq!(a.waste.len(), 1);
    let rule = a.waste_rules[0].unwrap();
    assert_eq!(super::leftovers::RULES[rule].category, "npm-cache");
}

#[test]
fn history_mapping_with_empty_and_mismatched_entries() {
    let h = |c: &str, empty: bool| HistoryEntry {
        created_by: c.into(),
        comment: None,
        empty_layer: empty,
    };
    // More non-empty history entries than layers.
    let meta = ImageMeta {
        history: vec![
            h("/bin/sh -c a", false),
            h("/bin/sh -c #(nop)  ENV A=1", true),
            h("/bin/sh -c b", false),
        ],
        layers: vec![LayerMeta::default()],
        ..Default::default()
    };
    let mut b = AnalysisBuilder::new(meta, AnalysisOptions::default()).unwrap();
    b.add_layer(0, l().file("x", 1).0, None);
    let a = b.finish();
    assert_eq!(a.steps.len(), 3);
    assert!(a.steps[0].layer.is_some());
    assert!(a.steps[1].empty && a.steps[1].layer.is_none());
    assert!(a.steps[2].missing_layer);
    // Fewer history entries than layers (docker import has none).
    let meta = ImageMeta {
        layers: vec![LayerMeta::default(); 2],
        ..Default::default()
    };
    let mut b = AnalysisBuilder::new(meta, AnalysisOptions::default()).unwrap();
    b.add_layer(1, l().file("y", 2).0, None);
    b.add_layer(0, l().file("x", 1).0, None);
    let a = b.finish();
    assert_eq!(a.steps.len(), 2);
    assert_eq!(a.steps[1].size_bytes(), 2);
    assert_eq!(a.totals.stored_bytes, 3);
}

#[test]
fn user_waste_is_waste_hidden_above_the_base() {
    let a = analyse(vec![
        l().file("base/a", 100).file("base/b", 50),
        l().file("app/x", 10).whiteout("base/a"),
        l().file("app/x", 20),
    ]);
    // Waste: base/a (100, hidden by step 1) + app/x (10, hidden by step 2) — all above the base.
    assert_eq!(a.totals.user_bytes, 30);
    assert_eq!(a.totals.user_wasted_bytes, 110);
    assert!((a.totals.user_wasted_percent - 110.0 * 100.0 / 30.0).abs() < 1e-9);
    assert!((a.totals.efficiency - 70.0 / 180.0).abs() < 1e-12);
}

#[test]
fn empty_image_is_fully_efficient() {
    let a = analyse(vec![]);
    assert_eq!(a.totals.efficiency, 1.0);
    assert_eq!(a.totals.user_wasted_percent, 0.0);
}

/// `waste_groups` as first written: every wasted file climbs its own removed parents.
fn waste_groups_one_by_one(a: &Analysis) -> Vec<super::analysis::WasteGroup> {
    use super::tree::{NONE, ROOT};
    let mut groups: Vec<super::analysis::WasteGroup> = Vec::new();
    for (w, rule) in a.waste.iter().zip(&a.waste_rules) {
        let mut root = w.node;
        loop {
            let p = a.tree.node(root).parent;
            if p == ROOT || p == NONE {
                break;
            }
            match a.tree.change_at(p, w.hidden_by) {
                Some((Some(before), after)) if before.is_present() && after.cause() == Some(w.cause) => {
                    root = p
                }
                _ => break,
            }
        }
        let key = (root, w.layer, w.hidden_by, w.cause);
        match groups
            .iter_mut()
            .find(|g| (g.node, g.layer, g.hidden_by, g.cause) == key)
        {
            Some(g) => {
                g.bytes += w.bytes;
                g.files += 1;
                g.rule = g.rule.or(*rule);
            }
            None => groups.push(super::analysis::WasteGroup {
                node: root,
                bytes: w.bytes,
                files: 1,
                layer: w.layer,
                hidden_by: w.hidden_by,
                cause: w.cause,
                rule: *rule,
            }),
        }
    }
    groups.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(a.node.cmp(&b.node))
            .then(a.layer.cmp(&b.layer))
    });
    groups
}

#[test]
fn waste_groups_share_the_climb_but_equal_one_by_one() {
    // Nested deletions, the same directory removed by several steps and for different causes,
    // a directory deleted and written again by one step, a cache deleted too late.
    let a = analyse(vec![
        l().file("a/b/c/x", 10)
            .file("a/b/c/y", 20)
            .file("a/b/z", 5)
            .file("a/keep", 1)
            .file("var/cache/apt/p.deb", 300)
            .file("o/old", 4)
            .file("f", 9)
            .file("g/h/1", 1)
            .file("g/h/2", 2)
            .file("g/i/3", 4),
        l().whiteout("a/b").whiteout("g").file("f", 8).file("a/b/c/x", 11),
        l().whiteout("a")
            .whiteout("var/cache/apt")
            .opaque("o")
            .file("o/new", 2),
        l().file("a/b/c/x", 12).file("f", 7),
        l().whiteout("a/b/c").whiteout("f").whiteout("o"),
    ]);
    let groups = &a.waste_groups;
    assert_eq!(*groups, waste_groups_one_by_one(&a));
    let files: u64 = groups.iter().map(|g| g.files).sum();
    assert_eq!(files, a.waste.len() as u64);
    // Deleting g/ in step 1 is one group of its three files, climbed from two directories.
    let g = a.tree.lookup(b"g").unwrap();
    assert!(
        groups
            .iter()
            .any(|x| x.node == g && x.hidden_by == 1 && x.files == 3 && x.bytes == 7)
    );
    // a/b/c went twice: at step 4 alone (its only file then), at step 2 inside a/.
    let abc = a.tree.lookup(b"a/b/c").unwrap();
    assert!(groups.iter().any(|x| x.node == abc && x.hidden_by == 4));
}

/// The merge rules written the slow, obvious way: a map from path to what is there, with every
/// removal sweeping the path's whole subtree. [`merge_equals_the_obvious_model`] holds the merge
/// (its parent cache, its arena, its version chains) to it.
mod obvious {
    use super::super::entries::EntryKind;
    use super::super::tree::{Cause, Kind};
    use std::collections::BTreeMap;

    /// A visible path: its kind, and for files and hard links the inode it shares.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Here {
        pub kind: Kind,
        pub inode: Option<usize>,
    }

    #[derive(Default)]
    pub struct Image {
        pub paths: BTreeMap<String, Here>,
        /// (size, visible paths reaching it, storing step).
        pub inodes: Vec<(u64, u32, u16)>,
        /// Waste items without their path: (bytes, storing step, hiding step, cause).
        pub waste: Vec<(u64, u16, u16, Cause)>,
    }

    fn parent(p: &str) -> Option<&str> {
        p.rfind('/').map(|i| &p[..i])
    }

    impl Image {
        /// Removes `p` and everything under it.
        fn remove(&mut self, p: &str, by: u16, cause: Cause) {
            let under = format!("{p}/");
            let gone: Vec<String> = self
                .paths
                .keys()
                .filter(|k| *k == p || k.starts_with(&under))
                .cloned()
                .collect();
            for k in gone {
                let here = self.paths.remove(&k).unwrap();
                if let Some(i) = here.inode {
                    let inode = &mut self.inodes[i];
                    inode.1 -= 1;
                    if inode.1 == 0 && inode.0 > 0 {
                        self.waste.push((inode.0, inode.2, by, cause));
                    }
                }
            }
        }

        fn is_dir(&self, p: &str) -> Option<bool> {
            self.paths.get(p).map(|h| h.kind == Kind::Dir)
        }

        /// One layer: opaque markers, then whiteouts, then the entries in order.
        pub fn apply(&mut self, step: u16, entries: &[(EntryKind, String, String, u64)]) {
            for (_, p, _, _) in entries.iter().filter(|e| e.0 == EntryKind::Opaque) {
                if self.is_dir(p) == Some(true) {
                    let under = format!("{p}/");
                    let kids: Vec<String> = self
                        .paths
                        .keys()
                        .filter(|k| k.starts_with(&under) && parent(k) == Some(p.as_str()))
                        .cloned()
                        .collect();
                    for k in kids {
                        self.remove(&k, step, Cause::Opaque);
                    }
                }
            }
            for (_, p, _, _) in entries.iter().filter(|e| e.0 == EntryKind::Whiteout) {
                if self.paths.contains_key(p) {
                    self.remove(p, step, Cause::Deleted);
                }
            }
            let placed = |e: &&(EntryKind, _, _, _)| !matches!(e.0, EntryKind::Opaque | EntryKind::Whiteout);
            for (kind, p, link, size) in entries.iter().filter(placed) {
                // Every parent becomes a directory (replacing what else was there).
                let mut at = 0;
                while let Some(i) = p[at..].find('/') {
                    let a = &p[..at + i];
                    if self.is_dir(a) == Some(false) {
                        self.remove(a, step, Cause::Overwritten);
                    }
                    if self.is_dir(a).is_none() {
                        let dir = Here {
                            kind: Kind::Dir,
                            inode: None,
                        };
                        self.paths.insert(a.to_string(), dir);
                    }
                    at += i + 1;
                }
                let (kind, inode) = match kind {
                    EntryKind::File => {
                        self.inodes.push((*size, 0, step));
                        (Kind::File, Some(self.inodes.len() - 1))
                    }
                    EntryKind::Dir => (Kind::Dir, None),
                    EntryKind::Symlink => (Kind::Symlink, None),
                    _ => {
                        // The link's target is read before the path it replaces is removed.
                        let i = match self.paths.get(link).and_then(|h| h.inode) {
                            Some(i) => i,
                            None => {
                                self.inodes.push((0, 0, step));
                                self.inodes.len() - 1
                            }
                        };
                        self.inodes[i].1 += 1;
                        (Kind::HardLink, Some(i))
                    }
                };
                if let Some(i) = inode.filter(|_| kind == Kind::File) {
                    self.inodes[i].1 += 1;
                }
                match self.is_dir(p) {
                    Some(true) if kind == Kind::Dir => continue,
                    Some(_) => self.remove(p, step, Cause::Overwritten),
                    None => {}
                }
                self.paths.insert(p.clone(), Here { kind, inode });
            }
        }
    }
}

/// Random small images (few names, so paths collide often, in any order) merged by dsize and
/// by the obvious model: after every layer the same paths are visible with the same kinds and
/// sizes; at the end the same waste, to the byte and the step.
#[test]
fn merge_equals_the_obvious_model() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    for round in 0..3000 {
        let mut model = obvious::Image::default();
        let mut layers = Vec::new();
        let mut snapshots = Vec::new();
        for step in 0..1 + next(6) as u16 {
            let mut entries = Vec::new();
            for _ in 0..next(14) {
                let mut p = String::new();
                for d in 0..1 + next(3) {
                    if d > 0 {
                        p.push('/');
                    }
                    p.push(['a', 'b', 'c'][next(3) as usize]);
                }
                use EntryKind::*;
                let kind = [
                    File, File, File, Dir, Dir, Symlink, HardLink, HardLink, Whiteout, Whiteout, Opaque,
                ][next(11) as usize];
                let link = ["a", "a/b", "b/c/a", "c/c"][next(4) as usize].to_string();
                entries.push((kind, p, link, next(100)));
            }
            model.apply(step, &entries);
            snapshots.push(model.paths.clone());
            let mut layer = l();
            for (kind, p, link, size) in &entries {
                layer = match kind {
                    EntryKind::File => layer.file(p, *size),
                    EntryKind::Dir => layer.dir(p),
                    EntryKind::Symlink => layer.symlink(p, link),
                    EntryKind::HardLink => layer.hardlink(p, link),
                    EntryKind::Whiteout => layer.whiteout(p),
                    _ => layer.opaque(p),
                };
            }
            layers.push(layer);
        }
        let a = analyse(layers);
        let t = &a.tree;
        for (step, want) in snapshots.iter().enumerate() {
            let mut got = std::collections::BTreeMap::new();
            for n in 1..t.len() as u32 {
                if let Some(v) = t.visible_at(n, step as u16) {
                    let size = t.inode_of(v).map(|(_, i)| i.size);
                    got.insert(
                        String::from_utf8(t.path(n)).unwrap()[1..].to_string(),
                        (v.kind, size),
                    );
                }
            }
            let want: std::collections::BTreeMap<_, _> = want
                .iter()
                .map(|(p, h)| (p.clone(), (h.kind, h.inode.map(|i| model.inodes[i].0))))
                .collect();
            assert_eq!(got, want, "round {round}, step {step}");
        }
        let mut got: Vec<_> = a
            .waste
            .iter()
            .map(|w| (w.bytes, w.layer, w.hidden_by, w.cause))
            .collect();
        got.sort();
        model.waste.sort();
        assert_eq!(got, model.waste, "round {round}: waste");
        let stored: u64 = model.inodes.iter().map(|i| i.0).sum();
        assert_eq!(a.totals.stored_bytes, stored, "round {round}");
    }
}
