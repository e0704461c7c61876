#!/usr/bin/env python3
"""Autoscaler reaction time, load start -> Swarm update call, at a 1 s collection interval.

Runs a private dockerd in Swarm mode on loopback (tests/integration/lib/dockerd.sh), a service of
the locally imported busybox image (--limit-cpu 0.5) whose tasks burn CPU while <ctl>/burn exists,
and `tidemark agent --interval 1s` with a cpu policy (target 50 %, default 5 s sync period, 10 s
scale-down window). Each trial: the service idles at 1 replica, the load starts (the control file
is created; tasks look for it every 0.2 s), and the reaction is the time until dockerd records the
service update (its UpdatedAt), cross-checked against the agent's decision time in
/api/v1/autoscaler/decisions. Then the load stops and the service is let back to 1 replica.
Afterwards runs bench/autoscaler_noise.py (scale events under noise vs the HPA algorithm).
No HPA can run here: its figure is the documented one (kubernetes#110317, ~27.5 s on average).
Needs root. Usage: bench/autoscaler_reaction.py [--tidemark build-release/agent/tidemark]
  [--noise build-release/autoscaler/autoscaler_noise] [--trials 5]
"""
import argparse
import datetime
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "tests", "integration", "lib")
HPA_MEAN_S = 27.5  # kubernetes#110317: kubelet 10 s + metrics-server 30 s + HPA sync 15 s.


def free_port(kind=socket.SOCK_STREAM, low=0, high=0):
    # Any free port, or one in [low, high] (Swarm wants 1024-49151).
    for _ in range(200):
        s = socket.socket(type=kind)
        try:
            s.bind(("127.0.0.1", random.randint(low, high) if low else 0))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


def parse_time(s):
    # "2026-11-22T11:40:01.123456789Z" (JSON-quoted or not) -> Unix seconds.
    s = s.strip().strip('"').replace("Z", "")
    main, _, frac = s.partition(".")
    t = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


