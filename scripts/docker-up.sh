#!/usr/bin/env bash
# Make sure a Docker daemon answers `docker info`.
# Idempotent: if one already answers, do nothing. Otherwise install Debian's
# docker.io if dockerd is missing, start
#   dockerd --storage-driver=vfs --iptables=false --bridge=none
# in the background (log in a temp file, pid in $DSIZE_DOCKERD_PID) and wait
# until it answers. scripts/docker-down.sh stops only that daemon.
set -euo pipefail

PIDFILE="${DSIZE_DOCKERD_PID:-${TMPDIR:-/tmp}/dsize-dockerd.pid}"
TIMEOUT="${DSIZE_DOCKERD_TIMEOUT:-60}"

if docker info >/dev/null 2>&1; then
  echo "docker-up: daemon already answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?')); nothing to do"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-up: dockerd missing, installing Debian's docker.io" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io >&2 || {
    echo "docker-up: ERROR: could not install docker.io" >&2; exit 1; }
fi
if ! command -v docker >/dev/null 2>&1; then
  echo "docker-up: ERROR: no docker client on PATH" >&2; exit 1
fi

# A stale pid file pointing at a live dockerd that does not answer: leave it alone
# and report, rather than start a second daemon on the same socket.
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  pid="$(cat "$PIDFILE")"
  echo "docker-up: dockerd pid $pid (from $PIDFILE) is running; waiting for it" >&2
else
  LOG="$(mktemp "${TMPDIR:-/tmp}/dsize-dockerd.XXXXXX.log")"
  # setsid: the daemon must not die with this shell or its process group.
  $SUDO setsid dockerd --storage-driver=vfs --iptables=false --bridge=none \
    >"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
fi

for _ in $(seq 1 "$TIMEOUT"); do
  if docker info >/dev/null 2>&1; then
    echo "docker-up: started dockerd pid $pid (vfs, no iptables, no bridge), log ${LOG:-?}, pid file $PIDFILE"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "docker-up: ERROR: dockerd exited; last log lines:" >&2
    tail -n 20 "${LOG:-/dev/null}" >&2 || true
    rm -f "$PIDFILE"
    exit 1
  fi
  sleep 1
done
echo "docker-up: ERROR: dockerd pid $pid did not answer within ${TIMEOUT}s; log ${LOG:-?}" >&2
tail -n 20 "${LOG:-/dev/null}" >&2 || true
exit 1
