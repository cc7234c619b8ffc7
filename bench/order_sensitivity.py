#!/usr/bin/env python3
"""How far the freeze benchmark's verdicts could move with the machine's speed at each run.

Every arm trains the whole network in its first epoch, so that epoch's time over the median of
its seed's first epochs is a per-run speed factor. This script divides each run's wall time by
its factor and sets the margins over F(α) (bench/freeze_frontier.py) before and after side by
side, per arm that is not a fixed schedule, with the mean factor of each arm. It also says
whether the seeds of a file ran their arms in one order (the runs' order in the file), in which
case an arm's position in the sequence cannot be told from the arm itself.

The factor is itself one epoch's timing, with its noise: the corrected margins bound what the
speed at each run could change, they are not a better estimate.

    python3 bench/order_sensitivity.py RESULTS.jsonl [RESULTS.jsonl ...]
"""
import statistics
import sys

from freeze_frontier import analyse, arm_order, assess, label
from freeze_summary import load


def speed_factors(runs):
    """{id(run): its first epoch's time over its seed's median first epoch}."""
    factors = {}
    for seed in {r["seed"] for r in runs}:
        own = [r for r in runs if r["seed"] == seed and r.get("train_s_per_epoch")]
        if not own:
            continue
        median = statistics.median(r["train_s_per_epoch"][0] for r in own)
        for r in own:
            factors[id(r)] = r["train_s_per_epoch"][0] / median
    return factors


def speed_corrected(runs, factors):
    """A copy of `runs`, each wall time divided by its run's factor (from speed_factors)."""
    return [dict(r, wall_s=r["wall_s"] / factors.get(id(r), 1.0)) for r in runs]


def shared_order(runs):
    """True when every seed with runs ran its arms in the same order."""
    orders = {}
    for r in runs:
        orders.setdefault(r["seed"], []).append(label(r))
    return len(orders) > 1 and len({tuple(o) for o in orders.values()}) == 1


def report(path, runs):
    lines = [f"{path}: " + ("one order of arms for every seed" if shared_order(runs)
                            else "the seeds ran their arms in different orders")]
    factors = speed_factors(runs)
    measured, corrected = analyse(runs), analyse(speed_corrected(runs, factors))
    for name in arm_order(measured[3]):  # the arms judged against the frontier
        arm_factors = [factors[id(r)] for r in runs if label(r) == name and id(r) in factors]
        before = assess(name, measured[1][name], measured[3], measured[2])
        after = assess(name, corrected[1][name], corrected[3], corrected[2])
        speed = (f"first epoch {statistics.mean(arm_factors):.3f}× its seed's median"
                 if arm_factors else "no epoch times")
        lines.append(f"  {name}: {speed}\n    as measured:     {before[0]}  {before[1]}\n"
                     f"    speed-corrected: {after[0]}  {after[1]}")
    return "\n".join(lines)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: order_sensitivity.py RESULTS.jsonl [RESULTS.jsonl ...]")
    for path in sys.argv[1:]:
        runs = load(path)
        if not runs:
            sys.exit(f"{path}: no runs")
        print(report(path, runs))


if __name__ == "__main__":
    main()
