#!/usr/bin/env python3
"""Series file for `promtool tsdb bench write` and `tidemark tsdb bench-write`: one JSON label set
per line, 6 labels, no ':' or ',' in values (promtool's parser splits on them), no blank line
(promtool panics on one). As described in ../shared/reference/tsdb.md §8."""
import json
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
names = ["container_cpu_usage_seconds_total", "node_cpu_seconds_total", "http_requests_total",
         "http_request_duration_seconds_bucket", "node_memory_bytes", "process_open_fds"]
lines = []
for i in range(n):
    lines.append(json.dumps({"__name__": names[i % len(names)], "instance": f"host-{i % 500}",
                             "job": f"job-{i % 7}", "pod": f"pod-{i:05d}",
                             "namespace": f"ns-{i % 40}", "container": f"c{i % 13}"},
                            separators=(",", ":")))
sys.stdout.write("\n".join(lines) + "\n")
