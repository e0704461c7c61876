#!/usr/bin/env python3
"""Differential PromQL test: the same data, remote-written to two servers, the same queries.

Generates a deterministic data set (~2 h at 15 s: counters with resets, gauges with negative values
and NaN, classic histograms, gaps, stale markers, series that stop, jittered and sparse scrapes),
sends it to both servers with remote_write 1.0 in ascending time order, then runs instant queries
at several times and range queries over the data against both and compares the answers: HTTP
status, errorType and error text, resultType, label sets, timestamps and values (bit-identical or
within 1e-12 relative; NaN equals NaN), and the number text whenever the numbers are equal.

Also compared: the answers of both remote_write receivers to bad requests, parameter validation
of /query and /query_range, and /series, /labels, /label/<name>/values over the data's series.
Besides the fixed query set, --random N expressions come from a small grammar (seeded).

Standard library only: protobuf is encoded by hand, snappy as literal-only blocks.
Usage: promql_diff.py --a URL --b URL [--a-name N] [--b-name N] [--only REGEX] [--random N]
                      [--seed N] [--skip-deferred] [--verbose]
Exit status: 0 all equal, 1 any mismatch, 2 setup failure (a server down, a write refused).
"""

import argparse
import json
import math
import random
import re
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

STEP_MS = 15_000
SPAN_MS = 2 * 3600 * 1000
STALE_BITS = 0x7FF0000000000002
NAN_BITS = 0x7FF8000000000001  # Go's math.NaN(), what Prometheus itself stores for NaN.


# ---------------------------------------------------------------------------------------------
# remote_write 1.0 encoding (protobuf by hand; snappy block format with literals only)

def _uvarint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(field, payload):
    return _uvarint(field << 3 | 2) + _uvarint(len(payload)) + payload


def encode_write_request(series_batch):
    """series_batch: [(labels dict, [(t_ms, value_bits), ...]), ...] → WriteRequest bytes."""
    out = bytearray()
    for labels, samples in series_batch:
        ts = bytearray()
        for name in sorted(labels):
            ts += _len_field(1, _len_field(1, name.encode()) + _len_field(2, labels[name].encode()))
        for t, bits in samples:
            sample = _uvarint(1 << 3 | 1) + struct.pack("<Q", bits) + _uvarint(2 << 3) + _uvarint(t)
            ts += _len_field(2, sample)
        out += _len_field(1, bytes(ts))
    return bytes(out)


