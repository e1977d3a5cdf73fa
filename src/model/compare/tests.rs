//! The comparison on the tutorial's three images in miniature (`testkit::tutorial`), to the byte.

use super::*;
use crate::testkit::tutorial::{self, analyse};
use crate::testkit::{image, layer};

fn tutorial() -> (Analysis, Analysis, Analysis) {
    (
        analyse(&tutorial::v1(), "v1.tar"),
        analyse(&tutorial::v2(), "v2.tar"),
        analyse(&tutorial::v3(), "v3.tar"),
    )
}

fn s(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

/// `change path before after` per file.
fn files(d: &PairDiff) -> Vec<String> {
    d.files
        .iter()
        .map(|f| {
            format!(
                "{} {} {:?} {:?}",
                f.change().as_str(),
                s(&f.path),
                f.before,
                f.after
            )
        })
        .collect()
}

/// `change path before after files (recursive)` per row.
fn dirs(d: &PairDiff) -> Vec<String> {
    d.dirs
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}{}",
                r.change.as_str(),
                s(&r.path),
                r.before,
                r.after,
                r.files,
                if r.recursive { " R" } else { "" }
            )
        })
        .collect()
}

fn instructions(d: &PairDiff) -> Vec<String> {
    d.instructions
        .iter()
        .map(|i| {
            format!(
                "{} {:?}->{:?} {:?}->{:?} {}",
                i.kind.as_str(),
                i.from_step,
                i.to_step,
                i.before,
                i.after,
                i.text
            )
        })
        .collect()
}

