#!/usr/bin/env bash
# The agent scrapes an application's latency histogram (text 0.0.4 and OpenMetrics) into its
# store: histogram_quantile over rate() gives the p95 the histogram encodes, a target that is
# down has up 0, a series the target stops exposing is hidden at once by a staleness marker.
# With Prometheus 2.42 installed, it scrapes the same target and must agree.
source "$(dirname "$0")/lib/common.sh"

tport=$(free_port)
aport=$(free_port)
dport=$(free_port)  # Nothing listens here.

# The application: buckets grow by fixed steps once per second (50 ≤ 50ms, 80 ≤ 100ms, 96 ≤
# 250ms, 100 ≤ 500ms per step), so p95 of any rate() is 0.1 + 0.15 * 15/16 = 0.240625 s.
cat >"$WORK/app.py" <<'PY'
import sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
start = time.time()
state = {"extra": True}
def body(om):
    k = int(time.time() - start)
    out = ["# HELP http_request_duration_seconds Request latency.",
           "# TYPE http_request_duration_seconds histogram"]
    for le, n in (("0.05", 50), ("0.1", 80), ("0.25", 96), ("0.5", 100), ("+Inf", 100)):
        out.append('http_request_duration_seconds_bucket{le="%s"} %d' % (le, n * k))
    out.append("http_request_duration_seconds_sum %d" % (10 * k))
    out.append("http_request_duration_seconds_count %d" % (100 * k))
    if state["extra"]:
        out.append('temporary_gauge{job="app-says"} 7')
    if om:
        out.append("# EOF")
    return ("\n".join(out) + "\n").encode()
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/drop":
            state["extra"] = False
            b, ct = b"ok\n", "text/plain"
        elif self.path == "/text":
            b, ct = body(False), "text/plain; version=0.0.4"
        elif self.path == "/om" and "application/openmetrics-text" in self.headers.get("Accept", ""):
            b, ct = body(True), "application/openmetrics-text; version=1.0.0; charset=utf-8"
        else:
            self.send_response(404); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Type", ct)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$WORK/app.py" "$tport" >"$WORK/app.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$tport/text" 30

# The same jobs for the agent and for Prometheus.
JOBS="    - job_name: text
      metrics_path: /text
      static_configs: [{targets: ['127.0.0.1:$tport'], labels: {tier: web}}]
    - job_name: om
      metrics_path: /om
      static_configs: [{targets: ['127.0.0.1:$tport']}]
    - job_name: down
      static_configs: [{targets: ['127.0.0.1:$dport']}]"
printf 'collectors: {cgroup: {enabled: false}, node: {enabled: false}}\nscrape:\n  jobs:\n%s\n' \
  "$JOBS" >"$WORK/agent.yaml"
"$TIDEMARK" check config "$WORK/agent.yaml" >"$WORK/check.out" || { cat "$WORK/check.out"; fail "check config"; }
start_agent "$aport" --interval 1s --no-ebpf --config "$WORK/agent.yaml"

# q URL EXPR: the instant query's values (10 significant digits: the p95 of rates taken at
# different instants differs in the last bits), one "labels value" line per series, sorted.
q() {
  curl -fsS "$1/api/v1/query" --data-urlencode "query=$2" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
for s in sorted(r, key=lambda s: sorted(s["metric"].items())):
    m = ",".join("%s=%s" % kv for kv in sorted(s["metric"].items()))
    print(m, "%.10g" % float(s["value"][1]))'
}
A="http://127.0.0.1:$aport"
P95='histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[1m]))'

# Wait for a few scrapes with counts that moved: rate needs two samples, and while the counts
# have not moved histogram_quantile gives NaN (which Python prints as "nan").
got=""
for ((i=0; i<100; i++)); do
  got=$(q "$A" "$P95")
  [[ $(wc -l <<<"$got") == 2 && ${got,,} != *nan* ]] && break
  sleep 0.2
