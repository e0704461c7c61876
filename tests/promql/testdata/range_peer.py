#!/usr/bin/env python3
"""Range queries against a real Prometheus 2.42 server (provenance of range_peer.txt).

Usage: start `prometheus` on blocks made from the data below (see --make-om), then
    range_peer.py http://127.0.0.1:PORT > range_peer.txt
Data: x{a="1"} = k and x{a="2"} = k*k % 17 at t = 15k s, k = 0..200 (engine_test.cc loads the
same). promtool tsdb create-blocks-from openmetrics <om> <dir> builds the blocks.
"""
import json
import sys
import urllib.parse
import urllib.request

QUERIES = [
    (600, 2400, 60, 'x'),
    (601, 2400, 37, 'x'),
    (600, 2400, 60, 'x @ 100'),
    (600, 2400, 60, 'x @ start()'),
    (600, 2400, 60, 'x @ end()'),
    (600, 2400, 60, 'rate(x[1m] @ end())'),
    (600, 2400, 60, 'predict_linear(x[5m] @ 1000, 60)'),
    (600, 2400, 60, 'timestamp(x @ 500 offset 1m)'),
    (600, 2400, 60, 'sum(x @ 300) + x'),
    (600, 2400, 60, 'max_over_time(x[2m:30s])'),
    (601, 2400, 37, 'max_over_time(x[2m:30s])'),
    (600, 2400, 60, 'max_over_time(x[2m:30s] @ 1500)'),
    (600, 2400, 60, 'rate(x[1m:20s])'),
    (601, 2400, 37, 'avg_over_time(x[3m:])'),
    (600, 2400, 60, 'x offset -1m'),
    (600, 2400, 60, 'deriv(x[5m:1m] @ end())'),
    (600, 2400, 60, 'time() - x @ start()'),
    (600, 2400, 60, 'count_over_time((x @ 1000)[5m:1m])'),
    (600, 2400, 60, 'sum_over_time(sum(x)[10m:1m] @ 1200 offset 1m)'),
    (600, 2400, 60, 'quantile_over_time(scalar(x{a="2"}) / 17, x[3m] @ 2000)'),
    (600, 3300, 300, 'x'),
    (600, 3300, 300, 'rate(x[2m])'),
    (600, 2400, 60, 'topk(1, x)'),
    (600, 2400, 60, 'sort_desc(x)'),
    (600, 2400, 60, 'count_values("v", x{a="2"})'),
    (600, 2400, 60, 'x{a="1"} and x{a="2"} > 7'),
]


def main():
    base = sys.argv[1]
    for start, end, step, q in QUERIES:
        url = base + '/api/v1/query_range?' + urllib.parse.urlencode(
            {'query': q, 'start': start, 'end': end, 'step': step})
        res = json.load(urllib.request.urlopen(url))
        assert res['status'] == 'success', res
        print(f'query {start} {end} {step} {q}')
        for s in res['data']['result']:
            labels = ', '.join(f'{k}={json.dumps(v)}' for k, v in sorted(s['metric'].items()))
            pts = ' '.join(f'{int(round(t * 1000))}:{v}' for t, v in s['values'])
            print(f'    {{{labels}}} {pts}')


if __name__ == '__main__':
    main()
