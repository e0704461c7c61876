#!/usr/bin/env bash
# A real OOM kill in a Docker container labelled owner=team-cart reaches Debian's Alertmanager
# (API v2) and a webhook receiver as ContainerOOMKilled with owner="team-cart", within 5 s of the
# kill, and is listed by the agent's /api/v1/alerts.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/alerting.sh"
AM=/usr/bin/prometheus-alertmanager
[[ -x $AM ]] || skip "prometheus-alertmanager not installed"
start_docker

amport=$(free_port)
cat >"$WORK/am.yml" <<YML
route: {receiver: blackhole, group_wait: 0s}
receivers: [{name: blackhole}]
YML
"$AM" --config.file="$WORK/am.yml" --storage.path="$WORK/am" \
  --web.listen-address="127.0.0.1:$amport" --cluster.listen-address= >"$WORK/am.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$amport/-/ready" 30

hookport=$(free_port)
start_webhook "$hookport"

port=$(free_port)
cat >"$WORK/agent.yml" <<YML
collectors:
  cgroup:
    docker_labels: [owner, com.docker.swarm.service.name, com.docker.compose.service]
alerting:
  notify:
    receivers:
      - {name: am, type: alertmanager, url: "http://127.0.0.1:$amport"}
      - {name: hook, type: webhook, url: "http://127.0.0.1:$hookport/hook"}
YML
name=tidemark-it-oomalert-$$
CLEANUPS+=("docker rm -f $name >/dev/null 2>&1")
docker run -d --network none --name "$name" --label owner=team-cart -m 32m --memory-swap 32m \
  tidemark-busybox:latest sleep 300 >/dev/null
start_agent "$port" --config "$WORK/agent.yml" --interval 500ms
# The agent knows the container (and its owner label) before the kill.
for ((i=0; i<40; i++)); do
  curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/m.txt" || true
  grep -q "container_label_owner=\"team-cart\"" "$WORK/m.txt" && break
  sleep 0.25
done
((i < 40)) || fail "the agent does not export container $name with its owner label"

# dd's 64 MiB buffer does not fit in 32 MiB: the kernel OOM-kills dd.
t0=$(date +%s.%N)
docker exec "$name" dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1 || true
python3 - "$amport" "$WORK/hook.jsonl" "$t0" "$name" <<'PY' || fail "OOM alert did not arrive as expected"
import json, sys, time, urllib.request
amport, hook, t0, name = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
am_t = hook_t = None
am_alert = hook_alert = None
deadline = time.time() + 10
while time.time() < deadline and (am_t is None or hook_t is None):
    if am_t is None:
        alerts = json.load(urllib.request.urlopen(f"http://127.0.0.1:{amport}/api/v2/alerts"))
        for a in alerts:
            if a["labels"].get("alertname") == "ContainerOOMKilled" and a["labels"].get("container") == name:
                am_t, am_alert = time.time(), a
    if hook_t is None:
        try:
            for line in open(hook):
                rec = json.loads(line)
                for a in rec["body"].get("alerts", []):
                    if a["labels"].get("container") == name:
                        hook_t, hook_alert = rec["t"], a
        except FileNotFoundError:
            pass
    time.sleep(0.05)
if am_alert is None or hook_alert is None:
    print(f"alertmanager: {am_alert}\nwebhook: {hook_alert}")
    sys.exit(1)
print(f"alertmanager after {am_t - t0:.3f}s: labels={am_alert['labels']} annotations={am_alert['annotations']}")
print(f"webhook after {hook_t - t0:.3f}s: status={hook_alert['status']} labels={hook_alert['labels']}")
ok = True
for who, a, t in (("alertmanager", am_alert, am_t), ("webhook", hook_alert, hook_t)):
    if a["labels"].get("owner") != "team-cart":
        print(f"{who}: owner is {a['labels'].get('owner')!r}, want 'team-cart'"); ok = False
    if t - t0 > 5:
        print(f"{who}: {t - t0:.3f}s after the kill, target <= 5 s"); ok = False
if not am_alert["annotations"].get("memory_limit"):
    print("no memory_limit annotation"); ok = False
sys.exit(0 if ok else 1)
PY
curl -fsS "http://127.0.0.1:$port/api/v1/alerts" >"$WORK/alerts.json"
grep -q "\"alertname\":\"ContainerOOMKilled\"" "$WORK/alerts.json" || { cat "$WORK/alerts.json"; fail "/api/v1/alerts does not list the OOM alert"; }
grep -q "team-cart" "$WORK/alerts.json" || fail "/api/v1/alerts: OOM alert without its owner"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^tidemark_alerting_notifications_sent_total' >"$WORK/sent.txt" || true
grep -q 'receiver="am"' "$WORK/sent.txt" || { cat "$WORK/sent.txt"; fail "no sent counter for receiver am"; }
grep -q "alert firing: .*ContainerOOMKilled" "$WORK/agent-$port.log" || fail "the agent log does not report the OOM alert"
pass "OOM kill -> Alertmanager and webhook with owner=team-cart within 5 s; listed in /api/v1/alerts; $(tr '\n' ' ' <"$WORK/sent.txt")"
