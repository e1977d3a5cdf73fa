#!/usr/bin/env bash
# Convert a `docker save` tar into the other archive formats dsize reads:
#   OUTDIR/NAME-oci-gzip.tar   OCI image-layout archive, gzip layers
#   OUTDIR/NAME-oci-zstd.tar   OCI image-layout archive, zstd layers
#   OUTDIR/NAME-oci-layout/    OCI image-layout directory, gzip layers
# where NAME is the archive's file name without .tar. Outputs are for tests;
# do not commit them. Needs skopeo (Debian: apt-get install skopeo; 1.9.3 here).
#
# Commands checked with skopeo 1.9.3 (Debian bookworm):
#   skopeo copy docker-archive:X.tar oci-archive:Y.tar:REF                       gzip layers (default)
#   skopeo copy --dest-compress-format zstd docker-archive:X.tar oci-archive:Y.tar:REF   zstd layers
#   skopeo copy docker-archive:X.tar oci:DIR:REF                                 layout dir, gzip
# REF lands in index.json as annotation org.opencontainers.image.ref.name.
# The layer tars are only compressed: uncompressed they are the docker layer tars
# byte for byte (rootfs.diff_ids are unchanged), so scripts/tar-truth.py gives
# identical stored/visible/wasted numbers for all four forms. The config is
# rewritten as an OCI config (new digest), and the history is kept.
# Not working: `--dest-decompress` to get an uncompressed OCI layout (the layers
# stay gzip with skopeo 1.9.3).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 DOCKER-SAVE.tar OUTDIR" >&2
  exit 2
fi
archive="$(realpath "$1")"
outdir="$2"
[ -f "$archive" ] || { echo "convert-formats: no such file: $archive" >&2; exit 1; }
if ! command -v skopeo >/dev/null 2>&1; then
  echo "convert-formats: installing skopeo" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >&2
fi
mkdir -p "$outdir"
outdir="$(realpath "$outdir")"
name="$(basename "$archive" .tar)"

# The image reference: the first RepoTag of the docker-save manifest, else NAME.
ref="$(python3 - "$archive" "$name" <<'PY'
import json, sys, tarfile
try:
    with tarfile.open(sys.argv[1]) as t:
        tags = json.load(t.extractfile("manifest.json"))[0].get("RepoTags") or []
    print(tags[0] if tags else sys.argv[2])
except Exception:
    print(sys.argv[2])
PY
)"

# skopeo adds to an existing oci: layout instead of replacing it: start clean.
rm -rf "$outdir/$name-oci-gzip.tar" "$outdir/$name-oci-zstd.tar" "$outdir/$name-oci-layout"

skopeo copy -q "docker-archive:$archive" "oci-archive:$outdir/$name-oci-gzip.tar:$ref"
skopeo copy -q --dest-compress-format zstd \
  "docker-archive:$archive" "oci-archive:$outdir/$name-oci-zstd.tar:$ref"
skopeo copy -q "docker-archive:$archive" "oci:$outdir/$name-oci-layout:$ref"

echo "convert-formats: $ref -> $outdir/{$name-oci-gzip.tar,$name-oci-zstd.tar,$name-oci-layout/}"
