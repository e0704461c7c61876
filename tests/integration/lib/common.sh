# Shared helpers for the integration tests (sourced). Each test sets TIDEMARK (the binary) from
# its first argument and cleans up everything it starts on exit.
set -euo pipefail

TIDEMARK=${1:?usage: $0 PATH_TO_TIDEMARK_BINARY}
WORK=$(mktemp -d /tmp/tidemark-it.XXXXXX)
PIDS=()
CLEANUPS=()

cleanup() {
  local rc=$?
  local ci
  for ((ci=${#CLEANUPS[@]}-1; ci>=0; ci--)); do eval "${CLEANUPS[$ci]}" || true; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $rc -ne 0 ]]; then
    for f in "$WORK"/*.log; do [[ -f "$f" ]] && { echo "--- $f"; tail -30 "$f"; }; done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

# Exit code 77 marks a skip for ctest (SKIP_RETURN_CODE 77).
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL [seconds]: until the URL answers 200.
wait_http() {
  local url=$1 secs=${2:-30}
  for ((i=0; i<secs*10; i++)); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$url did not answer within ${secs}s"
}

# wait_for SECONDS COMMAND [ARGS...]: runs COMMAND (a function or program) every 0.1 s until it
# succeeds; returns 1 if it has not within SECONDS (at least; bash counts whole seconds).
wait_for() {
  local deadline=$((SECONDS + $1 + 1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# wait_metrics BASE_URL SECONDS REGEX...: polls BASE_URL/metrics until each extended REGEX
# matches a line, for up to SECONDS; METRICS holds the last page read (for the failure message).
# Self-metrics show the last collection cycle, so a change appears there a cycle or two later.
METRICS=""
metrics_match() {
  local re
  METRICS=$(curl -fsS --max-time 5 "$1/metrics" || true)  # Not piped into grep -q: pipefail.
  shift
  for re in "$@"; do grep -Eq -- "$re" <<<"$METRICS" || return 1; done
}
wait_metrics() {
  local url=$1 secs=$2
  shift 2
  wait_for "$secs" metrics_match "$url" "$@"
}

# start_agent PORT [flags...]: runs tidemark agent in the background, waits for /-/ready.
start_agent() {
  local port=$1; shift
  "$TIDEMARK" agent --listen "127.0.0.1:$port" --data-dir "$WORK/data-$port" "$@" \
    >"$WORK/agent-$port.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/-/ready" 30
}

# make_cgroup NAME: creates /NAME in every cgroup hierarchy of this host with one sleeping process
# in it (removed on exit). Echoes nothing; skips the test when not root.
make_cgroup() {
  local name=$1 root dirs=()
  [[ $(id -u) == 0 ]] || skip "needs root to create cgroups"
  sleep 100000 &
  local pid=$!
  PIDS+=($pid)
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    dirs=(/sys/fs/cgroup)
  else
    for root in /sys/fs/cgroup/*/; do
      [[ -L ${root%/} || ! -f $root/cgroup.procs ]] && continue
      dirs+=("${root%/}")
    done
  fi
  for root in "${dirs[@]}"; do
    mkdir -p "$root/$name"
    CLEANUPS+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null; for _n in 1 2 3 4 5 6 7 8 9 10; do rmdir '$root/$name' 2>/dev/null && break; sleep 0.1; done")
    # A v1 cpuset cgroup takes no task until it has cpus and mems (ENOSPC otherwise).
    if [[ -f $root/$name/cpuset.cpus ]]; then
      cat "$root/cpuset.cpus" >"$root/$name/cpuset.cpus"
      cat "$root/cpuset.mems" >"$root/$name/cpuset.mems"
    fi
    echo "$pid" >"$root/$name/cgroup.procs"
  done
}
