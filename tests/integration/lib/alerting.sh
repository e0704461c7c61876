# Helpers of the alert_*_test.sh scripts (sourced after common.sh).
ALERT_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALERT_BENCH="$(cd "$ALERT_LIB/../../../bench" && pwd)"

# start_docker: a test dockerd (reused when one answers; stopped on exit only if started here)
# and the tidemark-busybox image; skips without root or docker.io.
start_docker() {
  [[ $(id -u) == 0 ]] || skip "needs root (starts dockerd, eBPF)"
  command -v dockerd >/dev/null || skip "dockerd not installed (apt-get install docker.io)"
  export PATH=/usr/bin:$PATH  # Debian's docker client before any other on PATH
  "$ALERT_LIB/dockerd.sh" start >"$WORK/dockerd-start.log" 2>&1 || { cat "$WORK/dockerd-start.log"; fail "dockerd did not start"; }
  if grep -q "started pid" "$WORK/dockerd-start.log"; then
    CLEANUPS+=("'$ALERT_LIB/dockerd.sh' stop >/dev/null 2>&1")
  fi
  "$ALERT_LIB/make_busybox_image.sh" >"$WORK/image.log" 2>&1 || { cat "$WORK/image.log"; fail "could not build the busybox image"; }
}

# start_webhook PORT: bench/alerting_webhook.py on 127.0.0.1:PORT appending to $WORK/hook.jsonl;
# sets WEBHOOK_PID.
start_webhook() {
  python3 "$ALERT_BENCH/alerting_webhook.py" --port "$1" --out "$WORK/hook.jsonl" &
  WEBHOOK_PID=$!
  PIDS+=($WEBHOOK_PID)
}
