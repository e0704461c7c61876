#!/usr/bin/env python3
"""PromQL query latency of tidemark's /api/v1/query{,_range} next to Debian's Prometheus 2.42, on the
same data, in the same run, as ratios.

  1. generates a node-scale data set in OpenMetrics (deterministic for a seed): N containers across
     ~20 namespaces with cAdvisor's labels (id, name, image, namespace, pod, container):
     container_cpu_usage_seconds_total (counter, rare restarts), container_memory_working_set_bytes
     (gauge), kube_pod_info (for joins) and http_request_duration_seconds (12 le buckets, _sum,
     _count) for S services x P pods; H hours at a 15 s step ending at about now;
  2. loads the same file into both: `promtool tsdb create-blocks-from openmetrics` + `prometheus`,
     `tidemark tsdb import --openmetrics` + `tidemark agent` (collectors off, so that only the
     imported containers match); checks both hold every series and every sample;
  3. runs dashboard-typical queries (range: last 1 h at 15 s; instant: at the last sample), warms
     up, checks that both answers have the same series, points and values (1e-9 relative), then
     alternates the servers for --reps repetitions and prints medians and tidemark / Prometheus.
Latency is measured by the client: HTTP request to the last byte of the JSON answer. Beside it, the
CPU time the server spent over that request (all its threads, from /proc/<pid>/task/*/schedstat),
which stays meaningful when other work shares the machine.

  bench/query_compare.py --tidemark build-release/agent/tidemark
  bench/query_compare.py --prom-only          # the peer alone (e.g. while the API is missing)
  bench/query_compare.py --tidemark ... --work /tmp/qc --profile cpu_by_namespace
--work DIR keeps the data set and both loaded stores between runs (each run copies them).
"""
import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

STEP_S = 15
LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]
NAMESPACES = ["payments", "checkout", "catalog", "search", "auth", "billing", "shipping", "cart",
              "frontend", "recommend", "ads", "email", "inventory", "orders", "reviews", "users",
              "monitoring", "logging", "ingress", "kube-system"]

