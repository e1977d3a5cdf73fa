//! Resolution: from an archive's or layout's metadata files (manifest.json, index.json, blobs
//! holding manifests and configs) to the image's layer list and history.
//!
//! One resolver serves every transport: it only asks a [`MetaStore`] for small JSON files by
//! archive path. It follows nested indexes (with a depth limit and cycle check), skips
//! attestation manifests, picks a platform, and prefers manifests whose blobs are present.

use crate::index::Compression;
use crate::model::{HistoryEntry, ImageMeta, LayerMeta};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Small metadata files by archive path (`manifest.json`, `blobs/sha256/<hex>`).
pub trait MetaStore {
    /// The file's bytes, if the archive has it and it is metadata-sized.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Whether the archive has a file (layer or metadata) at `key`.
    fn has(&mut self, key: &str) -> bool;
}

impl MetaStore for HashMap<String, Vec<u8>> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(HashMap::get(self, key).cloned())
    }
    fn has(&mut self, key: &str) -> bool {
        self.contains_key(key)
    }
}

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).map(|v| v.to_string()),
            }),
            _ => Err(format!(
                "--platform wants os/arch[/variant], e.g. linux/amd64, not {s:?}"
            )),
        }
    }

    /// The platform this program runs on, in OCI terms.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Does `self` (what was asked) accept `other` (what the image says)? A missing variant on
    /// either side matches any variant.
    pub fn accepts(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct IndexOrManifest {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

#[derive(Debug, Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Config {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    rootfs: Option<RootFs>,
    #[serde(default)]
    history: Option<Vec<History>>,
}

#[derive(Debug, Default, Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct History {
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    empty_layer: bool,
}

/// One layer to index: where its blob sits and what the metadata claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// Archive path of the blob (`blobs/sha256/<hex>` or `<id>/layer.tar`).
    pub key: String,
    pub claimed: Option<Compression>,
    /// A foreign (non-distributable) layer the archive does not carry: read as empty.
    pub absent: bool,
}

/// The resolved image: metadata plus the layers to read, bottom to top.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub meta: ImageMeta,
    pub layers: Vec<LayerRef>,
}

/// How deep nested indexes may go.
const MAX_DEPTH: usize = 16;

/// `sha256:<hex>` -> `blobs/sha256/<hex>`, refusing anything that could leave `blobs/`.
pub fn blob_key(digest: &str) -> Result<String, String> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("invalid digest {digest:?}"))?;
    let ok_alg = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let ok_hex = !hex.is_empty()
        && hex
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
    if !ok_alg || !ok_hex {
        return Err(format!("invalid digest {digest:?}"));
    }
    Ok(format!("blobs/{alg}/{hex}"))
}

fn is_index(mt: &str) -> bool {
    mt == "application/vnd.oci.image.index.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// An image manifest (a missing media type is taken as one: some tools omit it).
fn is_manifest(mt: &str) -> bool {
    mt.is_empty()
        || mt == "application/vnd.oci.image.manifest.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.v2+json"
}

fn is_attestation(d: &Descriptor) -> bool {
    d.platform
        .as_ref()
        .is_some_and(|p| p.os == "unknown" || p.architecture == "unknown")
        || d.annotations
            .as_ref()
            .and_then(|a| a.get("vnd.docker.reference.type"))
            .is_some_and(|t| t == "attestation-manifest")
}

fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{what} is not valid JSON for its kind: {e}"))
}

/// Resolves the image in an archive or layout. `wanted` is `--platform`.
pub fn resolve(store: &mut dyn MetaStore, wanted: Option<&Platform>) -> Result<Resolved, String> {
    let r = if let Some(index) = store.get("index.json")? {
        resolve_oci(store, &index, wanted)?
    } else if let Some(manifest) = store.get("manifest.json")? {
        resolve_docker(store, &manifest, wanted)?
    } else {
        return Err(
            "not an image archive: it has neither manifest.json (docker save) nor index.json (OCI layout)"
                .into(),
        );
    };
    let (layers, history) = (r.layers.len(), r.meta.history.len());
    if layers > MAX_LAYERS || history > MAX_LAYERS {
        return Err(format!(
            "the image lists {layers} layers and {history} history entries; dsize reads at most {MAX_LAYERS} \
             (Docker itself stops near 128 layers)"
        ));
    }
    Ok(r)
}

