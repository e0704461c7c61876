#!/usr/bin/env bash
# Differential PromQL test: the same deterministic data set is remote-written to Debian's
# Prometheus 2.42 and to the agent, then a broad set of instant and range queries is run against
# both and every answer compared (lib/promql_diff.py). Extra arguments go to the driver
# (e.g. --only 'rate', --random 0, --skip-deferred).
# PROMQL_DIFF_PEER=prometheus compares two Prometheus servers instead (a check of the harness).
source "$(dirname "$0")/lib/common.sh"
shift
command -v prometheus >/dev/null || skip "prometheus not installed (apt-get install prometheus)"
command -v python3 >/dev/null || skip "python3 not installed"

# start_prometheus NAME PORT: a Prometheus with the remote_write receiver and nothing to scrape.
start_prometheus() {
  local name=$1 port=$2
  printf 'global:\n  scrape_interval: 15s\n' >"$WORK/$name.yml"
  prometheus --config.file="$WORK/$name.yml" --storage.tsdb.path="$WORK/$name" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    --query.max-samples=200000000 --log.level=warn >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/-/ready" 60
}

pport=$(free_port)
start_prometheus prometheus "$pport"
if [[ "${PROMQL_DIFF_PEER:-tidemark}" == prometheus ]]; then
  bport=$(free_port)
  start_prometheus prometheus-b "$bport"
  bname=prometheus-b
else
  # The data spans [now − 1 h, now + 1 h]: the agent collects once at start (interval 1h), and
  # its store refuses samples older than its newest minus 1 h; written in ascending time, every
  # sample stays within that window. Its own series have other names than the data's diff_*.
  bport=$(free_port)
  start_agent "$bport" --interval 1h
  bname=tidemark
fi

python3 "$(dirname "$0")/lib/promql_diff.py" --a "http://127.0.0.1:$pport" --a-name prometheus \
  --b "http://127.0.0.1:$bport" --b-name "$bname" --verbose "$@"
