//! `--verify`: every blob read is checked against the digest that names it.
//!
//! - metadata read by a content address (`blobs/<alg>/<hex>`, a legacy `<hex>.json` config):
//!   the bytes must hash to the name;
//! - a layer blob under `blobs/`: the stored bytes must hash to its name;
//! - every layer with a config `diff_id`: the uncompressed tar must hash to it.
//!
//! Only sha256 is checked (other algorithms are named in a note). Off by default: hashing makes
//! the indexer read every byte instead of seeking over file bodies.

use super::layout::{MetaStore, Platform, Resolved, resolve};
use crate::index::Indexed;
use sha2::{Digest, Sha256};

/// The digest a key's name promises: `blobs/sha256/<hex>` or a legacy `<hex>.json` config.
pub fn promised(key: &str) -> Option<String> {
    let hex = key
        .strip_prefix("blobs/sha256/")
        .or_else(|| key.strip_suffix(".json").filter(|h| !h.contains('/')))?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Checks an indexed layer found at `key` against its name and its `diff_id`.
pub fn check_layer(key: &str, diff_id: Option<&str>, ix: &Indexed) -> Result<(), String> {
    if let (Some(want), Some(got)) = (promised(key), ix.blob_digest.as_deref())
        && want != got
    {
        return Err(format!(
            "digest mismatch: the blob's sha256 is {got}, its name says {want} (--verify)"
        ));
    }
    if let (Some(want), Some(got)) = (diff_id, ix.tar_digest.as_deref())
        && want.starts_with("sha256:")
        && want != got
    {
        return Err(format!(
            "digest mismatch: the uncompressed layer's sha256 is {got}, the config's diff_id is {want} (--verify)"
        ));
    }
    Ok(())
}

/// A metadata store whose content-addressed files must hash to their names.
struct Verifying<'a>(&'a mut dyn MetaStore);

impl MetaStore for Verifying<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let bytes = self.0.get(key)?;
        if let (Some(b), Some(want)) = (&bytes, promised(key)) {
            let got = sha256(b);
            if got != want {
                return Err(format!(
                    "{key}: digest mismatch: its sha256 is {got}, its name says {want} (--verify)"
                ));
            }
        }
        Ok(bytes)
    }
    fn has(&mut self, key: &str) -> bool {
        self.0.has(key)
    }
}

/// [`resolve`], checking metadata digests when `verify` is set.
pub fn resolve_checked(
    store: &mut dyn MetaStore,
    wanted: Option<&Platform>,
    verify: bool,
) -> Result<Resolved, String> {
    if !verify {
        return resolve(store, wanted);
    }
    let mut r = resolve(&mut Verifying(store), wanted)?;
    let other: Vec<&str> = r
        .layers
        .iter()
        .filter_map(|l| l.key.strip_prefix("blobs/"))
        .filter(|k| !k.starts_with("sha256/"))
        .collect();
    if !other.is_empty() {
        let n = other.len();
        r.meta.notes.push(format!(
            "--verify checks sha256 only; {n} layer(s) use another digest algorithm"
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_promise_a_digest() {
        let h = "a".repeat(64);
        assert_eq!(
            promised(&format!("blobs/sha256/{h}")),
            Some(format!("sha256:{h}"))
        );
        assert_eq!(promised(&format!("{h}.json")), Some(format!("sha256:{h}")));
        assert_eq!(promised(&format!("x/{h}.json")), None);
        assert_eq!(promised("abc/layer.tar"), None);
        assert_eq!(promised("blobs/sha512/abc"), None);
    }
}
