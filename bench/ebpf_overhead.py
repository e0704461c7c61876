#!/usr/bin/env python3
"""eBPF overhead, ours next to libbpf-tools biolatency in the same run (reference/ebpf.md §0, §8).

1. Cost per traced event: with kernel.bpf_stats_enabled=1, loads our block-latency programs
   (`ebpf_bench hold`) and /usr/sbin/biolatency side by side, runs N direct 4 KiB writes to a file
   on a real disk, and prints run_time_ns / run_cnt of every program from `bpftool prog show`
   (deltas over the load), per program and per I/O (issue + complete).
2. Map read time: `ebpf_bench map-read 1000` fills the per-cgroup maps with 1000 cgroups and times
   one collection cycle's batched reads (target <= 5 ms) and the full cycle (read + resolve + emit).
Ends with both figures next to their targets and the peer, as ratios (issue 5's targets).
Run as root:  bench/ebpf_overhead.py --bench build-release/ebpf/ebpf_bench [--writes 20000]
"""
import argparse
import json
import mmap
import os
import re
import subprocess
import sys
import tempfile


def prog_stats():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], check=True, capture_output=True,
                         text=True).stdout
    return {p["id"]: p for p in json.loads(out)}


def wait_line(proc, needle):
    for line in proc.stdout:
        if needle in line:
            return True
    return False


def disk_of(path):
    dev = os.stat(path).st_dev
    sys_path = os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if os.path.exists(os.path.join(sys_path, "partition")):
        sys_path = os.path.dirname(sys_path)
    return os.path.basename(sys_path)


def direct_writes(path, n):
    buf = mmap.mmap(-1, 4096)  # Page-aligned, as O_DIRECT needs.
    buf.write(b"x" * 4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
    try:
        for i in range(n):
            os.pwritev(fd, [buf], (i % 1024) * 4096)
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build-release/ebpf/ebpf_bench")
    ap.add_argument("--biolatency", default="/usr/sbin/biolatency")
    ap.add_argument("--writes", type=int, default=20000)
    ap.add_argument("--cgroups", type=int, default=1000)
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")

    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
    ours = theirs = tmp = None
    per_io, runs_per_io = {}, {}
    try:
        tmp = tempfile.mkdtemp(dir=args.dir)
        disk = disk_of(tmp)
        ids0 = set(prog_stats())
        ours = subprocess.Popen([args.bench, "hold"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        if not wait_line(ours, "ready"):
            sys.exit("ebpf_bench hold failed")
        ids1 = set(prog_stats())
        theirs = subprocess.Popen(["stdbuf", "-oL", args.biolatency, "-d", disk],
                                  stdout=subprocess.PIPE, text=True)
        if not wait_line(theirs, "Tracing"):
            sys.exit("biolatency failed")
        before = prog_stats()
        our_ids = ids1 - ids0
        their_ids = set(before) - ids1
        direct_writes(os.path.join(tmp, "load.bin"), args.writes)
        after = prog_stats()

        print(f"Cost per event, {args.writes} direct 4 KiB writes on {disk} "
              f"(kernel.bpf_stats_enabled=1; compare ratios, stats add their own time):")
        print(f"  {'tool':<11} {'program':<18} {'runs':>8} {'ns/run':>8}")
        for tool, ids in (("tidemark", our_ids), ("biolatency", their_ids)):
            total_ns = total_runs = 0
            for pid in sorted(ids):
                if pid not in after or pid not in before:
                    continue
                runs = after[pid].get("run_cnt", 0) - before[pid].get("run_cnt", 0)
                ns = after[pid].get("run_time_ns", 0) - before[pid].get("run_time_ns", 0)
                if runs <= 0:
                    continue
                total_ns += ns
                total_runs += runs
                print(f"  {tool:<11} {after[pid]['name']:<18} {runs:>8} {ns / runs:>8.0f}")
            per_io[tool] = total_ns / args.writes
            runs_per_io[tool] = total_ns / max(total_runs, 1)
        print(f"  per I/O (all programs): tidemark {per_io['tidemark']:.0f} ns, "
              f"biolatency {per_io['biolatency']:.0f} ns, "
              f"ratio {per_io['tidemark'] / max(per_io['biolatency'], 1e-9):.2f}")
    finally:
        for p in (theirs,):
            if p is not None:
                p.send_signal(2)
                p.wait()
        if ours is not None:
            ours.stdin.close()
            ours.wait()
        subprocess.run(["sysctl", "-q", f"kernel.bpf_stats_enabled={stats_before}"], check=False)
        if tmp is not None:
            subprocess.run(["rm", "-rf", tmp], check=False)

    print(f"\nMap read, {args.cgroups} cgroups (target: batched reads <= 5 ms per cycle):")
    out = subprocess.run([args.bench, "map-read", str(args.cgroups), "100"], check=True,
                         capture_output=True, text=True).stdout
    print(out, end="")
    m = re.search(r"\(ReadMaps\):\s+CPU median ([\d.]+) ms.*wall median ([\d.]+) ms", out)
    read_cpu, read_wall = (float(m.group(1)), float(m.group(2))) if m else (float("nan"),) * 2

    ours_io, theirs_io = per_io.get("tidemark", 0), per_io.get("biolatency", 0)
    print("\nTargets (issue 5), this run:")
    print(f"  cost per traced event: tidemark {runs_per_io.get('tidemark', 0):.0f} ns per program "
          f"run ({ours_io:.0f} ns per I/O), biolatency {runs_per_io.get('biolatency', 0):.0f} ns "
          f"per run ({theirs_io:.0f} ns per I/O): ratio {ours_io / max(theirs_io, 1e-9):.2f} "
          f"(target <= 1.00)")
    print(f"  reading all maps, {args.cgroups} cgroups, one cycle: {read_wall:.2f} ms wall "
          f"({read_cpu:.2f} ms CPU): {read_wall / 5:.2f} of the 5 ms target "
          f"({read_cpu / 5:.2f} by CPU)")


if __name__ == "__main__":
    main()