#[test]
fn table_numbers_and_deltas() {
    let (a, b, c) = tutorial();
    let cmp = compare(&[&a, &b, &c]);
    let got: Vec<_> = cmp
        .images
        .iter()
        .map(|i| {
            (
                i.label.as_str(),
                i.stored,
                i.visible,
                i.wasted,
                i.compressed,
                i.layers,
                i.steps,
                i.leftover_bytes,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("my-app:v1", 584_750, 584_750, 0, None, 4, 6, 201_200),
            ("my-app:v2", 584_800, 584_750, 50, None, 5, 7, 201_200),
            ("my-app:v3", 358_500, 358_500, 0, None, 3, 6, 0),
        ]
    );
    let v1 = &cmp.images[0];
    assert_eq!(
        (
            v1.leftover("apt-lists"),
            v1.leftover("toolchain"),
            v1.leftover("git"),
            v1.leftover("pip-cache"),
            v1.leftover("docs")
        ),
        (80_000, 79_000, 30_200, 12_000, 0)
    );
    assert!(v1.vs_previous.is_none() && v1.vs_first.is_none());
    let d = cmp.images[1].vs_previous.unwrap();
    assert_eq!(
        (d.stored, d.visible, d.wasted, d.leftovers, d.layers, d.compressed),
        (50, 0, 50, 0, 1, None)
    );
    let d = cmp.images[2].vs_previous.unwrap();
    assert_eq!(
        (d.stored, d.visible, d.wasted, d.leftovers, d.layers),
        (-226_300, -226_250, -50, -201_200, -2)
    );
    assert!((d.stored_percent - (-226_300.0 * 100.0 / 584_800.0)).abs() < 1e-12);
    let d = cmp.images[2].vs_first.unwrap();
    assert_eq!(
        (d.stored, d.visible, d.wasted, d.leftovers, d.layers),
        (-226_250, -226_250, 0, -201_200, -1)
    );
    assert_eq!(cmp.pairs.len(), 2);
}

#[test]
fn reordering_changes_no_path() {
    let (a, b, _) = tutorial();
    let cmp = compare(&[&a, &b]);
    let d = &cmp.pairs[0];
    assert!(d.same_files());
    assert!(d.dirs.is_empty() && d.leftovers.is_empty());
    assert!(!d.multi_stage());
    assert_eq!(
        d.waste,
        vec![WasteChange {
            path: b"/app/requirements.txt".to_vec(),
            before: 0,
            after: 50,
            what: "overwritten"
        }]
    );
    assert_eq!(
        instructions(d),
        vec![
            "added None->Some(2) None->Some(50) COPY file:bbbb2222cccc /app/requirements.txt",
            "moved Some(1)->Some(5) Some(50550)->Some(50550) COPY dir:aaaa1111bbbb /app",
            "added None->Some(6) None->None ENTRYPOINT [\"/bin/sh\" \"-c\" \"uvicorn main:app --reload --host 0.0.0.0 --port 1234\"]",
            "removed Some(5)->None None->None ENTRYPOINT [\"/bin/sh\" \"-c\" \"uvicorn main:app --reload --host 0.0.0.0 --port 8080\"]",
        ]
    );
}

#[test]
fn multi_stage_matched_by_path() {
    let (_, b, c) = tutorial();
    let cmp = compare(&[&b, &c]);
    let d = &cmp.pairs[0];
    assert_eq!(
        files(d),
        vec![
            "removed /usr/lib/gcc/x86_64-linux-gnu/8/cc1 Some(70000) None",
            "removed /var/lib/apt/lists/deb.debian.org_debian_dists_buster_main_binary-amd64_Packages Some(60000) None",
            "removed /app/.git/objects/pack/pack-1.pack Some(30000) None",
            "removed /app/data.csv Some(20000) None",
            "removed /var/lib/apt/lists/deb.debian.org_debian_dists_buster_InRelease Some(20000) None",
            "removed /root/.cache/pip/wheels/ab/pandas-0.25.3-cp38-cp38-linux_x86_64.whl Some(12000) None",
            "removed /usr/bin/x86_64-linux-gnu-gcc-8 Some(9000) None",
            "removed /usr/lib/x86_64-linux-gnu/libisl.so.19 Some(5000) None",
            "removed /app/.git/config Some(177) None",
            "removed /app/requirements.txt Some(50) None",
            "removed /app/.git/HEAD Some(23) None",
        ]
    );
    // Rows partition the change: a row holds its subtree when it exists on one side only or
    // sits at depth 3; /app and /usr/bin hold only their own files.
    assert_eq!(
        dirs(d),
        vec![
            "removed /var/lib/apt 80000 0 2 R",
            "removed /usr/lib/gcc 70000 0 1 R",
            "removed /app/.git 30200 0 3 R",
            "shrunk /app 20350 300 2",
            "removed /root/.cache 12000 0 1 R",
            "shrunk /usr/bin 10000 1000 1",
            "shrunk /usr/lib/x86_64-linux-gnu 7000 2000 1 R",
        ]
    );
    let rows: i64 = d.dirs.iter().map(DirChange::delta).sum();
    let files: i64 = d.files.iter().map(FileChange::delta).sum();
    assert_eq!((rows, files, d.delta.visible), (-226_250, -226_250, -226_250));
    let left: Vec<String> = d
        .leftovers
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {} {}",
                l.what.category,
                l.what.label,
                s(&l.path),
                l.before,
                l.after
            )
        })
        .collect();
    assert_eq!(
        left,
        vec![
            "apt-lists apt lists /var/lib/apt/lists 80000 0",
            "toolchain compiler toolchain /usr/lib/gcc 70000 0",
            "git .git directory /app/.git 30200 0",
            "pip-cache pip cache /root/.cache/pip 12000 0",
            "toolchain compiler toolchain /usr/bin/x86_64-linux-gnu-gcc-8 9000 0",
        ]
    );
    assert_eq!(
        d.leftover_categories(),
        vec![
            ("apt-lists", 80_000, 0),
            ("pip-cache", 12_000, 0),
            ("git", 30_200, 0),
            ("toolchain", 79_000, 0)
        ]
    );
    assert_eq!(
        instructions(d),
        vec![
            "added None->Some(1) None->Some(158200) COPY dir:cccc3333dddd /root/.local",
            "added None->Some(2) None->Some(300) COPY file:dddd4444eeee /app/main.py",
            "added None->Some(4) None->None ENV PATH=/root/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "removed Some(1)->None Some(164000)->None RUN apt-get update && apt-get install gcc -y && apt-get clean",
            "removed Some(2)->None Some(50)->None COPY file:bbbb2222cccc /app/requirements.txt",
            "removed Some(4)->None Some(170200)->None RUN pip install --user -r requirements.txt",
            "removed Some(5)->None Some(50550)->None COPY dir:aaaa1111bbbb /app",
        ]
    );
    assert_eq!(d.copied_steps, vec![1, 2]);
    assert!(d.dropped_runs && d.multi_stage());
    assert_eq!(
        d.waste,
        vec![WasteChange {
            path: b"/app/requirements.txt".to_vec(),
            before: 50,
            after: 0,
            what: "overwritten"
        }]
    );
}

