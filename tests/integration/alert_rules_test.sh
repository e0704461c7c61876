#!/usr/bin/env bash
# Rule files in the agent: a broken group gives `tidemark check config` and the agent log a clear
# error with file, line and reason; the agent still starts, and the other groups (another file and
# the broken file's good group) keep evaluating: visible in /api/v1/rules and /api/v1/alerts, their
# recording output and ALERTS queryable from the store. Then the reloads Prometheus users rely on:
# SIGHUP and POST /-/reload re-read the rule files; a broken file keeps its previous version and
# /-/reload answers 500 naming it.
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
agent_pid=${PIDS[-1]}
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

# rules_have NAME...: within 10 s /api/v1/rules lists every named group (and "!NAME": not it).
rules_have() {
  for ((i=0; i<50; i++)); do
    curl -fsS "http://127.0.0.1:$port/api/v1/rules" >"$WORK/rules.json"
    python3 - "$WORK/rules.json" "$@" <<'PY' && return 0
import json, sys
g = {x["name"] for x in json.load(open(sys.argv[1]))["data"]["groups"]}
for want in sys.argv[2:]:
    assert (want[1:] not in g) if want.startswith("!") else (want in g), (want, g)
PY
    sleep 0.2
  done
  cat "$WORK/rules.json"; return 1
}
# SIGHUP: the fixed file's broken group and a new file's group load.
sed -i 's/rate(node_load1\[5m\]$/rate(node_load1[5m])/' "$WORK/rules/mixed.yml"
cat >"$WORK/rules/later.yml" <<'YML'
groups:
  - name: later
    interval: 1s
    rules:
      - record: later:one
        expr: vector(1)
YML
kill -HUP "$agent_pid"
rules_have good survivor broken later || fail "SIGHUP did not reload the rule files"
grep -q "received SIGHUP" "$WORK/agent-$port.log" || fail "SIGHUP not logged"
wait_metrics "http://127.0.0.1:$port" 5 '^tidemark_alerting_rule_load_errors 0' ||
  fail "load errors not reset after a good reload"
pass "SIGHUP reloaded the rule files: the fixed group and a new file evaluate"

# POST /-/reload with a broken file: 500 naming it; the file's previous groups stay.
printf 'groups:\n  - name: good\n    rules:\n      - alert: X\n        expr: sum(\n' >"$WORK/rules/good.yml"
code=$(curl -sS -o "$WORK/reload.out" -w '%{http_code}' -X POST "http://127.0.0.1:$port/-/reload")
[[ $code == 500 ]] || fail "POST /-/reload with a broken file answered $code: $(cat "$WORK/reload.out")"
grep -q "failed to reload: alerting: .*good.yml:5" "$WORK/reload.out" || fail "reload error does not name the file and line: $(cat "$WORK/reload.out")"
rules_have good survivor broken later || fail "the broken file's previous groups were dropped"
curl -fsS "http://127.0.0.1:$port/api/v1/rules" | python3 -c '
import json, sys
g = {x["name"]: x for x in json.load(sys.stdin)["data"]["groups"]}
assert [r["name"] for r in g["good"]["rules"]] == ["node:load1:copy", "AlwaysFiring"], g["good"]
' || fail "the good group is not its previous version"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/reload")
[[ $code == 405 ]] || fail "GET /-/reload answered $code, not 405"
pass "POST /-/reload: 500 naming good.yml:5, previous version kept; GET is 405"
