#!/usr/bin/env bash
# Debian's Prometheus scrapes the agent for real: up == 1, and node and container series arrive.
source "$(dirname "$0")/lib/common.sh"
command -v prometheus >/dev/null || skip "prometheus not installed (apt-get install prometheus)"

aport=$(free_port)
pport=$(free_port)
cg=tidemark-it-$$
make_cgroup "$cg"
printf "collectors:\n  cgroup:\n    include: ['^/%s$']\n" "$cg" >"$WORK/agent.yaml"
start_agent "$aport" --interval 1s --config "$WORK/agent.yaml"
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tidemark
    static_configs:
      - targets: ['127.0.0.1:$aport']
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="127.0.0.1:$pport" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$pport/-/ready" 60

query() {
  curl -fsS "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"
}
ok=0
for ((i=0; i<60; i++)); do
  if query 'up{job="tidemark"} == 1' | grep -q '"value":\[[0-9.]*,"1"\]'; then ok=1; break; fi
  sleep 0.5
done
[[ $ok == 1 ]] || { query 'up'; curl -fsS "http://127.0.0.1:$pport/api/v1/targets"; fail "up != 1"; }
n=$(query 'count(node_cpu_seconds_total)' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
[[ "$n" -gt 0 ]] || fail "no node_cpu_seconds_total series in Prometheus"
# The test cgroup's series reach Prometheus with the id label (its sleeping process may have no
# memory charged on cgroup v1, so existence is what is checked).
c=0
for ((i=0; i<20; i++)); do
  c=$(query "count(container_cpu_usage_seconds_total{id=\"/$cg\",cpu=\"total\"}) + count(container_memory_usage_bytes{id=\"/$cg\"})" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
  [[ "$c" == 2 ]] && break
  sleep 0.5
done
[[ "$c" == 2 ]] || { query "{id=\"/$cg\"}" | head -c 2000; fail "the test cgroup's container series are not in Prometheus"; }
query 'scrape_samples_scraped{job="tidemark"}' >"$WORK/samples.json"
pass "Prometheus scrapes the agent: up == 1, $n node_cpu_seconds_total series; $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["result"][0]["value"][1])' "$WORK/samples.json") samples per scrape"
