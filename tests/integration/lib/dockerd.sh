#!/usr/bin/env bash
# dockerd.sh start|stop|status — a private dockerd for integration tests.
#
# start: if a daemon already answers on $DOCKER_HOST_SOCK, reuse it (prints "dockerd: reusing ...").
#        Otherwise start Debian's dockerd with networking off (--iptables=false --bridge=none) and its
#        own data-root/exec-root/pidfile, wait until `docker info` answers (TIDEMARK_DOCKERD_TIMEOUT,
#        default 60 s) and print "dockerd: started pid N". Idempotent.
# stop:  stops the daemon only when this script started it (its pidfile names a live dockerd);
#        otherwise does nothing. Idempotent.
# Needs root. Environment overrides: TIDEMARK_DOCKERD_STATE (default /var/lib/tidemark-dockerd),
# DOCKERD (default /usr/sbin/dockerd), DOCKER (default /usr/bin/docker, Debian's client).
set -euo pipefail

STATE="${TIDEMARK_DOCKERD_STATE:-/var/lib/tidemark-dockerd}"
EXEC_ROOT="${TIDEMARK_DOCKERD_EXEC_ROOT:-/run/tidemark-dockerd}"
SOCK="${DOCKER_HOST_SOCK:-/var/run/docker.sock}"
DOCKERD="${DOCKERD:-/usr/sbin/dockerd}"
DOCKER="${DOCKER:-/usr/bin/docker}"
TIMEOUT="${TIDEMARK_DOCKERD_TIMEOUT:-60}"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"

log() { echo "dockerd: $*"; }
die() { echo "dockerd: $*" >&2; exit 1; }

answers() { timeout 10 "$DOCKER" -H "unix://$SOCK" info >/dev/null 2>&1; }

our_pid() {
  # Prints the pid from our pidfile when it names a live dockerd process.
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/comm" && "$(cat "/proc/$pid/comm")" == "dockerd" ]] || return 1
  echo "$pid"
}

start() {
  [[ "$(id -u)" == 0 ]] || die "needs root"
  [[ -x "$DOCKERD" ]] || die "$DOCKERD not found (apt-get install docker.io)"
  if answers; then
    if pid="$(our_pid)"; then
      log "already running pid $pid (started by this script)"
    else
      log "reusing the daemon already answering on $SOCK"
    fi
    return 0
  fi
  if pid="$(our_pid)"; then
    # Ours but not answering yet (still starting, or wedged): wait for it below.
    log "waiting for pid $pid started earlier"
  else
    mkdir -p "$STATE/data" "$EXEC_ROOT"
    rm -f "$PIDFILE"
    # setsid + nohup: the daemon outlives the calling test process and its session.
    setsid nohup "$DOCKERD" \
      --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
      --data-root "$STATE/data" --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
      -H "unix://$SOCK" >"$LOG" 2>&1 </dev/null &
    pid=$!
  fi
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    if answers; then
      log "started pid $pid (data-root $STATE/data, log $LOG)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG" >&2 || true
      die "dockerd exited during start-up (log $LOG)"
    fi
    sleep 0.5
  done
  tail -n 20 "$LOG" >&2 || true
  die "dockerd did not answer within ${TIMEOUT}s (log $LOG)"
}

stop() {
  local pid
  if ! pid="$(our_pid)"; then
    log "nothing to stop (no daemon started by this script)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  log "stopped pid $pid"
}

status() {
  if pid="$(our_pid)"; then log "running pid $pid (started by this script)";
  elif answers; then log "a daemon not started by this script answers on $SOCK";
  else log "not running"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
