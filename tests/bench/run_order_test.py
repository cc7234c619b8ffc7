#!/usr/bin/env python3
"""bench/run_order.py: each seed's order is a permutation of its arms, the same on a rerun, and
seeds that share their leading digits (the evaluation seeds 300-304) get different orders;
without arms it prints the usage.

Usage: run_order_test.py SOURCE_DIR"""
import os, subprocess, sys

from checks import check, finish

source = sys.argv[1]
script = os.path.join(source, "bench", "run_order.py")
arms = ["none", "linear@0.5+cache", "linear@0.6+cache", "linear@0.8+cache", "linear+cache",
        "linear@1.2+cache", "forecast:bench/forecast_kappa_0.5.json+cache"]


def order(seed):
    out = subprocess.run([sys.executable, script, str(seed)] + arms, capture_output=True,
                         text=True, timeout=60)
    check(f"seed {seed}: exit 0", out.returncode == 0, out.stderr)
    return out.stdout.split()


orders = {seed: order(seed) for seed in (300, 301, 302, 303, 304)}
for seed, arms_in_order in orders.items():
    check(f"seed {seed}: every arm once", sorted(arms_in_order) == sorted(arms), arms_in_order)
check("a rerun of a seed repeats its order", order(302) == orders[302], orders[302])
distinct = {tuple(o) for o in orders.values()}
check("seeds 300-304 do not share one order", len(distinct) >= 3, orders)
firsts = {o[0] for o in orders.values()}
lasts = {o[-1] for o in orders.values()}
check("no one arm is always first or always last", len(firsts) > 1 and len(lasts) > 1, orders)
no_arms = subprocess.run([sys.executable, script, "7"], capture_output=True, text=True,
                         timeout=60)
check("a seed without arms: the usage and exit 2",
      no_arms.returncode == 2 and "usage" in no_arms.stderr, no_arms.stderr)
finish()