/// Most layers (and history entries) an image may list.
pub const MAX_LAYERS: usize = 10_000;

/// A platform manifest found while walking indexes.
struct Candidate {
    desc: Descriptor,
    present: bool,
}

fn resolve_oci(
    store: &mut dyn MetaStore,
    index: &[u8],
    wanted: Option<&Platform>,
) -> Result<Resolved, String> {
    let root: IndexOrManifest = parse(index, "index.json")?;
    let mut walk = Walk::default();
    walk.collect(store, &root, "index.json", 0)?;
    let Walk {
        candidates,
        attestations,
        unknown,
        ..
    } = walk;
    let mut candidates = candidates;
    let mut notes = Vec::new();
    if attestations > 0 {
        notes.push(format!("skipped {attestations} attestation manifest(s)"));
    }
    for (mt, n) in unknown {
        notes.push(format!("skipped {n} manifest(s) of unknown media type {mt:?}"));
    }
    if candidates.is_empty() {
        return Err("index.json lists no image manifest".into());
    }
    let chosen = pick(store, &mut candidates, wanted, &mut notes)?;
    let key = blob_key(&chosen.digest)?;
    let bytes = store.get(&key)?.ok_or_else(|| {
        format!(
            "index.json points at manifest {} but the archive has no {key}",
            chosen.digest
        )
    })?;
    let manifest: IndexOrManifest = parse(&bytes, &key)?;
    let config_desc = manifest
        .config
        .ok_or_else(|| format!("{key} is not an image manifest (no config)"))?;
    let config_key = blob_key(&config_desc.digest)?;
    let config_bytes = store.get(&config_key)?.ok_or_else(|| {
        format!(
            "the manifest points at config {} but the archive has no {config_key}",
            config_desc.digest
        )
    })?;
    let config: Config = parse(&config_bytes, &format!("config {config_key}"))?;
    let mut layers = Vec::new();
    let mut metas = Vec::new();
    for d in manifest.layers.unwrap_or_default() {
        let claimed = Compression::from_media_type(&d.media_type);
        let is_layer = claimed.is_some() || d.media_type.is_empty();
        let lkey = blob_key(&d.digest)?;
        if !is_layer {
            notes.push(format!(
                "skipped a blob of unknown media type {:?} ({})",
                d.media_type, d.digest
            ));
            continue;
        }
        let absent = !store.has(&lkey)
            && (d.media_type.contains("foreign") || d.media_type.contains("nondistributable"));
        if absent {
            notes.push(format!(
                "foreign layer {} is not in the archive; it is shown empty",
                d.digest
            ));
        }
        layers.push(LayerRef {
            key: lkey,
            claimed,
            absent,
        });
        metas.push(LayerMeta {
            diff_id: None,
            blob_digest: Some(d.digest.clone()),
            media_type: Some(d.media_type.clone()),
            compressed_bytes: None,
        });
    }
    let tags = root
        .manifests
        .iter()
        .flatten()
        .filter_map(|d| d.annotations.as_ref())
        .filter_map(|a| {
            a.get("io.containerd.image.name")
                .or_else(|| a.get("org.opencontainers.image.ref.name"))
        })
        .cloned()
        .collect();
    Ok(finish(
        config,
        Some(config_desc.digest),
        layers,
        metas,
        tags,
        notes,
    ))
}

/// What walking the nested indexes found.
#[derive(Default)]
struct Walk {
    candidates: Vec<Candidate>,
    /// Digests already listed as candidates, and indexes already expanded: a manifest or index
    /// listed many times (at many levels) is visited once, so fan-out cannot explode.
    listed: HashSet<String>,
    expanded: HashSet<String>,
    /// The indexes from the root to the one being read, for loop detection.
    path: Vec<String>,
    attestations: usize,
    unknown: Vec<(String, usize)>,
}

