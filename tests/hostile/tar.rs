//! Tar: truncation, checksums, sizes, GNU and PAX extensions, sparse files, duplicates, devices.

use crate::rawtar::{Hdr, Tar, pax_body};
use crate::run::{self, docker_archive, layer, notes, totals};
use crate::{analysis, visible};
use dsize::model::Kind;

fn two_files() -> Vec<u8> {
    Tar::new().file("a", 100).file("b", 200).finish()
}

#[test]
fn tar_truncated_mid_header() {
    let t = two_files();
    let cut = &t[..512 + 512 + 256]; // first entry, then half of the second header
    let e = layer(cut).error();
    assert!(
        e.contains("layer 0 (l0/layer.tar)") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn tar_truncated_mid_body() {
    let t = two_files();
    let cut = &t[..512 + 512 + 512 + 50]; // inside b's body
    let e = layer(cut).error();
    assert!(
        e.contains("layer 0 (l0/layer.tar)") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn tar_bad_checksum() {
    let t = Tar::new()
        .file("a", 10)
        .entry(Hdr::file("b", 10).bad_checksum(), &[b'x'; 10])
        .finish();
    let e = layer(&t).error();
    assert!(
        e.contains("layer 0 (l0/layer.tar)") && e.contains("checksum"),
        "{e}"
    );
    assert!(e.contains("byte 1024"), "names where: {e}");
}

#[test]
fn tar_size_field_larger_than_the_stream() {
    // 1 GB claimed, 10 bytes present, then the end-of-archive blocks.
    let t = Tar::new()
        .file("a", 10)
        .entry(Hdr::file("big", 1 << 30), &[b'x'; 10])
        .finish();
    let e = layer(&t).error();
    assert!(
        e.contains("layer 0 (l0/layer.tar)") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn tar_base256_size_is_read() {
    let t = Tar::new()
        .entry(Hdr::file("b256", 0).size_base256(700), &[b'x'; 700])
        .file("after", 5)
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (705, 705, 0));
    assert_eq!(r["layers"][0]["sizeBytes"], 705);
}

#[test]
fn tar_negative_and_huge_sizes_are_errors() {
    // Negative base-256 (two's complement, 0xff lead byte).
    let t = Tar::new()
        .entry(Hdr::file("neg", 0).size_field([0xff; 12]), &[])
        .finish();
    let e = layer(&t).error();
    assert!(e.contains("layer 0 (l0/layer.tar)"), "{e}");
    // A size of 2^63: past any stream.
    let t = Tar::new()
        .entry(Hdr::file("huge", 0).size_base256(1 << 63), &[])
        .finish();
    let e = layer(&t).error();
    assert!(e.contains("layer 0 (l0/layer.tar)"), "{e}");
    // Not a number at all.
    let t = Tar::new()
        .entry(Hdr::file("nan", 0).size_field(*b"12x45678901\0"), &[])
        .finish();
    let e = layer(&t).error();
    assert!(e.contains("layer 0 (l0/layer.tar)"), "{e}");
}

#[test]
fn tar_gnu_long_names_and_long_links() {
    let long_dir = "d".repeat(150);
    let name = format!("{long_dir}/file-with-a-long-name.txt");
    let target = format!("{long_dir}/{}", "t".repeat(120));
    let t = Tar::new()
        .long_name(name.as_bytes())
        .entry(Hdr::file("truncated-name", 10), &[b'x'; 10])
        .long_name(target.as_bytes())
        .entry(Hdr::file("t", 20), &[b'y'; 20])
        .long_name(b"hard/link/with/a/long/name/..........................................................................................end")
        .long_link(target.as_bytes())
        .header(Hdr::new(b"h", b'1', 0).link(b"short-wrong-target"))
        .long_link(target.as_bytes())
        .header(Hdr::new(b"sym", b'2', 0).link(b"short"))
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (30, 30, 0));
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, name.as_bytes()), Some((Kind::File, 10)));
    assert_eq!(visible(&a, target.as_bytes()), Some((Kind::File, 20)));
    let h = visible(&a, b"hard/link/with/a/long/name/..........................................................................................end");
    assert_eq!(h, Some((Kind::HardLink, 20)), "the long link names the target");
    let sym = a.tree.lookup(b"sym").unwrap();
    let v = a.tree.visible(sym).unwrap();
    assert_eq!(a.tree.link_target(v), Some(target.as_bytes()));
    assert!(a.notes.iter().all(|n| !n.contains("hard link")), "{:?}", a.notes);
}

#[test]
fn tar_pax_local_and_global_headers() {
    let long = format!("pax/{}", "p".repeat(300));
    let t = Tar::new()
        // A global header applies to nothing dsize measures; it must be skipped.
        .pax(&[("comment", b"global"), ("path", b"global/ignored")], true)
        .pax(&[("path", long.as_bytes()), ("uid", b"4242")], false)
        .entry(Hdr::file("short", 7), &[b'x'; 7])
        // PAX size overrides a zero size field (as Go writes files over 8 GiB).
        .pax(&[("size", b"1000")], false)
        .entry(Hdr::file("sized", 0), &[b'z'; 1000])
        .pax(&[("linkpath", long.as_bytes())], false)
        .header(Hdr::new(b"hl", b'1', 0).link(b"x"))
        .file("after", 3)
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (1010, 1010, 0));
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, long.as_bytes()), Some((Kind::File, 7)));
    assert_eq!(visible(&a, b"sized"), Some((Kind::File, 1000)));
    assert_eq!(visible(&a, b"hl"), Some((Kind::HardLink, 7)));
    assert_eq!(visible(&a, b"after"), Some((Kind::File, 3)));
    assert!(a.tree.lookup(b"global").is_none());
    let n = a.tree.lookup(long.as_bytes()).unwrap();
    assert_eq!(a.tree.visible(n).unwrap().uid, 4242);
}

