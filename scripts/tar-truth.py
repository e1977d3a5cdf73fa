#!/usr/bin/env python3
"""tar-truth.py: independent oracle for dsize's byte accounting.

Usage: scripts/tar-truth.py [--files] [--json] [--image N] ARCHIVE

ARCHIVE is one of
  * a `docker save` tar, legacy (manifest.json -> <id>/layer.tar) or the
    Docker 25+ OCI-style one (manifest.json and/or index.json -> blobs/sha256/..),
  * an OCI image-layout archive (skopeo oci-archive:, index.json only),
  * an OCI image-layout directory.
Layer blobs may be uncompressed, gzip or zstd (zstd via the `zstd` binary
when the python `zstandard` module is missing).

Definitions (the ones dsize's tests assert):
  layer bytes  sum of sizes of regular-file entries of one layer tar
               (hard links, symlinks, dirs, devices and whiteouts count 0)
  stored       sum of layer bytes over all layers
  visible      regular files present in the final merged filesystem, each
               inode (hard-link group) counted once
  wasted       stored - visible
Merging follows the OCI layer spec: `.wh.NAME` deletes NAME from lower
layers, `.wh..wh..opq` in DIR hides everything lower layers had below DIR,
and a non-directory replacing a directory hides the lower subtree.
Only the Python standard library is used.
"""
import argparse
import gzip
import io
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile

WH = ".wh."
OPQ = ".wh..wh..opq"


# ---------------------------------------------------------------- sources
class Source:
    """Read named members from a tar archive or a directory."""

    def __init__(self, path):
        self.path = path
        self.is_dir = os.path.isdir(path)
        if not self.is_dir:
            self.tar = tarfile.open(path, "r:*")
            self.members = {}
            for m in self.tar.getmembers():
                self.members[norm(m.name)] = m

    def has(self, name):
        name = norm(name)
        if self.is_dir:
            return os.path.isfile(os.path.join(self.path, name))
        return name in self.members

    def read(self, name):
        name = norm(name)
        if self.is_dir:
            with open(os.path.join(self.path, name), "rb") as f:
                return f.read()
        m = self.members[name]
        while m.islnk() or m.issym():  # docker save may symlink duplicate layers
            target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(m.name), m.linkname)
            m = self.members[norm(target)]
        return self.tar.extractfile(m).read()


def norm(name):
    name = posixpath.normpath("/" + name).lstrip("/")
    return name


def decompress(blob):
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob), "gzip"
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard  # type: ignore

            return zstandard.ZstdDecompressor().decompressobj().decompress(blob), "zstd"
        except ImportError:
            if not shutil.which("zstd"):
                sys.exit("tar-truth: zstd layer but neither python zstandard nor the zstd binary")
            out = subprocess.run(["zstd", "-dc"], input=blob, stdout=subprocess.PIPE, check=True)
            return out.stdout, "zstd"
    return blob, "none"


def blob_name(digest):
    algo, hexd = digest.split(":", 1)
    return "blobs/%s/%s" % (algo, hexd)


def find_images(src):
    """Return a list of (label, format, [layer member names])."""
    images = []
    if src.has("manifest.json"):
        fmt = "docker-save"
        manifest = json.loads(src.read("manifest.json"))
        for entry in manifest:
            layers = entry["Layers"]
            sub = "legacy <id>/layer.tar" if all(l.endswith("/layer.tar") for l in layers) else "blobs/sha256 (OCI-style)"
            label = ",".join(entry.get("RepoTags") or []) or entry["Config"]
            images.append((label, "%s, %s" % (fmt, sub), layers))
        return images
    if src.has("index.json"):
        index = json.loads(src.read("index.json"))
        stack = list(index.get("manifests", []))
        while stack:
            desc = stack.pop(0)
            doc = json.loads(src.read(blob_name(desc["digest"])))
            if "manifests" in doc:  # nested index
                stack.extend(doc["manifests"])
                continue
            ann = desc.get("annotations", {})
            label = ann.get("io.containerd.image.name") or ann.get("org.opencontainers.image.ref.name") or desc["digest"]
            layers = [blob_name(l["digest"]) for l in doc["layers"]]
            images.append((label, "oci-layout", layers))
        return images
    sys.exit("tar-truth: %s has neither manifest.json nor index.json" % src.path)


