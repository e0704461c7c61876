#!/usr/bin/env bash
# With a real dockerd, the agent's container series carry the Docker name, image and allow-listed
# labels (never the others), and an OOM kill inside a memory-limited container shows up in
# container_oom_events_total without eBPF.
source "$(dirname "$0")/lib/common.sh"
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
[[ $(id -u) == 0 ]] || skip "needs root (starts dockerd)"
command -v dockerd >/dev/null || skip "dockerd not installed (apt-get install docker.io)"

"$LIB/dockerd.sh" start >"$WORK/dockerd-start.log" 2>&1 || { cat "$WORK/dockerd-start.log"; fail "dockerd did not start"; }
# Stop only a daemon this test started, never one that was already running.
if grep -q "started pid" "$WORK/dockerd-start.log"; then
  CLEANUPS+=("'$LIB/dockerd.sh' stop >/dev/null 2>&1")
fi
"$LIB/make_busybox_image.sh" >"$WORK/image.log" 2>&1 || { cat "$WORK/image.log"; fail "could not build the busybox image"; }

name=tidemark-it-$$
oomname=tidemark-it-oom-$$
CLEANUPS+=("docker rm -f $name $oomname >/dev/null 2>&1")
export PATH=/usr/bin:$PATH  # Debian's docker client before any other on PATH
docker run -d --network none --name "$name" --label com.docker.swarm.service.name=web \
  --label secret=hunter2 tidemark-busybox:latest sleep 300 >/dev/null
# dd's 64 MiB buffer does not fit in 32 MiB: the kernel OOM-kills dd; sh and the container live on.
docker run -d --network none --name "$oomname" -m 32m --memory-swap 32m tidemark-busybox:latest \
  sh -c 'dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 300' >/dev/null

port=$(free_port)
start_agent "$port" --interval 500ms

found=0
for ((i=0; i<40; i++)); do
  curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/metrics.txt"
  if grep -q "^container_cpu_usage_seconds_total{.*name=\"$name\"" "$WORK/metrics.txt" &&
     grep -q "^container_oom_events_total{.*name=\"$oomname\".*} 1$" "$WORK/metrics.txt"; then
    found=1; break
  fi
  sleep 0.5
done
if [[ $found != 1 ]]; then
  grep -E "container_(cpu_usage_seconds_total|oom_events_total)" "$WORK/metrics.txt" | head -20
  fail "container series with name=$name / OOM count for $oomname not found"
fi
line=$(grep "^container_cpu_usage_seconds_total{.*name=\"$name\"" "$WORK/metrics.txt")
[[ $line == *'image="tidemark-busybox:latest"'* ]] || fail "image label missing: $line"
[[ $line == *'container_label_com_docker_swarm_service_name="web"'* ]] || fail "allow-listed label missing: $line"
id=$(docker inspect -f '{{.Id}}' "$name")
[[ $line == *"$id"* ]] || fail "id label does not carry the container id $id: $line"
if grep -q "hunter2\|container_label_secret" "$WORK/metrics.txt"; then fail "a label outside the allow-list leaked"; fi
grep -q "^container_memory_usage_bytes{.*name=\"$name\"" "$WORK/metrics.txt" || fail "no memory series for $name"
pass "container series carry name, image, allow-listed labels only; OOM kill counted: $(grep "^container_oom_events_total{.*name=\"$oomname\"" "$WORK/metrics.txt")"
