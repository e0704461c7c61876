#!/usr/bin/env bash
# The durable outbox end to end: a webhook receiver that is down when a real OOM alert fires and up
# a minute later receives it exactly once; with the receiver down again, kill -9 of the agent while
# a notification is pending, then a restart on the same data dir: it is delivered.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/alerting.sh"
start_docker

hookport=$(free_port)
port=$(free_port)
cat >"$WORK/agent.yml" <<YML
alerting:
  notify:
    receivers:
      - {name: hook, type: webhook, url: "http://127.0.0.1:$hookport/hook", timeout: 2s}
    default_route: {group_by: [alertname, container]}  # one group per container
    outbox: {initial_backoff: 1s, max_backoff: 8s}
YML
c1=tidemark-it-outbox1-$$
c2=tidemark-it-outbox2-$$
CLEANUPS+=("docker rm -f $c1 $c2 >/dev/null 2>&1")
for c in $c1 $c2; do
  docker run -d --network none --name "$c" -m 32m --memory-swap 32m tidemark-busybox:latest sleep 600 >/dev/null
done
start_agent "$port" --config "$WORK/agent.yml" --interval 500ms
for ((i=0; i<40; i++)); do
  curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/m.txt" || true
  grep -q "name=\"$c2\"" "$WORK/m.txt" && break
  sleep 0.25
done

metric() {  # metric NAME_REGEX: sum of the agent's samples matching it
  curl -fsS "http://127.0.0.1:$port/metrics" | awk -v re="$1" '$1 ~ re {s += $2} END {print s + 0}'
}
# count CONTAINER STATUS: webhook notifications that carry the container's alert in that status
count() {
  python3 - "$WORK/hook.jsonl" "$1" "$2" <<'PY'
import json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        body = json.loads(line)["body"]
        n += any(a["labels"].get("container") == sys.argv[2] and a["status"] == sys.argv[3]
                 for a in body.get("alerts", []))
except FileNotFoundError:
    pass
print(n)
PY
}
wait_pending() {
  for ((i=0; i<100; i++)); do
    [[ $(metric '^tidemark_alerting_notifications_failed_total') -gt $1 &&
       $(metric '^tidemark_alerting_outbox_length') -ge 1 ]] && return 0
    sleep 0.2
  done
  fail "no failed delivery attempt / pending outbox entry"
}

# 1. Receiver down at the kill, up a minute later: delivered exactly once.
t_fire=$(date +%s)
docker exec "$c1" dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1 || true
wait_pending 0
echo "pending after the first kill: outbox_length=$(metric '^tidemark_alerting_outbox_length') failed=$(metric '^tidemark_alerting_notifications_failed_total')"
sleep $((60 - ($(date +%s) - t_fire)))
start_webhook "$hookport"
hook_pid=$WEBHOOK_PID
for ((i=0; i<150 && $(count "$c1" firing) == 0; i++)); do sleep 0.2; done
[[ $(count "$c1" firing) -ge 1 ]] || fail "webhook up for 30 s, the pending alert was not delivered"
t_got=$(date +%s)
sleep 15  # Retries or duplicates would arrive within the 8 s max backoff.
n=$(count "$c1" firing)
[[ $n == 1 ]] || fail "the alert for $c1 arrived $n times, want exactly once"
pass "receiver down at the kill, up 60 s later: delivered once, $((t_got - t_fire)) s after the kill"

# 2. Receiver down again, pending notification, kill -9, restart: delivered.
kill "$hook_pid"; wait "$hook_pid" 2>/dev/null || true
failed=$(metric '^tidemark_alerting_notifications_failed_total')
docker exec "$c2" dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1 || true
wait_pending "$failed"
[[ $(count "$c2" firing) == 0 ]] || fail "the second alert was delivered with the receiver down?"
agent_pid=${PIDS[0]}
kill -9 "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
PIDS=("${PIDS[@]:1}")
start_webhook "$hookport"
start_agent "$port" --config "$WORK/agent.yml" --interval 500ms
for ((i=0; i<150 && $(count "$c2" firing) == 0; i++)); do sleep 0.2; done
n=$(count "$c2" firing)
[[ $n -ge 1 ]] || fail "after kill -9 and restart the pending notification was not delivered"
pass "kill -9 with a pending notification, restart: delivered ($n time(s)); first alert still delivered once: $(count "$c1" firing)"
