#!/usr/bin/env bash
# Make a Docker engine answer on this machine, idempotently (CI's .ci/run and developers call it).
#  - installs docker.io / busybox-static from apt if dockerd or busybox is missing (tests build images
#    from busybox-static because no registry can be reached);
#  - starts dockerd without a bridge or iptables (these machines cannot create either), so containers use
#    `--network none` or `--network host`;
#  - waits up to 60 s for `docker info`; on failure prints the tail of the dockerd log and exits non-zero.
#
# Environment (defaults are what CI uses; the overrides exist for test/pidsLimit/startDocker.test.ts):
#   DOCKERD_LOG=/var/log/dockerd.log  DOCKERD_PIDFILE=/var/run/docker.pid  DOCKERD_WAIT_SECONDS=60
#   BUSYBOX=/bin/busybox
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
PIDFILE=${DOCKERD_PIDFILE:-/var/run/docker.pid}
WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}
BUSYBOX=${BUSYBOX:-/bin/busybox}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if docker info >/dev/null 2>&1; then
  echo "start-docker: engine already answering ($(docker info --format '{{.ServerVersion}}'))"
  # Still make sure the image tooling is there.
  if [ ! -x "$BUSYBOX" ]; then
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static
  fi
  exit 0
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x "$BUSYBOX" ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  echo "start-docker: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# A daemon killed with its session leaves its pid file behind, and dockerd refuses to start while the file
# names a live process. Remove it only when that process is gone (or is not dockerd: the pid was reused).
if [ -f "$PIDFILE" ]; then
  oldpid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$oldpid" ] && [ "$(cat /proc/"$oldpid"/comm 2>/dev/null || true)" = dockerd ]; then
    echo "start-docker: dockerd (pid $oldpid) is running but not answering yet; waiting for it"
  else
    echo "start-docker: removing stale $PIDFILE (pid '${oldpid}')"
    as_root rm -f "$PIDFILE"
    oldpid=
  fi
fi

if [ -z "${oldpid:-}" ]; then
  echo "start-docker: starting dockerd (log: $LOG)"
  # setsid + nohup: the daemon must outlive this script and the shell that ran it.
  as_root setsid nohup dockerd --bridge=none --iptables=false --pidfile "$PIDFILE" >>"$LOG" 2>&1 </dev/null &
fi

# Poll often: `docker info` fails fast while the daemon starts, and callers are waiting on us.
SECONDS=0
while ((SECONDS < WAIT_SECONDS)); do
  if docker info >/dev/null 2>&1; then
    echo "start-docker: engine answering after ${SECONDS}s ($(docker info --format '{{.ServerVersion}}'))"
    exit 0
  fi
  sleep 0.2
done

echo "start-docker: dockerd did not answer within ${WAIT_SECONDS}s; last lines of $LOG:" >&2
tail -n 40 "$LOG" >&2 || true
exit 1
