#!/usr/bin/env python3
"""bench/freeze_summary.py's cost-model columns on runs whose ratios are known: the measured
and the modelled step time as ratios to `none`'s, the model with the cache where the run has
it, `*` where a cached run's model leaves the cache out, blanks where a run has no model; and
the section setting the model against the measurement per arm and over every run.

Usage: freeze_summary_test.py SOURCE_DIR WORK_DIR"""
import json, os, subprocess, sys

from checks import check, finish

source, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)


def run(label, steps, model=None, with_cache=None, cache=False):
    r = {"label": label, "policy": label.split("+")[0], "seed": 7, "epochs": 6,
         "wall_s": steps + 5, "steps_s": steps, "test_acc": 93.0}
    if model is not None:
        r["cost_model"] = {"units": {}, "steps_s": model}
        if with_cache is not None:
            r["cost_model"]["with_cache"] = {"forward_skipped_s": model - with_cache,
                                             "cache_s": 0.0, "steps_s": with_cache}
    if cache:
        r["cache"] = {"enabled": True}
    return r


runs = [run("none", 200.0, 160.0),
        run("fixed", 150.0, 120.0),                                  # 0.750 and 0.750
        run("fixed+cache", 100.0, 120.0, with_cache=72.0, cache=True),  # 0.500 and 0.450
        run("old+cache", 100.0, 120.0, cache=True),                  # 0.500 and 0.750*
        run("plain", 180.0),                                         # no model: blanks
        run("other", 100.0, 56.0)]                                   # 0.500 and 0.350


def priced(label, measured_ms, passes, skipped=None, cache_s=0.0):
    """A run that records its passes over one unit "a", timed at `measured_ms` per pass."""
    r = run(label, 100.0, 99.0)  # its own modelled time: what the summary must not use
    r["seed"] = 8
    r["cost_model"]["units"] = {"a": {
        "forward_ms": measured_ms, "backward_ms": measured_ms,
        "backward_weights_ms": measured_ms, "backward_input_ms": 0.0,
        "passes": {"forward": passes[0], "backward": 0, "backward_weights": passes[1],
                   "backward_input": 0}}}
    if skipped is not None:
        r["cost_model"]["with_cache"] = {"forward_skipped_batches": {"a": skipped},
                                         "cache_s": cache_s, "steps_s": 1.0}
        r["cache"] = {"enabled": True}
    return r


# Seed 8: every run priced at the median times (10 ms): none 1000 + 1000 passes = 20 s; the
# cached arm 1000 + 500 - 500 skipped = 10 s, plus 1 s of the cache's own: 0.550. Its own
# measurement (14 ms) is slow and must not count.
runs += [priced("none", 10.0, (1000, 1000)),
         priced("half+cache", 14.0, (1000, 500), skipped=500, cache_s=1.0),
         priced("other", 10.0, (1000, 1000))]


def timed(label, unit_ms, first_epoch_s):
    """A run of seed 9 whose one-batch timing sums to `unit_ms` over its two units."""
    r = run(label, 100.0, 99.0)
    r["seed"] = 9
    r["cost_model"]["units"] = {u: {"forward_ms": unit_ms / 4, "backward_ms": unit_ms / 4}
                                for u in ("a", "b")}
    r["train_s_per_epoch"] = [first_epoch_s, 30.0]
    return r


# Seed 9: the medians are 10 ms and 42 s, so the runs are timed 1.00, 0.95, 1.20 and their
# first epochs 0.952, 1.000, 1.143. By hand on the raw values (the correlation ignores scale):
# timing deviations from its mean 10.5 ms are -0.5, -1.0, +1.5; the epochs' from 43.33 s are
# -3.33, -1.33, +4.67; covariance sum 1.667 + 1.333 + 7.0 = 10.0, sums of squares 3.5 and
# 34.67: correlation 10.0 / sqrt(3.5 * 34.67) = +0.91. Only the third run is timed more than
# 10 % off its seed's median.
runs += [timed("t_a", 10.0, 40.0), timed("t_b", 9.5, 42.0), timed("t_c", 12.0, 48.0)]
results = os.path.join(work, "results.jsonl")
with open(results, "w") as f:
    for r in runs:
        f.write(json.dumps(r) + "\n")
