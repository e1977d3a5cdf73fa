//! Compression: corrupt and truncated gzip and zstd, bombs, media types that lie.

use crate::run::{archive, notes, totals};
use dsize::testkit::{Compression, Shape, image, layer as kit_layer};

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
