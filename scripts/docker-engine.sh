#!/usr/bin/env bash
# Starts or stops the Docker engine the engine suite (test/engine) runs against.
#
#   bash scripts/docker-engine.sh start   # installs docker.io when missing, starts dockerd, waits for it
#   bash scripts/docker-engine.sh stop    # stops the dockerd this script started
#   bash scripts/docker-engine.sh run CMD...  # start, run CMD with DOCKER_HOST set, stop (trap), CMD's exit code
#
# dockerd runs as root with its data and exec roots under one temporary directory, its own socket and
# pidfile there, so it never touches a system engine's state. `start` prints `DOCKER_HOST=unix://...` and
# writes it to $ZTA_ENGINE_DIR/env; the tests read DOCKER_HOST. It fails loudly (exit 1 with the log's
# tail) when the engine cannot start: the suite must fail, never skip, without an engine.
set -euo pipefail
ENGINE_DIR="${ZTA_ENGINE_DIR:-/tmp/zta-docker}"
PIDFILE="$ENGINE_DIR/dockerd.pid"
SOCKET="$ENGINE_DIR/docker.sock"
LOG="$ENGINE_DIR/dockerd.log"

start() {
  # dockerd, and what the stand-in images are assembled from (test/engine/standins.ts).
  missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io iptables)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  [ -x /usr/bin/python3.11 ] || missing+=(python3)
  [ -x /usr/bin/wget ] || missing+=(wget)
  [ -x /usr/bin/curl ] || missing+=(curl)
  command -v setcap >/dev/null 2>&1 || missing+=(libcap2-bin)
  [ -x /usr/sbin/syslog-ng ] || missing+=(syslog-ng-core)   # the audit collector's stand-in
  [ -e /usr/lib/syslog-ng/3.38/libhttp.so ] || missing+=(syslog-ng-mod-http)   # ...and its push to Loki
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing from Debian: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker-engine.sh: dockerd must run as root" >&2
    exit 1
  fi
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "dockerd already running (pid $(cat "$PIDFILE"))"
  else
    mkdir -p "$ENGINE_DIR/data" "$ENGINE_DIR/exec"
    rm -f "$PIDFILE" "$SOCKET"
    # Debian's defaults otherwise (overlay2, iptables on, userland proxy on), as a user's engine has them.
    # Auto-assigned subnets come from 10.213.0.0/16: with Docker's default pools (172.17-172.31/16) a
    # run that created many networks gets 172.31.0.0/16, which overlaps CloudflareTunnel's fixed origin
    # subnet 172.31.253.0/28 ("Pool overlaps"): a real collision on a busy engine, reported, not hidden.
    nohup dockerd \
      --data-root "$ENGINE_DIR/data" \
      --exec-root "$ENGINE_DIR/exec" \
      --pidfile "$PIDFILE" \
      --host "unix://$SOCKET" \
      --storage-driver overlay2 \
      --default-address-pool base=10.213.0.0/16,size=24 \
      >"$LOG" 2>&1 </dev/null &
  fi
  # Bounded wait: 60 x 0.5 s.
  for _ in $(seq 1 60); do
    # The Engine API itself (not the docker CLI, whose version differs between machines).
    if [ "$(curl -s --max-time 2 --unix-socket "$SOCKET" http://engine/_ping 2>/dev/null)" = "OK" ]; then
      echo "DOCKER_HOST=unix://$SOCKET" >"$ENGINE_DIR/env"
      version="$(curl -s --max-time 2 --unix-socket "$SOCKET" http://engine/version | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -n1)"
      echo "dockerd $version ready: DOCKER_HOST=unix://$SOCKET"
      return 0
    fi
    sleep 0.5
  done
  echo "docker-engine.sh: dockerd did not answer within 30 s; last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2 || true
  stop || true
  exit 1
}

stop() {
  if [ -f "$PIDFILE" ]; then
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      # Bounded: 40 x 0.5 s, then SIGKILL.
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
    fi
    rm -f "$PIDFILE"
    echo "dockerd stopped"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  run)
    shift
    [ "$#" -gt 0 ] || { echo "usage: $0 run CMD..." >&2; exit 2; }
    trap stop EXIT
    start
    DOCKER_HOST="unix://$SOCKET" "$@"
    ;;
  *) echo "usage: $0 start|stop|run CMD..." >&2; exit 2 ;;
esac
