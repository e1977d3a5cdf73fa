//! Paths: normalisation, odd bytes, size and depth extremes, whiteouts, opaque markers, links.

use crate::rawtar::{Hdr, Tar};
use crate::run::{archive, docker_archive, layer, notes, totals};
use crate::{analysis, visible};
use dsize::model::Kind;

#[test]
fn paths_dotdot_absolute_dot_slash_and_repeated_slashes() {
    let t = Tar::new()
        .file("../../etc/passwd", 5)
        .file("/abs/file", 6)
        .file("./rel/file", 7)
        .file("a//b///c", 8)
        .file("x/./y/../z", 9)
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (35, 35, 0));
    assert!(
        notes(&r).contains("1 path(s) tried to climb above /"),
        "{}",
        notes(&r)
    );
    let a = analysis(&docker_archive(&[t]));
    for (p, n) in [
        ("etc/passwd", 5),
        ("abs/file", 6),
        ("rel/file", 7),
        ("a/b/c", 8),
        ("x/z", 9),
    ] {
        assert_eq!(visible(&a, p.as_bytes()), Some((Kind::File, n)), "{p}");
    }
    assert!(a.tree.lookup(b"..").is_none() && a.tree.lookup(b"x/y").is_none());
}

#[test]
fn paths_nul_in_a_pax_path_is_kept_as_a_byte() {
    let t = Tar::new()
        .pax(&[("path", b"etc/nul\0name")], false)
        .entry(Hdr::file("etc/fallback", 4), b"abcd")
        .finish();
    let second = Tar::new()
        .pax(&[("path", b"etc/nul\0name")], false)
        .entry(Hdr::file("etc/other", 0), &[])
        .finish();
    // The header name stops at the NUL; the PAX path keeps it. Overwriting it in a second
    // layer puts it in the waste list, where JSON shows it escaped.
    let r = archive(&docker_archive(&[t.clone(), second]), &[]).report();
    assert_eq!(totals(&r), (4, 0, 4));
    assert_eq!(r["waste"][0]["path"], "/etc/nul\u{0}name");
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"etc/nul\0name"), Some((Kind::File, 4)));
    assert!(a.tree.lookup(b"etc/fallback").is_none());
}

#[test]
fn paths_of_64_kib() {
    let comp = "c".repeat(255);
    let mut long = String::new();
    while long.len() < 64 << 10 {
        long.push_str(&comp);
        long.push('/');
    }
    long.push_str("file");
    let t = Tar::new()
        .pax(&[("path", long.as_bytes())], false)
        .entry(Hdr::file("x", 11), &[b'x'; 11])
        .long_name(format!("{long}2").as_bytes())
        .entry(Hdr::file("y", 12), &[b'y'; 12])
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (23, 23, 0));
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, long.as_bytes()), Some((Kind::File, 11)));
    assert_eq!(visible(&a, format!("{long}2").as_bytes()), Some((Kind::File, 12)));
}

#[test]
fn paths_directory_chain_10000_levels_deep() {
    // Every level is its own directory entry, with a file at the bottom; a later layer deletes
    // the top, hiding all of it at once.
    let mut t = Tar::new();
    let mut p = String::new();
    for _ in 0..10_000 {
        p.push_str("d/");
        t = t.long_name(p.as_bytes()).entry(Hdr::new(b"d/", b'5', 0), &[]);
    }
    p.push_str("bottom");
    let t = t
        .long_name(p.as_bytes())
        .entry(Hdr::file("bottom", 3), b"abc")
        .finish();
    let del = Tar::new().file(".wh.d", 0).finish();
    let r = archive(&docker_archive(&[t, del]), &[]).report();
    assert_eq!(totals(&r), (3, 0, 3));
    assert_eq!(r["waste"][0]["cause"], "deleted");
    assert_eq!(r["waste"][0]["path"].as_str().unwrap().len(), 20_007);
    assert_eq!(r["image"]["paths"], 10_001);
    assert_eq!(r["layers"][0]["entries"], 10_001);
}

