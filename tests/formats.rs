//! Every archive shape and layer compression, read from a file, from a stream and (for OCI) from a
//! directory, must give the same analysis, to the byte. Inputs are written in code by the test kit.

use dsize::index::Progress;
use dsize::model::{Analysis, AnalysisBuilder, ImageMeta, LayerEntries};
use dsize::pipeline::{self, Options};
use dsize::report::json;
use dsize::source::{self, ImageRef, Platform, ReadOptions, Sink, archive};
use dsize::testkit::{Compression, Image, Shape, image, layer};
use std::io::Cursor;

/// An image with every merge feature: overwrites, file and directory whiteouts, an opaque
/// directory, a type change, hard and symbolic links, empty steps and a repeated empty layer.
fn sample() -> Image {
    image()
        .step(
            "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ",
            layer()
                .dir("bin")
                .file("bin/busybox", 100_000)
                .symlink("bin/sh", "busybox")
                .file("etc/conf/a.conf", 300)
                .file("etc/conf/b.conf", 200)
                .file("opt/tool", 4_000),
        )
        .empty_step("/bin/sh -c #(nop)  ENV PATH=/usr/bin:/bin")
        .step(
            "RUN /bin/sh -c apt-get update # buildkit",
            layer()
                .file("var/lib/apt/lists/main_Packages", 50_000)
                .file("var/cache/apt/pkgcache.bin", 7_000)
                .file("root/.cache/pip/wheels/x.whl", 9_000)
                .file("tmp/build/obj.o", 1_500)
                .file("app/data.bin", 20_000)
                .hardlink("app/data-link.bin", "app/data.bin"),
        )
        .step("WORKDIR /app", layer())
        .step(
            "RUN /bin/sh -c rm -rf /tmp/build /opt/tool && echo v2 > /app/data.bin # buildkit",
            layer()
                .whiteout("tmp/build")
                .whiteout("opt/tool")
                .file("app/data.bin", 3)
                .opaque("etc/conf")
                .file("etc/conf/c.conf", 10)
                .file("opt/tool/now-a-dir", 5),
        )
        .step(
            "COPY . /app # buildkit",
            layer()
                .file("app/.git/objects/pack.pack", 2_500)
                .file("app/main.py", 120),
        )
        .step("WORKDIR /app", layer())
        .empty_step("CMD [\"python\" \"main.py\"]")
        .repo_tag("example/app:v1")
}

// Hand-computed expectations for `sample()`.
const STORED: u64 =
    100_000 + 300 + 200 + 4_000 + 50_000 + 7_000 + 9_000 + 1_500 + 20_000 + 3 + 10 + 5 + 2_500 + 120;
// Hidden: a.conf, b.conf (opaque), opt/tool (deleted, then a dir), tmp/build/obj.o (deleted).
// app/data.bin was overwritten, but its hard link app/data-link.bin keeps the 20,000 bytes visible.
const WASTED: u64 = 300 + 200 + 4_000 + 1_500;
const VISIBLE: u64 = STORED - WASTED;

fn analyse_bytes(bytes: &[u8], stream: bool) -> Analysis {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, bytes).unwrap();
    if stream {
        // The single-pass reader, as used for stdin and the Engine API export.
        struct Collect(Option<AnalysisBuilder>);
        impl Sink for Collect {
            fn meta(&mut self, meta: &ImageMeta) {
                self.0 = Some(AnalysisBuilder::new(meta.clone(), Default::default()).unwrap());
            }
            fn layer(&mut self, d: usize, e: LayerEntries, c: Option<u64>) {
                self.0.as_mut().unwrap().add_layer(d, e, c);
            }
        }
        let mut sink = Collect(None);
        let opts = ReadOptions::default();
        archive::read_stream(
            "test",
            &mut Cursor::new(bytes),
            &opts,
            &Progress::default(),
            &mut sink,
        )
        .unwrap();
        return sink.0.unwrap().finish();
    }
    analyse_ref(&ImageRef::Archive(path), &Options::default())
}

