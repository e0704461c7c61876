#!/usr/bin/env bash
# The agent's /metrics on this real host passes `promtool check metrics` with no findings, in
# text 0.0.4; the OpenMetrics variant is well-formed (ends with # EOF, no blank lines).
source "$(dirname "$0")/lib/common.sh"
command -v promtool >/dev/null || skip "promtool not installed (apt-get install prometheus)"

port=$(free_port)
start_agent "$port" --interval 1s
sleep 1.2  # let a second cycle run so counters have moved
curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/metrics.txt"
[[ -s "$WORK/metrics.txt" ]] || fail "empty /metrics"
series=$(grep -vc '^#' "$WORK/metrics.txt")
if ! promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1; then
  cat "$WORK/promtool.out"; fail "promtool check metrics exited non-zero"
fi
if [[ -s "$WORK/promtool.out" ]]; then
  cat "$WORK/promtool.out"; fail "promtool check metrics reported findings"
fi
for name in node_cpu_seconds_total node_memory_MemTotal_bytes node_netstat_Tcp_RetransSegs \
            tidemark_collector_success process_resident_memory_bytes; do
  grep -q "^$name" "$WORK/metrics.txt" || fail "$name missing from /metrics"
done

curl -fsS -H 'Accept: application/openmetrics-text;version=1.0.0' \
  -D "$WORK/om.headers" "http://127.0.0.1:$port/metrics" >"$WORK/metrics.om"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$WORK/om.headers" \
  || fail "OpenMetrics content type not negotiated"
[[ "$(tail -n1 "$WORK/metrics.om")" == "# EOF" ]] || fail "OpenMetrics output does not end with # EOF"
if grep -qn '^$' "$WORK/metrics.om"; then fail "OpenMetrics output has a blank line"; fi
pass "promtool check metrics clean on $series series; OpenMetrics well-formed"
