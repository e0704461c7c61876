#!/usr/bin/env bash
# The autoscaler end to end on Docker Swarm: a private dockerd in Swarm mode on loopback, a service
# of the locally imported busybox image (--limit-cpu 0.5) whose tasks burn CPU while /ctl/burn
# exists (a bind-mounted control dir), and the agent with a cpu policy (target 30 %, 1-2 replicas,
# default 5 s sync period, 20 s scale-down stabilization). The low target keeps burning tasks far
# above it even when the 2-core host is busy, so the last high recommendation is the load's end. Asserts: scale-out within two sync periods of the
# load starting, scale-in only after the stabilization window (never a scale-in decision while a
# higher recommendation lies inside the window), on the decisions API and the service's replicas.
source "$(dirname "$0")/lib/common.sh"
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
[[ $(id -u) == 0 ]] || skip "needs root (starts dockerd)"
command -v dockerd >/dev/null || skip "dockerd not installed (apt-get install docker.io)"
export PATH=/usr/bin:$PATH

# A private daemon (short paths: containerd's sockets live under the exec-root).
D=$(mktemp -d /tmp/tms-XXXXXX)
export TIDEMARK_DOCKERD_STATE=$D/s TIDEMARK_DOCKERD_EXEC_ROOT=$D/x DOCKER_HOST_SOCK=$D/docker.sock
SOCK=$DOCKER_HOST_SOCK
dk() { /usr/bin/docker -H "unix://$SOCK" "$@"; }
CLEANUPS+=("grep -o ' $D[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l; rm -rf '$D'")
CLEANUPS+=("'$LIB/dockerd.sh' stop >/dev/null 2>&1")
CLEANUPS+=("dk swarm leave --force >/dev/null 2>&1")
CLEANUPS+=("dk service rm tm-as >/dev/null 2>&1; sleep 2")
"$LIB/dockerd.sh" start >"$WORK/dockerd-start.log" 2>&1 || fail "dockerd did not start"
# Swarm wants its ports in 1024-49151: free ones from 20000-32767, TCP for the control plane and
# UDP for the data path.
swarm_port() {
  python3 -c '
import random, socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
for _ in range(200):
    p = random.randint(20000, 32767)
    s = socket.socket(type=kind)
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()' "$1"
}
sp=$(swarm_port tcp)
dk swarm init --advertise-addr "127.0.0.1:$sp" --listen-addr "127.0.0.1:$sp" \
  --data-path-port "$(swarm_port udp)" \
  >"$WORK/swarm.log" 2>&1 || fail "swarm init failed: $(cat "$WORK/swarm.log")"
DOCKER_HOST="unix://$SOCK" "$LIB/make_busybox_image.sh" >"$WORK/image.log" 2>&1 || fail "busybox image"

CTL=$WORK/ctl
mkdir -p "$CTL"
burn='while :; do if [ -e /ctl/burn ]; then timeout 1 sh -c "while :; do :; done"; else sleep 1; fi; done'
dk service create --quiet --detach --name tm-as --replicas 1 --limit-cpu 0.5 --stop-signal KILL \
  --mount "type=bind,src=$CTL,dst=/ctl" tidemark-busybox:latest sh -c "$burn" >/dev/null
