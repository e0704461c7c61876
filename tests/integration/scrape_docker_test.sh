#!/usr/bin/env bash
# Docker-label discovery with a real dockerd: a container labelled prometheus.io/scrape=true (and
# port/path labels with both spellings) is found and scraped, with container/service labels; an
# unlabelled one is not; when the container goes away its series get end-of-run staleness markers.
source "$(dirname "$0")/lib/common.sh"
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
[[ $(id -u) == 0 ]] || skip "needs root (starts dockerd)"
command -v dockerd >/dev/null || skip "dockerd not installed (apt-get install docker.io)"

"$LIB/dockerd.sh" start >"$WORK/dockerd-start.log" 2>&1 || { cat "$WORK/dockerd-start.log"; fail "dockerd did not start"; }
if grep -q "started pid" "$WORK/dockerd-start.log"; then
  CLEANUPS+=("'$LIB/dockerd.sh' stop >/dev/null 2>&1")
fi
"$LIB/make_busybox_image.sh" >"$WORK/image.log" 2>&1 || { cat "$WORK/image.log"; fail "could not build the busybox image"; }
export PATH=/usr/bin:$PATH

# The test dockerd has no bridge: the containers share the host network, so discovery uses
# 127.0.0.1:<prometheus.io.port>.
cport=$(free_port)
oport=$(free_port)
name=tidemark-scrape-$$
other=tidemark-noscrape-$$
CLEANUPS+=("docker rm -f $name $other >/dev/null 2>&1")
www='mkdir -p /www/x && printf "# TYPE app_requests_total counter\napp_requests_total 42\n" >/www/x/metrics && exec httpd -f -p'
docker run -d --network host --name "$name" \
  --label prometheus.io.scrape=true --label prometheus.io.port="$cport" \
  --label prometheus.io/path=/x/metrics --label com.docker.swarm.service.name=shop-web \
  tidemark-busybox:latest sh -c "$www $cport -h /www" >/dev/null
docker run -d --network host --name "$other" tidemark-busybox:latest \
  sh -c "$www $oport -h /www" >/dev/null

cat >"$WORK/agent.yaml" <<YML
collectors: {cgroup: {enabled: false}, node: {enabled: false}}
scrape:
  docker_sd: {enabled: true, refresh_interval: 1s}
YML
aport=$(free_port)
start_agent "$aport" --interval 1s --no-ebpf --config "$WORK/agent.yaml"
A="http://127.0.0.1:$aport"
q() {
  curl -fsS "$A/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["data"]["result"]:
    print(",".join("%s=%s" % kv for kv in sorted(s["metric"].items())), s["value"][1])'
}
got=""
for ((i=0; i<60; i++)); do
  got=$(q 'app_requests_total')
  [[ -n $got ]] && break
  sleep 0.5
done
want="__name__=app_requests_total,container=$name,image=tidemark-busybox:latest,instance=127.0.0.1:$cport,job=shop-web,service=shop-web 42"
[[ "$got" == "$want" ]] || fail "discovered series: got [$got], want [$want]"
[[ $(q 'up' | wc -l) == 1 ]] || fail "more than the labelled container scraped: $(q up)"
pass "Docker discovery scrapes the labelled container only: $got"

docker rm -f "$name" >/dev/null
# Gone from the next re-list (1 s); markers after one more interval and 10 %.
for ((i=0; i<40; i++)); do
  [[ -z $(q 'app_requests_total') && -z $(q 'up') ]] && break
  sleep 0.25
done
[[ -z $(q 'app_requests_total') ]] || fail "series of the removed container still returned"
[[ -z $(q 'up') ]] || fail "up of the removed container still returned"
pass "a removed container's series end with staleness markers"