class Bench:
    def __init__(self, tidemark):
        self.tidemark = tidemark
        self.dir = tempfile.mkdtemp(prefix="tmr-", dir="/tmp")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.env = dict(os.environ, TIDEMARK_DOCKERD_STATE=self.dir + "/s",
                        TIDEMARK_DOCKERD_EXEC_ROOT=self.dir + "/x", DOCKER_HOST_SOCK=self.sock,
                        DOCKER_HOST="unix://" + self.sock, DOCKER="/usr/bin/docker")
        self.ctl = os.path.join(self.dir, "ctl")
        os.makedirs(self.ctl)
        self.agent = None
        self.api = None

    def sh(self, *args, check=True):
        p = subprocess.run(list(args), env=self.env, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {p.stdout}{p.stderr}")
        return p.stdout.strip()

    def docker(self, *args, check=True):
        return self.sh("/usr/bin/docker", "-H", "unix://" + self.sock, *args, check=check)

    def start(self):
        self.sh("bash", os.path.join(LIB, "dockerd.sh"), "start")
        sp = free_port(socket.SOCK_STREAM, 20000, 32767)
        self.docker("swarm", "init", "--advertise-addr", f"127.0.0.1:{sp}", "--listen-addr",
                    f"127.0.0.1:{sp}", "--data-path-port", str(free_port(socket.SOCK_DGRAM, 20000, 32767)))
        self.sh("bash", os.path.join(LIB, "make_busybox_image.sh"))
        burn = ('while :; do if [ -e /ctl/burn ]; then timeout 1 sh -c "while :; do :; done"; '
                'else sleep 0.2; fi; done')
        self.docker("service", "create", "--quiet", "--detach", "--name", "tm-react",
                    "--replicas", "1", "--limit-cpu", "0.5", "--stop-signal", "KILL", "--mount",
                    f"type=bind,src={self.ctl},dst=/ctl", "tidemark-busybox:latest", "sh", "-c",
                    burn)
        self.wait(lambda: self.running() == 1, 60, "the first task")
        port = free_port()
        cfg = os.path.join(self.dir, "agent.yaml")
        with open(cfg, "w") as f:
            f.write(f"""collectors:
  docker: {{socket: {self.sock}}}
  node: {{enabled: false}}
autoscaler:
  policies:
    - name: react
      target: {{service: tm-react, endpoint: unix://{self.sock}}}
      min_replicas: 1
      max_replicas: 4
      metrics: [{{type: cpu, target_utilization: 50}}]
      behavior:
        scale_down: {{stabilization_window: 10s}}
""")
        self.log = open(os.path.join(self.dir, "agent.log"), "w")
        self.agent = subprocess.Popen(
            [self.tidemark, "agent", "--listen", f"127.0.0.1:{port}", "--data-dir",
             os.path.join(self.dir, "data"), "--interval", "1s", "--no-ebpf", "--config", cfg],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.api = f"http://127.0.0.1:{port}"
        self.wait(lambda: self.get("/-/ready") is not None, 30, "the agent")

    def get(self, path):
        try:
            with urllib.request.urlopen(self.api + path, timeout=2) as r:
                return r.read()
        except Exception:
            return None

    def running(self):
        out = self.docker("service", "ps", "--filter", "desired-state=running", "--format",
                          "{{.CurrentState}}", "tm-react", check=False)
        return sum(1 for line in out.splitlines() if line.startswith("Running"))

    def replicas(self):
        return int(self.docker("service", "inspect", "--format",
                               "{{.Spec.Mode.Replicated.Replicas}}", "tm-react"))

    @staticmethod
    def wait(cond, secs, what):
        deadline = time.time() + secs
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def trial(self):
        self.wait(lambda: self.replicas() == 1 and self.running() == 1, 120, "1 replica")
        time.sleep(6)  # Idle long enough for the CPU rate window to be all idle.
        t0 = time.time()
        open(os.path.join(self.ctl, "burn"), "w").close()
        self.wait(lambda: self.replicas() > 1, 30, "the scale-out")
        updated = parse_time(self.docker("service", "inspect", "--format", "{{json .UpdatedAt}}",
                                         "tm-react"))
        body = json.loads(self.get("/api/v1/autoscaler/decisions?policy=react"))
        ups = [d for d in body["data"]["policies"][0]["decisions"]
               if d["call_orchestrator"] and d["desired"] > d["current"] and
               d["time_ms"] / 1000 >= t0]
        first = min(ups, key=lambda d: d["time_ms"]) if ups else None
        decided = first["time_ms"] / 1000 if first else float("nan")
        reason = (first.get("panic_reason") or first.get("reason", "")) if first else ""
        # The throttled time the saturation check read (cores; the burner is held at its limit),
        # at the decision's cycle: stamped on the 1 s grid, up to 0.5 s after the decision.
        q = urllib.parse.quote("max(irate(container_cpu_cfs_throttled_seconds_total[3s]))")
        at = f"&time={decided + 0.5:.3f}" if first else ""
        res = json.loads(self.get(f"/api/v1/query?query={q}{at}") or b"{}")
        vec = res.get("data", {}).get("result", [])
        reason += f"; throttled {float(vec[0]['value'][1]):.2f} cores" if vec else "; no throttled data"
        os.remove(os.path.join(self.ctl, "burn"))
        return updated - t0, decided - t0, reason

    def stop(self):
        if self.agent is not None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.agent.kill()
        self.docker("service", "rm", "tm-react", check=False)
        time.sleep(2)
        self.docker("swarm", "leave", "--force", check=False)
        self.sh("bash", os.path.join(LIB, "dockerd.sh"), "stop", check=False)
        mounts = [l.split()[1] for l in open("/proc/mounts") if l.split()[1].startswith(self.dir)]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tidemark", default="build-release/agent/tidemark")
    ap.add_argument("--noise", default="build-release/autoscaler/autoscaler_noise")
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (starts dockerd)", file=sys.stderr)
        return 2
    b = Bench(os.path.abspath(args.tidemark))
    results = []
    try:
        b.start()
        for i in range(args.trials):
            update_s, decided_s, reason = b.trial()
            results.append(update_s)
            print(f"trial {i + 1}: load start -> Swarm update {update_s:5.2f} s "
                  f"(agent decision at {decided_s:5.2f} s: {reason})", flush=True)
    finally:
        b.stop()
    print(f"\nReaction time, load start -> scale call, 1 s collection interval, default 5 s "
          f"sync_period, {len(results)} trials:")
    print(f"  tidemark: mean {statistics.mean(results):.2f} s, median "
          f"{statistics.median(results):.2f} s, max {max(results):.2f} s (target <= 3 s: "
          f"{'met' if max(results) <= 3 else 'NOT met'})")
    print(f"  HPA (documented, kubernetes#110317; not run here): ~{HPA_MEAN_S} s on average")
    print("\n== bench/autoscaler_noise.py ==", flush=True)
    noise = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "autoscaler_noise.py"),
                            "--bench", args.noise])
    return 0 if max(results) <= 3 and noise.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