# name, kind, target group, expression. Range queries: last hour at 15 s; instant: at the end.
QUERIES = [
    ("cpu_by_namespace", "range", "T1",
     "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))"),
    ("latency_p95_by_service", "range", "T2",
     "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ("cpu_rate_all", "instant", "T3", "rate(container_cpu_usage_seconds_total[5m])"),
    ("memory_all", "instant", "T3", "container_memory_working_set_bytes"),
    ("memory_max_1h_all", "instant", "T3", "max_over_time(container_memory_working_set_bytes[1h])"),
    ("cpu_total", "range", "", "sum(rate(container_cpu_usage_seconds_total[5m]))"),
    ("cpu_top10", "range", "", "topk(10, rate(container_cpu_usage_seconds_total[5m]))"),
    ("memory_avg_by_namespace", "range", "", "avg by (namespace) (container_memory_working_set_bytes)"),
    ("cpu_by_node_join", "range", "",
     "sum by (node) (rate(container_cpu_usage_seconds_total[5m]) "
     "* on (namespace, pod) group_left (node) kube_pod_info)"),
    ("latency_p99_by_namespace", "instant", "",
     "histogram_quantile(0.99, sum by (namespace, le) (rate(http_request_duration_seconds_bucket[5m])))"),
]
TARGETS = {
    "T1": "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m])) over 1 h at 15 s",
    "T2": "histogram_quantile(0.95, ...) over 1 h at 15 s",
    "T3": "instant queries over all containers (worst of them)",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p, dt


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss(pid):
    """(VmRSS, VmHWM) of pid in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k = line.split(":")[0]
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(line.split()[1]) / 1024
    return out.get("VmRSS", 0.0), out.get("VmHWM", 0.0)


# ---------------------------------------------------------------------------------------------
# Data set


def generate(path, a, end_s):
    """Writes the OpenMetrics file; returns what both stores must hold."""
    rnd = random.Random(a.seed)
    n = a.hours * 3600 // STEP_S
    times = [end_s - (n - 1 - i) * STEP_S for i in range(n)]
    hexs = lambda k: "".join(rnd.choice("0123456789abcdef") for _ in range(k))

    containers, pods = [], []  # (labels, ...)
    while len(containers) < a.containers:
        ns = NAMESPACES[len(pods) % len(NAMESPACES)]
        app = f"{ns}-app{len(pods) // len(NAMESPACES) % 8}"
        pod = f"{app}-{hexs(10)}-{hexs(5)}"
        uid = f"{hexs(8)}-{hexs(4)}-{hexs(4)}-{hexs(4)}-{hexs(12)}"
        node = f"node-{len(pods) % a.nodes:02d}"
        pods.append(f'namespace="{ns}",pod="{pod}",node="{node}",created_by_kind="ReplicaSet",'
                    f'host_ip="10.0.{len(pods) % a.nodes}.1",uid="{uid}"')
        for c in range(min(rnd.randint(1, 3), a.containers - len(containers))):
            cname = ["app", "sidecar", "proxy"][c]
            cid = hexs(64)
            labels = (f'container="{cname}",id="/kubepods/burstable/pod{uid}/{cid}",'
                      f'image="registry.example.com/{ns}/{cname}:1.{rnd.randint(0, 30)}.{rnd.randint(0, 9)}",'
                      f'name="k8s_{cname}_{pod}_{ns}_{uid}_0",namespace="{ns}",pod="{pod}"')
            containers.append(labels)

    samples = 0
    with open(path, "w") as out:
        # CPU: noisy rates, a rare restart resets the counter.
        out.write("# TYPE container_cpu_usage_seconds counter\n")
        st = [[rnd.uniform(0, 1e5), rnd.uniform(0.005, 1.5)] for _ in containers]
        lab = [f"container_cpu_usage_seconds_total{{{l}}} " for l in containers]
        for t in times:
            buf = []
            for i, s in enumerate(st):
                if rnd.random() < 0.0005:
                    s[0] = 0.0
                s[0] += max(0.0, rnd.gauss(s[1], s[1] * 0.3)) * STEP_S
                buf.append(f"{lab[i]}{s[0]!r} {t}\n")
            out.write("".join(buf))
        samples += len(st) * len(times)
        # Memory working set: 4 KiB pages, a random walk under a limit.
        out.write("# TYPE container_memory_working_set_bytes gauge\n")
        st = [[rnd.randint(2**13, 2**18) * 4096, 2**18 * 4096] for _ in containers]
        lab = [f"container_memory_working_set_bytes{{{l}}} " for l in containers]
        for t in times:
            buf = []
            for i, s in enumerate(st):
                s[0] = min(s[1], max(4096, s[0] + 4096 * rnd.randint(-256, 256)))
                buf.append(f"{lab[i]}{s[0]} {t}\n")
            out.write("".join(buf))
        samples += len(st) * len(times)
        # kube-state-metrics' pod info, for group_left joins.
        out.write("# TYPE kube_pod_info gauge\n")
        for t in times:
            out.write("".join(f"kube_pod_info{{{p}}} 1 {t}\n" for p in pods))
        samples += len(pods) * len(times)
        # Request latency histogram per service and pod: log-normal latencies.
        out.write("# TYPE http_request_duration_seconds histogram\n")
        hs = []
        for s in range(a.services):
            ns = NAMESPACES[s % len(NAMESPACES)]
            svc = f"{ns}-svc{s // len(NAMESPACES)}"
            mu, sigma, rps = math.log(rnd.uniform(0.01, 0.4)), rnd.uniform(0.4, 1.2), rnd.uniform(1, 200)
            cdf = [1.0 if le == "+Inf" else
                   0.5 * (1 + math.erf((math.log(float(le)) - mu) / (sigma * math.sqrt(2)))) for le in LE]
            mean = math.exp(mu + sigma * sigma / 2)
            for p in range(a.pods_per_service):
                base = f'namespace="{ns}",service="{svc}",pod="{svc}-{hexs(10)}-{hexs(5)}"'
                hs.append({"base": base, "cdf": cdf, "mean": mean, "rps": rps,
                           "b": [0] * len(LE), "sum": 0.0})
        for t in times:
            buf = []
            for h in hs:
                nreq = int(h["rps"] * STEP_S * rnd.uniform(0.7, 1.3))
                for i, le in enumerate(LE):
                    h["b"][i] += int(round(nreq * h["cdf"][i]))
                    buf.append(f'http_request_duration_seconds_bucket{{{h["base"]},le="{le}"}} {h["b"][i]} {t}\n')
                h["sum"] += nreq * h["mean"] * rnd.uniform(0.9, 1.1)
                buf.append(f'http_request_duration_seconds_sum{{{h["base"]}}} {h["sum"]!r} {t}\n')
                buf.append(f'http_request_duration_seconds_count{{{h["base"]}}} {h["b"][-1]} {t}\n')
            out.write("".join(buf))
        samples += len(hs) * (len(LE) + 2) * len(times)
        out.write("# EOF\n")
    return {"end_s": end_s, "steps": n, "containers": len(containers), "pods": len(pods),
            "bucket_series": len(hs) * len(LE), "samples": samples,
            "series": 2 * len(containers) + len(pods) + len(hs) * (len(LE) + 2)}


# ---------------------------------------------------------------------------------------------
# Servers and queries


class Server:
    def __init__(self, name, port, proc):
        self.name, self.port, self.proc = name, port, proc

    def get(self, path, params, timeout=300):
        """(seconds, status, body bytes) of one GET on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        t0 = time.perf_counter()
        conn.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
        r = conn.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        conn.close()
        return dt, r.status, body

    def query(self, q, kind, meta):
        end = meta["end_s"]
        if kind == "range":
            return self.get("/api/v1/query_range",
                            {"query": q, "start": end - 3600, "end": end, "step": STEP_S})
        return self.get("/api/v1/query", {"query": q, "time": end})

    def cpu_ns(self):
        """CPU time of all the server's threads so far, ns (sum_exec_runtime, exact)."""
        total = 0
        for t in os.listdir(f"/proc/{self.proc.pid}/task"):
            try:
                with open(f"/proc/{self.proc.pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # a thread that just exited
        return total

    def value(self, q, meta):
        """The single number an instant query answers, or None."""
        _, status, body = self.query(q, "instant", meta)
        try:
            d = json.loads(body)
            r = d["data"]["result"]
            return float(r[0]["value"][1]) if r else None
        except Exception:
            return f"HTTP {status}: {body[:300]!r}"


def wait_for(fn, what, secs, proc=None):
    end = time.time() + secs
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"{what}: process exited with {proc.returncode}")
        try:
            if fn():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    sys.exit(f"{what}: not ready after {secs} s")


def api_works(srv):
    _, status, body = srv.get("/api/v1/query", {"query": "1+1", "time": "4"}, timeout=5)
    return status == 200 and json.loads(body).get("status") == "success"


def canonical(body):
    """(resultType, {labels: [(t, v), ...]}) of an API answer; raises on an error answer."""
    d = json.loads(body)
    if d.get("status") != "success":
        raise ValueError(f"{d.get('errorType')}: {d.get('error')}")
    rt, res = d["data"]["resultType"], d["data"]["result"]
    out = {}
    if rt in ("scalar", "string"):
        out[()] = [(round(float(res[0]) * 1000), float(res[1]) if rt == "scalar" else res[1])]
    else:
        for s in res:
            key = tuple(sorted(s["metric"].items()))
            if key in out:
                raise ValueError(f"duplicate series {key}")
            pts = s["values"] if "values" in s else [s["value"]]
            out[key] = [(round(float(t) * 1000), float(v)) for t, v in pts]
    return rt, out


def compare(body_t, body_p, tol=1e-9):
    """Differences between the two answers (empty when they agree) and the max relative error."""
    try:
        rt_t, t = canonical(body_t)
    except Exception as e:
        return [f"tidemark answered an error or bad JSON: {e}"], None
    rt_p, p = canonical(body_p)
    problems = []
    if rt_t != rt_p:
        problems.append(f"resultType {rt_t} vs {rt_p}")
    npt_t, npt_p = sum(map(len, t.values())), sum(map(len, p.values()))
    if len(t) != len(p) or npt_t != npt_p:
        problems.append(f"series/points {len(t)}/{npt_t} vs {len(p)}/{npt_p}")
    only_t, only_p = set(t) - set(p), set(p) - set(t)
    if only_t or only_p:
        ex = next(iter(only_t or only_p))
        problems.append(f"{len(only_t)} label sets only in tidemark, {len(only_p)} only in Prometheus, "
                        f"e.g. {dict(ex)}")
    worst = 0.0
    bad = 0
    for k in set(t) & set(p):
        if [x for x, _ in t[k]] != [x for x, _ in p[k]]:
            bad += 1
            if bad == 1:
                problems.append(f"timestamps differ for {dict(k)}")
            continue
        for (ts, a), (_, b) in zip(t[k], p[k]):
            if isinstance(a, str):
                if a != b:
                    bad += 1
                continue
            if (math.isnan(a) and math.isnan(b)) or a == b:
                continue
            rel = abs(a - b) / max(abs(a), abs(b)) if math.isfinite(a) and math.isfinite(b) else math.inf
            worst = max(worst, rel)
            if rel > tol:
                bad += 1
                if bad <= 1:
                    problems.append(f"value at {ts} ms for {dict(k)}: {a!r} vs {b!r}")
    if bad > 1:
        problems.append(f"{bad} mismatches in all")
    return problems, worst


def shape(body):
    _, s = canonical(body)
    return len(s), sum(map(len, s.values()))


# ---------------------------------------------------------------------------------------------


def load(a, work, tm):
    """Generates the data set and both stores into work/ unless they are there for these args (the
    tidemark store is imported again when the binary changed)."""
    key = {k: getattr(a, k) for k in ("containers", "services", "pods_per_service", "hours", "nodes", "seed")}
    meta_path = os.path.join(work, "meta.json")
    om = os.path.join(work, "data.om")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    if meta.get("key") == key and os.path.exists(om):
        log(f"reusing the data set and Prometheus blocks in {work} (end {meta['end_s']})")
    else:
        meta = {}
        for d in ("prom-pristine", "tm-pristine"):
            shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        end_s = int(time.time()) // STEP_S * STEP_S - STEP_S
        log(f"generating {om} ...")
        t0 = time.perf_counter()
        meta = generate(om, a, end_s)
        meta["om_bytes"] = os.path.getsize(om)
        log(f"  {meta['series']} series, {meta['samples']} samples, {meta['om_bytes'] / 2**20:.0f} MiB "
            f"in {time.perf_counter() - t0:.1f} s")
        log("promtool tsdb create-blocks-from openmetrics ...")
        p, dt = run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, f"{work}/prom-pristine"])
        meta["prom_load_s"] = dt
        meta["prom_blocks"] = sorted(d for d in os.listdir(f"{work}/prom-pristine") if len(d) == 26)
        log(f"  {len(meta['prom_blocks'])} blocks in {dt:.1f} s")
        meta["key"] = key
        json.dump(meta, open(meta_path, "w"))
    if tm:
        st = os.stat(tm)
        tm_key = [tm, st.st_size, st.st_mtime]
        if meta.get("tm_key") != tm_key or not os.path.isdir(f"{work}/tm-pristine"):
            shutil.rmtree(f"{work}/tm-pristine", ignore_errors=True)
            log("tidemark tsdb import --openmetrics ...")
            p, dt = run([tm, "tsdb", "import", "--openmetrics", om, "--data-dir", f"{work}/tm-pristine"])
            meta["tm_load_s"] = dt
            log(f"  {p.stdout.strip()} ({dt:.1f} s)")
            m = re.search(r"imported (\d+) of (\d+) samples \((\d+) rejected\)", p.stdout)
            if not m or int(m.group(1)) != meta["samples"]:
                sys.exit(f"tidemark import stored {m.group(1) if m else '?'} of {meta['samples']} samples: "
                         f"{p.stdout} {p.stderr}")
            meta["tm_key"] = tm_key
            json.dump(meta, open(meta_path, "w"))
    return meta


