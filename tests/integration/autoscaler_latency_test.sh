#!/usr/bin/env bash
# The autoscaler on latency, through Kubernetes, end to end with the agent binary: a python HTTP
# service exposes a request-latency histogram, the agent scrapes it every second, and a policy
# on a Deployment with the query metric
#   histogram_quantile(0.95, sum(rate(app_request_duration_seconds_bucket[10s])) by (le))
# (target 0.3) scales the Deployment out through a fake Kubernetes API server once load pushes p95
# past 300 ms. No real API server runs here: the fake below follows the documented behaviour the
# client needs (scale subresource GET/PATCH with merge-patch, pods by labelSelector, bearer token,
# 403 Status bodies). A second policy on a Deployment the service account may not patch shows the
# missing RBAC permission in the decisions API and the log.
source "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || skip "python3 missing"

app_port=$(free_port)
kube_port=$(free_port)
aport=$(free_port)

# The application: /slow switches it to slow responses (p95 ≈ 0.45 s), /fast back (≈ 0.04 s).
# A client thread inside makes 20 requests/s, so the histogram moves every second.
cat >"$WORK/app.py" <<'PY'
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0)
lock = threading.Lock()
counts = [0] * (len(BUCKETS) + 1)
total = [0, 0.0]
mode = {"slow": False}
def observe(v):
    with lock:
        for i, le in enumerate(BUCKETS):
            if v <= le:
                counts[i] += 1
        counts[-1] += 1
        total[0] += 1
        total[1] += v
def load():
    n = 0
    while True:
        n += 1
        observe(0.45 if mode["slow"] and n % 10 else 0.04)
        time.sleep(0.05)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path in ("/slow", "/fast"):
            mode["slow"] = self.path == "/slow"
            b = b"ok\n"
        else:
            with lock:
                out = ["# TYPE app_request_duration_seconds histogram"]
                for i, le in enumerate(BUCKETS):
                    out.append('app_request_duration_seconds_bucket{le="%g"} %d' % (le, counts[i]))
                out.append('app_request_duration_seconds_bucket{le="+Inf"} %d' % counts[-1])
                out.append("app_request_duration_seconds_sum %f" % total[1])
                out.append("app_request_duration_seconds_count %d" % total[0])
            b = ("\n".join(out) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
threading.Thread(target=load, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY

# The fake Kubernetes API server. Deployments default/web (may be patched) and default/locked
# (the token's service account lacks patch on deployments/scale: 403 as the API server words it).
cat >"$WORK/kube.py" <<'PY'
import json, re, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
TOKEN = "test-token"
lock = threading.Lock()
deps = {"web": {"replicas": 2, "rv": 100}, "locked": {"replicas": 1, "rv": 7}}
patches = []
SCALE = re.compile(r"^/apis/apps/v1/namespaces/default/deployments/([a-z-]+)/scale$")
PODS = re.compile(r"^/api/v1/namespaces/default/pods\?labelSelector=app%3D([a-z-]+)$")
def scale(name):
    d = deps[name]
    return {"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": str(d["rv"]),
                         "uid": "uid-" + name},
            "spec": {"replicas": d["replicas"]},
            "status": {"replicas": d["replicas"], "selector": "app=" + name}}
def pod(name, i):
    return {"metadata": {"name": "%s-%d" % (name, i), "labels": {"app": name}},
            "spec": {"nodeName": "node-1",
                     "containers": [{"name": "app", "resources": {"requests": {"cpu": "500m"}}}]},
            "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z",
                       "conditions": [{"type": "Ready", "status": "True",
                                       "lastTransitionTime": "2026-01-01T00:00:05Z"}],
                       "containerStatuses": [{"name": "app",
                                              "containerID": "containerd://%064d" % i}]}}
def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                  "reason": reason, "code": code, "metadata": {}}
class H(BaseHTTPRequestHandler):
    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def route(self, method):
        if self.path == "/test/patches":
            return 200, patches
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return status(401, "Unauthorized", "Unauthorized")
        with lock:
            m = SCALE.match(self.path)
            if m and m.group(1) in deps:
                name = m.group(1)
                if method == "GET":
                    return 200, scale(name)
                if method == "PATCH":
                    if self.headers.get("Content-Type") != "application/merge-patch+json":
                        return status(415, "UnsupportedMediaType", "unsupported patch type")
                    if name == "locked":
                        return status(403, "Forbidden",
                            'deployments.apps "locked" is forbidden: User '
                            '"system:serviceaccount:monitoring:tidemark" cannot patch resource '
                            '"deployments/scale" in API group "apps" in the namespace "default"')
                    n = int(self.headers.get("Content-Length", 0))
                    body = json.loads(self.rfile.read(n))
                    deps[name]["replicas"] = body["spec"]["replicas"]
                    deps[name]["rv"] += 1
                    patches.append({"name": name, "replicas": body["spec"]["replicas"]})
                    return 200, scale(name)
            m = PODS.match(self.path)
            if m and method == "GET" and m.group(1) in deps:
                return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                             "items": [pod(m.group(1), i) for i in range(deps[m.group(1)]["replicas"])]}
        return status(404, "NotFound", "the server could not find the requested resource")
    def do_GET(self):
        self.reply(*self.route("GET"))
    def do_PATCH(self):
        self.reply(*self.route("PATCH"))
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$WORK/app.py" "$app_port" >"$WORK/app.log" 2>&1 &
PIDS+=($!)
python3 "$WORK/kube.py" "$kube_port" >"$WORK/kube.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$app_port/metrics" 30
wait_http "http://127.0.0.1:$kube_port/test/patches" 30

