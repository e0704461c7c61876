#!/usr/bin/env bash
# Rule files in the agent: a broken group gives `tidemark check config` and the agent log a clear
# error with file, line and reason; the agent still starts, and the other groups (another file and
# the broken file's good group) keep evaluating: visible in /api/v1/rules and /api/v1/alerts, their
# recording output and ALERTS queryable from the store.
source "$(dirname "$0")/lib/common.sh"

mkdir -p "$WORK/rules"
cat >"$WORK/rules/good.yml" <<'YML'
groups:
  - name: good
    interval: 1s
    rules:
      - record: node:load1:copy
        expr: node_load1
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {owner: it}
        annotations: {summary: "value {{ $value }}"}
YML
cat >"$WORK/rules/mixed.yml" <<'YML'
groups:
  - name: survivor
    interval: 1s
    rules:
      - record: survivor:one
        expr: vector(1)
  - name: broken
    rules:
      - alert: Broken
        expr: rate(node_load1[5m]
YML
port=$(free_port)
cat >"$WORK/agent.yml" <<YML
alerting:
  rule_files: [rules/*.yml]
  evaluation_interval: 1s
YML

# check config: non-zero, file:line: reason
if "$TIDEMARK" check config "$WORK/agent.yml" >"$WORK/check.out" 2>"$WORK/check.err"; then
  fail "check config accepted a broken rule file"
fi
grep -q "mixed.yml:10: .*Broken.*could not parse expression" "$WORK/check.err" || { cat "$WORK/check.err"; fail "check config: no file:line: reason for the broken rule"; }
grep -q "good.yml" "$WORK/check.err" && fail "check config blames the good file"
pass "check config: $(head -1 "$WORK/check.err")"

start_agent "$port" --config "$WORK/agent.yml" --interval 500ms
grep -q "mixed.yml:10: .*could not parse expression" "$WORK/agent-$port.log" || { cat "$WORK/agent-$port.log"; fail "agent log: no file:line: reason"; }
ok=0
for ((i=0; i<50; i++)); do
  curl -fsS "http://127.0.0.1:$port/api/v1/rules" >"$WORK/rules.json"
  if python3 - "$WORK/rules.json" 2>"$WORK/rules.err" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "success"
g = {x["name"]: x for x in d["data"]["groups"]}
assert "broken" not in g, "the broken group was loaded"
for name in ("good", "survivor", "tidemark.builtin"):
    assert name in g, name + " missing"
for name in ("good", "survivor"):
    for r in g[name]["rules"]:
        assert r["health"] == "ok" and not r["lastEvaluation"].startswith("0001"), r
PY
  then ok=1; break; fi
  sleep 0.2
done
[[ $ok == 1 ]] || { cat "$WORK/rules.json"; fail "/api/v1/rules: the good groups are not evaluating"; }
curl -fsS "http://127.0.0.1:$port/api/v1/alerts" >"$WORK/alerts.json"
grep -q '"alertname":"AlwaysFiring"' "$WORK/alerts.json" || { cat "$WORK/alerts.json"; fail "AlwaysFiring not in /api/v1/alerts"; }
grep -q '"state":"firing"' "$WORK/alerts.json" || fail "AlwaysFiring is not firing"
query_has_result() {  # query_has_result EXPR: within 5 s the instant query returns a series
  for ((i=0; i<25; i++)); do
    curl -fsS "http://127.0.0.1:$port/api/v1/query" --data-urlencode "query=$1" >"$WORK/q.json"
    grep -q '"result":\[{' "$WORK/q.json" && return 0
    sleep 0.2
  done
  cat "$WORK/q.json"; return 1
}
query_has_result 'node:load1:copy' || fail "recording rule output not in the store"
query_has_result 'ALERTS{alertname="AlwaysFiring",alertstate="firing"}' || fail "ALERTS series not in the store"
# Not piped into grep -q: it exits at the first match, and curl's failed write fails the pipeline.
metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
grep -q '^tidemark_alerting_rule_load_errors [1-9]' <<<"$metrics" || fail "tidemark_alerting_rule_load_errors is not > 0"
pass "broken group skipped with file:line: reason; good, survivor and built-in groups evaluate; recording output and ALERTS stored"