def profile(agent, q, meta, data, seconds, out):
    """perf-records the agent while it answers q again and again; prints self time per symbol."""
    perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(agent.proc.pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    t_end, n = time.time() + seconds, 0
    while time.time() < t_end:
        agent.query(q[3], q[1], meta)
        n += 1
    perf.send_signal(signal.SIGINT)
    perf.wait(timeout=60)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "1",
                          "-g", "none", "--fields", "overhead,sym"], capture_output=True, text=True)
    print(f"\nperf profile of the agent answering {q[0]} {n} times in {seconds} s (self time, >= 1%):",
          file=out)
    for line in rep.stdout.splitlines():
        if line.strip() and not line.startswith("#"):
            print(re.sub(r"[\s-]*$", "", line)[:160], file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tidemark", help="tidemark binary (Release build)")
    ap.add_argument("--prom-only", action="store_true", help="time Prometheus alone")
    ap.add_argument("--containers", type=int, default=1000)
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--pods-per-service", type=int, default=2)
    ap.add_argument("--nodes", type=int, default=10, help="node label values of kube_pod_info")
    ap.add_argument("--hours", type=int, default=2, help="span of the data set at 15 s")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--queries", default="", help="comma-separated query names (default: all)")
    ap.add_argument("--work", default="", help="keep data set and stores here, reuse them next run")
    ap.add_argument("--agent-config", default="", help="agent config (default: collectors off)")
    ap.add_argument("--profile", default="", metavar="QUERY",
                    help="after the run, perf-record the agent while it answers QUERY (comma list)")
    ap.add_argument("--profile-seconds", type=float, default=10)
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of both servers and this client (e.g. -10 as root on a shared machine)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead")
    a = ap.parse_args()
    if not a.prom_only and not a.tidemark:
        ap.error("--tidemark is required unless --prom-only")
    tm = None if a.prom_only else os.path.abspath(a.tidemark)
    queries = [q for q in QUERIES if not a.queries or q[0] in a.queries.split(",")]
    if not queries:
        ap.error(f"no such query; names: {', '.join(q[0] for q in QUERIES)}")

    work = os.path.abspath(a.work) if a.work else tempfile.mkdtemp(prefix="tidemark-query-bench-")
    os.makedirs(work, exist_ok=True)
    run_dir = tempfile.mkdtemp(prefix="run-", dir=work)
    procs = []
    if a.nice:
        os.nice(a.nice)  # children inherit it

    def on_signal(signum, _):
        raise SystemExit(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        meta = load(a, work, tm)
        servers = []

        # Prometheus over a copy of the backfilled blocks.
        shutil.copytree(f"{work}/prom-pristine", f"{run_dir}/prom")
        cfg = f"{run_dir}/prom.yml"
        open(cfg, "w").write("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n")
        port = free_port()
        proc = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={run_dir}/prom",
                                 "--storage.tsdb.retention.time=3650d",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=open(f"{run_dir}/prom.log", "w"))
        procs.append(proc)
        prom = Server("prometheus", port, proc)
        wait_for(lambda: prom.get("/-/ready", {}, timeout=2)[1] == 200, "prometheus", 120, proc)
        servers.append(prom)

        if tm:
            # `tsdb import --data-dir` takes the store itself; the agent keeps it in <data-dir>/tsdb.
            shutil.copytree(f"{work}/tm-pristine", f"{run_dir}/tm/tsdb")
            acfg = a.agent_config
            if not acfg:
                acfg = f"{run_dir}/agent.yaml"
                open(acfg, "w").write("ebpf:\n  enabled: false\ncollectors:\n  cgroup:\n    enabled: false\n"
                                      "  docker:\n    enabled: false\n  node:\n    enabled: false\n")
            port = free_port()
            proc = subprocess.Popen([tm, "agent", "--config", acfg, "--data-dir", f"{run_dir}/tm",
                                     "--listen", f"127.0.0.1:{port}", "--no-ebpf", "--log-level", "warn"],
                                    stdout=subprocess.DEVNULL, stderr=open(f"{run_dir}/agent.log", "w"))
            procs.append(proc)
            agent = Server("tidemark", port, proc)
            wait_for(lambda: agent.get("/-/ready", {}, timeout=2)[1] == 200, "tidemark agent", 300, proc)
            try:
                ok = api_works(agent)
            except Exception:
                ok = False
            if not ok:
                sys.exit("tidemark agent: /api/v1/query?query=1+1 does not answer success yet "
                         "(run with --prom-only to time Prometheus alone)")
            servers.insert(0, agent)

        # Both stores must hold every series and sample of the data set.
        span = f"{a.hours * 3600}s"
        hist = meta["bucket_series"] // len(LE)
        checks = [
            ("count(container_cpu_usage_seconds_total)", meta["containers"]),
            ("count(http_request_duration_seconds_bucket)", meta["bucket_series"]),
        ] + [(f"sum(count_over_time({m}[{span}]))", n * meta["steps"]) for m, n in [
            ("container_cpu_usage_seconds_total", meta["containers"]),
            ("container_memory_working_set_bytes", meta["containers"]),
            ("kube_pod_info", meta["pods"]),
            ("http_request_duration_seconds_bucket", meta["bucket_series"]),
            ("http_request_duration_seconds_sum", hist),
            ("http_request_duration_seconds_count", hist)]]
        for s in servers:
            for q, want in checks:
                got = s.value(q, meta)
                if got != want:
                    sys.exit(f"{s.name} does not hold the data set: {q} = {got}, want {want}")
        log(f"both stores hold {meta['series']} series and {meta['samples']} samples "
            f"(Prometheus: {len(meta['prom_blocks'])} backfilled blocks)")

        # Warm-up, and the answers checked against each other.
        rows = {}
        for name, kind, tgt, q in queries:
            r = {"name": name, "kind": kind, "target": tgt, "query": q, "times": {s.name: [] for s in servers},
                 "cpu": {s.name: [] for s in servers},
                 "problems": [], "max_rel_err": None}
            bodies = {}
            for _ in range(max(1, a.warmup)):
                for s in servers:
                    dt, status, body = s.query(q, kind, meta)
                    bodies[s.name] = body
            if json.loads(bodies["prometheus"]).get("status") != "success":
                sys.exit(f"Prometheus failed {q}: {bodies['prometheus'][:500]!r}")
            r["series"], r["points"] = shape(bodies["prometheus"])
            if tm:
                r["problems"], r["max_rel_err"] = compare(bodies["tidemark"], bodies["prometheus"])
                if r["problems"]:
                    log(f"MISMATCH {name}: " + "; ".join(r["problems"]))
            rows[name] = r

        # Interleaved repetitions; the first server alternates every repetition.
        log(f"timing {len(queries)} queries x {a.reps} repetitions ...")
        load_before = os.getloadavg()[0]
        for rep in range(a.reps):
            order = servers if rep % 2 == 0 else servers[::-1]
            for name, kind, _, q in queries:
                for s in order:
                    c0 = s.cpu_ns()
                    dt, status, body = s.query(q, kind, meta)
                    rows[name]["cpu"][s.name].append((s.cpu_ns() - c0) / 1e6)
                    if status != 200:
                        rows[name]["problems"].append(f"{s.name} answered HTTP {status} in repetition {rep}")
                    rows[name]["times"][s.name].append(dt)
        mem = {s.name: rss(s.proc.pid) for s in servers}
        load_avg = [load_before, os.getloadavg()[0]]

        results = []
        for name, kind, tgt, q in queries:
            r = rows[name]
            r["prometheus_ms"] = statistics.median(r["times"]["prometheus"]) * 1e3
            r["prometheus_cpu_ms"] = statistics.median(r["cpu"]["prometheus"])
            if tm:
                r["tidemark_ms"] = statistics.median(r["times"]["tidemark"]) * 1e3
                r["tidemark_cpu_ms"] = statistics.median(r["cpu"]["tidemark"])
                r["cpu_ratio"] = r["tidemark_cpu_ms"] / r["prometheus_cpu_ms"]
                r["ratio"] = r["tidemark_ms"] / r["prometheus_ms"]
                r["ok"] = r["ratio"] <= 1.0 and not r["problems"]
            del r["times"], r["cpu"]
            results.append(r)
        targets = []
        if tm:
            for t, desc in TARGETS.items():
                rs = [r for r in results if r["target"] == t]
                if not rs:
                    continue
                worst = max(rs, key=lambda r: r["ratio"])
                targets.append({"target": t, "description": desc, "worst_query": worst["name"],
                                "ratio": worst["ratio"], "answers_agree": all(not r["problems"] for r in rs),
                                "met": all(r["ok"] for r in rs)})

        if a.json:
            json.dump({"data": {k: v for k, v in meta.items() if k not in ("key", "tm_key")}, "reps": a.reps,
                       "queries": results, "targets": targets, "load_avg_1m": load_avg,
                       "rss_mib": {k: {"rss": v[0], "hwm": v[1]} for k, v in mem.items()}},
                      sys.stdout, indent=1)
            print()
        else:
            print(f"\n{meta['containers']} containers ({meta['pods']} pods), {a.services * a.pods_per_service} "
                  f"histograms x {len(LE)} buckets; {meta['series']} series, {meta['samples']} samples "
                  f"over {a.hours} h at {STEP_S} s; range = last 1 h at {STEP_S} s; "
                  f"{a.reps} interleaved repetitions, medians; same machine, same run "
                  f"({os.cpu_count()} CPUs, 1-min load {load_avg[0]:.1f} before, {load_avg[1]:.1f} after)\n")
            print(f"{'':49}{'latency ms (median)':^34}{'server CPU ms (median)':^26}")
            print(f"{'query':25}{'kind':>8}{'series':>7}{'points':>9}{'tidemark':>10}{'prom':>9}{'ratio':>7}"
                  f"  {'<=1.0':6}{'tidemark':>10}{'prom':>9}{'ratio':>7}   answers")
            for r in results:
                if tm:
                    check = "MISMATCH" if r["problems"] else f"agree (max rel err {r['max_rel_err']:.0e})"
                    lat = (f"{r['tidemark_ms']:>10.2f}{r['prometheus_ms']:>9.2f}{r['ratio']:>7.3f}  "
                           f"{'yes' if r['ratio'] <= 1.0 else 'NO':6}")
                    cpu = f"{r['tidemark_cpu_ms']:>10.2f}{r['prometheus_cpu_ms']:>9.2f}{r['cpu_ratio']:>7.3f}"
                else:
                    check = "n/a"
                    lat = f"{'-':>10}{r['prometheus_ms']:>9.2f}{'-':>7}  {'':6}"
                    cpu = f"{'-':>10}{r['prometheus_cpu_ms']:>9.2f}{'-':>7}"
                print(f"{r['name']:25}{r['kind']:>8}{r['series']:>7}{r['points']:>9}{lat}{cpu}   {check}")
            print()
            for name, (cur, hwm) in mem.items():
                print(f"RSS after the run, {name}: {cur:.0f} MiB (peak {hwm:.0f} MiB)")
            for r in results:
                if r["problems"]:
                    print(f"  {r['name']}: " + "; ".join(r["problems"][:4]))
            print()
            for t in targets:
                verdict = "MET" if t["met"] else ("NOT MET" if t["answers_agree"] else "NOT MET (answers differ)")
                print(f"target {t['target']}: {t['description']}: tidemark / Prometheus = {t['ratio']:.3f} "
                      f"({t['worst_query']}), target <= 1.0: {verdict}")

        if a.profile and tm:
            for pname in a.profile.split(","):
                q = next((x for x in QUERIES if x[0] == pname), None)
                if q is None:
                    sys.exit(f"--profile: no query named {pname}")
                profile(servers[0], q, meta, f"{run_dir}/perf-{pname}.data", a.profile_seconds,
                        sys.stderr if a.json else sys.stdout)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(run_dir, ignore_errors=True)
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
