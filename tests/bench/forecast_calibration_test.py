#!/usr/bin/env python3
"""bench/forecast_calibration.py on runs whose rate exponent is known: a unit whose change per
window goes as the square root of the window's mean rate gets p = 0.5, one whose change is
proportional to the rate gets p = 1; a run with one probe pass is refused with a message.

Usage: forecast_calibration_test.py SOURCE_DIR WORK_DIR"""
import json, os, re, subprocess, sys

from checks import check, finish

source, work = sys.argv[1], sys.argv[2]


def write_run(directory, means, steps_per_window=100):
    """Probe passes at the end of epochs 1 … len(means)+1; unit 'root' changes by
    0.3·√m per window of mean rate m, unit 'linear' by 0.3·m."""
    os.makedirs(directory, exist_ok=True)
    to_come = steps_per_window * sum(means)
    lines = []
    for k in range(len(means) + 1):
        step = steps_per_window * (k + 1)
        if k == 0:
            drift = {"root": 0.05, "linear": 0.05}  # before any window: not used by the fit
        else:
            m = means[k - 1]
            spent = steps_per_window * m
            to_come -= spent
            drift = {"root": 0.3 * m ** 0.5 / spent, "linear": 0.3 * m / spent}
        b = max(to_come, 0.0)
        text = ", ".join(f"{u} {r:.9g}" for u, r in drift.items())
        lines.append({"event": "note", "step": step, "epoch": k + 1,
                      "message": f"drift per unit of learning rate: {text}"})
        forecast = ", ".join(f"{u} {max(0.0, 1 - r * b):.4f}" for u, r in drift.items())
        lines.append({"event": "note", "step": step, "epoch": k + 1,
                      "message": "forecast similarity to the final output (learning rate "
                                 f"still to come {b:.6g}): {forecast}"})
    with open(os.path.join(directory, "events.jsonl"), "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)


script = os.path.join(source, "bench", "forecast_calibration.py")
run_dir = os.path.join(work, "run")
write_run(run_dir, [0.9, 0.6, 0.35, 0.15, 0.03])
done = subprocess.run([sys.executable, script, run_dir, "--kappa", "0.5"], capture_output=True,
                      text=True)
check("a run with six passes is read", done.returncode == 0, done.stderr)
found = re.search(r"\(mean rate in it\)\^p, from epoch 2 on: (.*)", done.stdout)
exponents = {}
if found:
    for item in found.group(1).split(", "):
        name, _, value = item.rpartition(" ")
        exponents[name] = float(value)
check("the square-root unit's exponent is 0.5", abs(exponents.get("root", 0) - 0.5) < 0.01,
      done.stdout)
check("the proportional unit's exponent is 1", abs(exponents.get("linear", 0) - 1.0) < 0.01,
      done.stdout)

one = os.path.join(work, "one_pass")
write_run(one, [])
done = subprocess.run([sys.executable, script, one], capture_output=True, text=True)
check("one probe pass: refused, saying the run needs two",
      done.returncode != 0 and "at least two" in done.stderr, done.stderr)

finish()