impl Walk {
    fn collect(
        &mut self,
        store: &mut dyn MetaStore,
        index: &IndexOrManifest,
        name: &str,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("{name}: indexes nest more than {MAX_DEPTH} levels deep"));
        }
        for d in index.manifests.iter().flatten() {
            if is_attestation(d) {
                self.attestations += 1;
                continue;
            }
            let key = blob_key(&d.digest)?;
            if is_index(&d.media_type) {
                if self.path.contains(&d.digest) {
                    return Err(format!(
                        "{name}: the index {} refers to itself (a loop)",
                        d.digest
                    ));
                }
                if !self.expanded.insert(d.digest.clone()) {
                    continue;
                }
                let Some(bytes) = store.get(&key)? else {
                    continue;
                };
                let nested: IndexOrManifest = parse(&bytes, &key)?;
                self.path.push(d.digest.clone());
                self.collect(store, &nested, &key, depth + 1)?;
                self.path.pop();
            } else if !is_manifest(&d.media_type) {
                match self.unknown.iter_mut().find(|(mt, _)| *mt == d.media_type) {
                    Some((_, n)) => *n += 1,
                    None => self.unknown.push((d.media_type.clone(), 1)),
                }
            } else if self.listed.insert(d.digest.clone()) {
                let present = store.has(&key);
                self.candidates.push(Candidate {
                    desc: d.clone(),
                    present,
                });
            }
        }
        Ok(())
    }
}

/// Picks the manifest for `wanted`, else the host platform, else the only (or first present) one.
fn pick(
    store: &mut dyn MetaStore,
    candidates: &mut [Candidate],
    wanted: Option<&Platform>,
    notes: &mut Vec<String>,
) -> Result<Descriptor, String> {
    let _ = store;
    let list: Vec<String> = candidates
        .iter()
        .map(|c| {
            c.desc
                .platform
                .as_ref()
                .map_or("unspecified".into(), |p| p.to_string())
        })
        .collect();
    let matches = |p: &Platform, c: &Candidate| c.desc.platform.as_ref().is_none_or(|cp| p.accepts(cp));
    // Present blobs first: containerd exports may list platforms whose blobs they left out.
    candidates.sort_by_key(|c| !c.present);
    if let Some(w) = wanted {
        return candidates
            .iter()
            .find(|c| {
                c.desc.platform.as_ref().is_some_and(|cp| w.accepts(cp))
                    || (candidates.len() == 1 && matches(w, c))
            })
            .map(|c| c.desc.clone())
            .ok_or_else(|| format!("no image for platform {w} here; available: {}", list.join(", ")));
    }
    let host = Platform::host();
    if let Some(c) = candidates.iter().find(|c| c.present && matches(&host, c)) {
        if candidates.len() > 1 {
            notes.push(format!(
                "picked the host platform {host} of {}; use --platform to choose",
                list.join(", ")
            ));
        }
        return Ok(c.desc.clone());
    }
    let c = &candidates[0];
    if candidates.len() > 1 {
        notes.push(format!(
            "no image for the host platform {host}; picked {} of {}; use --platform to choose",
            c.desc
                .platform
                .as_ref()
                .map_or("the first".into(), |p| p.to_string()),
            list.join(", ")
        ));
    }
    Ok(c.desc.clone())
}

