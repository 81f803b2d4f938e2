#!/usr/bin/env python3
"""Median ops/s and p99 of each scenario per build, from run.sh's JSON lines, as a Markdown table."""
import json, statistics, sys
from collections import defaultdict

runs = defaultdict(list)
order = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["name"] not in order:
        order.append(r["name"])
    runs[(r["name"], r["build"])].append(r["result"])

def med(rs, f):
    xs = [f(r) for r in rs if "ops_per_sec" in r]
    return statistics.median(xs) if xs else float("nan")

def rng(rs):
    xs = [r["ops_per_sec"] for r in rs if "ops_per_sec" in r]
    return f"{min(xs):,.0f}–{max(xs):,.0f}" if xs else "failed"

print("| scenario | before ops/s (median; range) | after ops/s (median; range) | after / before | p99 µs before → after |")
print("|---|---|---|---|---|")
for name in order:
    b, a = runs[(name, "before")], runs[(name, "after")]
    mb, ma = med(b, lambda r: r["ops_per_sec"]), med(a, lambda r: r["ops_per_sec"])
    pb, pa = med(b, lambda r: r["latency_us"]["p99"]), med(a, lambda r: r["latency_us"]["p99"])
    print(f"| {name} | {mb:,.0f}; {rng(b)} | {ma:,.0f}; {rng(a)} | {ma / mb:.2f} | {pb:,.1f} → {pa:,.1f} |")
