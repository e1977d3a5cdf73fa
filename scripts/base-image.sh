#!/usr/bin/env bash
# Build the tiny base image dsize-base:busybox from Debian's busybox-static
# (no registry needed). Idempotent: does nothing if the image exists.
# The layer content is deterministic (fixed mtimes, owners and order), so the
# layer digest is stable; only the image config (import timestamp) varies.
set -euo pipefail

IMAGE="${DSIZE_BASE_IMAGE:-dsize-base:busybox}"
APPLETS="sh ls dirname basename mkdir rm cp dd ln cat echo touch mv head chmod true false sleep
env find wc stat du printf seq tr sed grep test id tail sort xargs"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base-image: $IMAGE already present; nothing to do"
  exit 0
fi

BUSYBOX=/bin/busybox
if ! [ -x "$BUSYBOX" ] || ! file -b "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    echo "base-image: installing busybox-static" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >&2
  fi
fi
# busybox-static ships /bin/busybox (usrmerge: also /usr/bin/busybox).
if ! [ -x "$BUSYBOX" ]; then BUSYBOX="$(command -v busybox)"; fi

root="$(mktemp -d "${TMPDIR:-/tmp}/dsize-base.XXXXXX")"
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/usr/bin" "$root/var"
cp "$BUSYBOX" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for a in $APPLETS; do ln -s busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime='2000-01-01 00:00:00Z' -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    - "$IMAGE" >/dev/null
echo "base-image: built $IMAGE ($(wc -c <"$BUSYBOX") byte busybox, $(echo $APPLETS | wc -w) applets)"