#[test]
fn tar_gnu_sparse_counts_stored_bytes() {
    // Old GNU sparse: two 512-byte chunks stored, 1 MiB real size; one more chunk in an
    // extended sparse header.
    let mut ext = [0u8; 512];
    let put = |b: &mut [u8], at: usize, v: u64| {
        let s = format!("{v:011o}");
        b[at..at + 11].copy_from_slice(s.as_bytes());
    };
    put(&mut ext, 0, 1 << 19);
    put(&mut ext, 12, 512);
    put(&mut ext, 24, 1 << 20); // the trailing hole, as GNU tar writes it
    put(&mut ext, 36, 0);
    let h = Hdr::new(b"sparse.img", b'S', 1536)
        .gnu()
        .sparse(&[(0, 512), (8192, 512)], 1 << 20, true);
    let t = Tar::new()
        .header(h)
        .raw(&ext)
        .raw(&[b's'; 1536])
        .file("after", 9)
        .finish();
    let r = layer(&t).report();
    assert_eq!(
        totals(&r),
        (1545, 1545, 0),
        "stored bytes, not the 1 MiB real size"
    );
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"sparse.img"), Some((Kind::File, 1536)));
    assert_eq!(visible(&a, b"after"), Some((Kind::File, 9)));
}

#[test]
fn tar_pax_sparse_1_0_uses_the_real_name() {
    // GNU tar --format=posix: the map sits in the data, the header names a stand-in file.
    let map = b"1\n0\n512\n";
    let mut data = map.to_vec();
    data.resize(512, 0);
    data.extend_from_slice(&[b'q'; 512]);
    let t = Tar::new()
        .pax(
            &[
                ("GNU.sparse.major", b"1"),
                ("GNU.sparse.minor", b"0"),
                ("GNU.sparse.name", b"var/lib/sparse.db"),
                ("GNU.sparse.realsize", b"1048576"),
            ],
            false,
        )
        .entry(Hdr::file("./GNUSparseFile.1/sparse.db", 1024), &data)
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (1024, 1024, 0));
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"var/lib/sparse.db"), Some((Kind::File, 1024)));
    assert!(a.tree.lookup(b"GNUSparseFile.1").is_none());
}

