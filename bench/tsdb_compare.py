#!/usr/bin/env python3
"""tidemark's store next to Debian's Prometheus 2.42 on the same inputs, in one run, as ratios.

  1. append rate: `tidemark tsdb bench-write` vs `promtool tsdb bench write`, same series file
     (bench/gen_series.py), same --metrics/--scrapes, both without compaction (promtool's bench
     disables it); a second row shows tidemark with its background re-encoding on;
  2. bytes per sample: `tidemark tsdb import` vs the block `promtool tsdb create-blocks-from
     openmetrics` makes, from ../shared/bench/gen_openmetrics.py --containers 50 --seconds 7200;
  3. RSS per active series: max RSS of both bench-write runs with --metrics 100000, per series;
  4. restart after kill -9 with a full head: the whole Db::Open of tidemark (RocksDB recovery,
     series, head checkpoint, log replay) vs Prometheus' WAL replay ("total_replay_duration") of
     promtool's bench output (same samples).
Use a Release build:  bench/tsdb_compare.py --tidemark build-release/agent/tidemark
"""
import argparse
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN_OM = os.path.join(HERE, "..", "..", "shared", "bench", "gen_openmetrics.py")


def run(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p, dt


def max_rss_mib_of(cmd):
    """Runs cmd and returns (stdout, max RSS of that child in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p, dt = run(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far: run the big ones first or alone.
    return p, max(after, before) / 1024, dt


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def samples_per_sec(text):
    m = re.search(r"samples/sec:\s*([0-9.e+]+)", text)
    return float(m.group(1)) if m else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tidemark", required=True)
    ap.add_argument("--metrics", type=int, default=10000)
    ap.add_argument("--scrapes", type=int, default=3000)
    ap.add_argument("--rss-metrics", type=int, default=100000)
    ap.add_argument("--rss-scrapes", type=int, default=200)
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=7200)
    ap.add_argument("--only", default="1,2,3,4")
    a = ap.parse_args()
    only = set(a.only.split(","))
    work = tempfile.mkdtemp(prefix="tidemark-tsdb-bench-")
    tm = os.path.abspath(a.tidemark)
    results = []
    try:
        series = os.path.join(work, "series.json")
        with open(series, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "gen_series.py"),
                            str(max(a.metrics, a.rss_metrics))], stdout=f, check=True)

        if "3" in only:  # RSS first: ru_maxrss of children is a running maximum.
            p, rss_p, _ = max_rss_mib_of(["promtool", "tsdb", "bench", "write", f"--metrics={a.rss_metrics}",
                                          f"--scrapes={a.rss_scrapes}", f"--out={work}/prss", series])
            p2, rss_t, _ = max_rss_mib_of([tm, "tsdb", "bench-write", "--metrics", str(a.rss_metrics),
                                           "--scrapes", str(a.rss_scrapes), "--out", f"{work}/trss", series])
            m = re.search(r"max RSS MiB:\s*(\d+)", p2.stdout)
            rss_t = float(m.group(1)) if m else rss_t
            per_p = rss_p * 2**20 / a.rss_metrics
            per_t = rss_t * 2**20 / a.rss_metrics
            results.append(("RSS per active series (B), %d series" % a.rss_metrics, per_t, per_p,
                            per_t / per_p, "<= 1.0"))
            shutil.rmtree(f"{work}/prss", ignore_errors=True)
            shutil.rmtree(f"{work}/trss", ignore_errors=True)

        if "1" in only or "4" in only:
            p, _ = run(["promtool", "tsdb", "bench", "write", f"--metrics={a.metrics}",
                        f"--scrapes={a.scrapes}", f"--out={work}/prom", series])
            rate_p = samples_per_sec(p.stdout + p.stderr)
            p2, _ = run([tm, "tsdb", "bench-write", "--metrics", str(a.metrics), "--scrapes",
                         str(a.scrapes), "--out", f"{work}/tm", "--exit-without-close", "true", series])
            rate_t = samples_per_sec(p2.stdout)
            total = re.search(r"total samples:\s*(\d+)", p2.stdout).group(1)
            if "1" in only:
                results.append((f"append rate (samples/s), {total} samples", rate_t, rate_p,
                                rate_t / rate_p, ">= 1.0"))
                # The agent's own configuration re-encodes chunks in background compactions;
                # shown for reference (promtool's bench has no such work).
                p4, _ = run([tm, "tsdb", "bench-write", "--metrics", str(a.metrics), "--scrapes",
                             str(a.scrapes), "--out", f"{work}/tm2", "--compaction", "on", series])
                rate_on = samples_per_sec(p4.stdout)
                results.append(("  same, tidemark with background re-encoding on", rate_on,
                                rate_p, rate_on / rate_p, "(reference)"))
                shutil.rmtree(f"{work}/tm2", ignore_errors=True)
            if "4" in only:
                # Prometheus replays promtool's WAL (the head was never compacted).
                port = free_port()
                log = open(f"{work}/prom.log", "w")
                cfg = f"{work}/prom.yml"
                open(cfg, "w").write("global:\n  scrape_interval: 1h\n")
                proc = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                                         f"--storage.tsdb.path={work}/prom/storage",
                                         "--storage.tsdb.retention.time=100000d",
                                         f"--web.listen-address=127.0.0.1:{port}"],
                                        stdout=log, stderr=subprocess.STDOUT)
                replay_p = None
                deadline = time.time() + 600
                while time.time() < deadline and replay_p is None:
                    time.sleep(0.2)
                    m = re.search(r'WAL replay completed.*total_replay_duration=([0-9.]+)(ms|s|m)',
                                  open(f"{work}/prom.log").read())
                    if m:
                        mult = {"ms": 1e-3, "s": 1, "m": 60}[m.group(2)]
                        replay_p = float(m.group(1)) * mult
                proc.terminate()
                proc.wait(timeout=60)
                p3, _ = run([tm, "tsdb", "stats", "--data-dir", f"{work}/tm/storage"])
                m = re.search(r"open: (\d+) samples replayed from the log; open took ([0-9.e-]+) s", p3.stdout)
                replay_t = float(m.group(2))
                results.append((f"restart after kill -9 (s), {total} samples", replay_t, replay_p,
                                replay_t / replay_p if replay_p else float("nan"), "<= 1.0"))
            shutil.rmtree(f"{work}/prom", ignore_errors=True)
            shutil.rmtree(f"{work}/tm", ignore_errors=True)

        if "2" in only:
            om = os.path.join(work, "data.om")
            with open(om, "w") as f:
                subprocess.run([sys.executable, GEN_OM, "--containers", str(a.containers),
                                "--seconds", str(a.seconds)], stdout=f, check=True)
            nsamples = sum(1 for line in open(om) if line and not line.startswith("#"))
            run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, f"{work}/blocks"])
            bytes_p = du(f"{work}/blocks")
            run([tm, "tsdb", "import", "--openmetrics", om, "--data-dir", f"{work}/tmimport"])
            p, _ = run([tm, "tsdb", "stats", "--data-dir", f"{work}/tmimport"])
            bytes_t = int(re.search(r"bytes on disk: (\d+)", p.stdout).group(1))
            stored = int(re.search(r"samples: (\d+)", p.stdout).group(1))
            if stored != nsamples:
                sys.exit(f"tidemark stored {stored} samples of {nsamples}")
            results.append((f"bytes per sample, {nsamples} samples", bytes_t / nsamples,
                            bytes_p / nsamples, bytes_t / bytes_p, "<= 0.6"))

        print(f"\n{'measure':50}{'tidemark':>14}{'prometheus':>14}{'ratio':>9}  target")
        for name, t, p, r, target in results:
            print(f"{name:50}{t:>14.4g}{p:>14.4g}{r:>9.3f}  {target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
