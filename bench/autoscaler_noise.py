#!/usr/bin/env python3
"""Scale events under noise (issue 6 target): tidemark vs the HPA algorithm's default behaviour.

Runs `autoscaler_noise` (bench/autoscaler_noise.cc): a 10-minute noisy oscillating CPU load at 1 s
for many seeds, through tidemark's recommender as the agent drives it (3 s rate, last-interval
panic check, 5 s sync) and through the HPA algorithm with its default behaviour (15 s sync on
15-30 s old 15 s means), on the same series. Prints mean/max scale events, the seeds where
tidemark made more events than the HPA, scale-ins inside the stabilization window, unserved load
and replica-seconds, and the reaction to a clean load step. Exit 1 on a scale-in inside a window.
Runs it with new replicas ready 0, 5 and 20 s after a scale-up (--startup to pick one).
Usage: bench/autoscaler_noise.py [--bench build-release/autoscaler/autoscaler_noise] [--seeds 200]
                                 [--startup S] [--burst CORES] [--min-step F] [--trace SEED]
"""
import argparse
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default="build-release/autoscaler/autoscaler_noise")
    ap.add_argument("--seeds", default="200")
    ap.add_argument("--startup", help="seconds until a new replica is ready (default: 0, 5, 20)")
    ap.add_argument("--trace", help="print every scale event of this seed, per configuration")
    ap.add_argument("--burst", help="cores a 3 s burst adds (default 2)")
    ap.add_argument("--min-step", help="tidemark's scale_down.min_step (default: its default)")
    args = ap.parse_args()
    rc = 0
    for startup in [args.startup] if args.startup else ["0", "5", "20"]:
        cmd = [args.bench, "--seeds", args.seeds, "--startup", startup]
        if args.trace:
            cmd += ["--trace", args.trace]
        if args.burst:
            cmd += ["--burst", args.burst]
        if args.min_step:
            cmd += ["--min-step", args.min_step]
        rc |= subprocess.run(cmd).returncode
        print(flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