#[test]
fn tar_duplicate_entries_last_one_wins() {
    let t = Tar::new()
        .file("etc/app.conf", 10)
        .dir("etc/")
        .file("etc/app.conf", 25)
        .finish();
    let r = layer(&t).report();
    // Both copies are stored in the tar; the first is hidden by its own layer.
    assert_eq!(totals(&r), (35, 25, 10));
    assert_eq!(r["waste"][0]["path"], "/etc/app.conf");
    assert_eq!(r["waste"][0]["bytes"], 10);
    assert_eq!(r["waste"][0]["cause"], "overwritten");
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"etc/app.conf"), Some((Kind::File, 25)));
}

#[test]
fn tar_devices_and_fifos_are_zero_bytes() {
    let t = Tar::new()
        .entry(Hdr::new(b"dev/null", b'3', 0).device(1, 3), &[])
        .entry(Hdr::new(b"dev/sda", b'4', 0).device(8, 0), &[])
        .entry(Hdr::new(b"run/fifo", b'6', 0), &[])
        .file("f", 4)
        .finish();
    let r = layer(&t).report();
    assert_eq!(totals(&r), (4, 4, 0));
    let a = analysis(&docker_archive(&[t]));
    for p in [&b"dev/null"[..], b"dev/sda", b"run/fifo"] {
        assert_eq!(visible(&a, p), Some((Kind::Special, 0)));
    }
}

