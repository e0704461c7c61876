#!/usr/bin/env bash
# The agent writes every cycle into its store; after kill -9 the store verifies clean, holds the
# node's series, and the agent starts again on it.
source "$(dirname "$0")/lib/common.sh"

port=$(free_port)
data="$WORK/data-$port"
start_agent "$port" --interval 200ms
sleep 2
pid=${PIDS[0]}
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
PIDS=()

"$TIDEMARK" tsdb verify --data-dir "$data/tsdb" >"$WORK/verify.out" 2>&1 || { cat "$WORK/verify.out"; fail "store does not verify after kill -9"; }
grep -q "^OK: " "$WORK/verify.out" || { cat "$WORK/verify.out"; fail "verify did not say OK"; }
"$TIDEMARK" tsdb stats --data-dir "$data/tsdb" >"$WORK/stats.out"
series=$(awk '/^series:/{print $2}' "$WORK/stats.out")
samples=$(awk '/^samples:/{print $2}' "$WORK/stats.out")
[[ $series -gt 50 ]] || { cat "$WORK/stats.out"; fail "only $series series stored"; }
[[ $samples -gt $((series * 3)) ]] || { cat "$WORK/stats.out"; fail "only $samples samples for $series series"; }

# Same data dir again: the agent restores its head and keeps going.
start_agent "$port" --interval 200ms
grep -q "store $data/tsdb: $series series" "$WORK/agent-$port.log" || { cat "$WORK/agent-$port.log"; fail "restart did not restore $series series"; }
pass "after kill -9: verify OK, $series series, $samples samples; restart restored them"

# A damaged store (truncated MANIFEST) does not stop the agent: it serves /metrics without it,
# says so, and leaves the data for `tsdb verify`.
pid=${PIDS[0]}
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
PIDS=()
for m in "$data"/tsdb/MANIFEST-*; do truncate -s 10 "$m"; done
start_agent "$port" --interval 200ms
curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/damaged.txt"
grep -q '^tidemark_tsdb_open_failed 1$' "$WORK/damaged.txt" || fail "tidemark_tsdb_open_failed is not 1"
grep -q '^node_cpu_seconds_total' "$WORK/damaged.txt" || fail "collectors stopped with a damaged store"
grep -q 'runs WITHOUT its store' "$WORK/agent-$port.log" || fail "no error log about the damaged store"
if "$TIDEMARK" tsdb verify --data-dir "$data/tsdb" >"$WORK/verify2.out" 2>&1; then
  fail "verify says OK on a truncated MANIFEST"
fi
pass "damaged store: agent keeps serving without it (tidemark_tsdb_open_failed 1); verify fails: $(head -c 200 "$WORK/verify2.out")"