# ---------------------------------------------------------------- analysis
def analyse(src, layer_names):
    # final filesystem: path -> dict(kind, size, inode, layer)
    fs = {}
    layers = []
    next_inode = [0]

    def new_inode():
        next_inode[0] += 1
        return next_inode[0]

    def drop_subtree(d):
        prefix = d + "/"
        for p in [p for p in fs if p.startswith(prefix)]:
            del fs[p]

    for li, name in enumerate(layer_names):
        data, comp = decompress(src.read(name))
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        entries = []
        for m in tf.getmembers():
            p = norm(m.name)
            if p == "":
                continue
            entries.append((p, m))
        info = {"index": li, "member": name, "compression": comp, "regular_bytes": 0,
                "regular_files": 0, "hardlinks": 0, "whiteouts": [], "opaque_dirs": [],
                "files": []}
        # 1. whiteouts act on lower layers only
        for p, m in entries:
            base = posixpath.basename(p)
            parent = posixpath.dirname(p)
            if base == OPQ:
                info["opaque_dirs"].append(parent)
                drop_subtree(parent)
            elif base.startswith(WH):
                target = posixpath.join(parent, base[len(WH):])
                info["whiteouts"].append(target)
                fs.pop(target, None)
                drop_subtree(target)
        # 2. add this layer's entries in tar order
        for p, m in entries:
            base = posixpath.basename(p)
            if base.startswith(WH):
                continue
            old = fs.get(p)
            if old is not None and old["kind"] == "dir" and not m.isdir():
                drop_subtree(p)
            if m.isreg():
                ino = new_inode()
                fs[p] = {"kind": "reg", "size": m.size, "inode": ino, "layer": li, "owner": li}
                info["regular_bytes"] += m.size
                info["regular_files"] += 1
                info["files"].append((p, m.size))
            elif m.islnk():
                t = norm(m.linkname)
                info["hardlinks"] += 1
                tgt = fs.get(t)
                ino = tgt["inode"] if tgt else new_inode()
                size = tgt["size"] if tgt else 0
                own = tgt["owner"] if tgt else li
                fs[p] = {"kind": "reg", "size": size, "inode": ino, "layer": li, "owner": own, "link": t}
                info["files"].append((p, "hardlink->" + t))
            elif m.isdir():
                if old is None or old["kind"] != "dir":
                    fs[p] = {"kind": "dir", "size": 0, "inode": None, "layer": li}
            else:
                fs[p] = {"kind": "sym" if m.issym() else "other", "size": 0, "inode": None, "layer": li}
        layers.append(info)

    # visible bytes: distinct inodes present at the end
    seen = {}
    for p, e in fs.items():
        if e["kind"] == "reg" and e["inode"] not in seen:
            seen[e["inode"]] = e
    visible = sum(e["size"] for e in seen.values())
    # visible bytes per owning layer (the layer whose regular entry carried the bytes)
    per_layer_visible = [0] * len(layers)
    for e in seen.values():
        per_layer_visible[e["owner"]] += e["size"]
    for li, info in enumerate(layers):
        info["visible_bytes"] = per_layer_visible[li]
        info["wasted_bytes"] = info["regular_bytes"] - per_layer_visible[li]
    stored = sum(l["regular_bytes"] for l in layers)
    final = sorted((p, e["size"], e["layer"], e.get("link")) for p, e in fs.items() if e["kind"] == "reg")
    return {"layers": layers, "stored": stored, "visible": visible, "wasted": stored - visible,
            "final_files": final}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("archive")
    ap.add_argument("--files", action="store_true", help="list every regular file per layer and the final tree")
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    ap.add_argument("--image", type=int, default=None, help="only the N-th image (0-based) of the archive")
    a = ap.parse_args()
    src = Source(a.archive)
    images = find_images(src)
    if a.image is not None:
        images = [images[a.image]]
    out = []
    for label, fmt, layer_names in images:
        r = analyse(src, layer_names)
        r["image"] = label
        r["format"] = fmt
        out.append(r)
    if a.json:
        for r in out:
            for l in r["layers"]:
                if not a.files:
                    del l["files"]
            if not a.files:
                del r["final_files"]
        print(json.dumps(out, indent=1))
        return
    for r in out:
        print("image %s  [%s]" % (r["image"], r["format"]))
        for l in r["layers"]:
            extra = ""
            if l["whiteouts"]:
                extra += "  whiteouts=" + ",".join(l["whiteouts"])
            if l["opaque_dirs"]:
                extra += "  opaque=" + ",".join(l["opaque_dirs"])
            print("  layer %d  bytes=%d files=%d hardlinks=%d visible=%d wasted=%d  %s(%s)%s" % (
                l["index"], l["regular_bytes"], l["regular_files"], l["hardlinks"],
                l["visible_bytes"], l["wasted_bytes"], l["member"], l["compression"], extra))
            if a.files:
                for p, s in l["files"]:
                    print("      %10s  /%s" % (s, p))
        print("  stored=%d visible=%d wasted=%d" % (r["stored"], r["visible"], r["wasted"]))
        if a.files:
            print("  final regular files (size, from layer):")
            for p, s, li, link in r["final_files"]:
                print("      %10d  L%d  /%s%s" % (s, li, p, "  (hard link to /%s)" % link if link else ""))


if __name__ == "__main__":
    main()