def snappy_literal_block(data):
    out = bytearray(_uvarint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        else:
            out.append(61 << 2)
            out += struct.pack("<H", n)
        out += chunk
    return bytes(out)


def _bits(v):
    return struct.unpack("<Q", struct.pack("<d", v))[0]


# ---------------------------------------------------------------------------------------------
# The data set. Values depend only on the seed; timestamps are relative to `start_ms`.

class Series:
    def __init__(self, labels):
        self.labels = labels
        self.samples = []  # (t_ms, bits), ascending t

    def add(self, t, v):
        self.samples.append((t, _bits(v)))

    def add_bits(self, t, bits):
        self.samples.append((t, bits))


def build_dataset(start_ms, seed=20261122):
    rng = random.Random(seed)
    n = SPAN_MS // STEP_MS + 1  # 481 points: start .. start + 2 h
    ts = [start_ms + k * STEP_MS for k in range(n)]
    out = []

    namespaces = ["alpha", "beta", "gamma"]
    pods = ["api-0", "api-1", "worker-0"]
    containers = ["app", "proxy"]
    node = {"api-0": "node-1:9100", "api-1": "node-2:9100", "worker-0": "node-1:9100"}

    for ns in namespaces:
        for pod in pods:
            for c in containers:
                base = {"namespace": ns, "pod": pod, "container": c, "job": "kubelet",
                        "instance": node[pod]}
                # Counter with resets: a third of them reset once, one twice within 5 minutes.
                cpu = Series({"__name__": "diff_container_cpu_seconds_total", **base})
                r = rng.uniform(0.05, 1.5)
                resets = set()
                if rng.random() < 0.35:
                    resets.add(rng.randrange(100, 400))
                if ns == "beta" and pod == "worker-0" and c == "app":
                    resets |= {200, 212}
                v = rng.uniform(0, 5000)
                for k, t in enumerate(ts):
                    inc = r * 15 * rng.uniform(0.8, 1.2)
                    v = inc if k in resets else v + inc
                    cpu.add(t, v)
                out.append(cpu)
                # Gauge with integer values around 1e8.
                mem = Series({"__name__": "diff_container_memory_bytes", **base})
                m = float(rng.randrange(50_000_000, 250_000_000))
                for t in ts:
                    m += rng.randrange(-1_000_000, 1_000_001)
                    mem.add(t, m)
                out.append(mem)
                # Gauge with negative values, two decimals.
                temp = Series({"__name__": "diff_container_temp_delta", **base})
                phase = rng.uniform(0, 6.28)
                for k, t in enumerate(ts):
                    temp.add(t, round(rng.gauss(0, 2) + 3 * math.sin(k / 20 + phase), 2))
                out.append(temp)

    # Classic histograms for the api pods: cumulative buckets, _sum and _count.
    les = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    bounds = [0.05, 0.1, 0.25, 0.5, 1, 2.5, math.inf]
    for ns in namespaces:
        for pod in ["api-0", "api-1"]:
            base = {"namespace": ns, "pod": pod, "job": "api", "instance": node[pod]}
            name = "diff_http_request_duration_seconds"
            buckets = [Series({"__name__": name + "_bucket", **base, "le": le}) for le in les]
            ssum = Series({"__name__": name + "_sum", **base})
            scount = Series({"__name__": name + "_count", **base})
            counts = [0] * len(les)
            total, count = 0.0, 0
            mu = rng.uniform(-2.5, -0.5)
            for k, t in enumerate(ts):
                if ns == "beta" and pod == "api-0" and k == 300:  # A process restart.
                    counts, total, count = [0] * len(les), 0.0, 0
                idle = ns == "gamma" and pod == "api-1" and k > 400  # No traffic at the end.
                for _ in range(0 if idle else rng.randint(5, 40)):
                    d = rng.lognormvariate(mu, 0.8)
                    total += d
                    count += 1
                    for i, b in enumerate(bounds):
                        if d <= b:
                            counts[i] += 1
                for i, s in enumerate(buckets):
                    s.add(t, counts[i])
                ssum.add(t, total)
                scount.add(t, count)
            out += buckets + [ssum, scount]

    # An info metric for group_left joins.
    for ns in namespaces:
        for pod in pods:
            s = Series({"__name__": "diff_pod_owner", "namespace": ns, "pod": pod,
                        "owner": "team-" + ("web" if pod.startswith("api") else ns),
                        "job": "kube-state-metrics"})
            for t in ts:
                s.add(t, 1)
            out.append(s)

    # up-like 0/1 gauges with down periods.
    for job in ["kubelet", "api"]:
        for inst in ["node-1:9100", "node-2:9100"]:
            s = Series({"__name__": "diff_up", "job": job, "instance": inst})
            down = rng.randrange(50, 400)
            for k, t in enumerate(ts):
                s.add(t, 0 if down <= k < down + rng.choice([4, 4, 30]) else 1)
            out.append(s)

    # Gaps: 12 min (longer than the 5 m lookback), 4 min (shorter), and a counter with two gaps.
    gaps = {"g0": [(120, 168)], "g1": [(120, 136)], "g2": [(200, 230), (300, 305)]}
    for name, series_gaps in gaps.items():
        counter = name == "g2"
        s = Series({"__name__": "diff_gappy_total" if counter else "diff_gappy", "series": name,
                    "job": "gap"})
        v = 0.0
        for k, t in enumerate(ts):
            v = v + rng.uniform(0, 10) if counter else round(rng.uniform(-100, 100), 1)
            if not any(a <= k < b for a, b in series_gaps):
                s.add(t, v)
        out.append(s)

    # Series that end: with a stale marker, by just stopping, stale then resuming, stale at the
    # very last step; as a gauge and as a counter.
    for metric, counter in [("diff_ending", False), ("diff_ending_total", True)]:
        for kind in ["stale", "stop", "stale_resume", "stale_end"]:
            s = Series({"__name__": metric, "kind": kind, "job": "end"})
            v = 0.0
            for k, t in enumerate(ts):
                v = v + rng.uniform(1, 3) if counter else rng.uniform(0, 50)
                if kind == "stale" and k > 320 or kind == "stop" and k > 320:
                    if kind == "stale" and k == 321:
                        s.add_bits(t, STALE_BITS)
                    continue
                if kind == "stale_resume" and 240 <= k < 280:
                    if k == 240:
                        s.add_bits(t, STALE_BITS)
                    continue
                if kind == "stale_end" and k == n - 1:
                    s.add_bits(t, STALE_BITS)
                    continue
                s.add(t, v)
            out.append(s)

    # NaN values (both stores keep them as ordinary values).
    for name in ["n0", "n1"]:
        s = Series({"__name__": "diff_nan_gauge", "series": name, "job": "nan"})
        for k, t in enumerate(ts):
            if name == "n0" and k % 7 == 3 or name == "n1" and 200 <= k < 240:
                s.add_bits(t, NAN_BITS)
            else:
                s.add(t, round(rng.uniform(-10, 10), 3))
        out.append(s)

    # Jittered and sparse scrapes: 10 s ± 0.4 s, 30 s ± 2 s, 60 s exactly.
    for inst, interval, jitter in [("j0", 10_000, 400), ("j1", 30_000, 2000), ("j2", 60_000, 0)]:
        s = Series({"__name__": "diff_jitter_total", "instance": inst, "job": "jitter"})
        v = rng.uniform(0, 100)
        for k in range(SPAN_MS // interval + 1):
            t = start_ms + k * interval + (rng.randint(-jitter, jitter) if 0 < k else 0)
            t = min(t, start_ms + SPAN_MS)
            v += rng.uniform(0, 20)
            s.add(t, v)
        out.append(s)

    # Label values that need escaping in JSON and in PromQL strings.
    for i, val in enumerate(['a"b', "back\\slash", "new\nline", "ünïcødé ✓", "", "x" * 300]):
        s = Series({"__name__": "diff_weird", "idx": str(i), "job": "weird", "val": val})
        for k, t in enumerate(ts):
            s.add(t, i * 1000 + k)
        out.append(s)

    # A histogram with non-monotonic buckets, an le written two ways, and one without +Inf.
    for hist, les_h in [("mono", ["0.1", "1", "1.0", "10", "+Inf"]), ("noinf", ["0.1", "1", "10"])]:
        buckets = [Series({"__name__": "diff_odd_hist_bucket", "hist": hist, "job": "hist",
                           "le": le}) for le in les_h]
        counts = [0.0] * len(les_h)
        for k, t in enumerate(ts):
            for i in range(len(les_h)):
                counts[i] += rng.randint(0, 3) + i
            if k % 9 == 4:  # The 10 bucket falls below the 1 bucket now and then.
                counts[len(les_h) - 2] = max(counts[len(les_h) - 2], counts[1]) 
            for i, b in enumerate(buckets):
                b.add(t, counts[i] - (5 if k % 9 == 4 and i == len(les_h) - 2 else 0))
        out += buckets

    # Number formatting and precision edges.
    kinds = {
        "large": lambda k: 1e15 + k * 0.125,
        "small": lambda k: 1e-7 * (1 + k % 5),
        "tiny_neg": lambda k: -3e-9 * (k % 11 + 1),
        "huge": lambda k: 1.5e21 + k * 1e6,
        "int": float,
        "frac": lambda k: k / 3,
        "negzero": lambda k: -0.0,
    }
    for kind, f in kinds.items():
        s = Series({"__name__": "diff_precise", "kind": kind, "job": "precise"})
        for k, t in enumerate(ts):
            s.add(t, f(k))
        out.append(s)
    return out


def post_write(url, body, timeout=60):
    """POSTs a remote_write body; returns (HTTP status or 0, response text)."""
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/write", data=body, method="POST",
                                 headers={"Content-Encoding": "snappy",
                                          "Content-Type": "application/x-protobuf",
                                          "User-Agent": "promql-diff/1.0",
                                          "X-Prometheus-Remote-Write-Version": "0.1.0"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return 0, str(e)


def send_dataset(url, series, window_ms=5 * 60_000, timeout=60):
    """Remote-writes every series in ascending time windows. Returns None or an error text."""
    if not series:
        return None
    t0 = min(s.samples[0][0] for s in series if s.samples)
    t1 = max(s.samples[-1][0] for s in series if s.samples)
    cursors = [0] * len(series)
    lo = t0
    while lo <= t1:
        hi = lo + window_ms
        batch = []
        for i, s in enumerate(series):
            j = cursors[i]
            k = j
            while k < len(s.samples) and s.samples[k][0] < hi:
                k += 1
            if k > j:
                batch.append((s.labels, s.samples[j:k]))
            cursors[i] = k
        code, text = post_write(url, snappy_literal_block(encode_write_request(batch)), timeout)
        if code // 100 != 2:
            return f"{url}: /api/v1/write answered {code}: {text}"
        lo = hi
    return None


# ---------------------------------------------------------------------------------------------
# The queries. `{S}`, `{E}` and `{M}` are replaced by the data's start, end and midpoint in
# seconds (for @). Flags: "instant"/"range" limit where a query runs (default both); "sorted"
# compares result order (sort, sort_desc); "ties" compares only the values of the result, for
# topk/bottomk/sort over equal values, where which series wins depends on each engine's input
# order (Prometheus picks by its own iteration order; no order is specified); "deferred" marks
# features the subset defers (promql.md §1: trig, holt_winters), left out by --skip-deferred.

CPU = "diff_container_cpu_seconds_total"
MEM = "diff_container_memory_bytes"
TEMP = "diff_container_temp_delta"
H = "diff_http_request_duration_seconds"

Q = []


def q(expr, *flags):
    Q.append((expr, set(flags)))


def build_queries():
    Q.clear()
    # Selectors, matchers, lookback, staleness, offset, @.
    for e in [MEM, f'{MEM}{{namespace="alpha"}}', f'{MEM}{{namespace!="alpha",container=~"app|prox.*"}}',
              f'{MEM}{{pod=~"api-.*",container!~"prox.*"}}', f'{MEM}{{pod=~"API-0"}}',
              '{__name__=~"diff_container_(memory_bytes|temp_delta)",namespace="beta"}',
              '{__name__="diff_up"}', 'diff_up{job=~""}', 'diff_up{instance=~"node-1.*|"}',
              "diff_gappy", "diff_gappy_total", "diff_ending", "diff_ending_total", "diff_nan_gauge",
              "diff_jitter_total", "diff_precise", "diff_pod_owner", "diff_nonexistent",
              f"{MEM} offset 10m", f"{MEM} offset 1h", "diff_ending offset 3m", "diff_up offset -5m",
              "diff_precise @ {M}", "diff_ending @ {E}", f"{MEM} @ {{S}} offset -10m",
              "diff_gappy @ end()", "diff_gappy @ start()", f"sum({MEM} @ start())",
              "diff_weird", 'diff_weird{val=~".*\\\\.*"}', 'diff_weird{val=~"ü.*"}',
              'diff_weird{val="a\\"b"}', 'diff_weird{val=""}', 'diff_weird{val!=""}',
              'diff_weird{val=~"x{300}"}', 'diff_weird{val=~"new.line"}', 'diff_weird{val=~"(?s)new.line"}',
              '{__name__!="diff_up", job="end"}', 'diff_up{job=~"ap"}', 'diff_up{nonexistent!~"x"}',
              'diff_up{job=~"API",job!~"kube.*"}', 'diff_up{job=~"(?i)API"}',
              "diff_up offset 1m30s", "diff_ending offset 1m30s500ms", "diff_up @ {M}.250",
              "rate(diff_up[5m] offset 1m @ {M})", "rate(diff_up[5m] @ {M} offset 1m)"]:
        q(e)
    for e in [f"{MEM}[5m]", "diff_ending[10m]", "diff_ending_total[20m] offset 5m",
              "diff_jitter_total[2m]", "diff_nan_gauge[2m]", "diff_precise[1m]", "diff_gappy[7m]",
              "diff_up[1m] @ {M}", "diff_precise[30s] offset 1m"]:
        q(e, "instant")

    # Counter and gauge range functions.
    for f in ["rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "changes"]:
        q(f"{f}({CPU}[5m])")
        q(f"{f}(diff_jitter_total[1m])")
    for e in [f"rate({CPU}[1m])", f"rate({CPU}[30s])", f"rate({CPU}[1h])", f"increase({CPU}[2m])",
              "rate(diff_jitter_total[45s])", "rate(diff_jitter_total[2m])",
              "increase(diff_jitter_total[90s])", "irate(diff_jitter_total[45s])",
              "increase(diff_gappy_total[10m])", "rate(diff_gappy_total[5m])",
              "rate(diff_ending_total[5m])", "increase(diff_ending_total[10m])",
              "irate(diff_ending_total[1m])", "delta(diff_ending[5m])", "idelta(diff_gappy[5m])",
              f"rate({H}_bucket[5m])", f"increase({H}_count[15m])", "delta(diff_nan_gauge[2m])",
              f"deriv({MEM}[10m])", "deriv(diff_precise[5m])", "deriv(diff_gappy[3m])",
              f"predict_linear({MEM}[10m], 3600)", f"predict_linear({TEMP}[5m], -600)",
              "predict_linear(diff_nan_gauge[5m], 60)", "changes(diff_up[30m])",
              "changes(diff_nan_gauge[5m])", f"resets({CPU}[1h])", "resets(diff_ending_total[1h])",
              f"rate({CPU}[5m] offset 30m)", f"rate({CPU}[5m] @ {{M}})", "delta(diff_precise[2m])",
              "idelta(diff_precise[1m])", f"deriv({CPU}[1m])"]:
        q(e)
    for f in ["avg", "min", "max", "sum", "count", "last", "stddev", "stdvar", "present"]:
        q(f"{f}_over_time({MEM}[10m])")
        q(f"{f}_over_time(diff_nan_gauge[5m])")
        q(f"{f}_over_time(diff_ending[10m])")
        q(f"{f}_over_time(diff_gappy[3m])")
    for e in [f"quantile_over_time(0.9, {TEMP}[10m])", f"quantile_over_time(0, {TEMP}[5m])",
              f"quantile_over_time(1, {TEMP}[5m])", f"quantile_over_time(-1, {TEMP}[5m])",
              f"quantile_over_time(2, {TEMP}[5m])", "quantile_over_time(0.5, diff_nan_gauge[5m])",
              f"avg_over_time({TEMP}[1h])", "avg_over_time(diff_precise[10m])",
              "sum_over_time(diff_precise[10m])", "stddev_over_time(diff_precise[10m])",
              "absent_over_time(diff_nonexistent[5m])",
              'absent_over_time(diff_nonexistent{job="x",kind=~"a.*"}[5m])',
              'absent_over_time(diff_ending{kind="stop"}[5m])', "absent_over_time(diff_gappy[5m])",
              "last_over_time(diff_ending[1h])", "count_over_time(diff_jitter_total[1m])",
              "max_over_time(diff_jitter_total[1m] offset 1m)", f"rate({CPU}[1m30s])",
              "changes(diff_nan_gauge[1m30s])", "resets(diff_nan_gauge[10m])",
              "deriv(diff_nan_gauge[5m])", "predict_linear(diff_gappy[5m], 90.5)",
              "count_over_time(diff_weird[1m])"]:
        q(e)
    q(f"holt_winters({TEMP}[10m], 0.5, 0.5)", "deferred")

    # histogram_quantile.
    for e in [f"histogram_quantile(0.9, sum by (le) (rate({H}_bucket[5m])))",
              f"histogram_quantile(0.5, sum by (le, namespace) (rate({H}_bucket[5m])))",
              f"histogram_quantile(0.99, rate({H}_bucket[5m]))",
              f"histogram_quantile(0.5, {H}_bucket)",
              f"histogram_quantile(0, sum by (le) (rate({H}_bucket[5m])))",
              f"histogram_quantile(1, sum by (le) (rate({H}_bucket[5m])))",
              f"histogram_quantile(-0.5, sum by (le) (rate({H}_bucket[5m])))",
              f"histogram_quantile(1.5, sum by (le) (rate({H}_bucket[5m])))",
              f"histogram_quantile(NaN, sum by (le) (rate({H}_bucket[5m])))",
              f'histogram_quantile(0.9, sum by (le) (rate({H}_bucket{{le!="+Inf"}}[5m])))',
              f'histogram_quantile(0.9, sum by (le, pod) (rate({H}_bucket{{namespace="gamma"}}[5m])))',
              f"histogram_quantile(0.75, {MEM})",
              f"sum(rate({H}_sum[5m])) / sum(rate({H}_count[5m]))",
              "histogram_quantile(0.5, diff_odd_hist_bucket)",
              "histogram_quantile(0.9, rate(diff_odd_hist_bucket[5m]))",
              "histogram_quantile(0.2, diff_odd_hist_bucket)",
              "histogram_quantile(0.99, sum by (le) (diff_odd_hist_bucket))",
              f"histogram_quantile(scalar(diff_up{{job=\"api\",instance=\"node-1:9100\"}}) * 0.9, sum by (le) (rate({H}_bucket[5m])))"]:
        q(e)

    # Math, clamping, rounding.
    for f in ["abs", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "sgn"]:
        q(f"{f}({TEMP})")
        q(f"{f}(diff_precise)")
    for e in [f"round({TEMP}, 0.5)", f"round({TEMP}, 5)", f"round({MEM}, 1e6)",
              "round(diff_precise, 0.001)", f"exp({MEM})", f"clamp({TEMP}, -1, 1)",
              f"clamp({TEMP}, 2, 1)", f"clamp_min({TEMP}, 0)", f"clamp_max({TEMP}, 0)",
              "clamp_max(diff_nan_gauge, 1)", "clamp_min(diff_nan_gauge, NaN)", "abs(diff_nan_gauge)",
              f"ln({TEMP} - {TEMP})", "sgn(vector(-0.0))", "--1"]:
        q(e)
    for f in ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
              "acosh", "atanh", "deg", "rad"]:
        q(f"{f}({TEMP} / 10)", "deferred")
    q("pi()", "deferred")

    # absent, labels, time, conversions, sorting, dates.
    for e in ["absent(diff_nonexistent)", 'absent(diff_nonexistent{job="x",foo=~"bar",baz="q"})',
              'absent(diff_nonexistent{job="x",job="y"})', "absent(diff_up)",
              'absent(diff_ending{kind="stale"})', "absent(sum(diff_nonexistent))",
              'label_replace(diff_up, "host", "$1", "instance", "(.*):.*")',
              'label_replace(diff_up, "instance", "", "instance", ".*")',
              'label_replace(diff_up, "x", "$2-$1", "instance", "node-(\\\\d):(\\\\d+)")',
              'label_replace(diff_up, "job", "$1", "nonexistent", "(.*)")',
              'label_replace(diff_up, "__name__", "renamed", "job", "api")',
              'label_replace(diff_up, "x", "y", "instance", "node-1")',
              'label_join(diff_up, "both", "/", "job", "instance")',
              'label_join(diff_up, "job", "", "instance")', 'label_join(diff_up, "empty", ",")',
              'label_join(diff_up, "x", "-", "nonexistent", "job")',
              'label_join(diff_weird, "j", "|", "val", "__name__")',
              'label_replace(diff_weird, "v", "<$1>", "val", "(.*)")',
              'label_replace(diff_weird, "val", "$1", "val", "(?s)(.*)\\n.*")',
              'label_replace(diff_up, "a", "$1$2", "instance", "(node)-(\\\\d).*")',
              'label_replace(diff_up, "a", "${1}x", "instance", "(node)")',
              'label_replace(diff_up, "a", "$3", "instance", "(.*)")',
              "time()", "timestamp(diff_jitter_total)", "timestamp(diff_ending)",
              "timestamp(diff_gappy offset 1m)", "timestamp(rate(diff_jitter_total[1m]))",
              "vector(1)", "vector(time())", "vector(-0.0)",
              'scalar(diff_up{job="api",instance="node-1:9100"})', "scalar(diff_up)",
              "scalar(diff_nonexistent)", "scalar(vector(3)) * 2", "time() - {E}",
              f"timestamp({MEM}) - time()"]:
        q(e)
    for e in [f"sort({TEMP})", f"sort_desc({TEMP})", f"sort({MEM})",
              f"sort_desc(rate({CPU}[5m]))", "sort(diff_nan_gauge)", "sort_desc(diff_nan_gauge)",
              "sort(diff_precise)"]:
        q(e, "sorted", "instant")
    q("sort(diff_up)", "sorted", "ties", "instant")
    for f in ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute",
              "month", "year"]:
        q(f"{f}()")
        q(f"{f}(timestamp(diff_jitter_total))")
    for e in ["days_in_month(vector(1709164800))", "day_of_year(vector(1735603200))",
              "month(vector(-1))", "year(vector(NaN))", "hour(vector(1e11))",
              'minute(diff_precise{kind="int"} * 3600)']:
        q(e)

    # Aggregations.
    for agg in ["sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"]:
        q(f"{agg}({MEM})")
        q(f"{agg} by (namespace) ({TEMP})")
        q(f"{agg} without (container) (rate({CPU}[5m]))")
        q(f"{agg}(diff_nan_gauge)")
        q(f"{agg} by (kind) (diff_precise)")
    for e in [f"topk(3, {MEM})", f"bottomk(2, {MEM}) by (namespace)",
              f"topk by (namespace) (1, rate({CPU}[5m]))", f"topk(0, {MEM})", f"topk(-1, {MEM})",
              f"topk(1000, {TEMP})", f"bottomk(1, {TEMP})", f"topk(2.9, {MEM})",
              "topk(1, diff_nan_gauge)", "bottomk(1, diff_nan_gauge)",
              f"topk(scalar(count(diff_up)), {TEMP})",
              f"quantile(0.5, {MEM})", f"quantile by (namespace) (0.9, {TEMP})",
              f"quantile(0, {TEMP})", f"quantile(1, {TEMP})", f"quantile(-1, {TEMP})",
              f"quantile(1.5, {TEMP})", "quantile(0.5, diff_nan_gauge)",
              'count_values("value", diff_up)', 'count_values by (job) ("v", diff_up)',
              'count_values("le", diff_precise)', f'count_values("t", round({TEMP}))',
              'count_values("job", diff_up)', 'count_values("v", diff_precise)',
              'count_values("v", diff_nan_gauge)', 'count_values("v", diff_weird)',
              f"count without (__name__) ({{__name__=~\"{MEM}|{TEMP}\"}})",
              f"sum without (__name__, container) ({{__name__=~\"{MEM}|{TEMP}\"}})",
              'count by (val) (diff_weird)',
              "group by (namespace) (diff_pod_owner)",
              '{__name__=~"diff_container_(memory_bytes|temp_delta)"} > 0',
              'sum by (__name__) ({__name__=~"diff_container_(memory_bytes|temp_delta)"})',
              f"sum without () ({MEM})", f"sum by () ({MEM})",
              f"count without (namespace, pod, container, instance, job) ({MEM})",
              f"avg by (namespace) ({MEM}) / on (namespace) group_left sum by (namespace) ({MEM})",
              f"max by (pod) ({TEMP}) - min by (pod) ({TEMP})",
              f"sum(rate({CPU}[5m])) by (namespace, pod)",
              "stddev(diff_precise)", "sum(diff_precise)", "avg(diff_precise)",
              f"sum(count by (pod) ({MEM}))"]:
        q(e)
    for e in ["topk(2, diff_up)", "bottomk(1, diff_up) by (job)", "topk(1, diff_pod_owner)"]:
        q(e, "ties")

    # Binary operators.
    for e in [f"{MEM} + 1", f"2 * {MEM}", f"{TEMP} / 0", f"{TEMP} % 7", f"{TEMP} % -0.7",
              f"{TEMP} ^ 2", f"2 ^ {TEMP}", f"-{TEMP}", f"{TEMP} - {TEMP}", f"{TEMP} / {TEMP}",
              f"{MEM} - {MEM} offset 5m", "diff_nan_gauge * 2", "diff_nan_gauge > 0",
              f"{TEMP} atan2 1", f"1 atan2 {TEMP}",
              "1 + 2 * 3", "2 ^ 3 ^ 2", "-2 ^ 2", "5 % -3", "-5 % 3", "1 / 0", "-1 / 0", "0 / 0",
              "1 > bool 2", "2 >= bool 2", "NaN == bool NaN", "Inf != bool Inf", "(1 + 2) * 3",
              f"{MEM} > 1.5e8", f"{TEMP} == 0", f"{TEMP} != 0", f"{TEMP} >= bool 0",
              f"{TEMP} < bool 0", f"0 < {TEMP}", f"1 == bool {TEMP}", f"{TEMP} > {TEMP} offset 1m",
              f"{TEMP} >= bool {TEMP} offset 1m", f"{TEMP} <= {TEMP}",
              f"rate({CPU}[5m]) / on (namespace, pod, container, job, instance) {MEM}",
              f"rate({CPU}[5m]) / ignoring (job) ({MEM} / 1e9)",
              f"{MEM} * on (namespace, pod) group_left (owner) diff_pod_owner",
              f"{MEM} * on (namespace, pod) group_left diff_pod_owner",
              f"diff_pod_owner * on (namespace, pod) group_right (owner) {MEM}",
              f"sum by (owner) (rate({CPU}[5m]) * on (namespace, pod) group_left (owner) diff_pod_owner)",
              f"{MEM} / ignoring (container) group_left sum without (container) ({MEM})",
              f"{MEM} > bool on (namespace, pod) group_left (owner) diff_pod_owner",
              f"{MEM} + on (namespace) diff_pod_owner",
              f"{MEM} * on (namespace, pod) diff_pod_owner",
              f"diff_pod_owner * on (namespace, pod) {MEM}",
              f"{MEM} + ignoring (container) {TEMP}",
              f"rate({{__name__=~\"{CPU}|{MEM}\"}}[5m])",
              f"{MEM} and {MEM} > 2e8", f"{MEM} and on (instance) diff_up{{job=\"kubelet\"}} == 0",
              f"{MEM} and on (namespace, pod) (diff_pod_owner{{owner=\"team-web\"}})",
              "diff_up == 0 or diff_up", "diff_up or diff_up * 2", "diff_nonexistent or diff_up",
              f"{MEM} unless on (namespace) diff_pod_owner{{namespace=\"alpha\"}}",
              f"{MEM} unless {MEM} > 2e8", "vector(1) or vector(2)", "vector(1) and vector(2)",
              "vector(1) unless vector(2)", "diff_up + 1 * 2 > bool 2 or vector(5)",
              "(diff_up or diff_up{job=\"api\"} * 3) + on (job, instance) diff_up",
              f"sum({MEM}) / count({MEM}) - avg({MEM})", "diff_up - on () group_left vector(1)",
              f"{MEM} > 1.5e8 and on (namespace, pod) {TEMP} < 0", "diff_ending > diff_ending",
              f"{TEMP} > bool 0 == bool 1", f"-{TEMP} ^ 2",
              "diff_nan_gauge == bool diff_nan_gauge", "diff_nan_gauge != diff_nan_gauge",
              "diff_nan_gauge > bool NaN", "topk(1, diff_nan_gauge) by (series)",
              f"{MEM} * on (namespace, pod) group_left (owner, job) diff_pod_owner",
              f"{MEM} * ignoring (container, job) group_left (owner) diff_pod_owner",
              "diff_weird + ignoring (val) diff_weird",
              "diff_weird * on (idx) group_left (val) diff_weird"]:
        q(e)

    # Subqueries.
    for e in [f"max_over_time(rate({CPU}[1m])[10m:1m])", f"avg_over_time({MEM}[30m:5m])",
              f"rate({CPU}[5m:30s])", "min_over_time(sum(diff_up)[1h:])",
              f"deriv(sum({MEM})[20m:2m] offset 10m)",
              f"max_over_time(max_over_time({TEMP}[2m:15s])[10m:1m])",
              f"count_over_time({TEMP}[7m:45s])", "sum_over_time(diff_ending[10m:1m])",
              "last_over_time(diff_gappy[10m:30s])", f"{TEMP}[5m:1m]",
              f"avg_over_time(rate({CPU}[5m])[15m:1m] @ {{M}})",
              "quantile_over_time(0.5, diff_nan_gauge[10m:1m])",
              f"rate({CPU}[90s:7s] offset 1m30s)", f"max_over_time({TEMP}[10m:1m] @ {{M}} offset 5m)",
              f"sum_over_time(rate({CPU}[1m])[5m:15s] @ end())", "changes(diff_up[1h:1m])",
              "resets(sum(diff_ending_total)[30m:])", f"{TEMP}[2m:15s] offset 1m"]:
        q(e, "instant") if e.endswith("[5m:1m]") else q(e)

    # Literals and strings.
    for e in ['"hello"', "1.5", "-1e-7", "0x1f", "1e21", "Inf", "-Inf", "NaN", "1e-7", "123456789012345678",
              "0.1 + 0.2", "2^1023 * 2"]:
        q(e, "instant") if e.startswith('"') else q(e)

    # Errors (instant only; the messages are compared too).
    for e in ["sum(rate(", '{a=""}', "diff_up{", f"rate({MEM})", f"{MEM}[5m] + 1", "foo bar",
              "1 > 2", 'label_replace(diff_up, "1bad", "", "", "")',
              'label_replace(diff_up, "x", "y", "job", "(")', "histogram_quantile(0.9)",
              "topk(diff_up, 3)", f"rate({MEM}[0s])", "diff_up[5m:0s]", "unknown_function(diff_up)",
              "sum by (job) (diff_up) by (job)", "diff_up and 1", "1 and diff_up",
              'count_values("1bad", diff_up)', "diff_up @ foo()", "diff_up offset",
              'diff_up{job="api"}[1m:1m] @ 1 @ 2', "diff_up + on(job) group_left group_right diff_up",
              "sum(diff_up) by", "sqrt(-1)", "1 +", "abs()", 'diff_up{job=~"("}', "a[5x]", "@", "{}",
      f"{MEM} * on (namespace, pod) group_left (namespace) diff_pod_owner",
      "diff_weird * on (job) group_left (val) diff_weird", 'diff_up{job="a" or}',
      'label_replace(diff_up, "a", "$1", "instance", "(node)-(\\d)")',
      "diff_up offset 1m offset 2m", "count_values(diff_up)",
      'label_join(diff_up, "a", "-", "1bad")', "vector(diff_up)", "scalar(1)",
      'diff_weird{val="new\nline"} + on () diff_weird', '"a" + 1', "sum(\"x\")"]:
        q(e, "instant", "error")
    return Q


def random_queries(n, seed):
    """n expressions from a small grammar over the container metrics (which share one label
    structure, so vector matching stays one-to-one), deterministic for a seed."""
    rng = random.Random(seed)
    sels = [CPU, MEM, TEMP, f'{CPU}{{namespace="beta"}}', f'{MEM}{{container=~"app"}}',
            f'{TEMP}{{pod!="api-0"}}', f'{TEMP}{{instance=~"node-1.*"}}']
    ranges = ["30s", "1m", "90s", "2m", "5m", "10m"]
    rfuncs = ["rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
              "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
              "count_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
              "present_over_time"]
    aggs = ["sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"]
    labels = ["namespace", "pod", "container", "instance", "job"]
    fns = ["abs", "ceil", "floor", "sqrt", "exp", "ln", "sgn", "round", "log2", "-"]
    ops = ["+", "-", "*", "/", "%", "^", "> bool", "<", ">=", "== bool", "!="]

    def scalar():
        return rng.choice(["0", "1", "2", "0.5", "-3", "1e3", "100", "time() % 7"])

    def vec(d):
        r = rng.random()
        if d <= 0 or r < 0.15:
            off = rng.choice(["", "", " offset 1m", " offset 7m30s"])
            return rng.choice(sels) + off
        if r < 0.40:
            off = rng.choice(["", "", "", " offset 2m"])
            return f"{rng.choice(rfuncs)}({rng.choice(sels)}[{rng.choice(ranges)}]{off})"
        if r < 0.55:
            ls = ", ".join(rng.sample(labels, rng.randint(0, 3)))
            return f"{rng.choice(aggs)} {rng.choice(['by', 'without'])} ({ls}) ({vec(d - 1)})"
        if r < 0.67:
            if rng.random() < 0.5:
                return f"({vec(d - 1)}) {rng.choice(ops)} {scalar()}"
            return f"{scalar()} {rng.choice(ops)} ({vec(d - 1)})"
        if r < 0.77:
            f = rng.choice(fns)
            return f"-({vec(d - 1)})" if f == "-" else f"{f}({vec(d - 1)})"
        if r < 0.87:
            f = rng.choice(["rate", "deriv", "avg_over_time", "max_over_time", "sum_over_time",
                            "count_over_time", "last_over_time", "changes"])
            sub = rng.choice(["10m:1m", "5m:30s", "3m:", "15m:2m"])
            return f"{f}(({vec(d - 1)})[{sub}])"
        if r < 0.94:
            a, b = rng.choice(aggs), rng.choice(aggs)
            on = rng.choice(["namespace", "pod", "namespace, pod"])
            return (f"{a} by ({on}) ({vec(d - 1)}) {rng.choice(ops + ['and', 'or', 'unless'])} "
                    f"on ({on}) {b} by ({on}) ({vec(d - 1)})")
        k = rng.choice(["clamp_min({}, 1)", "clamp_max({}, 0.5)", "clamp({}, -1, 1)",
                        "round({}, 0.25)", 'label_replace({}, "x", "$1", "pod", "(.*)-.*")',
                        "timestamp({})", "histogram_quantile(0.9, {})", "absent({})"])
        return k.format(vec(d - 1))

    seen, out = set(), []
    while len(out) < n:
        e = vec(rng.randint(1, 4))
        if e not in seen:
            seen.add(e)
            out.append(e)
    return out


# ---------------------------------------------------------------------------------------------
# HTTP and comparison

class Answer:
    def __init__(self, code, body):
        self.code = code
        self.raw = body
        try:
            # Numbers are kept as their JSON text, so formatting can be compared too.
            self.json = json.loads(body, parse_float=lambda s: ("num", s),
                                   parse_int=lambda s: ("num", s))
        except ValueError:
            self.json = None

    def brief(self, limit=600):
        s = self.raw if len(self.raw) <= limit else self.raw[:limit] + f"… ({len(self.raw)} bytes)"
        return f"HTTP {self.code} {s}"


def http(url, path, params, method="GET", timeout=60):
    data = urllib.parse.urlencode(params).encode()
    if method == "GET":
        req = urllib.request.Request(f"{url}{path}?{data.decode()}")
    else:
        req = urllib.request.Request(f"{url}{path}", data=data, method=method, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Answer(r.status, r.read().decode(errors="replace"))
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.read().decode(errors="replace"))
    except OSError as e:
        return Answer(0, f"connection failed: {e}")


def _num(x):
    return x[1] if isinstance(x, tuple) and x[0] == "num" else x


def _value_diff(a, b):
    """None when equal; otherwise a reason. a, b: value strings as sent."""
    if a == b:
        return None
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return f"value {a!r} vs {b!r}"
    if math.isnan(fa) and math.isnan(fb):
        return f"NaN written differently: {a!r} vs {b!r}"
    if fa == fb:
        if math.copysign(1, fa) != math.copysign(1, fb):
            return f"sign of zero {a!r} vs {b!r}"
        return f"same number, different text: {a!r} vs {b!r}"
    if math.isinf(fa) or math.isinf(fb) or math.isnan(fa) or math.isnan(fb):
        return f"value {a} vs {b}"
    if abs(fa - fb) <= 1e-12 * max(abs(fa), abs(fb)):
        return None
    return f"value {a} vs {b} (rel {abs(fa - fb) / max(abs(fa), abs(fb)):.3g})"


def _point_diff(pa, pb):
    ta, tb = _num(pa[0]), _num(pb[0])
    if ta != tb:
        return f"timestamp {ta} vs {tb}"
    return _value_diff(pa[1], pb[1])


def _plain(x):
    """The answer fragment x as JSON-like text, numbers as they were written."""
    if isinstance(x, tuple) and len(x) == 2 and x[0] == "num":
        return x[1]
    if isinstance(x, list):
        return "[" + ",".join(_plain(y) for y in x) + "]"
    if isinstance(x, dict):
        return "{" + ",".join(f"{k}:{_plain(v)}" for k, v in x.items()) + "}"
    return json.dumps(x)


def _key(metric):
    return tuple(sorted(metric.items()))


def _fmt_key(k):
    return "{" + ", ".join(f'{n}="{v}"' for n, v in k) + "}"


def compare(a, b, flags):
    """Returns a list of difference lines (empty when the answers agree)."""
    if a.json is None or b.json is None:
        if a.code == b.code and a.raw == b.raw:
            return []
        return [f"non-JSON answer: HTTP {a.code} vs {b.code}"]
    ja, jb = a.json, b.json
    diffs = []
    if a.code != b.code:
        diffs.append(f"HTTP status {a.code} vs {b.code}")
    if ja.get("status") != jb.get("status"):
        diffs.append(f"status {ja.get('status')} vs {jb.get('status')}")
        return diffs
    if ja.get("status") == "error":
        if ja.get("errorType") != jb.get("errorType"):
            diffs.append(f"errorType {ja.get('errorType')} vs {jb.get('errorType')}")
        if ja.get("error") != jb.get("error"):
            diffs.append(f"error text differs:\n      {ja.get('error')}\n      {jb.get('error')}")
        return diffs
    da, db = ja.get("data") or {}, jb.get("data") or {}
    if da.get("resultType") != db.get("resultType"):
        diffs.append(f"resultType {da.get('resultType')} vs {db.get('resultType')}")
        return diffs
    ra, rb = da.get("result"), db.get("result")
    rtype = da.get("resultType")
    if rtype in ("scalar", "string"):
        if not isinstance(ra, list) or not isinstance(rb, list) or len(ra) != 2 or len(rb) != 2:
            return diffs + [f"malformed {rtype}: {_plain(ra)} vs {_plain(rb)}"]
        d = _point_diff(ra, rb) if rtype == "scalar" else (
            None if _num(ra[0]) == _num(rb[0]) and ra[1] == rb[1] else
            f"{_plain(ra)} vs {_plain(rb)}")
        return diffs + ([d] if d else [])
    if not isinstance(ra, list) or not isinstance(rb, list):
        return diffs + [f"result is not a list: {type(ra).__name__} vs {type(rb).__name__}"]
    field = "value" if rtype == "vector" else "values"
    if "ties" in flags:
        va = sorted(str(x[field][1]) for x in ra) if rtype == "vector" else None
        vb = sorted(str(x[field][1]) for x in rb) if rtype == "vector" else None
        if rtype == "vector":
            if va != vb:
                diffs.append(f"values (ties allowed) {va} vs {vb}")
            return diffs
        if len(ra) != len(rb):
            diffs.append(f"{len(ra)} vs {len(rb)} series (ties allowed)")
        return diffs
    ma, mb = {}, {}
    for m, r in ((ma, ra), (mb, rb)):
        for x in r:
            k = _key(x.get("metric", {}))
            if k in m:
                diffs.append(f"duplicate series {_fmt_key(k)} in one answer")
            m[k] = x
    only_a = [k for k in ma if k not in mb]
    only_b = [k for k in mb if k not in ma]
    for k in only_a[:5]:
        diffs.append(f"only in A: {_fmt_key(k)} {_plain(ma[k].get(field)):.160}")
    for k in only_b[:5]:
        diffs.append(f"only in B: {_fmt_key(k)} {_plain(mb[k].get(field)):.160}")
    if len(only_a) > 5 or len(only_b) > 5:
        diffs.append(f"({len(only_a)} series only in A, {len(only_b)} only in B in all)")
    nval = 0
    for k in ma:
        if k not in mb:
            continue
        if rtype == "vector":
            d = _point_diff(ma[k]["value"], mb[k]["value"])
            if d:
                nval += 1
                if nval <= 5:
                    diffs.append(f"{_fmt_key(k)}: {d}")
        else:
            pa, pb = ma[k]["values"], mb[k]["values"]
            ta = [_num(p[0]) for p in pa]
            tb = [_num(p[0]) for p in pb]
            if ta != tb:
                nval += 1
                if nval <= 5:
                    missing = sorted(set(ta) - set(tb))[:3]
                    extra = sorted(set(tb) - set(ta))[:3]
                    diffs.append(f"{_fmt_key(k)}: {len(ta)} vs {len(tb)} points; only in A at "
                                 f"{missing}, only in B at {extra}")
                continue
            for p, r in zip(pa, pb):
                d = _point_diff(p, r)
                if d:
                    nval += 1
                    if nval <= 5:
                        diffs.append(f"{_fmt_key(k)} @ {_num(p[0])}: {d}")
                    break
    if nval > 5:
        diffs.append(f"({nval} series with different points in all)")
    if "sorted" in flags and rtype == "vector" and not diffs:
        vals = [str(x["value"][1]) for x in ra]
        for i, (x, y) in enumerate(zip(ra, rb)):
            if x["value"][1] != y["value"][1]:
                diffs.append(f"order differs at position {i}: {x['value'][1]} vs {y['value'][1]}")
                break
            if vals.count(str(x["value"][1])) == 1 and _key(x["metric"]) != _key(y["metric"]):
                diffs.append(f"order differs at position {i}: {_fmt_key(_key(x['metric']))} vs "
                             f"{_fmt_key(_key(y['metric']))}")
                break
    return diffs


def _shape(answer):
    j = answer.json
    if not isinstance(j, dict) or j.get("status") != "success":
        return "error"
    r = (j.get("data") or {}).get("result")
    return "empty" if r == [] else "data"


def write_cases(series, end_ms):
    """Requests every sample of which both receivers must refuse (or accept) the same way; none
    changes the stored data. (name, body, expected HTTP status)."""
    up = next(s for s in series if s.labels["__name__"] == "diff_up")
    first_t, last = up.samples[0][0], up.samples[-1]
    good = encode_write_request([(up.labels, [last])])

    def wr(batch):
        return snappy_literal_block(encode_write_request(batch))
    return [
        ("garbage body", b"\xff\xff\xff\xff garbage", 400),
        ("truncated protobuf", snappy_literal_block(good[:-3]), 400),
        ("snappy block shorter than announced", snappy_literal_block(good)[:-2], 400),
        ("empty WriteRequest", snappy_literal_block(b""), 204),
        ("out of order sample", wr([(up.labels, [(first_t, _bits(5))])]), 400),
        ("same timestamp, other value", wr([(up.labels, [(last[0], _bits(7))])]), 400),
        ("same sample again", wr([(up.labels, [last])]), 204),
        ("sample older than newest - 1 h", wr([({"__name__": "diff_too_old", "job": "w"},
                                                [(end_ms - 3 * 3600_000, _bits(1))])]), 400),
    ]


def compare_meta(a, b):
    """For /series, /labels, /label/<n>/values: same status and error, same data in any order."""
    if a.json is None or b.json is None:
        return [] if (a.code, a.raw) == (b.code, b.raw) else [f"non-JSON answer: HTTP {a.code} vs "
                                                               f"{b.code}"]
    diffs = [] if a.code == b.code else [f"HTTP status {a.code} vs {b.code}"]
    for k in ("status", "errorType", "error"):
        if a.json.get(k) != b.json.get(k):
            diffs.append(f"{k}: {a.json.get(k)!r} vs {b.json.get(k)!r}")

    def canon(d):
        return sorted(json.dumps(x, sort_keys=True) for x in d) if isinstance(d, list) else d
    da, db = canon(a.json.get("data")), canon(b.json.get("data"))
    if da != db and isinstance(da, list) and isinstance(db, list):
        diffs += [f"only in A: {x:.200}" for x in sorted(set(da) - set(db))[:5]]
        diffs += [f"only in B: {x:.200}" for x in sorted(set(db) - set(da))[:5]]
        if len(da) != len(db):
            diffs.append(f"{len(da)} vs {len(db)} entries")
    elif da != db:
        diffs.append(f"data {json.dumps(a.json.get('data'))[:200]} vs "
                     f"{json.dumps(b.json.get('data'))[:200]}")
    return diffs


def _ts(ms):
    return f"{ms // 1000}.{ms % 1000:03d}" if ms % 1000 else str(ms // 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="reference server URL (Prometheus)")
    ap.add_argument("--b", required=True, help="server under test URL")
    ap.add_argument("--a-name", default="A")
    ap.add_argument("--b-name", default="B")
    ap.add_argument("--end-ms", type=int, default=0,
                    help="end of the data in ms (default: now + 1 h + 1..2 min, whole minute)")
    ap.add_argument("--no-write", action="store_true", help="the data is already there")
    ap.add_argument("--only", help="run only queries matching this regex")
    ap.add_argument("--skip-deferred", action="store_true",
                    help="leave out the features promql.md §1 defers (trig, holt_winters)")
    ap.add_argument("--random", type=int, default=200,
                    help="generated expressions to add to the fixed set (default 200)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the generated expressions")
    ap.add_argument("--verbose", "-v", action="store_true", help="print both answers on FAIL")
    ap.add_argument("--max-fail-detail", type=int, default=3,
                    help="evaluations shown per failing query")
    args = ap.parse_args()

    # Whole minutes, starting at least a minute after now − 1 h: a store that holds samples at
    # "now" (the agent's own) refuses samples older than its newest minus 1 h.
    end_ms = args.end_ms or (int(time.time() * 1000) + 3600_000) // 60_000 * 60_000 + 120_000
    start_ms = end_ms - SPAN_MS
    series = build_dataset(start_ms)
    only = re.compile(args.only) if args.only else None
    nsamples = sum(len(s.samples) for s in series)
    print(f"data: {len(series)} series, {nsamples} samples, {_ts(start_ms)} .. {_ts(end_ms)} "
          f"(--end-ms {end_ms})")
    if not args.no_write:
        for name, url in ((args.a_name, args.a), (args.b_name, args.b)):
            t0 = time.monotonic()
            err = send_dataset(url, series)
            if err:
                print(f"SETUP FAILED: remote_write to {name}: {err}")
                return 2
            print(f"wrote to {url} in {time.monotonic() - t0:.1f}s")

    npass = nfail = nskip = nevals = 0
    failed, notes = [], []

    def report(name, diffs, a=None, b=None):
        nonlocal npass, nfail
        if not diffs:
            npass += 1
            print(f"PASS  {name}")
            return
        nfail += 1
        failed.append(name)
        print(f"FAIL  {name}")
        for line in diffs:
            print(f"      {line}")
        if args.verbose and a is not None:
            print(f"      {args.a_name}: {a.brief()}")
            print(f"      {args.b_name}: {b.brief()}")

    # remote_write answers (before the queries, which then show that nothing changed).
    for name, body, want in write_cases(series, end_ms) if not args.no_write else []:
        if only and not only.search(name):
            continue
        (ca, ta), (cb, tb) = post_write(args.a, body), post_write(args.b, body)
        d = [] if ca == cb == want else [
            f"HTTP {ca} vs {cb} (want {want}); {args.a_name}: {ta.strip()[:150]!r}; "
            f"{args.b_name}: {tb.strip()[:150]!r}"]
        report(f"[write] {name}", d)

    S, E = start_ms // 1000, end_ms // 1000
    M = S + 3600
    subst = {"S": str(S), "E": str(E), "M": str(M)}
    instants = [
        ("end", end_ms), ("mid", start_ms + 47 * 60_000 + 7_500), ("early", start_ms + 10 * 60_000),
        ("in-gap", start_ms + 36 * 60_000), ("after-stale", start_ms + 81 * 60_000 + 1_000),
        ("lookback-edge", end_ms + 300_000), ("past-lookback", end_ms + 300_001),
    ]
    ranges = [
        ("full/60s", start_ms, end_ms + 6 * 60_000, 60),
        ("odd/37s", start_ms + 13 * 60_000 + 7_000, start_ms + 95 * 60_000, 37),
        ("stale/15s", start_ms + 75 * 60_000, start_ms + 90 * 60_000, 15),
        ("frac/92.5s", start_ms + 30 * 60_000 + 250, start_ms + 100 * 60_000, 92.5),
    ]
    queries = build_queries() + [(e, {"random"}) for e in random_queries(args.random, args.seed)]
    for expr_t, flags in queries:
        expr = re.sub(r"\{([SEM])\}", lambda m: subst[m.group(1)], expr_t)
        if only and not only.search(expr):
            continue
        if "deferred" in flags and args.skip_deferred:
            nskip += 1
            continue
        evals = []
        if "range" not in flags or "instant" in flags:
            chosen = instants[:1] if "error" in flags else instants[:3] + instants[4:5] if (
                "random" in flags) else instants
            for name, t in chosen:
                evals.append((f"instant {name} time={_ts(t)}", "/api/v1/query",
                              {"query": expr, "time": _ts(t)}))
        if "instant" not in flags:
            for name, s, e, step in ranges[:2] if "random" in flags else ranges:
                evals.append((f"range {name} start={_ts(s)} end={_ts(e)} step={step}",
                              "/api/v1/query_range",
                              {"query": expr, "start": _ts(s), "end": _ts(e), "step": str(step)}))
        bad = []
        shapes = set()  # What A answered: "error", "empty" or "data" (a check of the query set).
        for desc, path, params in evals:
            nevals += 1
            a = http(args.a, path, params)
            b = http(args.b, path, params)
            d = compare(a, b, flags)
            if d:
                bad.append((desc, d, a, b))
            shapes.add(_shape(a))
        if ("error" in flags) != (shapes == {"error"}) or shapes == {"empty"}:
            notes.append(f"{expr}: {args.a_name} answered {sorted(shapes)}")
        if bad:
            nfail += 1
            failed.append(expr)
            print(f"FAIL  {expr}   [{len(bad)}/{len(evals)} evals differ]")
            for desc, d, a, b in bad[:args.max_fail_detail]:
                print(f"    {desc}")
                for line in d:
                    print(f"      {line}")
                if args.verbose:
                    print(f"      {args.a_name}: {a.brief()}")
                    print(f"      {args.b_name}: {b.brief()}")
        else:
            npass += 1
            print(f"PASS  {expr}   [{len(evals)} evals]")

    # API-level cases: parameter validation and POST forms.
    api_cases = [
        ("query_range end < start", "GET", "/api/v1/query_range",
         {"query": "diff_up", "start": _ts(end_ms), "end": _ts(start_ms), "step": "60"}),
        ("query_range step=0", "GET", "/api/v1/query_range",
         {"query": "diff_up", "start": _ts(start_ms), "end": _ts(end_ms), "step": "0"}),
        ("query_range too many points", "GET", "/api/v1/query_range",
         {"query": "diff_up", "start": _ts(start_ms), "end": _ts(end_ms), "step": "0.1"}),
        ("query_range without start", "GET", "/api/v1/query_range",
         {"query": "diff_up", "end": _ts(end_ms), "step": "60"}),
        ("query_range step as duration", "GET", "/api/v1/query_range",
         {"query": "diff_up", "start": _ts(start_ms), "end": _ts(end_ms), "step": "1m30s"}),
        ("query_range RFC3339 times", "GET", "/api/v1/query_range",
         {"query": "sum(diff_up)",
          "start": time.strftime("%Y-%m-%dT%H:%M:%S.5Z", time.gmtime(start_ms // 1000)),
          "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_ms // 1000)),
          "step": "300"}),
        ("query_range of a range selector", "GET", "/api/v1/query_range",
         {"query": "diff_up[5m]", "start": _ts(start_ms), "end": _ts(end_ms), "step": "60"}),
        ("query_range of a string", "GET", "/api/v1/query_range",
         {"query": '"x"', "start": _ts(start_ms), "end": _ts(end_ms), "step": "60"}),
        ("query time=abc", "GET", "/api/v1/query", {"query": "diff_up", "time": "abc"}),
        ("query without query", "GET", "/api/v1/query", {"time": _ts(end_ms)}),
        ("query POST form", "POST", "/api/v1/query",
         {"query": f"sum by (namespace) ({MEM})", "time": _ts(end_ms)}),
        ("query_range POST form", "POST", "/api/v1/query_range",
         {"query": "sum(diff_up)", "start": _ts(start_ms), "end": _ts(end_ms), "step": "120"}),
        ("query time with sub-ms fraction", "GET", "/api/v1/query",
         {"query": "time()", "time": f"{end_ms // 1000}.0005"}),
        ("query 1+1 at time=4 (Grafana health check)", "GET", "/api/v1/query",
         {"query": "1+1", "time": "4"}),
        ("query vector(1e-7) time=1435781451.05", "GET", "/api/v1/query",
         {"query": "vector(1e-7)", "time": "1435781451.05"}),
        ("query 1e-7 time=1435781451.05", "GET", "/api/v1/query",
         {"query": "1e-7", "time": "1435781451.05"}),
    ]
    for name, method, path, params in api_cases:
        if only and not only.search(name):
            continue
        nevals += 1
        a = http(args.a, path, params, method)
        b = http(args.b, path, params, method)
        report(f"[api] {name}", compare(a, b, set()), a, b)

    # Metadata endpoints over the data's series (the agent's own series have other names).
    span = {"start": _ts(start_ms), "end": _ts(end_ms)}
    meta_cases = [
        ("series diff_weird", "/api/v1/series", [("match[]", "diff_weird")]),
        ("series two matchers", "/api/v1/series",
         [("match[]", 'diff_up{job="api"}'), ("match[]", '{__name__=~"diff_ending.*"}')]),
        ("series in a window", "/api/v1/series",
         [("match[]", '{job="end"}'), ("start", _ts(start_ms + 100 * 60_000)),
          ("end", _ts(start_ms + 110 * 60_000))]),
        ("series without match[]", "/api/v1/series", []),
        ("series with an empty matcher", "/api/v1/series", [("match[]", '{a=""}')]),
        ("labels of diff_container_memory_bytes", "/api/v1/labels", [("match[]", MEM)]),
        ("job values of diff_*", "/api/v1/label/job/values",
         [("match[]", '{__name__=~"diff_.*"}')]),
        ("__name__ values of diff_*", "/api/v1/label/__name__/values",
         [("match[]", '{__name__=~"diff_.*"}')]),
        ("val values of diff_weird", "/api/v1/label/val/values", [("match[]", "diff_weird")]),
        ("le values", "/api/v1/label/le/values", [("match[]", '{__name__=~"diff_.*_bucket"}')]),
        ("bad label name", "/api/v1/label/1bad/values", []),
    ]
    for name, path, params in meta_cases:
        if only and not only.search(name):
            continue
        nevals += 1
        if path != "/api/v1/series" or not any(k == "start" for k, _ in params):
            params = params + list(span.items()) if params else params
        a = http(args.a, path, params)
        b = http(args.b, path, params)
        report(f"[meta] {name}", compare_meta(a, b), a, b)

    print(f"\nSUMMARY: {npass} passed, {nfail} failed ({nevals} evaluations; {args.a_name} = A, "
          f"{args.b_name} = B)" + (f"; {nskip} deferred queries not run (--skip-deferred)"
                                   if nskip else ""))
    if notes and args.verbose:
        print("notes on the query set (queries that never return data, or errors not marked as "
              "such):\n  " + "\n  ".join(notes))
    if failed:
        print("failed: " + "\n        ".join(failed))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