done
want=$'instance=127.0.0.1:'"$tport"$',job=om 0.240625\ninstance=127.0.0.1:'"$tport"$',job=text,tier=web 0.240625'
[[ "$got" == "$want" ]] || fail "p95: got [$got], want [$want]"
pass "p95 over rate() of the scraped histogram, text and OpenMetrics: 0.240625"

up=$(q "$A" 'up')
[[ $(grep -c . <<<"$up") == 3 ]] || fail "up: $up"
grep -q "instance=127.0.0.1:$dport,job=down 0" <<<"$up" || fail "down target: $up"
grep -q "job=text,tier=web 1" <<<"$up" || fail "text target: $up"
samples=$(q "$A" 'scrape_samples_scraped{job="text"}')
[[ $samples == *" 8" ]] || fail "scrape_samples_scraped: $samples"
# honor_labels false: the exposed job label is kept as exported_job.
g=$(q "$A" 'temporary_gauge{job="text"}')
[[ $g == "__name__=temporary_gauge,exported_job=app-says,instance=127.0.0.1:$tport,job=text,tier=web 7" ]] ||
  fail "temporary_gauge: [$g]"
pass "up: text 1, om 1, down 0; 8 samples per scrape; exported_job kept"

health=$(curl -fsS "$A/api/v1/targets" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
print(" ".join(sorted("%s=%s" % (t["scrapePool"], t["health"]) for t in d["activeTargets"])))')
[[ $health == "down=down om=up text=up" ]] || fail "/api/v1/targets: $health"

metrics=$(curl -fsS "$A/metrics")
grep -q '^tidemark_scrape_targets{job="down"} 1$' <<<"$metrics" || fail "no tidemark_scrape_targets"
grep -Eq '^tidemark_scrape_failures_total\{job="down"\} [1-9]' <<<"$metrics" ||
  fail "no failures counted for the down target"

# Optional comparison with Prometheus 2.42 on the same target.
if command -v prometheus >/dev/null; then
  pport=$(free_port)
  printf 'global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n%s\n' "$JOBS" \
    >"$WORK/prometheus.yml"
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$pport" >"$WORK/prometheus.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$pport/-/ready" 60
  PR="http://127.0.0.1:$pport"
  for ((i=0; i<100; i++)); do
    pgot=$(q "$PR" "$P95")
    [[ $(wc -l <<<"$pgot") == 2 && ${pgot,,} != *nan* ]] && break
    sleep 0.2
  done
  [[ "$pgot" == "$want" ]] || fail "Prometheus p95: [$pgot]"
  for e in 'up' 'scrape_samples_scraped' 'scrape_samples_post_metric_relabeling' \
    'count by (__name__, job, exported_job, tier, instance) ({job=~"text|om", instance!=""})'; do
    a=$(q "$A" "$e")
    p=$(q "$PR" "$e")
    [[ "$a" == "$p" ]] || fail "differs from Prometheus for $e:"$'\n'"tidemark: $a"$'\n'"prometheus: $p"
  done
  pass "Prometheus 2.42 on the same targets: same p95, up, scrape_samples_* and series"
fi

# The target stops exposing temporary_gauge: the next scrape writes a staleness marker, so an
# instant query no longer returns it (without waiting out the 5m lookback).
curl -fsS "http://127.0.0.1:$tport/drop" >/dev/null
sleep 2.5
g=$(q "$A" 'temporary_gauge')
[[ -z "$g" ]] || fail "temporary_gauge still returned after it vanished: $g"
[[ -n $(q "$A" 'count_over_time(temporary_gauge[10s])') ]] || fail "temporary_gauge has no samples at all"
grep -Eq '^tidemark_scrape_stale_markers_total [1-9]' <<<"$(curl -fsS "$A/metrics")" ||
  fail "no staleness markers counted"
pass "a vanished series is hidden at once by a staleness marker"
