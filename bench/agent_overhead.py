#!/usr/bin/env python3
"""Agent overhead with N real cgroups, next to node_exporter on the same machine in the same run.

Creates N Docker-style cgroups (/docker/<64 hex>) in every cgroup hierarchy of this host with one
sleeping process each, starts `tidemark agent` (interval = scrape interval, so each scrape pays
one collection) and Debian's prometheus-node-exporter, scrapes both S times, and prints:
  - CPU time per exported series per scrape (agent, node_exporter, ratio),
  - time to serve /metrics (median and p90 over the scrapes),
  - RSS of both: at the end, steady (median over the measured scrapes) and peak (VmHWM).
The agent's store fills its open chunks (240 samples) over 4 minutes at a 1 s interval, so its RSS
keeps growing for a while: --warmup-seconds lets it run that long before measuring, sampling RSS.
Run as root with a Release build:  bench/agent_overhead.py --tidemark build-release/agent/tidemark
"""
import argparse
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

CG = "/sys/fs/cgroup"


def hierarchies():
    """Every mounted cgroup hierarchy root we can create children in."""
    roots = []
    if os.path.exists(f"{CG}/cgroup.controllers"):
        return [CG]  # pure v2
    for name in sorted(os.listdir(CG)):
        p = f"{CG}/{name}"
        if os.path.isdir(p) and not os.path.islink(p) and os.path.exists(f"{p}/cgroup.procs"):
            roots.append(p)
    return roots


def make_cgroup(root, rel):
    """mkdir -p under a hierarchy root; a v1 cpuset cgroup gets its parent's cpus and mems, as it
    accepts no task without them (ENOSPC)."""
    parts = rel.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        d = f"{root}/{'/'.join(parts[:i])}"
        parent = os.path.dirname(d)
        if not os.path.isdir(d):
            os.mkdir(d)
        if os.path.exists(f"{d}/cpuset.cpus"):
            for knob in ("cpuset.cpus", "cpuset.mems"):
                with open(f"{d}/{knob}") as f:
                    cur = f.read().strip()
                if not cur:
                    with open(f"{parent}/{knob}") as f, open(f"{d}/{knob}", "w") as g:
                        g.write(f.read().strip())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def status_bytes(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes(pid):
    return status_bytes(pid, "VmRSS")


def warm_up(pid, url, secs, interval):
    """Scrapes every interval for secs seconds; prints RSS every 30 s."""
    end = time.time() + secs
    last_print = 0.0
    while time.time() < end:
        t0 = time.time()
        scrape(url)
        if t0 - last_print >= 30:
            last_print = t0
            left = max(0, end - t0)
            print(f"  warm-up: RSS {rss_bytes(pid) / 2**20:.1f} MiB, "
                  f"peak {status_bytes(pid, 'VmHWM') / 2**20:.1f} MiB, {left:.0f}s left", flush=True)
        time.sleep(max(0.0, interval - (time.time() - t0)))


def scrape(url):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
    return time.perf_counter() - t0, body


def series_count(body):
    return sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))


def wait_ready(url, secs=30):
    end = time.time() + secs
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} not ready after {secs}s")


