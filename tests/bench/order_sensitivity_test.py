#!/usr/bin/env python3
"""bench/order_sensitivity.py on runs whose speed is known: an arm that ran on a machine 20 %
slower (its first epoch too) is below the frontier as measured and above it once each run's wall
time is divided by its first epoch over the seed's median; seeds that ran one order of arms are
told from seeds that did not.

Usage: order_sensitivity_test.py SOURCE_DIR WORK_DIR"""
import json, os, random, subprocess, sys

from checks import check, finish

source, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
script = os.path.join(source, "bench", "order_sensitivity.py")


def seed_runs(seed):
    runs = [{"label": "none", "seed": seed, "wall_s": 200.0, "test_acc": 93.0,
             "train_s_per_epoch": [10.0, 9.0]}]
    # F(α) of every seed: (0.5, -0.6), (0.6, -0.4), (0.7, -0.2), (0.8, -0.1).
    for arm, (x, y) in {"linear@0.6": (0.5, -0.6), "linear@0.8": (0.6, -0.4),
                        "linear": (0.7, -0.2), "linear@1.2": (0.8, -0.1)}.items():
        runs.append({"label": arm, "seed": seed, "wall_s": 200 * x, "test_acc": 93 + y,
                     "train_s_per_epoch": [10.0, 8.0]})
    # At its own cost 0.65, F = -0.3: margin +0.10. Run 20 % slow: measured at 0.78, where
    # F = -0.12, margin -0.08.
    runs.append({"label": "slowed", "seed": seed, "wall_s": 200 * 0.65 * 1.2,
                 "test_acc": 93 - 0.2, "train_s_per_epoch": [12.0, 7.0]})
    return runs


def write(name, runs):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in runs))
    return path


one_order = write("one_order.jsonl", [r for s in (1, 2, 3, 4) for r in seed_runs(s)])
shuffled = []
for s in (1, 2, 3, 4):
    runs = seed_runs(s)
    random.Random(s).shuffle(runs)
    shuffled += runs
other_orders = write("other_orders.jsonl", shuffled)

out = subprocess.run([sys.executable, script, one_order, other_orders], capture_output=True,
                     text=True, timeout=60)
check("exit 0", out.returncode == 0, out.stderr)
text = out.stdout
first, _, second = text.partition(other_orders)
check("one order of arms for every seed is named", "one order of arms for every seed" in first,
      text)
check("different orders are named", "different orders" in second, text)
check("the slowed arm's first epoch: 1.2 of its seed's median",
      "slowed: first epoch 1.200×" in first, text)
check("as measured: below the frontier, -0.08",
      "as measured:     -0.08 (-0.08 – -0.08), 4 seeds  below" in first, text)
check("speed-corrected: its own margin, +0.10, above",
      "speed-corrected: +0.10 (+0.10 – +0.10), 4 seeds  dominates" in first, text)
check("the fixed schedules get no line", "linear@0.8:" not in text, text)
usage = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60)
check("no results file: the usage", usage.returncode != 0 and "usage" in usage.stderr,
      usage.stderr)
finish()
