#!/usr/bin/env bash
# Rebuild the example images my-app:v1, v2, v3 with a real `docker build`
# (classic builder) on dsize-base:busybox and save them to
#   assets/my-app-v1.tar  assets/my-app-v2.tar  assets/my-app-v3.tar
# The Dockerfiles and the committed part of the build context live in
# scripts/assets-src/. The rest of the context (data.bin and a .git/ directory,
# which git cannot commit inside a repository) is generated here with fixed
# sizes, zero content and fixed mtimes, so file contents and byte counts are
# deterministic. Expected numbers: scripts/assets-src/EXPECTED.md, checked
# against the saved tars by scripts/tar-truth.py at the end of this script.
#
# Env: DSIZE_ASSETS_OUT (default assets/), DSIZE_ASSETS_CACHE=1 to allow the
# build cache (default: --no-cache).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
src="$here/assets-src"
out="${DSIZE_ASSETS_OUT:-$repo/assets}"
mkdir -p "$out"

"$here/docker-up.sh"
"$here/base-image.sh"

ctx="$(mktemp -d "${TMPDIR:-/tmp}/dsize-ctx.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT

# ---- the build context (deliberately no .dockerignore: .git ends up in v1/v2)
cp "$src/context/main.py" "$src/context/main-v2.py" "$src/context/requirements.txt" "$ctx/"
zeros() { mkdir -p "$(dirname "$1")"; head -c "$2" /dev/zero >"$1"; }
zeros "$ctx/data.bin" 20000
mkdir -p "$ctx/.git/refs/heads"
printf 'ref: refs/heads/main\n' >"$ctx/.git/HEAD"
printf '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n' >"$ctx/.git/config"
zeros "$ctx/.git/index" 1200
zeros "$ctx/.git/objects/pack/pack-5f3c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39.pack" 30000
zeros "$ctx/.git/objects/pack/pack-5f3c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39.idx" 3000
zeros "$ctx/.git/objects/3b/18e512dba79e4c8300dd08aeb37f8e728b8dad" 700
zeros "$ctx/.git/objects/8a/b686eafeb1f44702738c8b0f24f2567c36da6d" 400
printf '5f3c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39\n' >"$ctx/.git/refs/heads/main"
find "$ctx" -type d -exec chmod 0755 {} +
find "$ctx" -type f -exec chmod 0644 {} +
find "$ctx" -exec touch -h -d '2000-01-01 00:00:00Z' {} +

cache=--no-cache
[ "${DSIZE_ASSETS_CACHE:-0}" = 1 ] && cache=

for v in v1 v2 v3; do
  log="$(mktemp "${TMPDIR:-/tmp}/dsize-build-$v.XXXXXX.log")"
  echo "make-assets: building my-app:$v (log $log)"
  # -f outside the context: the classic builder does not copy it into /app.
  if ! DOCKER_BUILDKIT=0 docker build $cache --rm --force-rm \
       -f "$src/Dockerfile.$v" -t "my-app:$v" "$ctx" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "make-assets: ERROR: docker build my-app:$v failed" >&2
    exit 1
  fi
  rm -f "$out/my-app-$v.tar"
  docker save -o "$out/my-app-$v.tar" "my-app:$v"
  chmod 0644 "$out/my-app-$v.tar"
  echo "make-assets: wrote $out/my-app-$v.tar ($(wc -c <"$out/my-app-$v.tar") bytes)"
done

for v in v1 v2 v3; do
  python3 "$here/tar-truth.py" "$out/my-app-$v.tar" | tail -n 1 | sed "s/^ */make-assets: my-app:$v /"
done
