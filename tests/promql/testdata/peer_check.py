#!/usr/bin/env python3
"""Checks the PromQL test scripts in this folder against the real Prometheus 2.42 (promtool).

Every `*.test` file here is a Prometheus-style script (`load <interval>`, series lines,
`eval instant at <t> <expr>` followed by expected `<labels> <value>` lines, `eval_fail` with an
optional `error <message>` line, `eval_ordered` when order matters, `clear`). This script turns
it into a `promtool test rules` file, runs promtool with a sentinel expectation so that promtool
prints what it got for every case, and compares that with the script:

    tests/promql/testdata/peer_check.py tests/promql/testdata/functions.test        # verify
    tests/promql/testdata/peer_check.py --fill tests/promql/testdata/functions.test # rewrite

--fill rewrites the expected lines with promtool's results (that is how the expected values in
these files were obtained). promtool quirk handled here: it loads samples only up to the last
multiple of evaluation_interval (1m) not after the latest eval_time, so each group gets a dummy
case at a later minute.
"""
import math
import re
import subprocess
import sys
import tempfile
import os

import yaml


def parse_duration_ms(s):
    neg = s.startswith('-')
    if neg:
        s = s[1:]
    total = 0
    for n, unit in re.findall(r'(\d+)(ms|s|m|h|d|w)', s):
        total += int(n) * {'ms': 1, 's': 1000, 'm': 60000, 'h': 3600000, 'd': 86400000,
                           'w': 604800000}[unit]
    return -total if neg else total


def expand_len(values):
    n = 0
    for tok in values.split():
        if tok.startswith('_x'):
            n += int(tok[2:])
        elif 'x' in tok[1:] and tok not in ('stale',):
            n += int(tok[tok.rfind('x') + 1:]) + 1
        else:
            n += 1
    return n


def parse_script(path):
    """Returns (lines, groups); each group: interval, series, cases (line ranges)."""
    lines = open(path).read().split('\n')
    groups = []
    i = 0
    cur = None
    while i < len(lines):
        line = lines[i].strip()
        if not line or line.startswith('#'):
            i += 1
            continue
        if line.startswith('load '):
            cur = {'interval': line[5:].strip(), 'series': [], 'cases': []}
            groups.append(cur)
            i += 1
            while i < len(lines) and lines[i][:1] in (' ', '\t'):
                d = lines[i].strip()
                if d and not d.startswith('#'):
                    m = re.match(r'^(\S*\{.*?\}|\S+)\s*(.*)$', d)
                    cur['series'].append((m.group(1), m.group(2)))
                i += 1
            continue
        if line == 'clear':
            cur = None
            i += 1
            continue
        m = re.match(r'^(eval|eval_fail|eval_ordered) instant at (\S+) (.*)$', line)
        assert m, f'{path}:{i+1}: cannot parse {line!r}'
        start = i
        i += 1
        while i < len(lines) and lines[i][:1] in (' ', '\t'):
            i += 1
        cur['cases'].append({'kind': m.group(1), 'time': m.group(2), 'expr': m.group(3),
                             'start': start, 'end': i, 'expected': lines[start + 1:i]})
    return lines, groups