fn analyse_ref(r: &ImageRef, opts: &Options) -> Analysis {
    pipeline::analyze(r, opts, &Progress::default(), &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// The JSON report minus what legitimately differs between transports and shapes.
fn normalised(a: &Analysis) -> serde_json::Value {
    let mut v = serde_json::to_value(json::build(a, None)).unwrap();
    let image = v["image"].as_object_mut().unwrap();
    for k in ["name", "format", "compressedBytes", "configDigest", "repoTags"] {
        image.remove(k);
    }
    for l in v["layers"].as_array_mut().unwrap() {
        let l = l.as_object_mut().unwrap();
        for k in ["compressedBytes", "blobDigest", "mediaType", "digest"] {
            l.remove(k);
        }
    }
    v["notes"] = serde_json::Value::Null;
    v
}

fn check_numbers(a: &Analysis) {
    let t = &a.totals;
    assert_eq!(t.stored_bytes, STORED, "stored");
    assert_eq!(t.visible_bytes, VISIBLE, "visible");
    assert_eq!(t.wasted_bytes, WASTED, "wasted");
    assert_eq!(t.stored_bytes, t.visible_bytes + t.wasted_bytes);
    assert_eq!(a.steps.len(), 8);
    assert!(a.steps[1].empty && a.steps[7].empty);
    assert_eq!(a.steps[2].size_bytes(), 50_000 + 7_000 + 9_000 + 1_500 + 20_000);
    assert_eq!(a.steps[2].instruction.text, "RUN apt-get update");
    assert_eq!(a.steps[3].size_bytes(), 0);
    assert!(a.steps[3].layer.is_some(), "WORKDIR made a (empty) layer");
    assert_eq!(a.steps[4].wasted_bytes, 0);
    assert_eq!(a.steps[4].hid_bytes, WASTED);
    assert_eq!(a.steps[0].wasted_bytes, 4_500);
    assert_eq!(a.steps[2].wasted_bytes, 1_500);
    let cats: Vec<(&str, u64)> = a.leftovers.iter().map(|l| (l.category(), l.bytes)).collect();
    assert_eq!(
        cats,
        vec![
            ("apt-lists", 50_000),
            ("pip-cache", 9_000),
            ("apt-archives", 7_000),
            ("git", 2_500)
        ]
    );
}

#[test]
fn every_shape_and_compression_agrees_to_the_byte() {
    let img = sample();
    let reference = analyse_bytes(&img.archive(Shape::DockerLegacy), false);
    check_numbers(&reference);
    let want = normalised(&reference);
    let shapes = [
        Shape::DockerLegacy,
        Shape::Docker25,
        Shape::Containerd,
        Shape::OciArchive,
    ];
    let comps = [
        Compression::None,
        Compression::Gzip,
        Compression::GzipMultiMember,
        Compression::Zstd,
    ];
    for shape in shapes {
        for c in comps {
            let bytes = img.clone().compression(c).archive(shape);
            for stream in [false, true] {
                let a = analyse_bytes(&bytes, stream);
                assert_eq!(normalised(&a), want, "{shape:?} {c:?} stream={stream}");
                let compressed =
                    matches!(shape, Shape::Containerd | Shape::OciArchive) && c != Compression::None;
                assert_eq!(a.totals.compressed_bytes.is_some(), compressed, "{shape:?} {c:?}");
            }
        }
    }
}

#[test]
fn oci_directory_agrees() {
    let img = sample();
    let want = normalised(&analyse_bytes(&img.archive(Shape::DockerLegacy), false));
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let dir = tempfile::tempdir().unwrap();
        img.clone().compression(c).write_oci_dir(dir.path()).unwrap();
        let a = analyse_ref(
            &ImageRef::parse(&format!("oci:{}", dir.path().display())),
            &Options::default(),
        );
        assert_eq!(normalised(&a), want, "{c:?}");
        assert_eq!(a.meta.format, "OCI layout directory");
    }
}

#[test]
fn shapes_are_named() {
    let img = sample();
    let name = |shape| analyse_bytes(&img.archive(shape), false).meta.format;
    assert_eq!(name(Shape::DockerLegacy), "docker save (legacy layout)");
    assert_eq!(name(Shape::Docker25), "docker save (OCI layout, Docker 25+)");
    assert_eq!(
        name(Shape::Containerd),
        "docker save (containerd image store, compressed blobs)"
    );
    assert_eq!(name(Shape::OciArchive), "OCI archive");
}

#[test]
fn legacy_repeated_layer_is_a_symlink_and_counts_twice() {
    let same = || layer().file("x", 10);
    let img = image().step("RUN a", same()).step("RUN b", same());
    for stream in [false, true] {
        let a = analyse_bytes(&img.archive(Shape::DockerLegacy), stream);
        assert_eq!(a.steps[0].size_bytes(), 10);
        assert_eq!(a.steps[1].size_bytes(), 10);
        assert_eq!(a.totals.stored_bytes, 20);
        assert_eq!(a.totals.wasted_bytes, 10);
    }
}

#[test]
fn multi_platform_index_picks_host_or_requested_platform() {
    let amd = image().step("RUN amd", layer().file("amd", 1));
    let arm = image()
        .step("RUN arm", layer().file("arm", 22))
        .platform("linux", "arm64", Some("v8"));
    let img = amd.also_platform("linux", "arm64", Some("v8"), arm);
    for shape in [Shape::OciArchive, Shape::Containerd] {
        let bytes = img.archive(shape);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multi.tar");
        std::fs::write(&path, &bytes).unwrap();
        let mut opts = Options::default();
        opts.read.platform = Some(Platform::parse("linux/arm64").unwrap());
        let a = analyse_ref(&ImageRef::Archive(path.clone()), &opts);
        assert_eq!(a.totals.stored_bytes, 22, "{shape:?}");
        assert_eq!(a.meta.platform.as_deref(), Some("linux/arm64/v8"));
        opts.read.platform = Some(Platform::parse("linux/s390x").unwrap());
        let err = pipeline::analyze(
            &ImageRef::Archive(path.clone()),
            &opts,
            &Progress::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no image for platform linux/s390x") && err.contains("linux/arm64/v8"),
            "{err}"
        );
        if Platform::host().architecture == "amd64" {
            let a = analyse_ref(&ImageRef::Archive(path), &Options::default());
            assert_eq!(a.totals.stored_bytes, 1);
            assert!(
                a.notes
                    .iter()
                    .any(|n| n.contains("picked the host platform linux/amd64")),
                "{:?}",
                a.notes
            );
        }
    }
}

#[test]
fn attestation_manifests_are_skipped() {
    let img = sample().compression(Compression::Gzip);
    let a = analyse_bytes(&img.archive(Shape::Containerd), true);
    check_numbers(&a);
    assert!(a.notes.iter().any(|n| n.contains("attestation")), "{:?}", a.notes);
}

#[test]
fn history_longer_or_shorter_than_layers() {
    let img = image()
        .layer_without_history(layer().file("a", 5))
        .no_history()
        .step("RUN x", layer().file("b", 7));
    let a = analyse_bytes(&img.archive(Shape::Docker25), false);
    assert_eq!(a.totals.stored_bytes, 12);
    let longer = image()
        .step("RUN a", layer().file("a", 1))
        .extra_history("RUN ghost");
    let a = analyse_bytes(&longer.archive(Shape::OciArchive), false);
    assert_eq!(a.totals.stored_bytes, 1);
    assert!(a.steps.iter().any(|s| s.missing_layer));
}

#[test]
fn lying_media_types_are_read_by_magic() {
    let img = sample()
        .compression(Compression::Gzip)
        .media_type_override(0, "application/vnd.oci.image.layer.v1.tar");
    let a = analyse_bytes(&img.archive(Shape::OciArchive), false);
    check_numbers(&a);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("media type says plain tar but the blob is gzip")),
        "{:?}",
        a.notes
    );
}

