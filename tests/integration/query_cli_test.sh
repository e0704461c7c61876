#!/usr/bin/env bash
# `tidemark query` against a running agent and on its data dir after it stopped; the agent's
# /api/v1 answers byte for byte as Debian's Prometheus 2.42 does for data-independent queries
# (skipped when prometheus is not installed); a slow query does not hold up /metrics.
source "$(dirname "$0")/lib/common.sh"

port=$(free_port)
data="$WORK/data-$port"
# Alerting off: /api/v1/rules is compared with a Prometheus that has no rules.
echo 'alerting: {enabled: false}' >"$WORK/agent.yml"
start_agent "$port" --interval 200ms --no-ebpf --config "$WORK/agent.yml"
A="http://127.0.0.1:$port"

# Instant query over HTTP: an aligned table with the series, value and time.
for ((i=0; i<50; i++)); do
  "$TIDEMARK" query 'tidemark_collection_cycles_total' --server "$A" >"$WORK/t1" 2>"$WORK/e1" && \
    grep -q '^tidemark_collection_cycles_total ' "$WORK/t1" && break
  sleep 0.1
done
head -1 "$WORK/t1" | grep -Eq '^SERIES +VALUE +TIME$' || { cat "$WORK/t1" "$WORK/e1"; fail "no table header"; }
grep -Eq '^tidemark_collection_cycles_total +[0-9]+ +20[0-9-]+T[0-9:.]+Z$' "$WORK/t1" \
  || { cat "$WORK/t1"; fail "no cycles row"; }
pass "instant table: $(sed -n 2p "$WORK/t1")"

# --json prints the API's bytes; the Grafana health check.
out=$("$TIDEMARK" query '1+1' --time 4 --json --server "$A")
[[ $out == '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}' ]] || fail "1+1: $out"
# A range query: start + k*step <= end, one row per point.
"$TIDEMARK" query 'vector(1)' --start 1 --end 3 --step 0.5 --server "$A" >"$WORK/t2"
[[ $(($(wc -l <"$WORK/t2") - 1)) == 5 ]] || { cat "$WORK/t2"; fail "range: want 5 points"; }
# Over stored data, once the agent has collected for more than 2 s.
for ((i=0; i<100; i++)); do
  "$TIDEMARK" query 'tidemark_collection_cycles_total >= 15' --server "$A" | grep -q '^tidemark' && break
  sleep 0.1
done
"$TIDEMARK" query 'count(node_cpu_seconds_total) > 0' --start -2s --step 0.5 --server "$A" >"$WORK/t2"
rows=$(($(wc -l <"$WORK/t2") - 1))
[[ $rows -ge 4 && $rows -le 5 ]] || { cat "$WORK/t2"; fail "range: $rows rows, want 4 or 5"; }
pass "range query: $rows points"

# Bad input: one line on stderr, exit 2. Server-side parse errors too. Unreachable server: exit 1.
expect_rc() {
  local want=$1; shift
  set +e
  "$TIDEMARK" query "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  set -e
  [[ $rc == "$want" ]] || { cat "$WORK/out" "$WORK/err"; fail "query $*: exit $rc, want $want"; }
  [[ $(wc -l <"$WORK/err") == 1 ]] || { cat "$WORK/err"; fail "query $*: want one line on stderr"; }
  echo "ok: exit $want: $(cat "$WORK/err")"
}
expect_rc 2 'up' --time yesterday --server "$A"
expect_rc 2 'sum(rate(' --server "$A"
grep -q '1:10: parse error: unclosed left parenthesis' "$WORK/err" || fail "parse error text"
expect_rc 2 'up' --time 1 --start -1h --server "$A"
expect_rc 2 'up' --bogus
expect_rc 1 'up' --server "http://127.0.0.1:$(free_port)"

# A query that runs long must not hold up /metrics and /healthz: start one, then scrape.
big='count(count_over_time({__name__=~".+"}[1h])) + count(sum by (__name__) (rate({__name__=~".+"}[10m])))'
curl -sS -o /dev/null "$A/api/v1/query_range" --data-urlencode "query=$big" \
  --data-urlencode "start=$(($(date +%s) - 3600))" --data-urlencode "end=$(date +%s)" \
  --data-urlencode "step=1" &