out = subprocess.run([sys.executable, os.path.join(source, "bench", "freeze_summary.py"),
                      results], capture_output=True, text=True)
check("exit 0", out.returncode == 0, out.stderr)
rows = {line.split()[0]: line for line in
        out.stdout.split("\nseed 8")[0].splitlines() if line.strip()}
seed8 = {line.split()[0]: line.split() for line in
         out.stdout.split("\nseed 8")[-1].split("\nmean over")[0].splitlines() if line.strip()}


def columns(label):
    return rows.get(label, "").split()


check("header names the columns", "steps" in rows.get("policy", "") and
      "model" in rows.get("policy", ""), out.stdout)
check("none: 1 and 1", columns("none")[7:9] == ["1.000", "1.000"], columns("none"))
check("without the cache: the model's ratio", columns("fixed")[7:9] == ["0.750", "0.750"],
      columns("fixed"))
check("with the cache: the model with it", columns("fixed+cache")[7:9] == ["0.500", "0.450"],
      columns("fixed+cache"))
check("a cached run whose model leaves the cache out is marked",
      columns("old+cache")[7:9] == ["0.500", "0.750*"], columns("old+cache"))
check("a run without the model has blanks there", columns("plain")[7] == "-",
      columns("plain"))
check("priced at the seed's median unit times: the same times for every arm",
      seed8.get("none", [])[7:9] == ["1.000", "1.000"] and
      seed8.get("half+cache", [])[8:9] == ["0.550"] and seed8.get("other", [])[8:9] == ["1.000"],
      seed8)
agreement = out.stdout.split("\ncost model over measurement")[-1].split("\none-batch")[0]
arms = {line.split()[0]: line.split()[1:] for line in agreement.splitlines()[1:]
        if line.startswith("  ")}
# (model / none) / (steps / none): fixed 0.750 / 0.750, fixed+cache 0.450 / 0.500, seed 8's
# half+cache 0.550 / 1; "other" 0.350 / 0.500 on seed 7 and 1 / 1 on seed 8, median 0.85.
check("the model against the measurement, per arm: median and range over seeds",
      arms.get("fixed", [])[:4] == ["1.00", "(1.00–1.00)", "over", "1"] and
      arms.get("fixed+cache", [])[:1] == ["0.90"] and arms.get("half+cache", [])[:1] == ["0.55"]
      and arms.get("other", [])[:4] == ["0.85", "(0.70–1.00)", "over", "2"], agreement)
check("none is the reference, not an arm; a model without the cache is left out and counted",
      "none" not in arms and "old+cache" not in arms and "plain" not in arms and
      "not counted: 1 cached run(s)" in agreement, agreement)
# Absolute modelled / measured over the 10 runs with a model the cache does not contradict:
# seed 7 0.80 0.80 0.72 0.56, seed 8 0.20 0.11 0.20, seed 9 0.99 three times: median 0.76.
check("absolute: median and range over every run with a model",
      "median 0.76 (0.11–0.99) over 10 runs" in agreement and
      "every arm's median 0.55–1.00; single runs 0.55–1.00" in agreement, agreement)
timing = out.stdout.split("\none-batch unit timing")[-1]
check("the timing section: its range, the correlation within seeds, the run timed off",
      "0.95–1.20 over 3 runs" in timing and "correlation of the two within seeds: +0.91" in timing
      and "seed 9 t_c: timed 1.20, first epoch 1.14" in timing
      and "t_a:" not in timing and "t_b:" not in timing, timing)
check("runs without one-batch timing or epochs stay out of it (seeds 7 and 8)",
      "seed 7" not in timing and "seed 8" not in timing and "over 3 runs" in timing, timing)
finish()