#[test]
fn diff_tree_totals_and_states() {
    let (_, b, c) = tutorial();
    let t = DiffTree::build(&b, &c);
    let root = t.node(0);
    assert_eq!((root.before_total, root.after_total), (584_750, 358_500));
    assert_eq!(root.changed, 11);
    assert_eq!(root.change(), Change::Shrunk);
    let id_of = |path: &str| {
        (0..t.len() as u32)
            .find(|id| t.path(*id) == path.as_bytes())
            .unwrap()
    };
    let find = |path: &str| t.node(id_of(path));
    let local = find("/root/.local");
    assert_eq!(
        (local.before_total, local.after_total, local.change()),
        (158_200, 158_200, Change::Same)
    );
    let app = find("/app");
    assert_eq!(
        (app.before_total, app.after_total, app.change()),
        (50_550, 300, Change::Shrunk)
    );
    assert_eq!(find("/app/.git").change(), Change::Removed);
    assert_eq!(find("/app/main.py").change(), Change::Same);
    // Children are sorted by name, numbered one after the other, and know their parent.
    let names: Vec<String> = t.children(id_of("/app")).map(|c| s(t.name(c))).collect();
    assert_eq!(names, vec![".git", "data.csv", "main.py", "requirements.txt"]);
    for id in 0..t.len() as u32 {
        for c in t.children(id) {
            assert_eq!(t.node(c).parent, id);
        }
    }
    let listed: usize = (0..t.len() as u32).map(|id| t.children(id).len()).sum();
    assert_eq!(listed, t.len() - 1, "every node but the root is someone's child");
}

#[test]
fn hard_links_count_once_at_the_smallest_path() {
    // The same two linked paths, listed in either order, give the same attribution.
    let a = analyse(
        &image().step(
            "RUN a",
            layer()
                .file("/m/model.bin", 16_000)
                .hardlink("/m/model-link.bin", "/m/model.bin"),
        ),
        "a",
    );
    let b = analyse(
        &image().step(
            "RUN b",
            layer()
                .file("/m/model-link.bin", 16_000)
                .hardlink("/m/model.bin", "/m/model-link.bin")
                .file("/m/new", 5),
        ),
        "b",
    );
    let cmp = compare(&[&a, &b]);
    assert_eq!(files(&cmp.pairs[0]), vec!["added /m/new None Some(5)"]);
    let t = DiffTree::build(&a, &b);
    assert_eq!((t.node(0).before_total, t.node(0).after_total), (16_000, 16_005));
}

#[test]
fn a_file_that_becomes_a_directory_stays_in_the_partition() {
    let a = analyse(
        &image().step("RUN a", layer().file("/x", 100).file("/y/z", 1)),
        "a",
    );
    let b = analyse(
        &image().step("RUN b", layer().file("/x/inner", 30).file("/y/z", 1)),
        "b",
    );
    let cmp = compare(&[&a, &b]);
    let d = &cmp.pairs[0];
    assert_eq!(
        files(d),
        vec!["removed /x Some(100) None", "added /x/inner None Some(30)"]
    );
    assert_eq!(dirs(d), vec!["shrunk / 100 0 1", "added /x 0 30 1 R"]);
    let rows: i64 = d.dirs.iter().map(DirChange::delta).sum();
    assert_eq!(rows, d.delta.visible);
}

#[test]
fn labels_prefer_distinct_tags() {
    assert_eq!(
        labels(&[("a.tar", Some("app:1")), ("b.tar", Some("app:2"))]),
        vec!["app:1", "app:2"]
    );
    assert_eq!(
        labels(&[("a.tar", Some("app:1")), ("b.tar", Some("app:1"))]),
        vec!["a.tar", "b.tar"]
    );
    assert_eq!(
        labels(&[("x", None), ("x", Some("t")), ("x", None)]),
        vec!["x", "x (2)", "x (3)"]
    );
}

#[test]
fn moves_keep_the_most_instructions_then_bytes() {
    // 0,5,1,3,4: keep 0,1,3,4 (four), move the one at 5.
    assert_eq!(
        increasing_subsequence(&[0, 5, 1, 3, 4], &[1, 1, 1, 1, 1]),
        vec![true, false, true, true, true]
    );
    // Two runs of two: keep the heavier.
    assert_eq!(
        increasing_subsequence(&[2, 3, 0, 1], &[1, 1, 5, 5]),
        vec![false, false, true, true]
    );
    assert_eq!(increasing_subsequence(&[], &[]), Vec::<bool>::new());
    let long: Vec<usize> = (0..5000).rev().collect();
    assert_eq!(
        increasing_subsequence(&long, &[0; 5000])
            .iter()
            .filter(|k| **k)
            .count(),
        1
    );
}