fn resolve_docker(
    store: &mut dyn MetaStore,
    manifest: &[u8],
    wanted: Option<&Platform>,
) -> Result<Resolved, String> {
    let entries: Vec<DockerManifestEntry> = parse(manifest, "manifest.json")?;
    let mut notes = Vec::new();
    let entry = entries.first().ok_or("manifest.json lists no image")?;
    if entries.len() > 1 {
        notes.push(format!(
            "the archive holds {} images; showing the first ({})",
            entries.len(),
            entry
                .repo_tags
                .as_ref()
                .and_then(|t| t.first())
                .map_or("untagged", |t| t.as_str())
        ));
    }
    let config_bytes = store.get(&entry.config)?.ok_or_else(|| {
        format!(
            "manifest.json points at config {} but the archive has no such file",
            entry.config
        )
    })?;
    let config: Config = parse(&config_bytes, &format!("config {}", entry.config))?;
    if let Some(w) = wanted {
        let have = Platform {
            os: config.os.clone().unwrap_or_default(),
            architecture: config.architecture.clone().unwrap_or_default(),
            variant: config.variant.clone(),
        };
        if !w.accepts(&have) {
            return Err(format!("the archive's image is {have}, not the requested {w}"));
        }
    }
    let config_digest = entry
        .config
        .strip_prefix("blobs/")
        .map(|r| r.replacen('/', ":", 1))
        .or_else(|| entry.config.strip_suffix(".json").map(|h| format!("sha256:{h}")));
    let mut layers = Vec::new();
    let mut metas = Vec::new();
    for path in &entry.layers {
        layers.push(LayerRef {
            key: path.clone(),
            claimed: None,
            absent: false,
        });
        metas.push(LayerMeta {
            diff_id: None,
            blob_digest: path.strip_prefix("blobs/").map(|r| r.replacen('/', ":", 1)),
            media_type: None,
            compressed_bytes: None,
        });
    }
    let tags = entry.repo_tags.clone().unwrap_or_default();
    Ok(finish(config, config_digest, layers, metas, tags, notes))
}

fn finish(
    config: Config,
    config_digest: Option<String>,
    layers: Vec<LayerRef>,
    mut metas: Vec<LayerMeta>,
    repo_tags: Vec<String>,
    mut notes: Vec<String>,
) -> Resolved {
    let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if diff_ids.len() == metas.len() {
        for (m, d) in metas.iter_mut().zip(diff_ids) {
            m.diff_id = Some(d);
        }
    } else {
        notes.push(format!(
            "the config lists {} diff_ids for {} layers; layer digests are the blob digests",
            diff_ids.len(),
            metas.len()
        ));
    }
    let platform = config.os.as_ref().map(|os| {
        Platform {
            os: os.clone(),
            architecture: config.architecture.clone().unwrap_or_default(),
            variant: config.variant.clone(),
        }
        .to_string()
    });
    let history = config
        .history
        .unwrap_or_default()
        .into_iter()
        .map(|h| HistoryEntry {
            created_by: h.created_by.unwrap_or_default(),
            comment: h.comment,
            empty_layer: h.empty_layer,
        })
        .collect();
    Resolved {
        meta: ImageMeta {
            name: String::new(),
            format: String::new(),
            platform,
            config_digest,
            repo_tags,
            history,
            layers: metas,
            notes,
        },
        layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_cannot_escape() {
        assert_eq!(blob_key("sha256:abc").unwrap(), "blobs/sha256/abc");
        assert!(blob_key("sha256:../../etc/passwd").is_err());
        assert!(blob_key("sha256/abc").is_err());
        assert!(blob_key("../x:abc").is_err());
    }

    #[test]
    fn platforms() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(p.accepts(&Platform::parse("linux/arm64").unwrap()));
        assert!(!p.accepts(&Platform::parse("linux/amd64").unwrap()));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("/amd64").is_err());
    }

    #[test]
    fn self_referencing_index_is_an_error() {
        let digest = "sha256:aaaa";
        let idx = format!(
            r#"{{"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{digest}","size":1}}]}}"#
        );
        let mut store: HashMap<String, Vec<u8>> = HashMap::new();
        store.insert("index.json".into(), idx.clone().into_bytes());
        store.insert("blobs/sha256/aaaa".into(), idx.into_bytes());
        let err = resolve(&mut store, None).unwrap_err();
        assert!(err.contains("loop"), "{err}");
    }
}