#[test]
fn paths_whiteout_of_a_path_that_never_existed() {
    let base = Tar::new().file("a", 10).finish();
    let top = Tar::new()
        .file(".wh.ghost", 0)
        .file("dir/.wh.nothing", 0)
        .file("b", 5)
        .finish();
    let r = archive(&docker_archive(&[base, top]), &[]).report();
    assert_eq!(totals(&r), (15, 15, 0));
    assert!(
        notes(&r).contains("step 1: 2 whiteout(s) name paths no lower layer has"),
        "{}",
        notes(&r)
    );
    // A whiteout creates nothing, not even its parent directory.
    assert_eq!(r["layers"][1]["added"], 1, "{}", r["layers"][1]);
}

#[test]
fn paths_bare_wh_is_ignored_with_a_note() {
    let base = Tar::new().file("keep", 10).finish();
    let top = Tar::new().file(".wh.", 0).file("d/.wh.", 0).file("c", 1).finish();
    let r = archive(&docker_archive(&[base, top]), &[]).report();
    assert_eq!(totals(&r), (11, 11, 0));
    assert!(notes(&r).contains("invalid whiteout `.wh.`"), "{}", notes(&r));
}

#[test]
fn paths_opaque_marker_on_a_file() {
    // `f` is a file below; an opaque marker "inside" it hides nothing (Docker's applier leaves
    // the file alone too).
    let base = Tar::new().file("f", 10).file("d/x", 20).finish();
    let top = Tar::new()
        .file("f/.wh..wh..opq", 0)
        .file("d/x/.wh..wh..opq", 0)
        .finish();
    let r = archive(&docker_archive(&[base.clone(), top.clone()]), &[]).report();
    assert_eq!(totals(&r), (30, 30, 0));
    assert!(notes(&r).contains("opaque marker"), "{}", notes(&r));
    let a = analysis(&docker_archive(&[base, top]));
    assert_eq!(visible(&a, b"f"), Some((Kind::File, 10)));
    assert_eq!(visible(&a, b"d/x"), Some((Kind::File, 20)));
}

#[test]
fn paths_hard_links_to_missing_or_later_entries() {
    let t = Tar::new()
        .header(Hdr::new(b"h-missing", b'1', 0).link(b"nowhere"))
        .header(Hdr::new(b"h-later", b'1', 0).link(b"later"))
        .header(Hdr::new(b"h-self", b'1', 0).link(b"h-self"))
        .file("later", 10)
        .header(Hdr::new(b"h-ok", b'1', 0).link(b"later"))
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (10, 10, 0));
    assert!(
        notes(&r).contains("3 hard link(s) point at no earlier file"),
        "{}",
        notes(&r)
    );
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"h-missing"), Some((Kind::HardLink, 0)));
    assert_eq!(visible(&a, b"h-later"), Some((Kind::HardLink, 0)));
    assert_eq!(visible(&a, b"h-ok"), Some((Kind::HardLink, 10)));
}

#[test]
fn paths_symlink_loops_are_never_followed() {
    let sym = |name: &str, target: &str| Hdr::new(name.as_bytes(), b'2', 0).link(target.as_bytes());
    let t = Tar::new()
        .header(sym("a", "b"))
        .header(sym("b", "a"))
        .header(sym("self", "self"))
        .header(sym("d/up", ".."))
        .header(sym("d/root", "/"))
        .header(sym("d/deep", "../d/deep/../deep"))
        .file("d/file", 7)
        .finish();
    let top = Tar::new()
        .header(sym("d/root/etc/x", "y"))
        .file("d/up/z", 2)
        .finish();
    let r = archive(&docker_archive(&[t.clone(), top]), &[]).report();
    assert_eq!(totals(&r), (9, 9, 0));
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"a").map(|v| v.0), Some(Kind::Symlink));
    assert_eq!(visible(&a, b"self").map(|v| v.0), Some(Kind::Symlink));
    assert_eq!(visible(&a, b"d/file"), Some((Kind::File, 7)));
}

#[test]
fn paths_opaque_marker_at_the_root_hides_every_lower_path() {
    let base = Tar::new().file("etc/a", 10).file("b", 20).finish();
    let top = Tar::new().file(".wh..wh..opq", 0).file("c", 5).finish();
    let r = archive(&docker_archive(&[base.clone(), top.clone()]), &[]).report();
    assert_eq!(totals(&r), (35, 5, 30));
    assert!(
        r["waste"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["cause"] == "opaque")
    );
}
