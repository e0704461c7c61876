#!/usr/bin/env bash
# Bad config, an unusable listen address or data dir: one clear line on stderr, exit code 2.
# SIGTERM: clean shutdown with exit code 0.
source "$(dirname "$0")/lib/common.sh"

expect_exit2() {
  local what=$1; shift
  set +e
  "$TIDEMARK" "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  set -e
  [[ $rc == 2 ]] || { cat "$WORK/err"; fail "$what: exit $rc, want 2"; }
  [[ $(wc -l <"$WORK/err") == 1 ]] || { cat "$WORK/err"; fail "$what: want exactly one line on stderr"; }
  echo "ok: $what -> $(cat "$WORK/err")"
}

printf 'listen: 127.0.0.1:1\nbogus: 1\n' >"$WORK/bad.yaml"
expect_exit2 "unknown key" agent --config "$WORK/bad.yaml" --data-dir "$WORK/d1"
grep -q "bad.yaml:2: bogus: unknown key" "$WORK/err" || fail "message must name file, line and key"
expect_exit2 "bad check config" check config "$WORK/bad.yaml"
expect_exit2 "bad interval" agent --interval fast --data-dir "$WORK/d1"
touch "$WORK/file"
expect_exit2 "data dir is a file" agent --data-dir "$WORK/file/sub" --listen 127.0.0.1:0

port=$(free_port)
start_agent "$port"
expect_exit2 "listen address in use" agent --listen "127.0.0.1:$port" --data-dir "$WORK/d2"
grep -q "cannot listen on 127.0.0.1:$port" "$WORK/err" || fail "message must name the address"

# Clean shutdown on SIGTERM.
pid=${PIDS[0]}
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
PIDS=()
[[ $rc == 0 ]] || fail "agent exited $rc on SIGTERM, want 0"
grep -q "tidemark stopped" "$WORK/agent-$port.log" || fail "no clean-shutdown log line"
pass "config/listen/data-dir errors exit 2 with one line; SIGTERM exits 0"
