#!/usr/bin/env python3
"""100 rules over 10 000 series: tidemark's RuleManager against Debian's Prometheus 2.42.

Runs alerting_rules_bench (which loads the series into a tidemark store, times N evaluation
cycles of the 100-rule group and writes the same samples as OpenMetrics plus the rule file),
backfills the samples into a Prometheus data dir with `promtool tsdb create-blocks-from
openmetrics`, starts `prometheus` on loopback with the same rule group (interval 5s) and reads
`prometheus_rule_group_last_duration_seconds` from its /metrics for a minute.

  bench/alerting_rules_bench.py BUILD_DIR [--series 10000] [--rules 100] [--cycles 30]
                                [--selective]
Target (issue 7): our per-cycle evaluation <= 50 ms.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--rules", type=int, default=100)
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--prom-seconds", type=int, default=60)
    ap.add_argument("--selective", action="store_true",
                    help="each rule reads 100 series (one job) instead of a 1000-series family")
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "alerting", "alerting_rules_bench")
    work = tempfile.mkdtemp(prefix="alerting_rules_bench.")
    prom = None
    try:
        # Data reach 3 minutes into the future so that Prometheus, started after the backfill,
        # still evaluates over full 5m windows.
        end_ms = int(time.time() * 1000) + 180_000
        out = subprocess.run([binary, "--series", str(args.series), "--rules", str(args.rules),
                              "--cycles", str(args.cycles), "--end-ms", str(end_ms),
                              "--selective", "1" if args.selective else "0",
                              "--out", work], check=True, capture_output=True, text=True)
        ours = json.loads(out.stdout.strip().splitlines()[-1])
        print("tidemark:", json.dumps(ours))
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                        os.path.join(work, "series.om"), os.path.join(work, "prom-data")],
                       check=True, capture_output=True)
        rules = os.path.join(work, "rules.yml")
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write("global: {evaluation_interval: 5s}\nrule_files: [%s]\n" % rules)
        port = free_port()
        prom = subprocess.Popen(
            ["prometheus", "--config.file=" + os.path.join(work, "prometheus.yml"),
             "--storage.tsdb.path=" + os.path.join(work, "prom-data"),
             "--web.listen-address=127.0.0.1:%d" % port],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "prom.log"), "w"))
        key = 'rule_group="%s;bench"' % rules
        seen = []
        deadline = time.time() + args.prom_seconds
        failures = None
        while time.time() < deadline:
            time.sleep(1)
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                              timeout=5).read().decode()
            except OSError:
                continue
            for line in body.splitlines():
                if line.startswith("prometheus_rule_group_last_duration_seconds{") and key in line:
                    v = float(line.rsplit(" ", 1)[1])
                    if v > 0 and (not seen or seen[-1] != v):
                        seen.append(v)
                if line.startswith("prometheus_rule_evaluation_failures_total{") and key in line:
                    failures = float(line.rsplit(" ", 1)[1])
        if not seen:
            print("prometheus: no rule group duration seen; log in", work)
            return 1
        prom_ms = statistics.median(seen) * 1000
        print("prometheus: %d evaluations seen, last_duration median %.3f ms (min %.3f, max %.3f),"
              " evaluation failures %s" % (len(seen), prom_ms, min(seen) * 1000,
                                           max(seen) * 1000, failures))
        ratio = ours["cycle_ms_median"] / prom_ms
        print("RESULT series=%d rules=%d tidemark_cycle_ms_median=%.3f prometheus_group_ms_median=%.3f "
              "ratio_tidemark_over_prometheus=%.2f target_50ms=%s"
              % (ours["series"], ours["rules"], ours["cycle_ms_median"], prom_ms, ratio,
                 "met" if ours["cycle_ms_median"] <= 50 else "MISSED"))
        return 0
    finally:
        if prom is not None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prom.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