def measure(name, pid, url, scrapes, interval, warmup=0.0):
    scrape(url)  # warm-up: first discovery, caches
    time.sleep(interval)
    if warmup > 0:
        warm_up(pid, url, warmup, interval)
    c0 = cpu_seconds(pid)
    times, series, rss = [], 0, []
    for _ in range(scrapes):
        t0 = time.time()
        dt, body = scrape(url)
        times.append(dt)
        rss.append(rss_bytes(pid))
        series = series_count(body)
        time.sleep(max(0.0, interval - (time.time() - t0)))
    cpu = cpu_seconds(pid) - c0
    times.sort()
    return {
        "name": name,
        "series": series,
        "cpu_per_scrape": cpu / scrapes,
        "cpu_per_series_us": cpu / scrapes / series * 1e6,
        "serve_median_ms": statistics.median(times) * 1e3,
        "serve_p90_ms": times[int(len(times) * 0.9) - 1] * 1e3,
        "rss_mib": rss_bytes(pid) / 2**20,
        "rss_steady_mib": statistics.median(rss) / 2**20,
        "rss_peak_mib": status_bytes(pid, "VmHWM") / 2**20,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tidemark", required=True)
    ap.add_argument("--node-exporter", default=shutil.which("prometheus-node-exporter") or "")
    ap.add_argument("--cgroups", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=30)
    ap.add_argument("--interval", type=float, default=1.0, help="scrape (and collection) interval, s")
    ap.add_argument("--agent-config", default="", help="config file passed to the agent")
    ap.add_argument("--id-base", type=lambda x: int(x, 0), default=0xbe9c0000,
                    help="first container id (hex); another base keeps concurrent runs apart")
    ap.add_argument("--warmup-seconds", type=float, default=0.0,
                    help="let the agent run (scraped every interval) this long before measuring;\n"
                         "300 or more lets the store's head fill its first chunks")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (creates cgroups)")
    if not args.node_exporter:
        raise SystemExit("prometheus-node-exporter not found (apt-get install prometheus-node-exporter)")

    roots = hierarchies()
    base = "docker"
    created, sleepers = [], []
    work = tempfile.mkdtemp(prefix="tidemark-bench-")
    procs = []
    try:
        print(f"creating {args.cgroups} cgroups in {len(roots)} hierarchies ...", flush=True)
        for i in range(args.cgroups):
            cid = f"{args.id_base + i:08x}" * 8
            sleeper = subprocess.Popen(["sleep", "100000"])
            sleepers.append(sleeper)
            for root in roots:
                d = f"{root}/{base}/{cid}"
                make_cgroup(root, f"{base}/{cid}")
                created.append(d)
                with open(f"{d}/cgroup.procs", "w") as f:
                    f.write(str(sleeper.pid))

        aport, nport = free_port(), free_port()
        agent = subprocess.Popen(
            [args.tidemark, "agent", "--listen", f"127.0.0.1:{aport}", "--data-dir", f"{work}/data",
             "--interval", f"{int(args.interval * 1000)}ms", "--log-level", "warn"]
            + (["--config", args.agent_config] if args.agent_config else []),
            stdout=subprocess.DEVNULL, stderr=open(f"{work}/agent.log", "w"))
        procs.append(agent)
        ne = subprocess.Popen([args.node_exporter, f"--web.listen-address=127.0.0.1:{nport}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ne)
        wait_ready(f"http://127.0.0.1:{aport}/-/ready")
        wait_ready(f"http://127.0.0.1:{nport}/metrics")

        a = measure("tidemark", agent.pid, f"http://127.0.0.1:{aport}/metrics", args.scrapes,
                    args.interval, args.warmup_seconds)
        n = measure("node_exporter", ne.pid, f"http://127.0.0.1:{nport}/metrics", args.scrapes,
                    args.interval)
        print(f"\n{args.cgroups} cgroups, {args.scrapes} scrapes every {args.interval}s after "
              f"{args.warmup_seconds:.0f}s of warm-up (agent), same machine, same run\n")
        print(f"{'':28}{'tidemark':>14}{'node_exporter':>16}")
        print(f"{'series per scrape':28}{a['series']:>14}{n['series']:>16}")
        print(f"{'CPU ms per scrape':28}{a['cpu_per_scrape']*1e3:>14.2f}{n['cpu_per_scrape']*1e3:>16.2f}")
        print(f"{'CPU us per series/scrape':28}{a['cpu_per_series_us']:>14.3f}{n['cpu_per_series_us']:>16.3f}")
        print(f"{'/metrics median ms':28}{a['serve_median_ms']:>14.1f}{n['serve_median_ms']:>16.1f}")
        print(f"{'/metrics p90 ms':28}{a['serve_p90_ms']:>14.1f}{n['serve_p90_ms']:>16.1f}")
        print(f"{'RSS MiB at the end':28}{a['rss_mib']:>14.1f}{n['rss_mib']:>16.1f}")
        print(f"{'RSS MiB steady (median)':28}{a['rss_steady_mib']:>14.1f}{n['rss_steady_mib']:>16.1f}")
        print(f"{'RSS MiB peak (VmHWM)':28}{a['rss_peak_mib']:>14.1f}{n['rss_peak_mib']:>16.1f}")
        ratio = a["cpu_per_series_us"] / n["cpu_per_series_us"]
        print(f"\nCPU per series per scrape, tidemark / node_exporter = {ratio:.3f}  (target <= 0.25)")
        print(f"/metrics median {a['serve_median_ms']:.1f} ms (target <= 50 ms); RSS steady {a['rss_steady_mib']:.1f} MiB, "
              f"peak {a['rss_peak_mib']:.1f} MiB (target <= 50 MiB)")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for s in sleepers:
            s.kill()
        for s in sleepers:
            s.wait()
        for d in reversed(created):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.02)
        for root in roots:  # the /docker parents, when this run created them and they are empty
            try:
                os.rmdir(f"{root}/{base}")
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