/// Indexes a layer made of `h` followed by endless `a`s; returns the error.
fn endless_after(h: Hdr) -> String {
    let endless = std::io::Cursor::new(h.bytes().to_vec()).chain(std::io::repeat(b'a'));
    dsize::index::index_stream(
        endless,
        None,
        dsize::index::Limits::default(),
        &dsize::index::Progress::default(),
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn tar_huge_gnu_long_name_is_capped_in_a_layer() {
    // A long name that claims 60 GB and never ends: the indexer must stop at its cap.
    let err = endless_after(Hdr::new(b"././@LongLink", b'L', 60 << 30).gnu());
    assert!(err.contains("long name") && err.contains("MiB"), "{err}");
    let err = endless_after(Hdr::new(b"././@LongLink", b'K', 60 << 30).gnu());
    assert!(err.contains("long link") && err.contains("MiB"), "{err}");
}

#[test]
fn tar_huge_pax_header_is_capped_in_a_layer() {
    let err = endless_after(Hdr::new(b"PaxHeaders/x", b'x', 60 << 30));
    assert!(err.contains("PAX") && err.contains("MiB"), "{err}");
}

#[test]
fn tar_huge_extension_headers_end_to_end() {
    // 60 GB claimed by a GNU long name in the outer archive, fed through a pipe: dsize stops
    // after its cap, well before the writer would finish.
    let feed = |w: &mut dyn std::io::Write| {
        let h = Hdr::new(b"././@LongLink", b'L', 60 << 30).gnu();
        if w.write_all(&h.bytes()).is_err() {
            return;
        }
        let chunk = vec![b'a'; 1 << 16];
        for _ in 0..(60u64 << 30) / (1 << 16) {
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
    };
    let s = run::Scratch::new();
    let o = run::run_in(
        &s,
        &["-".into(), "--json".into(), "-".into()],
        run::Stdin::Generated(Box::new(feed)),
    );
    run::check_resources(&s, &o, None, "outer long name");
    let e = run::error_line(&o, "outer long name");
    assert!(e.contains("standard input") && e.contains("long name"), "{e}");

    // The same inside a layer of an archive file: a 60 GB sparse member (holes read as zeros).
    let s = run::Scratch::new();
    let p = s.dir.path().join("input/sparse.tar");
    let mut f = std::fs::File::create(&p).unwrap();
    use std::io::Write;
    let layer_size: u64 = 60 << 30;
    let big = Hdr::new(b"././@LongLink", b'L', layer_size - 1024).gnu();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:00"]}}"#;
    let manifest = br#"[{"Config":"c.json","RepoTags":["x:y"],"Layers":["l/layer.tar"]}]"#;
    let head = Tar::new()
        .entry(Hdr::file("manifest.json", manifest.len() as u64), manifest)
        .entry(Hdr::file("c.json", config.len() as u64), config)
        .header(Hdr::file("l/layer.tar", layer_size))
        .header(big)
        .out;
    f.write_all(&head).unwrap();
    // The member's body runs on as a hole, then the end-of-archive blocks (zeros too).
    f.set_len(head.len() as u64 - 512 + layer_size + 1024).unwrap();
    drop(f);
    let o = run::run_in(
        &s,
        &[p.clone().into(), "--json".into(), "-".into()],
        run::Stdin::Null,
    );
    run::check_resources(&s, &o, None, "layer long name");
    let e = run::error_line(&o, "layer long name");
    assert!(
        e.contains("layer 0 (l/layer.tar)") && e.contains("long name"),
        "{e}"
    );
}

#[test]
fn tar_pax_body_helper_counts_its_own_length() {
    let b = pax_body(&[("path", b"abc")]);
    assert_eq!(b, b"12 path=abc\n");
    let n = notes(&serde_json::json!({"notes": ["a", "b"]}));
    assert_eq!(n, "a\nb");
}

use std::io::Read as _;

/// Where tar readers disagree, dsize reads as Go's archive/tar (Docker's own reader) does: a later
/// GNU long name or PAX header replaces an earlier one, a long name ends at its first NUL, a PAX
/// header is one by its type flag whatever its magic, and a global header uses up what was
/// pending.
#[test]
fn tar_headers_read_as_docker_reads_them() {
    let body = pax_body(&[("path", b"from/odd/magic")]);
    let mut odd_magic = Hdr::new(b"PaxHeaders/x", b'x', body.len() as u64);
    odd_magic.set(257, 8, b"junk\0\0\0\0");
    let t = Tar::new()
        .long_name(b"first/name")
        .long_name(b"second/name")
        .file("ignored-1", 5)
        .pax(&[("path", b"pax/one")], false)
        .pax(&[("path", b"pax/two")], false)
        .file("ignored-2", 6)
        .long_name(b"nul/cut\0rest/after/nul")
        .file("ignored-3", 7)
        .entry(odd_magic, &body)
        .file("ignored-4", 8)
        .long_name(b"eaten/by/global")
        .pax(&[("comment", b"g")], true)
        .file("kept-name", 9)
        .finish();
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"second/name"), Some((Kind::File, 5)));
    assert!(a.tree.lookup(b"first").is_none());
    assert_eq!(visible(&a, b"pax/two"), Some((Kind::File, 6)));
    assert!(a.tree.lookup(b"pax/one").is_none());
    assert_eq!(visible(&a, b"nul/cut"), Some((Kind::File, 7)));
    assert_eq!(visible(&a, b"from/odd/magic"), Some((Kind::File, 8)));
    assert_eq!(visible(&a, b"kept-name"), Some((Kind::File, 9)));
    assert!(a.tree.lookup(b"eaten").is_none());
    assert_eq!(a.totals.stored_bytes, 35);
}

/// Directories, links, devices and FIFOs have no body, whatever their size field says: Go's
/// archive/tar (which Docker applies layers with) reads the next header right after them.
#[test]
fn header_only_types_have_no_body() {
    let t = Tar::new()
        .header(Hdr::new(b"d", b'5', 1024))
        .header(Hdr::new(b"s", b'2', 512).link(b"after"))
        .header(Hdr::new(b"h", b'1', 700).link(b"after"))
        .header(Hdr::new(b"fifo", b'6', 9))
        .file("after", 3)
        .finish();
    let a = analysis(&docker_archive(&[t]));
    assert_eq!(visible(&a, b"d"), Some((Kind::Dir, 0)));
    assert_eq!(visible(&a, b"s"), Some((Kind::Symlink, 0)));
    assert_eq!(visible(&a, b"fifo"), Some((Kind::Special, 0)));
    assert_eq!(visible(&a, b"after"), Some((Kind::File, 3)));
    assert_eq!(a.totals.stored_bytes, 3);
}