def to_promtool(groups):
    tests = []
    for g in groups:
        interval_ms = parse_duration_ms(g['interval'])
        last = max([expand_len(v) * interval_ms for _, v in g['series']] + [0])
        last = max([last] + [parse_duration_ms(c['time']) for c in g['cases']])
        dummy = (last // 60000 + 1) * 60000
        t = {'interval': g['interval'],
             'input_series': [{'series': s, 'values': v} for s, v in g['series']],
             'promql_expr_test': []}
        for c in g['cases']:
            t['promql_expr_test'].append({
                'expr': c['expr'], 'eval_time': '%dms' % parse_duration_ms(c['time']),
                'exp_samples': [{'labels': '{__sentinel__="1"}', 'value': 0}]})
        t['promql_expr_test'].append({'expr': 'vector(0)', 'eval_time': '%dms' % dummy,
                                      'exp_samples': [{'labels': '{}', 'value': 0}]})
        tests.append(t)
    return {'rule_files': ['empty.yml'], 'evaluation_interval': '1m', 'tests': tests}


def split_samples(got):
    if got.strip() == 'nil':
        return []
    parts = re.findall(r'(\{.*?\}) (\S+?)(?:, (?=\{)|$)', got.strip())
    return [(lbl, fmt_value(float(v) if v not in ('NaN', '+Inf', '-Inf') else
                             {'NaN': math.nan, '+Inf': math.inf, '-Inf': -math.inf}[v]))
            for lbl, v in parts]


def fmt_value(v):
    if math.isnan(v):
        return 'NaN'
    if math.isinf(v):
        return '+Inf' if v > 0 else '-Inf'
    return repr(v)


def run_promtool(doc):
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, 'empty.yml'), 'w').write('groups: []\n')
        f = os.path.join(d, 'cases.yml')
        open(f, 'w').write(yaml.safe_dump(doc, sort_keys=False))
        out = subprocess.run(['promtool', 'test', 'rules', f], capture_output=True, text=True)
        return out.stdout + out.stderr


def parse_results(output):
    results = []
    lines = output.split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'^\s+expr: (".*"), time: ([^,]+),(.*)$', lines[i])
        if not m:
            i += 1
            continue
        rest = m.group(3).strip()
        if rest.startswith('err:'):
            results.append(('error', rest[4:].strip()))
            i += 1
            continue
        got = lines[i + 2].strip()
        assert got.startswith('got:'), lines[i + 2]
        results.append(('ok', split_samples(got[4:].strip())))
        i += 3
    return results


def main():
    fill = '--fill' in sys.argv
    paths = [a for a in sys.argv[1:] if not a.startswith('--')]
    bad = 0
    for path in paths:
        lines, groups = parse_script(path)
        output = run_promtool(to_promtool(groups))
        results = parse_results(output)
        cases = [c for g in groups for c in g['cases']]
        if len(results) != len(cases):
            print(output)
            sys.exit(f'{path}: {len(cases)} cases but promtool reported {len(results)}')
        replacements = []
        for c, (kind, got) in zip(cases, results):
            if kind == 'error':
                new = [f"eval_fail instant at {c['time']} {c['expr']}", f'    error {got}']
                if c['kind'] == 'eval_fail' and not any(
                        l.strip().startswith('error ') for l in c['expected']):
                    new = new[:1]  # Any error will do (the message is not deterministic).
                ok = c['kind'] == 'eval_fail' and (
                    not any(l.strip().startswith('error ') for l in c['expected']) or
                    any(l.strip() == f'error {got}' for l in c['expected']))
            else:
                kw = 'eval_ordered' if c['kind'] == 'eval_ordered' else 'eval'
                new = [f"{kw} instant at {c['time']} {c['expr']}"] + \
                      [f'    {l} {v}' for l, v in got]
                want = [l.strip() for l in c['expected'] if l.strip() and
                        not l.strip().startswith('#')]
                want_pairs = sorted((w[:w.rfind(' ')].replace(', ', ','), w[w.rfind(' ') + 1:])
                                    for w in want)
                got_pairs = sorted((l.replace(', ', ','), v) for l, v in got)
                norm = lambda ps: [(l, fmt_value(float(v.replace('Inf', 'inf'))))
                                   for l, v in ps]
                ok = c['kind'] != 'eval_fail' and norm(want_pairs) == norm(got_pairs)
            if not ok:
                bad += 1
                print(f"{path}:{c['start']+1}: {c['expr']} @ {c['time']}: peer says:")
                print('\n'.join(new))
            comments = [l for l in c['expected'] if l.strip().startswith('#')]
            replacements.append((c['start'], c['end'], [new[0]] + comments + new[1:]))
        if fill:
            for start, end, new in reversed(replacements):
                lines[start:end] = new
            open(path, 'w').write('\n'.join(lines))
    if bad and not fill:
        sys.exit(f'\n{bad} case(s) differ from the peer')
    print('all cases agree with promtool' if not bad else f'{bad} case(s) rewritten')


if __name__ == '__main__':
    main()
