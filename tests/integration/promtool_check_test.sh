#!/usr/bin/env bash
# The agent's /metrics on this real host passes `promtool check metrics` in text 0.0.4; the
# OpenMetrics variant is well-formed (ends with # EOF, no blank lines).
# The one lint promtool 2.42 reports is "snake_case not camelCase" on node_exporter's own names
# (node_memory_MemTotal_bytes, node_netstat_Tcp_RetransSegs, ...): node_exporter 1.5's output gets
# the same findings, and renaming would break the dashboards and alerts users already run. Likewise
# cAdvisor's counter container_memory_failcnt has no _total suffix. Any
# other finding, or that lint on any other name, fails the test.
source "$(dirname "$0")/lib/common.sh"
command -v promtool >/dev/null || skip "promtool not installed (apt-get install prometheus)"

port=$(free_port)
cg=tidemark-it-$$
make_cgroup "$cg"
printf "collectors:\n  cgroup:\n    include: ['^/%s$']\n" "$cg" >"$WORK/agent.yaml"
start_agent "$port" --interval 1s --config "$WORK/agent.yaml"
sleep 1.2  # let a second cycle run so counters have moved
curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/metrics.txt"
[[ -s "$WORK/metrics.txt" ]] || fail "empty /metrics"
series=$(grep -vc '^#' "$WORK/metrics.txt")
# promtool exits 1 on lint findings as on parse errors; every line it prints is judged below.
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1 || true
compat_re="^node_(memory|netstat|vmstat)_[A-Za-z0-9_]+ metric names should be written in 'snake_case' not 'camelCase'\$|^container_memory_failcnt counter metrics should have \"_total\" suffix\$"
if grep -Ev "$compat_re" "$WORK/promtool.out" >"$WORK/promtool.other"; then
  cat "$WORK/promtool.other"; fail "promtool check metrics reported findings"
fi
compat=$(wc -l <"$WORK/promtool.out")
for name in "container_cpu_usage_seconds_total{.*id=\"/$cg\"" "container_memory_usage_bytes{.*id=\"/$cg\"" \
            node_cpu_seconds_total node_memory_MemTotal_bytes node_netstat_Tcp_RetransSegs \
            tidemark_collector_success process_resident_memory_bytes; do
  grep -q "^$name" "$WORK/metrics.txt" || fail "$name missing from /metrics"
done

curl -fsS -H 'Accept: application/openmetrics-text;version=1.0.0' \
  -D "$WORK/om.headers" "http://127.0.0.1:$port/metrics" >"$WORK/metrics.om"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$WORK/om.headers" \
  || fail "OpenMetrics content type not negotiated"
[[ "$(tail -n1 "$WORK/metrics.om")" == "# EOF" ]] || fail "OpenMetrics output does not end with # EOF"
if grep -qn '^$' "$WORK/metrics.om"; then fail "OpenMetrics output has a blank line"; fi
pass "promtool check metrics: no findings on $series series but $compat lints on node_exporter/cAdvisor-compatible names; OpenMetrics well-formed"