slow=$!
curl -fsS -o /dev/null "$A/metrics" || fail "/metrics failed during a query"
curl -fsS -o /dev/null "$A/healthz" || fail "/healthz failed during a query"
wait "$slow" || true
metrics=$(curl -fsS "$A/metrics")  # Not piped into grep -q (pipefail: curl's write can fail).
grep -q 'tidemark_http_requests_total{code="[0-9]*",handler="/api/v1/query_range"}' <<<"$metrics" \
  || fail "queries are not counted by route"

# Byte-for-byte against Prometheus 2.42 for queries whose answer does not depend on data.
if command -v prometheus >/dev/null; then
  pport=$(free_port)
  printf 'global:\n  scrape_interval: 1m\n' >"$WORK/prometheus.yml"
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$pport" >"$WORK/prometheus.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$pport/-/ready" 60
  P="http://127.0.0.1:$pport"
  n=0
  compare() {  # METHOD PATH [curl args...]
    local method=$1 path=$2; shift 2
    local a p
    a=$(curl -sS -X "$method" -w ' %{http_code} %{content_type}' "$A$path" "$@")
    p=$(curl -sS -X "$method" -w ' %{http_code} %{content_type}' "$P$path" "$@")
    [[ $a == "$p" ]] || fail "$method $path $*: agent and Prometheus differ:
  agent:      $a
  prometheus: $p"
    n=$((n + 1))
  }
  for q in '1+1' '1e-7' 'vector(1e-7)' 'vector(1e21)' '-vector(5e-7)' 'vector(0.1+0.2)' \
           '"a<b>&c"' 'vector(0)/0' '-1/0' 'sum(rate(' '{a=""}' 'time()' 'up[5m' ''; do
    for t in 4 1435781451.05 1700000000.5 -1.5 2023-11-14T22:13:20.123Z abc 1_000 0x1p3 5. \
             -inf 1e19 0001-01-01T00:00:00Z; do
      compare GET /api/v1/query -G --data-urlencode "query=$q" --data-urlencode "time=$t"
    done
    compare POST /api/v1/query --data-urlencode "query=$q" --data-urlencode "time=4"
  done
  for args in 'start=1&end=5&step=1.5' 'start=0&end=11001&step=1' 'start=2&end=1&step=1' \
              'start=1&end=2&step=0' 'start=1&end=2' 'start=x' 'start=1&end=2&step=1m' \
              'start=-1.5&end=0&step=0.5' 'start=1&end=2&step=-1s'; do
    compare GET "/api/v1/query_range?query=time()&$args"
  done
  compare GET '/api/v1/query_range?query=up%5B5m%5D&start=1&end=2&step=1'
  compare GET '/api/v1/query?query=1&timeout=abc'
  compare GET '/api/v1/series'
  compare GET '/api/v1/series' -G --data-urlencode 'match[]={a=""}'
  compare GET '/api/v1/series' -G --data-urlencode 'match[]=up[5m]'
  for m in 'up(' '' 'up{job="x"}[' 'up offset 5m' 'sum(up)'; do
    compare GET '/api/v1/labels' -G --data-urlencode "match[]=$m"
    compare GET '/api/v1/series' -G --data-urlencode "match[]=$m"
  done
  compare GET '/api/v1/label/x-y/values'
  compare GET '/api/v1/metadata?limit=abc'
  compare GET '/api/v1/rules'
  compare GET '/api/v1/query_exemplars?query=test&start=1&end=2'
  compare GET '/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(a)'
  for p in /api/v1/label/job/values /api/v1/metadata /api/v1/status/buildinfo /api/v1/rules; do
    compare POST "$p"
  done
  compare PUT '/api/v1/query?query=1'
  compare GET /api/v1/nope
  pass "$n responses identical to Prometheus 2.42's"
else
  echo "prometheus not installed: byte comparison skipped"
fi

# After the agent stops, the same data answers offline from its data dir.
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
"$TIDEMARK" query 'max(tidemark_collection_cycles_total)' --time now --data-dir "$data" >"$WORK/t3"
grep -Eq '^\{\} +[0-9]+ ' "$WORK/t3" || { cat "$WORK/t3"; fail "offline query"; }
"$TIDEMARK" query '1+1' --time 4 --json --data-dir "$data/tsdb" >"$WORK/t4"
[[ $(cat "$WORK/t4") == '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}' ]] \
  || fail "offline --json: $(cat "$WORK/t4")"
pass "offline query on the data dir: $(sed -n 2p "$WORK/t3")"
