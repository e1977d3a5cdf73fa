//! Indexer tests over layers written by the test kit, in every compression.

use super::*;
use crate::testkit::layer;
use std::io::{Cursor, Write};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn sample() -> Vec<u8> {
    layer()
        .dir("app")
        .file("app/main.py", 1234)
        .hardlink("app/link.py", "app/main.py")
        .symlink("app/sym", "../etc/passwd")
        .whiteout("etc/old.conf")
        .opaque("var/cache")
        .fifo("run/fifo")
        .file("usr/share/a-very-long-directory-name-that-forces-gnu-long-names-because-it-is-well-over-one-hundred-bytes/file.txt", 7)
        .tar_bytes()
}

fn index(blob: &[u8], claimed: Option<Compression>) -> Result<Indexed, IndexError> {
    index_stream(
        Cursor::new(blob),
        claimed,
        Limits::default(),
        &Progress::default(),
    )
}

fn summary(e: &LayerEntries) -> Vec<(EntryKind, String, String, u64)> {
    e.entries
        .iter()
        .map(|x| {
            (
                x.kind,
                String::from_utf8_lossy(e.bytes(x.path)).into_owned(),
                String::from_utf8_lossy(e.bytes(x.link)).into_owned(),
                x.size,
            )
        })
        .collect()
}

#[test]
fn recognises_every_entry_kind() {
    let got = index(&sample(), None).unwrap();
    assert_eq!(got.compression, Compression::None);
    let s = summary(&got.entries);
    let find = |p: &str| s.iter().find(|e| e.1 == p).cloned().unwrap();
    assert_eq!(
        find("app/main.py"),
        (EntryKind::File, "app/main.py".into(), "".into(), 1234)
    );
    assert_eq!(find("app/link.py").0, EntryKind::HardLink);
    assert_eq!(find("app/link.py").2, "app/main.py");
    assert_eq!(find("app/sym").2, "../etc/passwd");
    assert_eq!(find("etc/old.conf").0, EntryKind::Whiteout);
    assert_eq!(find("var/cache").0, EntryKind::Opaque);
    assert_eq!(find("run/fifo").0, EntryKind::Special);
    assert!(s.iter().any(|e| e.1.ends_with("/file.txt") && e.1.len() > 100));
    assert_eq!(got.entries.regular_bytes, 1241);
}

#[test]
fn every_compression_gives_the_same_index() {
    let tar = sample();
    let plain = summary(&index(&tar, None).unwrap().entries);
    let mut multi = gz(&tar[..1000]);
    multi.extend(gz(&tar[1000..]));
    for (blob, c) in [
        (gz(&tar), Compression::Gzip),
        (multi, Compression::Gzip),
        (zst(&tar), Compression::Zstd),
    ] {
        let got = index(&blob, Some(c)).unwrap();
        assert_eq!(got.compression, c);
        assert_eq!(summary(&got.entries), plain, "{c}");
        assert!(got.entries.notes.is_empty());
    }
    let seek = index_seekable(Cursor::new(&tar), None, Limits::default(), &Progress::default()).unwrap();
    assert_eq!(summary(&seek.entries), plain);
    assert_eq!(
        seek.entries.tar_bytes,
        index(&tar, None).unwrap().entries.tar_bytes
    );
}

#[test]
fn magic_bytes_win_over_a_lying_media_type() {
    let tar = sample();
    let got = index(&tar, Some(Compression::Gzip)).unwrap();
    assert_eq!(got.compression, Compression::None);
    assert!(got.entries.notes[0].contains("says gzip but the blob is plain tar"));
    let got = index(&gz(&tar), Some(Compression::None)).unwrap();
    assert_eq!(got.compression, Compression::Gzip);
}

#[test]
fn empty_layer_and_empty_blob() {
    let got = index(&[0u8; 1024], None).unwrap();
    assert!(got.entries.entries.is_empty());
    let got = index(&[], None).unwrap();
    assert!(got.entries.entries.is_empty());
}

#[test]
fn rejects_what_is_not_a_layer() {
    let err = index(b"{\"schemaVersion\": 2}", None).unwrap_err();
    assert!(err.to_string().contains("neither tar, gzip nor zstd"), "{err}");
}

#[test]
fn truncated_and_corrupt_layers_fail_cleanly() {
    let tar = sample();
    assert!(index(&tar[..700], None).is_err());
    let z = gz(&tar);
    assert!(index(&z[..z.len() / 2], None).is_err());
    let z = zst(&tar);
    assert!(index(&z[..z.len() / 2], None).is_err());
    let mut bad = tar.clone();
    bad[148] ^= 0x11; // checksum field of the first header
    assert!(index(&bad, None).is_err());
}

#[test]
fn size_limit_stops_a_bomb() {
    let big = layer().file("zeros", 4 << 20).tar_bytes();
    let limits = Limits {
        max_layer_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = index_stream(Cursor::new(gz(&big)), None, limits, &Progress::default()).unwrap_err();
    assert!(matches!(err, IndexError::TooLarge(_)), "{err}");
}

#[test]
fn aufs_metadata_and_bare_whiteout_are_noted() {
    let tar = layer()
        .file(".wh..wh.plnk/123", 0)
        .file("a/b/.wh..wh.plnk/c/9", 0)
        .file("x/.wh.", 0)
        .file("ok", 1)
        // The marker inside a component, not at its start: ordinary names.
        .file("a/x.wh..wh.y/z", 2)
        .file("a.wh..wh./k", 3)
        .tar_bytes();
    let got = index(&tar, None).unwrap();
    let paths: Vec<&[u8]> = got
        .entries
        .entries
        .iter()
        .map(|e| got.entries.bytes(e.path))
        .collect();
    assert_eq!(paths, [&b"ok"[..], b"a/x.wh..wh.y/z", b"a.wh..wh./k"]);
    assert_eq!(got.entries.notes.len(), 2, "{:?}", got.entries.notes);
    assert!(
        got.entries.notes.iter().any(|n| n.starts_with("2 AUFS")),
        "{:?}",
        got.entries.notes
    );
}

#[test]
fn progress_counts_blob_bytes() {
    let z = gz(&sample());
    let p = Progress::default();
    index_stream(Cursor::new(&z), None, Limits::default(), &p).unwrap();
    assert_eq!(p.bytes.load(Ordering::Relaxed), z.len() as u64);
}

#[test]
fn sniffing() {
    assert_eq!(sniff(&[0x1f, 0x8b, 8]), Magic::Layer(Compression::Gzip));
    assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Magic::Layer(Compression::Zstd));
    assert_eq!(sniff(b"  {\"a\":1}"), Magic::Json);
    assert_eq!(sniff(b"hello"), Magic::Unknown);
    assert_eq!(sniff(&sample()[..SNIFF_LEN]), Magic::Layer(Compression::None));
    assert_eq!(
        Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
        Some(Compression::Zstd)
    );
    assert_eq!(
        Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
        Some(Compression::Gzip)
    );
    assert_eq!(
        Compression::from_media_type("application/vnd.oci.image.layer.v1.tar"),
        Some(Compression::None)
    );
    assert_eq!(Compression::from_media_type("application/vnd.in-toto+json"), None);
}
