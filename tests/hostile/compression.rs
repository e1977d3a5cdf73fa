//! Compression: corrupt and truncated gzip and zstd, bombs, media types that lie.

use crate::rawtar::{Hdr, Tar};
use crate::run::{archive, docker_archive, layer, notes, totals};
use dsize::testkit::{Compression, Shape, image, layer as kit_layer};
use std::io::Write;

/// gzip at `level` (1 fast .. 9 best).
fn gz_level(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data)
        .and_then(|()| e.finish())
        .expect("gzip in memory")
}

fn gz(data: &[u8]) -> Vec<u8> {
    gz_level(data, 1)
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd in memory")
}

/// Flips 64 bytes in the middle.
fn corrupt(mut z: Vec<u8>) -> Vec<u8> {
    let mid = z.len() / 2;
    for b in &mut z[mid..mid + 64] {
        *b ^= 0x5a;
    }
    z
}

fn sample_tar() -> Vec<u8> {
    let mut t = Tar::new();
    for i in 0..40 {
        t = t.file(&format!("dir/file{i}"), 3000 + i);
    }
    t.finish()
}

#[test]
fn compression_corrupt_gzip() {
    let e = layer(&corrupt(gz(&sample_tar()))).error();
    assert!(
        e.starts_with("layer 0 (l0/layer.tar): ") && e.contains("gzip"),
        "{e}"
    );
    // A gzip header followed by garbage.
    let mut bad = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    bad.extend_from_slice(&[0xff; 600]);
    let e = layer(&bad).error();
    assert!(
        e.starts_with("layer 0 (l0/layer.tar): ") && e.contains("gzip"),
        "{e}"
    );
}

#[test]
fn compression_truncated_gzip() {
    let z = gz(&sample_tar());
    let e = layer(&z[..z.len() / 2]).error();
    assert!(
        e.starts_with("layer 0 (l0/layer.tar): ") && e.contains("gzip"),
        "{e}"
    );
    assert!(e.contains("truncated") || e.contains("ends"), "{e}");
}

#[test]
fn compression_corrupt_zstd() {
    let e = layer(&corrupt(zst(&sample_tar()))).error();
    assert!(
        e.starts_with("layer 0 (l0/layer.tar): ") && e.contains("zstd"),
        "{e}"
    );
}

#[test]
fn compression_truncated_zstd() {
    let z = zst(&sample_tar());
    let e = layer(&z[..z.len() / 2]).error();
    assert!(
        e.starts_with("layer 0 (l0/layer.tar): ") && e.contains("zstd"),
        "{e}"
    );
    assert!(e.contains("truncated") || e.contains("ends"), "{e}");
}

#[test]
fn compression_zstd_window_bomb_is_refused() {
    // A frame header asking for a 2 GiB window (Window_Descriptor exponent 21): the decoder must
    // refuse it rather than allocate.
    let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3];
    // One raw, last block of 1024 zero bytes (an empty tar).
    let size: u32 = 1024;
    let bh = (size << 3) | 1;
    z.extend_from_slice(&bh.to_le_bytes()[..3]);
    z.extend_from_slice(&[0; 1024]);
    let e = layer(&z).error();
    assert!(
        e.starts_with("layer 0 (l0/layer.tar): ") && e.contains("zstd"),
        "{e}"
    );
}

/// A gzip layer of `n` identical members, each a 1 MiB file of zeros (the same path, so the
/// tar is valid: the last copy wins). About 1 KiB per MiB inflated.
fn gzip_bomb(n: usize) -> Vec<u8> {
    let mut member = Hdr::file("zeros", 1 << 20).bytes().to_vec();
    member.resize(512 + (1 << 20), 0);
    let one = gz_level(&member, 9);
    let mut out = Vec::with_capacity(one.len() * n + 64);
    for _ in 0..n {
        out.extend_from_slice(&one);
    }
    out.extend_from_slice(&gz(&[0; 1024]));
    out
}

#[test]
fn compression_gzip_bomb_is_bounded_by_max_layer_bytes() {
    let bomb = gzip_bomb(8192); // 8 GiB inflated, 8 MiB stored
    assert!(bomb.len() < 16 << 20);
    let e = archive(&docker_archive(&[bomb]), &["--max-layer-bytes", "64MiB"]).error();
    assert!(e.starts_with("layer 0 (l0/layer.tar): "), "{e}");
    assert!(e.contains("--max-layer-bytes") && e.contains("64 MiB"), "{e}");
    // Under the limit the same kind of layer is read exactly (3 copies of 1 MiB, 2 hidden).
    let r = archive(&docker_archive(&[gzip_bomb(3)]), &["--max-layer-bytes", "64MiB"]).report();
    assert_eq!(totals(&r), (3 << 20, 1 << 20, 2 << 20));
}

#[test]
fn compression_bomb_of_one_huge_entry_stops_at_its_header() {
    // One header claiming 100 GB: a stream is not inflated for nothing, even with the default
    // limit (64 GiB).
    let mut t = Hdr::file("huge", 0)
        .size_base256(100_000_000_000)
        .bytes()
        .to_vec();
    t.resize(1 << 20, 0);
    let e = layer(&gz(&t)).error();
    assert!(e.contains("--max-layer-bytes") && e.contains("64 GiB"), "{e}");
}

fn kit_image() -> dsize::testkit::Image {
    image()
        .step("RUN a", kit_layer().file("a", 1000).file("b", 24))
        .step("RUN b", kit_layer().file("a", 10))
}

#[test]
fn compression_media_type_says_gzip_but_blob_is_plain() {
    let img = kit_image()
        .compression(Compression::None)
        .media_type_override(1, "application/vnd.oci.image.layer.v1.tar+gzip");
    let r = archive(&img.archive(Shape::OciArchive), &[]).report();
    assert_eq!(totals(&r), (1034, 34, 1000));
    assert!(
        notes(&r).contains("the media type says gzip but the blob is plain tar"),
        "{}",
        notes(&r)
    );
}

#[test]
fn compression_media_type_says_plain_but_blob_is_gzip_or_zstd() {
    for c in [Compression::Gzip, Compression::Zstd] {
        let img = kit_image()
            .compression(c)
            .media_type_override(0, "application/vnd.oci.image.layer.v1.tar");
        let r = archive(&img.archive(Shape::OciArchive), &[]).report();
        assert_eq!(totals(&r), (1034, 34, 1000));
        assert!(
            notes(&r).contains("the media type says plain tar but the blob is"),
            "{}",
            notes(&r)
        );
    }
}
