#!/usr/bin/env python3
"""Calibrates the forecast freeze policy's κ on runs that froze nothing.

The forecast policy (FreezeOptions, `forecast`) freezes a unit once 1 − drift × (learning rate
still to come) ≥ κ, where drift is the unit's relative change per unit of learning rate on its
stored input. This script checks that forecast against what happened next in runs that trained
every unit to the end: run the example with `--policy forecast` and a config whose
`freeze.max_frozen_fraction` is 0, so the signal is logged at every probe pass and nothing is
frozen. From each run's events.jsonl it takes, per unit and probe pass i,

  forecast    F_i = 1 − r_i · B_i   (r_i the drift per unit of learning rate, B_i the rate to come)
  realised    R_i = 1 − Σ_{j>i} r_j · ΔB_j   (the unit's own relative changes between the later
              passes, each on the input stored at the pass before: a bound on its relative change
              from pass i to the end, on the same inputs)

and from convergence.jsonl the unit's SVCCA similarity to its own final snapshot at the same
step (the "final" records finish() writes). For each candidate κ it prints, per unit, the first
epoch at which F_i ≥ κ and R_i and the final similarity there; over every pass, how often the
forecast was optimistic (F_i > R_i). A κ is calibrated when it is not optimistic at the passes
where it would freeze. Per unit it also fits how its change per window goes with the window's
mean rate (D ∝ m^p, from epoch 2 on): the forecast assumes p = 1.

    python3 bench/forecast_calibration.py RUN_DIR [RUN_DIR ...] [--kappa 0.8,0.9,0.95]
"""
import argparse
import json
import math
import os
import re
import sys

from freeze_summary import load

DRIFT = re.compile(r"^drift per unit of learning rate: (.*)$")
FORECAST = re.compile(r"^forecast similarity to the final output \(learning rate still to come "
                      r"([^)]*)\): (.*)$")


def pairs(text):
    """'a 1.5, b nan' -> {'a': 1.5, 'b': nan}"""
    out = {}
    for item in text.split(", "):
        name, _, value = item.rpartition(" ")
        out[name] = float(value)
    return out


def read_run(directory):
    """Probe passes [(step, epoch, B, {unit: drift})] and {(unit, step): svcca to final}."""
    events = os.path.join(directory, "events.jsonl")
    if not os.path.exists(events):
        raise SystemExit(f"forecast_calibration.py: {events} does not exist; give the log "
                         "directory of a run of the example with --policy forecast")
    drift_at, to_come_at, epoch_at = {}, {}, {}
    for e in load(events):
        if e.get("event") != "note":
            continue
        message = e.get("message", "")
        if m := DRIFT.match(message):
            drift_at[e["step"]] = pairs(m.group(1))
            epoch_at[e["step"]] = e["epoch"]
        elif m := FORECAST.match(message):
            to_come_at[e["step"]] = float(m.group(1))
    passes = [(s, epoch_at[s], to_come_at[s], drift_at[s]) for s in sorted(drift_at)
              if s in to_come_at]
    if len(passes) < 2:
        raise SystemExit(f"forecast_calibration.py: {events} has {len(passes)} probe pass(es) "
                         "with a forecast; the run needs --policy forecast and at least two")
    final = {}
    convergence = os.path.join(directory, "convergence.jsonl")
    if os.path.exists(convergence):
        for r in load(convergence):
            if r.get("reference") == "final" and not r.get("reference_layer") and \
                    isinstance(r.get("value"), (int, float)):
                final[(r["layer"], r["step"])] = r["value"]
    return passes, final


def table(passes, final):
    """Per unit: [(step, epoch, forecast, realised, svcca to final or None)]."""
    units = list(passes[0][3])
    out = {}
    for unit in units:
        rows = []
        for i, (step, epoch, to_come, drift) in enumerate(passes):
            r = drift.get(unit, float("nan"))
            forecast = max(0.0, 1.0 - r * to_come)
            still = 0.0
            for j in range(i + 1, len(passes)):
                spent = passes[j - 1][2] - passes[j][2]
                still += passes[j][3].get(unit, float("nan")) * spent
            rows.append((step, epoch, forecast, max(0.0, 1.0 - still), final.get((unit, step))))
        out[unit] = rows
    return out


def rate_exponents(passes, skip_epochs=1):
    """Per unit: the exponent p of its change per window against the window's mean rate,
    D ∝ m^p, fitted by least squares in log-log over the windows that start after
    `skip_epochs` epochs (the first epoch's transient left out). p = 1: the unit changes in
    proportion to the rate (what the forecast assumes); p = 0.5: as its square root."""
    out = {}
    for unit in passes[0][3]:
        xs, ys = [], []
        for j in range(1, len(passes)):
            spent = passes[j - 1][2] - passes[j][2]
            steps = passes[j][0] - passes[j - 1][0]
            r = passes[j][3].get(unit, float("nan"))
            if passes[j - 1][1] < skip_epochs or spent <= 0 or steps <= 0 or not r > 0:
                continue
            xs.append(math.log(spent / steps))
            ys.append(math.log(r * spent))
        if len(xs) < 3 or max(xs) - min(xs) < 1e-9:
            out[unit] = None
            continue
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        out[unit] = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / \
            sum((x - mx) ** 2 for x in xs)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="log directories of forecast runs")
    parser.add_argument("--kappa", default="0.7,0.8,0.9,0.95",
                        help="comma-separated κ to tabulate (default 0.7,0.8,0.9,0.95)")
    args = parser.parse_args()
    kappas = [float(k) for k in args.kappa.split(",")]
    optimistic, total = 0, 0
    for directory in args.runs:
        passes, final = read_run(directory)
        per_unit = table(passes, final)
        print(f"## {directory}: {len(passes)} probe passes")
        print("| κ | unit | first epoch F ≥ κ | F | realised | SVCCA to final |")
        print("|---|---|---|---|---|---|")
        for kappa in kappas:
            for unit, rows in per_unit.items():
                hit = next((row for row in rows if row[2] >= kappa), None)
                if hit is None:
                    print(f"| {kappa} | {unit} | never | | | |")
                    continue
                svcca = "-" if hit[4] is None else f"{hit[4]:.3f}"
                print(f"| {kappa} | {unit} | {hit[1]} (step {hit[0]}) | {hit[2]:.3f} | "
                      f"{hit[3]:.3f} | {svcca} |")
        exponents = rate_exponents(passes)
        print("\nchange per window ∝ (mean rate in it)^p, from epoch 2 on: " + ", ".join(
            f"{unit} {'-' if p is None else f'{p:.2f}'}" for unit, p in exponents.items()))
        for rows in per_unit.values():
            for row in rows[:-1]:  # the last pass has nothing left to realise
                total += 1
                optimistic += row[2] > row[3] + 1e-9
    print(f"\nforecast above the realised similarity at {optimistic} of {total} passes "
          f"({100.0 * optimistic / max(total, 1):.0f} %)")


if __name__ == "__main__":
    main()
