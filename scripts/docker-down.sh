#!/usr/bin/env bash
# Stop the dockerd that scripts/docker-up.sh started (only that one, via its pid file).
set -euo pipefail

PIDFILE="${DSIZE_DOCKERD_PID:-${TMPDIR:-/tmp}/dsize-dockerd.pid}"

if [ ! -s "$PIDFILE" ]; then
  echo "docker-down: no pid file $PIDFILE; nothing started by docker-up, nothing to do"
  exit 0
fi
pid="$(cat "$PIDFILE")"
if ! kill -0 "$pid" 2>/dev/null; then
  echo "docker-down: dockerd pid $pid is not running; removing stale $PIDFILE"
  rm -f "$PIDFILE"
  exit 0
fi
if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
  echo "docker-down: ERROR: pid $pid from $PIDFILE is not dockerd; not touching it" >&2
  exit 1
fi
kill -TERM "$pid"
for _ in $(seq 1 30); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; echo "docker-down: stopped dockerd pid $pid"; exit 0; }
  sleep 1
done
echo "docker-down: ERROR: dockerd pid $pid still running after 30s (SIGTERM sent)" >&2
exit 1
