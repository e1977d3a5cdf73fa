//! The JSON report: its own versioned types (documented in the README, schema version
//! [`SCHEMA_VERSION`]), built from an analysis and readable back (tests round-trip them).
//!
//! Paths keep their raw name; a name that is not UTF-8 is written lossily (`\u{fffd}`) and the
//! exact bytes go in `pathHex`.

use super::ci::CiOutcome;
use crate::model::Analysis;
use crate::model::leftovers::RULES;
use serde::{Deserialize, Serialize};
use serde_json::ser::{Formatter, PrettyFormatter};
use std::io;

/// Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub image: Image,
    pub layers: Vec<Layer>,
    pub waste: Vec<WasteItem>,
    pub leftovers: Vec<LeftoverItem>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ci: Option<CiOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub name: String,
    pub format: String,
    pub platform: Option<String>,
    pub config_digest: Option<String>,
    pub repo_tags: Vec<String>,
    /// Visible bytes: regular files in the final filesystem, hard-linked files once.
    pub size_bytes: u64,
    /// Sum of layer sizes (what `docker image ls` shows).
    pub stored_bytes: u64,
    /// storedBytes − sizeBytes.
    pub wasted_bytes: u64,
    pub compressed_bytes: Option<u64>,
    /// sizeBytes / storedBytes (1.0 for an empty image).
    pub efficiency: f64,
    pub base_layers: usize,
    pub user_bytes: u64,
    pub user_wasted_bytes: u64,
    /// userWastedBytes / userBytes × 100.
    pub user_wasted_percent: f64,
    pub leftover_bytes: u64,
    /// Regular files (distinct contents) in the final filesystem.
    pub files: u64,
    /// Distinct paths any layer touched.
    pub paths: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
    /// Step index; `waste[].layer`, `waste[].hiddenBy` and `leftovers[].layer` refer to it.
    pub index: usize,
    /// Position among the image's layers, null for steps without a layer.
    pub diff_index: Option<usize>,
    /// diff_id (sha256 of the uncompressed tar) when the config has it, else the blob digest.
    pub digest: Option<String>,
    pub blob_digest: Option<String>,
    pub media_type: Option<String>,
    /// Bytes of regular files in the layer (hard links add 0).
    pub size_bytes: u64,
    pub compressed_bytes: Option<u64>,
    /// The instruction as a Dockerfile reads it.
    pub command: String,
    pub created_by: Option<String>,
    pub empty_layer: bool,
    pub missing_layer: bool,
    pub wasted_bytes: u64,
    pub hid_bytes: u64,
    pub leftover_bytes: u64,
    pub added: u64,
    pub added_bytes: u64,
    pub modified: u64,
    pub modified_bytes: u64,
    pub removed: u64,
    pub removed_bytes: u64,
    pub entries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasteItem {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_hex: Option<String>,
    pub bytes: u64,
    pub layer: u16,
    pub hidden_by: u16,
    /// `overwritten`, `deleted` or `opaque`.
    pub cause: String,
    /// The leftover category when the waste is a cache deleted in a later layer.
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftoverItem {
    pub category: String,
    pub label: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_hex: Option<String>,
    pub bytes: u64,
    pub files: u64,
    pub layer: u16,
    pub hint: String,
}

fn path_fields(a: &Analysis, node: crate::model::NodeId) -> (String, Option<String>) {
    let raw = a.tree.path(node);
    match String::from_utf8(raw) {
        Ok(s) => (s, None),
        Err(e) => {
            let raw = e.into_bytes();
            (
                String::from_utf8_lossy(&raw).into_owned(),
                Some(hex::encode(&raw)),
            )
        }
    }
}

/// Builds the report.
pub fn build(a: &Analysis, ci: Option<CiOutcome>) -> Report {
    let t = &a.totals;
    let layers = a
        .steps
        .iter()
        .map(|s| {
            let l = s.layer.as_ref();
            Layer {
                index: s.index,
                diff_index: l.map(|l| l.diff_index),
                digest: l.and_then(|l| l.meta.diff_id.clone().or_else(|| l.meta.blob_digest.clone())),
                blob_digest: l.and_then(|l| l.meta.blob_digest.clone()),
                media_type: l.and_then(|l| l.meta.media_type.clone()),
                size_bytes: s.size_bytes(),
                compressed_bytes: l.and_then(|l| l.meta.compressed_bytes),
                command: s.instruction.text.clone(),
                created_by: s.created_by.clone(),
                empty_layer: l.is_none(),
                missing_layer: s.missing_layer,
                wasted_bytes: s.wasted_bytes,
                hid_bytes: s.hid_bytes,
                leftover_bytes: s.leftover_bytes,
                added: s.changes.added,
                added_bytes: s.changes.added_bytes,
                modified: s.changes.modified,
                modified_bytes: s.changes.modified_bytes,
                removed: s.changes.removed,
                removed_bytes: s.changes.removed_bytes,
                entries: l.map_or(0, |l| l.entries),
            }
        })
        .collect();
    let waste = a
        .waste
        .iter()
        .zip(&a.waste_rules)
        .map(|(w, r)| {
            let (path, path_hex) = path_fields(a, w.node);
            WasteItem {
                path,
                path_hex,
                bytes: w.bytes,
                layer: w.layer,
                hidden_by: w.hidden_by,
                cause: w.cause.as_str().into(),
                category: r.map(|r| RULES[r].category.to_string()),
            }
        })
        .collect();
    let leftovers = a
        .leftovers
        .iter()
        .map(|l| {
            let (path, path_hex) = path_fields(a, l.node);
            LeftoverItem {
                category: l.category().into(),
                label: RULES[l.rule].label.into(),
                path,
                path_hex,
                bytes: l.bytes,
                files: l.files,
                layer: l.layer,
                hint: l.hint().into(),
            }
        })
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "dsize".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        image: Image {
            name: a.meta.name.clone(),
            format: a.meta.format.clone(),
            platform: a.meta.platform.clone(),
            config_digest: a.meta.config_digest.clone(),
            repo_tags: a.meta.repo_tags.clone(),
            size_bytes: t.visible_bytes,
            stored_bytes: t.stored_bytes,
            wasted_bytes: t.wasted_bytes,
            compressed_bytes: t.compressed_bytes,
            efficiency: t.efficiency,
            base_layers: t.base_layers,
            user_bytes: t.user_bytes,
            user_wasted_bytes: t.user_wasted_bytes,
            user_wasted_percent: t.user_wasted_percent,
            leftover_bytes: t.leftover_bytes,
            files: t.files,
            paths: t.paths,
        },
        layers,
        waste,
        leftovers,
        notes: a.notes.clone(),
        ci,
    }
}

/// The report as pretty JSON text with a trailing newline. Strings keep their exact value; C1
/// controls and DEL are written as `\u` escapes too (serde escapes only C0), so the text is safe
/// to print on a terminal.
pub fn to_string(a: &Analysis, ci: Option<CiOutcome>) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, TerminalSafe(PrettyFormatter::new()));
    let mut s = match build(a, ci).serialize(&mut ser) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(e) => format!("{{\"error\": \"{e}\"}}"),
    };
    s.push('\n');
    s
}

/// serde_json's pretty formatter, escaping U+007F..=U+009F inside strings.
struct TerminalSafe(PrettyFormatter<'static>);

impl Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if ('\u{7f}'..='\u{9f}').contains(&c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    // The rest is the pretty formatter's layout.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}