cat >"$WORK/kubeconfig" <<YML
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:$kube_port"}}]
users: [{name: tidemark, user: {token: test-token}}]
contexts: [{name: fake, context: {cluster: fake, user: tidemark, namespace: default}}]
current-context: fake
YML
P95='histogram_quantile(0.95, sum(rate(app_request_duration_seconds_bucket[10s])) by (le))'
cat >"$WORK/agent.yaml" <<YML
collectors: {cgroup: {enabled: false}, node: {enabled: false}, docker: {enabled: false}}
scrape:
  jobs:
    - job_name: app
      static_configs: [{targets: ['127.0.0.1:$app_port']}]
autoscaler:
  policies:
    - name: latency
      target: {deployment: default/web, endpoint: $WORK/kubeconfig}
      min_replicas: 2
      max_replicas: 6
      sync_period: 2s
      metrics: [{type: query, name: p95, query: '$P95', target_value: 0.3}]
    - name: locked
      target: {deployment: default/locked, endpoint: $WORK/kubeconfig}
      min_replicas: 2
      max_replicas: 4
      sync_period: 2s
      metrics: [{type: query, name: p95, query: '$P95', target_value: 0.3}]
YML
start_agent "$aport" --interval 1s --no-ebpf --config "$WORK/agent.yaml"
A="http://127.0.0.1:$aport"
decisions() { curl -fsS "$A/api/v1/autoscaler/decisions?policy=$1"; }
patches() { curl -fsS "http://127.0.0.1:$kube_port/test/patches"; }

# Fast responses: p95 ≈ 0.05 s, well under target; min_replicas 2 holds web at 2.
sleep 12
[[ $(patches) == "[]" ]] || fail "scaled while fast: $(patches)"
decisions latency | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]["policies"][0]["decisions"][0]
m = d["metrics"][0]
assert m["valid"] and m["value"] < 0.3, d
print("fast p95 = %.3f s, desired %d" % (m["value"], d["desired"]))' || fail "fast decision: $(decisions latency)"

curl -fsS "http://127.0.0.1:$app_port/slow" >/dev/null
t_load=$(date +%s.%N)
# p95 ≈ 1.5× the target: no panic, so the default 15 s scale-up window applies.
for ((i=0; i<600; i++)); do
  [[ $(patches) == *'"web"'* ]] && break
  sleep 0.1
done
t_out=$(date +%s.%N)
[[ $(patches) == *'"web"'* ]] || fail "no scale-out of web within 60 s of slow responses: $(decisions latency)"
pass "p95 past 300 ms scaled default/web: $(patches) $(python3 -c "print(round($t_out - $t_load, 1))")s after the slowdown"
decisions latency | python3 -c '
import json, sys
p = json.load(sys.stdin)["data"]["policies"][0]
up = [d for d in p["decisions"] if d["call_orchestrator"] and d["desired"] > d["current"]]
assert up, p
m = up[0]["metrics"][0]
assert m["value"] > 0.3, up[0]
print("scale-out decision: %d -> %d at p95 %.3f s" % (up[0]["current"], up[0]["desired"], m["value"]))
' || fail "decisions API: $(decisions latency)"
wait_metrics "$A" 6 '^tidemark_autoscaler_metric_value\{metric="p95",policy="latency"\} 0\.[3-9]' ||
  fail "no tidemark_autoscaler_metric_value for p95 above 0.3: $(grep autoscaler_metric <<<"$METRICS")"

# The locked Deployment: the 403 names the missing permission in the API and the log. Its policy
# syncs on its own 2 s tick: give it a few seconds after web's scale-out.
for ((i=0; i<50; i++)); do
  [[ $(decisions locked) == *FailedUpdateScale* ]] && break
  sleep 0.2
done
decisions locked | python3 -c '
import json, sys
p = json.load(sys.stdin)["data"]["policies"][0]
err = p["last_error"]
assert "patch" in err and "deployments/scale" in err, err
c = [c for c in p["conditions"] if c["type"] == "AbleToScale"][0]
assert c["status"] == "False" and c["reason"] == "FailedUpdateScale", c
print("locked:", err)' || fail "403 not reported: $(decisions locked)"
grep -q 'policy locked: FailedUpdateScale.*deployments/scale' "$WORK/agent-$aport.log" ||
  fail "403 not logged: $(grep autoscaler "$WORK/agent-$aport.log" | tail -5)"
pass "a 403 names the missing RBAC permission in the decisions API and the log"