#[test]
fn missing_blob_is_one_clear_error() {
    let bytes = sample().archive(Shape::Docker25);
    // Drop one layer blob from the archive.
    let mut out = tar::Builder::new(Vec::new());
    let mut ar = tar::Archive::new(Cursor::new(&bytes));
    let victim = format!(
        "blobs/sha256/{}",
        sample().layer_digests()[2].trim_start_matches("sha256:")
    );
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == victim {
            continue;
        }
        let h = e.header().clone();
        out.append(&h, &mut e).unwrap();
    }
    let bytes = out.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.tar");
    std::fs::write(&path, bytes).unwrap();
    let err = source::read(
        &ImageRef::Archive(path),
        &ReadOptions::default(),
        &Progress::default(),
        &mut Null,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("broken.tar") && err.contains(&victim) && err.contains("no such file"),
        "{err}"
    );
    assert!(!err.contains('\n'));
}

struct Null;
impl Sink for Null {
    fn meta(&mut self, _: &ImageMeta) {}
    fn layer(&mut self, _: usize, _: LayerEntries, _: Option<u64>) {}
}

/// The archive minus one member.
fn without(bytes: &[u8], member: &str) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut ar = tar::Archive::new(Cursor::new(bytes));
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == member {
            continue;
        }
        let h = e.header().clone();
        out.append(&h, &mut e).unwrap();
    }
    out.into_inner().unwrap()
}

#[test]
fn absent_foreign_layer_is_noted_not_fatal() {
    let img = image()
        .step(
            "ADD windows-base",
            layer().file("Windows/System32/big.dll", 1_000),
        )
        .step("RUN app", layer().file("app/x", 5))
        .compression(Compression::Gzip)
        .media_type_override(0, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
    let bytes = img.archive(Shape::OciArchive);
    let digest = first_layer_blob(&bytes);
    let bytes = without(&bytes, &digest);
    for stream in [false, true] {
        let a = analyse_bytes(&bytes, stream);
        assert_eq!(a.totals.stored_bytes, 5, "stream={stream}");
        assert!(
            a.notes.iter().any(|n| n.contains("foreign layer")),
            "{:?}",
            a.notes
        );
    }
}

/// The archive path of the first layer blob named by the image manifest.
fn first_layer_blob(bytes: &[u8]) -> String {
    let mut files = std::collections::HashMap::new();
    for e in tar::Archive::new(Cursor::new(bytes)).entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        files.insert(name, body);
    }
    let blob = |d: &str| files[&format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))].clone();
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let d = manifest["layers"][0]["digest"].as_str().unwrap();
    format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))
}
