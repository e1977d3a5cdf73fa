//! Manifests: missing or invalid metadata, index loops and depth, history mismatches, digests
//! (`--verify`) and unknown media types.

use crate::rawtar::Tar;
use crate::run::{archive, docker_archive, docker_archive_with, notes, outer, sha, totals};
use serde_json::{Value, json};

const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// An OCI archive written member by member: blobs are named by their sha256.
#[derive(Default)]
struct Oci {
    blobs: Vec<(String, Vec<u8>)>,
}

impl Oci {
    fn blob(&mut self, bytes: &[u8]) -> String {
        let d = format!("sha256:{}", sha(bytes));
        if !self.blobs.iter().any(|(k, _)| *k == d) {
            self.blobs.push((d.clone(), bytes.to_vec()));
        }
        d
    }
    fn json(&mut self, v: &Value) -> String {
        self.blob(&serde_json::to_vec(v).unwrap())
    }
    fn desc(&self, media_type: &str, digest: &str) -> Value {
        let size = self
            .blobs
            .iter()
            .find(|(k, _)| k == digest)
            .map_or(0, |(_, b)| b.len());
        json!({"mediaType": media_type, "digest": digest, "size": size})
    }
    /// A config and manifest over `layers` (media type, bytes); returns the manifest digest.
    fn image(&mut self, layers: &[(&str, Vec<u8>)]) -> String {
        let diff_ids: Vec<String> = layers.iter().map(|(_, b)| format!("sha256:{}", sha(b))).collect();
        let history: Vec<Value> = (0..layers.len())
            .map(|i| json!({"created_by": format!("/bin/sh -c step{i}")}))
            .collect();
        let cfg = self.json(&json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history
        }));
        let mut descs = Vec::new();
        for (mt, b) in layers {
            let d = self.blob(b);
            descs.push(self.desc(mt, &d));
        }
        let config = self.desc("application/vnd.oci.image.config.v1+json", &cfg);
        self.json(&json!({"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config, "layers": descs}))
    }
    fn archive(&self, index: &Value) -> Vec<u8> {
        let index = serde_json::to_vec(index).unwrap();
        let mut members: Vec<(String, Vec<u8>)> = vec![
            ("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            ("index.json".into(), index),
        ];
        for (d, b) in &self.blobs {
            members.push((format!("blobs/sha256/{}", &d[7..]), b.clone()));
        }
        let refs: Vec<(&str, &[u8])> = members.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        outer(&refs)
    }
}

fn index_of(descs: Vec<Value>) -> Value {
    json!({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": descs})
}

fn small_layer() -> Vec<u8> {
    Tar::new().file("app/a", 100).file("app/b", 23).finish()
}

#[test]
fn manifests_missing_manifest_json() {
    let bytes = outer(&[("l0/layer.tar", &small_layer()), ("config.json", b"{}")]);
    let e = archive(&bytes, &[]).error();
    assert!(
        e.contains("not an image archive") && e.contains("manifest.json"),
        "{e}"
    );
}

#[test]
fn manifests_invalid_manifest_json() {
    for (body, want) in [
        (&b"{not json"[..], "manifest.json is not valid JSON"),
        (b"{\"Config\": 1}", "manifest.json is not valid JSON"),
        (b"[]", "manifest.json lists no image"),
        (
            b"[{\"Config\": \"c.json\", \"Layers\": [7]}]",
            "manifest.json is not valid JSON",
        ),
    ] {
        let bytes = outer(&[("l0/layer.tar", &small_layer()), ("manifest.json", body)]);
        let e = archive(&bytes, &[]).error();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn manifests_pointing_at_missing_blobs() {
    let cfg = br#"{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}"#;
    let manifest = br#"[{"Config":"c.json","Layers":["gone/layer.tar"]}]"#;
    let bytes = outer(&[("c.json", cfg), ("manifest.json", manifest)]);
    let e = archive(&bytes, &[]).error();
    assert!(e.contains("gone/layer.tar") && e.contains("no such file"), "{e}");
    let manifest = br#"[{"Config":"missing.json","Layers":[]}]"#;
    let e = archive(&outer(&[("manifest.json", manifest)]), &[]).error();
    assert!(e.contains("missing.json") && e.contains("no such file"), "{e}");
    // OCI: the index names a manifest blob the archive lacks.
    let mut o = Oci::default();
    let m = o.image(&[(MT_TAR, small_layer())]);
    let mut desc = o.desc(MT_MANIFEST, &m);
    desc["digest"] = json!(format!("sha256:{}", "0".repeat(64)));
    let e = archive(&o.archive(&index_of(vec![desc])), &[]).error();
    assert!(e.contains("0000000000") && e.contains("no blobs/sha256/"), "{e}");
}

/// An index blob that lists `children` (index descriptors by digest).
fn nested(o: &mut Oci, children: &[String]) -> String {
    let descs: Vec<Value> = children.iter().map(|c| o.desc(MT_INDEX, c)).collect();
    o.json(&index_of(descs))
}

#[test]
fn manifests_index_that_loops() {
    // index.json -> X, and X lists itself: X's digest would have to be known before X exists,
    // so the loop is made by naming a blob whose content is index.json's own text.
    let self_digest = format!("sha256:{}", "5".repeat(64));
    let looping = index_of(vec![
        json!({"mediaType": MT_INDEX, "digest": self_digest, "size": 1}),
    ]);
    let mut o = Oci::default();
    let bytes = serde_json::to_vec(&looping).unwrap();
    o.blobs.push((self_digest.clone(), bytes));
    let e = archive(&o.archive(&looping), &[]).error();
    assert!(e.contains("loop"), "{e}");
}

#[test]
fn manifests_index_100_levels_deep() {
    let mut o = Oci::default();
    let m = o.image(&[(MT_TAR, small_layer())]);
    let desc = o.desc(MT_MANIFEST, &m);
    let mut top = o.json(&index_of(vec![desc]));
    for _ in 0..99 {
        top = nested(&mut o, &[top]);
    }
    let root = index_of(vec![o.desc(MT_INDEX, &top)]);
    let e = archive(&o.archive(&root), &[]).error();
    assert!(e.contains("nest more than 16 levels"), "{e}");
}

#[test]
fn manifests_index_fan_out_is_not_exponential() {
    // Each level lists the next one 40 times: 40^5 paths to one manifest.
    let mut o = Oci::default();
    let m = o.image(&[(MT_TAR, small_layer())]);
    let desc = o.desc(MT_MANIFEST, &m);
    let mut level = o.json(&index_of(vec![desc]));
    for _ in 0..5 {
        level = nested(&mut o, &vec![level; 40]);
    }
    let root = index_of(vec![o.desc(MT_INDEX, &level)]);
    let r = archive(&o.archive(&root), &[]).report();
    assert_eq!(totals(&r), (123, 123, 0));
}

#[test]
fn manifests_config_that_is_not_json() {
    let layer = small_layer();
    let manifest = br#"[{"Config":"c.json","Layers":["l0/layer.tar"]}]"#;
    let bytes = outer(&[
        ("l0/layer.tar", &layer),
        ("c.json", b"\x00\x01binary"),
        ("manifest.json", manifest),
    ]);
    let e = archive(&bytes, &[]).error();
    assert!(e.contains("config c.json is not valid JSON"), "{e}");
    let bytes = outer(&[
        ("l0/layer.tar", &layer),
        ("c.json", b"[1,2,3]"),
        ("manifest.json", manifest),
    ]);
    let e = archive(&bytes, &[]).error();
    assert!(e.contains("config c.json is not valid JSON"), "{e}");
}

#[test]
fn manifests_history_longer_or_shorter_than_the_layers() {
    let l0 = Tar::new().file("a", 10).finish();
    let l1 = Tar::new().file("a", 20).finish();
    // Longer: five non-empty entries for two layers.
    let h: Vec<Value> = (0..5)
        .map(|i| json!({"created_by": format!("RUN s{i}")}))
        .collect();
    let r = archive(&docker_archive_with(&[l0.clone(), l1.clone()], json!(h)), &[]).report();
    assert_eq!(totals(&r), (30, 20, 10));
    let layers = r["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    assert_eq!(layers.iter().filter(|l| l["missingLayer"] == true).count(), 3);
    // Shorter: one entry for two layers; the second layer gets a step without history.
    let h = json!([{"created_by": "RUN only"}]);
    let r = archive(&docker_archive_with(&[l0.clone(), l1.clone()], h), &[]).report();
    assert_eq!(totals(&r), (30, 20, 10));
    assert_eq!(r["layers"].as_array().unwrap().len(), 2);
    assert_eq!(r["layers"][1]["createdBy"], Value::Null);
    // None at all (docker import), and only empty entries.
    for h in [json!([]), json!([{"created_by": "ENV A=1", "empty_layer": true}])] {
        let r = archive(&docker_archive_with(&[l0.clone(), l1.clone()], h), &[]).report();
        assert_eq!(totals(&r), (30, 20, 10));
    }
    // Not an array: the config is invalid.
    let e = archive(&docker_archive_with(&[l0, l1], json!("nope")), &[]).error();
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn manifests_digest_mismatch_is_found_with_verify() {
    let layer = small_layer();
    let mut o = Oci::default();
    let m = o.image(&[(MT_TAR, layer.clone())]);
    let root = index_of(vec![o.desc(MT_MANIFEST, &m)]);
    let good = o.archive(&root);
    let r = archive(&good, &["--verify"]).report();
    assert_eq!(totals(&r), (123, 123, 0));
    // Tamper with one byte of a file body: same size, same structure, another digest.
    let at = good
        .windows(100)
        .position(|w| w.iter().all(|b| *b == b'x'))
        .unwrap();
    let mut bad = good.clone();
    bad[at] = b'y';
    let r = archive(&bad, &[]).report();
    assert_eq!(totals(&r), (123, 123, 0), "without --verify nothing is hashed");
    let e = archive(&bad, &["--verify"]).error();
    assert!(
        e.contains("layer 0 (blobs/sha256/") && e.contains("digest mismatch"),
        "{e}"
    );
    // A tampered config blob.
    let cfg_at = good.windows(7).position(|w| w == b"\"amd64\"").unwrap();
    let mut bad = good.clone();
    bad[cfg_at + 1] = b'A';
    let e = archive(&bad, &["--verify"]).error();
    assert!(
        e.contains("blobs/sha256/") && e.contains("digest mismatch"),
        "{e}"
    );
    // Legacy docker save: only the config's diff_id names the layer.
    let good = docker_archive(&[layer]);
    assert!(matches!(
        archive(&good, &["--verify"]),
        crate::run::Got::Report(_)
    ));
    let at = good
        .windows(100)
        .position(|w| w.iter().all(|b| *b == b'x'))
        .unwrap();
    let mut bad = good;
    bad[at] = b'y';
    let e = archive(&bad, &["--verify"]).error();
    assert!(
        e.contains("layer 0 (l0/layer.tar)") && e.contains("diff_id"),
        "{e}"
    );
}

#[test]
fn manifests_unknown_media_types_are_skipped_with_a_note() {
    let mut o = Oci::default();
    let known = Tar::new().file("k", 5).finish();
    let m = o.image(&[
        (MT_TAR, known),
        ("application/vnd.example.unknown", b"whatever".to_vec()),
    ]);
    let artifact = o.json(&json!({"schemaVersion": 2, "mediaType": "application/vnd.example.artifact+json"}));
    let root = index_of(vec![
        o.desc("application/vnd.example.artifact+json", &artifact),
        o.desc(MT_MANIFEST, &m),
    ]);
    let r = archive(&o.archive(&root), &[]).report();
    assert_eq!(totals(&r), (5, 5, 0));
    let n = notes(&r);
    assert!(
        n.contains("unknown media type \"application/vnd.example.unknown\""),
        "{n}"
    );
    assert!(n.contains("application/vnd.example.artifact+json"), "{n}");
}

#[test]
fn manifests_many_json_files_stay_within_the_metadata_budget() {
    use crate::run::{Scratch, Stdin, check_resources, error_line, json_report, run_in};
    // 100 MiB of JSON blobs before the image's own config: a stream keeps 64 MiB of them at most.
    let junk: Vec<u8> = format!("{{\"a\":\"{}\"}}", "x".repeat((1 << 20) - 10)).into_bytes();
    let names: Vec<String> = (0..100).map(|i| format!("junk/{i:03}.json")).collect();
    let layer = small_layer();
    let cfg = serde_json::to_vec(&json!({
        "os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(&layer))]},
    }))
    .unwrap();
    let manifest = br#"[{"Config":"config.json","Layers":["l0/layer.tar"]}]"#;
    let mut members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), junk.as_slice())).collect();
    members.extend([
        ("l0/layer.tar", &layer[..]),
        ("config.json", &cfg),
        ("manifest.json", manifest),
    ]);
    let s = Scratch::new();
    let p = s.input("many.tar", &outer(&members));
    let o = run_in(&s, &[p.clone().into(), "--json".into(), "-".into()], Stdin::Null);
    check_resources(&s, &o, None, "file");
    assert_eq!(
        totals(&json_report(&o, "file")),
        (123, 123, 0),
        "a file reads it again"
    );
    let o = run_in(&s, &["-".into(), "--json".into(), "-".into()], Stdin::File(p));
    check_resources(&s, &o, None, "stream");
    let e = error_line(&o, "stream");
    assert!(
        e.contains("config.json was not kept") && e.contains("64 MiB"),
        "{e}"
    );
}

#[test]
fn manifests_with_too_many_layers_are_refused() {
    // 20,000 references to one small layer: refused before any indexing.
    let layer = small_layer();
    let names: Vec<&str> = vec!["l0/layer.tar"; 20_000];
    let manifest = serde_json::to_vec(&json!([{"Config": "c.json", "Layers": names}])).unwrap();
    let cfg = br#"{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}"#;
    let bytes = outer(&[
        ("l0/layer.tar", &layer),
        ("c.json", cfg),
        ("manifest.json", &manifest),
    ]);
    let e = archive(&bytes, &[]).error();
    assert!(e.contains("20000 layers") && e.contains("at most 10000"), "{e}");
}
