#!/usr/bin/env bash
# Real TCP retransmits raise the built-in ContainerTcpRetransmits alert and, after the drop rule is
# removed and the alert clears, a resolved notification arrives. Traffic runs in a test cgroup the
# agent exports, over the loopback of a private network namespace where iptables drops ~30% of one
# port's packets. The rule's `for` is overridden to 3 s; its window stays the built-in 5m, so the
# alert clears about 5 minutes after the drops stop.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/alerting.sh"
[[ $(id -u) == 0 ]] || skip "needs root (cgroups, netns, iptables, eBPF)"
command -v iptables >/dev/null && command -v nsenter >/dev/null && command -v unshare >/dev/null ||
  skip "needs iptables, nsenter and unshare"
[[ -d /sys/fs/cgroup/unified || -f /sys/fs/cgroup/cgroup.controllers ]] || skip "no cgroup v2 tree for socket attribution"

cg=tidemark-it-retrans-$$
make_cgroup "$cg"
unshare -n sleep 100000 &
holder=$!
PIDS+=($holder)
sleep 0.2
ns="--net=/proc/$holder/ns/net"
nsenter $ns ip link set lo up
tport=7777
rule="INPUT -i lo -p tcp --dport $tport -m statistic --mode random --probability 0.3 -j DROP"
nsenter $ns iptables -A $rule

hookport=$(free_port)
start_webhook "$hookport"
port=$(free_port)
cat >"$WORK/agent.yml" <<YML
collectors:
  cgroup:
    include: ["^/$cg\$"]
alerting:
  evaluation_interval: 1s
  builtin_rules:
    container_tcp_retransmits: {threshold: 0.5, for: 3s}
    node_tcp_retrans_ratio: {enabled: false}
  notify:
    receivers: [{name: hook, type: webhook, url: "http://127.0.0.1:$hookport/"}]
    default_route: {group_wait: 1s, group_interval: 5s}
YML
start_agent "$port" --config "$WORK/agent.yml" --interval 500ms

# Traffic: 8 connections sending continuously, in the test cgroup and the namespace.
cat >"$WORK/traffic.py" <<PY
import socket, threading, time
def serve():
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", $tport)); l.listen(64)
    while True:
        c, _ = l.accept()
        threading.Thread(target=lambda c=c: [None for _ in iter(lambda: c.recv(65536), b"")], daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
time.sleep(0.3)
def send():
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", $tport))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1400)
            for _ in range(200): s.sendall(b"x" * 65536)
            s.close()
        except OSError:
            time.sleep(0.1)
for _ in range(8): threading.Thread(target=send, daemon=True).start()
while True: time.sleep(60)
PY
procs=()
for root in /sys/fs/cgroup/*/; do [[ -L ${root%/} || ! -f $root$cg/cgroup.procs ]] || procs+=("$root$cg/cgroup.procs"); done
[[ -f /sys/fs/cgroup/$cg/cgroup.procs ]] && procs+=("/sys/fs/cgroup/$cg/cgroup.procs")
nsenter $ns sh -c "for f in ${procs[*]}; do echo \$\$ > \$f; done; exec python3 '$WORK/traffic.py'" &
traffic=$!
PIDS+=($traffic)

has_status() {  # has_status STATUS: a webhook notification carries ContainerTcpRetransmits in STATUS
  python3 - "$WORK/hook.jsonl" "$1" "$cg" <<'PY'
import json, sys
try:
    for line in open(sys.argv[1]):
        for a in json.loads(line)["body"].get("alerts", []):
            if (a["labels"].get("alertname") == "ContainerTcpRetransmits" and a["status"] == sys.argv[2]
                    and sys.argv[3] in a["labels"].get("id", "")):
                print(json.dumps(a["labels"])); sys.exit(0)
except FileNotFoundError:
    pass
sys.exit(1)
PY
}
t0=$(date +%s)
for ((i=0; i<120; i++)); do has_status firing >"$WORK/firing.txt" && break; sleep 1; done
((i < 120)) || { curl -fsS "http://127.0.0.1:$port/metrics" | grep "container_tcp_retransmits_total" | head; fail "no firing ContainerTcpRetransmits notification within 120 s"; }
curl -fsS "http://127.0.0.1:$port/metrics" | grep "^container_tcp_retransmits_total{.*$cg" | head -2
pass "retransmits raised ContainerTcpRetransmits after $(( $(date +%s) - t0 )) s: $(cat "$WORK/firing.txt")"

nsenter $ns iptables -D $rule
kill "$traffic" 2>/dev/null || true
t1=$(date +%s)
for ((i=0; i<480; i++)); do has_status resolved >/dev/null && break; sleep 1; done
((i < 480)) || fail "no resolved notification within 8 minutes of removing the drop rule"
pass "resolved notification $(( $(date +%s) - t1 )) s after the drop rule was removed"