replicas() { dk service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' tm-as; }
replicas_above() { (($(replicas) > $1)); }
replicas_below() { (($(replicas) < $1)); }
running() { dk service ps --filter desired-state=running --format '{{.CurrentState}}' tm-as | grep -c '^Running' || true; }
for ((i=0; i<120; i++)); do [[ $(running) == 1 ]] && break; sleep 0.5; done
[[ $(running) == 1 ]] || fail "the service's task did not start: $(dk service ps tm-as)"

cat >"$WORK/agent.yaml" <<YML
collectors:
  docker: {socket: $SOCK}
  node: {enabled: false}
autoscaler:
  policies:
    - name: web
      target: {service: tm-as, endpoint: unix://$SOCK}
      min_replicas: 1
      max_replicas: 2
      metrics: [{type: cpu, target_utilization: 30}]
      behavior:
        scale_down: {stabilization_window: 20s}
YML
"$TIDEMARK" check config "$WORK/agent.yaml" >"$WORK/check.log" 2>&1 || fail "check config: $(cat "$WORK/check.log")"
grep -q "swarm service tm-as" "$WORK/check.log" || fail "check config does not show the policy"
aport=$(free_port)
start_agent "$aport" --interval 1s --no-ebpf --config "$WORK/agent.yaml"
A="http://127.0.0.1:$aport"
decisions() { curl -fsS "$A/api/v1/autoscaler/decisions?policy=web"; }
# Let the idle service be measured for a few cycles: no scaling at 0 %.
sleep 8
[[ $(replicas) == 1 ]] || fail "scaled while idle: $(decisions)"
decisions | python3 -c '
import json, sys
p = json.load(sys.stdin)["data"]["policies"][0]
assert p["decisions"], p
d = p["decisions"][0]
assert d["metrics"][0]["valid"], d   # the idle replica is measured (0 %), not missing
print("idle decision:", d["metrics"][0])' || fail "idle decision: $(decisions)"

t_load=$(date +%s.%N)
touch "$CTL/burn"
wait_for 20 replicas_above 1 || fail "no scale-out within 20 s of the load: $(decisions)"
t_out=$(date +%s.%N)
reaction=$(python3 -c "print(round($t_out - $t_load, 2))")
python3 -c "import sys; sys.exit(0 if $reaction <= 10 else 1)" ||
  fail "scale-out took ${reaction}s after the load started (> two 5 s sync periods)"
pass "scaled out to $(replicas) replicas ${reaction}s after the load started (limit: 10 s)"
decisions | python3 -c '
import json, sys
p = json.load(sys.stdin)["data"]["policies"][0]
up = [d for d in p["decisions"] if d["desired"] > d["current"] and d["call_orchestrator"]]
assert up, p["decisions"][:3]
d = up[-1]
# Either the 3 s rate is above target, or the last interval showed the task throttled at its
# limit (panic: acted on at once, before the 3 s rate caught up).
assert d["metrics"][0]["utilization"] > 33 or "saturated" in d.get("panic_reason", ""), d
print("scale-out decision: %d -> %d at %d%% cpu (3 s rate) %s" % (d["current"], d["desired"],
      d["metrics"][0]["utilization"], d.get("panic_reason", "")))
' || fail "decisions API after the scale-out: $(decisions)"

# Keep burning a while at max_replicas, then stop the load.
sleep 8
before_in=$(replicas)
t_stop=$(date +%s.%N)
rm -f "$CTL/burn"
wait_for 60 replicas_below "$before_in" || fail "no scale-in within 60 s of the load stopping: $(decisions)"
t_in=$(date +%s.%N)
held=$(python3 -c "print(round($t_in - $t_stop, 2))")
python3 -c "import sys; sys.exit(0 if $held >= 20 else 1)" ||
  fail "scaled in ${held}s after the load stopped, inside the 20 s stabilization window"
pass "scaled in from $before_in to $(replicas) replicas ${held}s after the load stopped (window 20 s)"
# Never before: every scale-in decision had no higher recommendation in the 20 s before it.
decisions | python3 -c '
import json, sys
p = json.load(sys.stdin)["data"]["policies"][0]
ds = sorted(p["decisions"], key=lambda d: d["time_ms"])
ins = [d for d in ds if d["desired"] < d["current"]]
assert ins, "no scale-in decision"
for d in ins:
    inside = [e for e in ds if d["time_ms"] - 20000 < e["time_ms"] <= d["time_ms"]]
    assert max(e["recommendation"] for e in inside) <= d["desired"], (d, inside)
print("scale-in decisions respect the window:", [(d["current"], d["desired"]) for d in ins])
' || fail "a scale-in inside the stabilization window: $(decisions)"
wait_metrics "$A" 6 '^tidemark_autoscaler_scale_events_total\{policy="web"\} [2-9]' \
  '^tidemark_autoscaler_current_replicas\{policy="web"\} 1$' ||
  fail "tidemark_autoscaler_* after the scale-in: $(grep ^tidemark_autoscaler <<<"$METRICS")"
[[ -s $WORK/data-$aport/autoscaler/web.json ]] || fail "decisions not persisted under data_dir/autoscaler"
pass "metrics and the persisted state agree"
