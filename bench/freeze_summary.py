#!/usr/bin/env python3
"""Summarises bench/freeze_benchmark.sh's results.jsonl (one JSON line per run).

For every seed: one row per policy with wall time, its ratio to the same seed's `none` run,
test accuracy and its difference to that run, the measured share of backward time saved, the
monitor's cost on the training thread (probe passes + waiting for freeze decisions, as a share
of the training time) and when each layer froze. With several seeds, a last table gives the
means of the per-seed ratios and differences, so machine drift between seeds does not mix in.
For runs with `--cost-model`, two more columns set the model against the measurement: the
measured training-step time and the modelled one, each as a ratio to the same seed's `none`
run (the model with the cache for runs that used it; `*` marks a cached run whose binary
predates that, so the model leaves the cache out). Where the runs record how often each unit's
passes ran (`cost_model.units.*.passes`), every run of a seed is priced with the same per-unit
times, the median of that seed's measurements: each run times its units on one batch before
training, and one slow moment there would otherwise move its modelled time by tens of percent.
A section then gives, per arm, the modelled over the measured step time (both as ratios to
the seed's `none`) and the same in absolute seconds over every run: where the two agree, the
measured times reflect the computation each arm saves rather than the machine's drift.
A last section shows how far each run's one-batch timing lies from its seed's median, beside
the same for its first epoch, and lists the runs timed more than 10 % off.

    python3 bench/freeze_summary.py build/freeze_benchmark/results.jsonl
"""
import json
import random
import statistics
import sys


def load(path):
    runs = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"{path}:{number}: skipped, not a JSON line ({e})", file=sys.stderr)
    return runs


def monitor_share(run):
    train = sum(run.get("train_s_per_epoch", [])) or float("nan")
    return (run.get("monitor_probe_s", 0.0) + run.get("monitor_wait_s", 0.0)) / train


def frozen_text(run):
    frozen = sorted(run.get("frozen", {}).items(), key=lambda kv: kv[1])
    return ", ".join(f"{layer}: {epoch}" for layer, epoch in frozen) or "-"


# A pass of the cost model and the key of its measured time (ms per batch) in a unit's entry.
PASS_TIMES = {"forward": "forward_ms", "backward": "backward_ms",
              "backward_weights": "backward_weights_ms", "backward_input": "backward_input_ms"}


def cost_units(run):
    """The run's `cost_model.units` ({unit: measured times and passes}), or {} without a model."""
    model = run.get("cost_model")
    return model.get("units", {}) if isinstance(model, dict) else {}


def median_unit_times(runs):
    """{(unit, time key): the median over `runs` of that measured time}."""
    samples = {}
    for run in runs:
        for unit, entry in cost_units(run).items():
            for key in PASS_TIMES.values():
                if isinstance(entry.get(key), (int, float)):
                    samples.setdefault((unit, key), []).append(entry[key])
    return {k: statistics.median(v) for k, v in samples.items()}


def priced_steps(run, times):
    """The run's modelled step seconds with `times` (from median_unit_times), the cache's
    skipped forward passes off and its own time on; None if the run lacks its pass counts."""
    model, units = run.get("cost_model"), cost_units(run)
    if not units or any("passes" not in entry for entry in units.values()):
        return None
    try:
        seconds = sum(count * times[(unit, PASS_TIMES[kind])] / 1e3
                      for unit, entry in units.items() for kind, count in entry["passes"].items())
        if "with_cache" in model:
            skipped = model["with_cache"]["forward_skipped_batches"]
            seconds -= sum(batches * times[(unit, "forward_ms")] / 1e3
                           for unit, batches in skipped.items())
            seconds += model["with_cache"]["cache_s"]
    except KeyError:
        return None
    return seconds


def modelled_steps(run, times=None):
    """(the cost model's step seconds, whether it leaves out a cache the run used), or None.
    With `times`, priced with them where the run records its passes."""
    model = run.get("cost_model")
    if not isinstance(model, dict) or "steps_s" not in model:
        return None
    priced = priced_steps(run, times) if times else None
    if priced is not None:
        return priced, False
    if "with_cache" in model:
        return model["with_cache"]["steps_s"], False
    return model["steps_s"], "cache" in run


def cost_ratios(run, base, times=None):
    """(measured step time / base's, modelled / base's, whether the run's model leaves out a
    cache it used), or None where either run lacks the model or its measured step time."""
    model, base_model = modelled_steps(run, times), modelled_steps(base, times) if base else None
    if (model is None or base_model is None or not base_model[0] or not base.get("steps_s")
            or not run.get("steps_s")):
        return None
    return run["steps_s"] / base["steps_s"], model[0] / base_model[0], model[1]


def cost_columns(run, base, times=None):
    """'steps / none' and 'model / none' for runs with the cost model, else blanks."""
    ratios = cost_ratios(run, base, times)
    if ratios is None:
        return " " * 17
    steps, model, leaves_out_cache = ratios
    return f" {steps:>7.3f} {model:>7.3f}{'*' if leaves_out_cache else ' '}"


def unit_time_sum(run):
    """The run's one-batch timing before training: its units' forward + backward ms, or None."""
    try:
        return sum(e["forward_ms"] + e["backward_ms"] for e in cost_units(run).values()) or None
    except (KeyError, TypeError):
        return None


def timing_against_first_epoch(runs, label):
    """[(seed, label, timed, first)]: per run with a cost model, its summed one-batch unit times
    and its first epoch's seconds, each over the median of its seed's runs. The first epoch is
    nearly the same computation in every arm, so where both move together the timing caught the
    machine's speed at the run's start, not a fault of the measurement."""
    rows = []
    for seed in sorted({r["seed"] for r in runs}):
        timed = [(r, unit_time_sum(r)) for r in runs if r["seed"] == seed]
        timed = [(r, t) for r, t in timed if t and r.get("train_s_per_epoch")]
        if len(timed) < 3:
            continue
        mid_t = statistics.median(t for _, t in timed)
        mid_e = statistics.median(r["train_s_per_epoch"][0] for r, _ in timed)
        rows += [(seed, label(r), t / mid_t, r["train_s_per_epoch"][0] / mid_e)
                 for r, t in timed]
    return rows


def print_timing(rows):
    timed, first = [row[2] for row in rows], [row[3] for row in rows]
    print(f"\none-batch unit timing before training, over its seed's median: "
          f"{min(timed):.2f}–{max(timed):.2f} over {len(rows)} runs; the first epoch's time, "
          f"likewise: {min(first):.2f}–{max(first):.2f}")
    if len(rows) > 2 and statistics.pstdev(timed) > 0 and statistics.pstdev(first) > 0:
        print(f"correlation of the two within seeds: {statistics.correlation(timed, first):+.2f}")
    for seed, l, t, e in rows:
        if abs(t - 1) > 0.1:
            print(f"  seed {seed} {l}: timed {t:.2f}, first epoch {e:.2f}")


def model_against_measurement(runs, label):
    """How far the cost model is from the measured step time. Returns ({arm: [per seed, the
    modelled step time over the measured one, each as a ratio to that seed's `none`]},
    [per run, modelled over measured step seconds], the number of cached runs whose model
    leaves the cache out, which are not counted). Every run of a seed is priced at the seed's
    median unit times, as in the per-seed tables."""
    relative, absolute, skipped = {}, [], 0
    for seed in sorted({r["seed"] for r in runs}):
        by_label = {label(r): r for r in runs if r["seed"] == seed}
        times = median_unit_times(by_label.values())
        base = by_label.get("none")
        for l, r in by_label.items():
            model = modelled_steps(r, times)
            if model is None or not r.get("steps_s"):
                continue
            if model[1]:
                skipped += 1
                continue
            absolute.append(model[0] / r["steps_s"])
            ratios = cost_ratios(r, base, times) if l != "none" else None
            if ratios is not None:
                relative.setdefault(l, []).append(ratios[1] / ratios[0])
    return relative, absolute, skipped


def print_model_against_measurement(relative, absolute, skipped):
    print("\ncost model over measurement: modelled / measured step time, each as a ratio to "
          "the seed's none (median over seeds, range)")
    for l, values in relative.items():
        print(f"  {l:<22} {statistics.median(values):.2f} "
              f"({min(values):.2f}–{max(values):.2f}) over {len(values)} seeds")
    every = [v for values in relative.values() for v in values]
    if every:
        print(f"  every arm's median {min(map(statistics.median, relative.values())):.2f}–"
              f"{max(map(statistics.median, relative.values())):.2f}; single runs "
              f"{min(every):.2f}–{max(every):.2f}")
    print(f"absolute, modelled / measured step seconds: median {statistics.median(absolute):.2f}"
          f" ({min(absolute):.2f}–{max(absolute):.2f}) over {len(absolute)} runs"
          + (f"; not counted: {skipped} cached run(s) whose model leaves the cache out"
             if skipped else ""))


def paired_bootstrap(values, resamples=10000, seed=0):
    """The 95 % percentile interval of the mean of `values` (per-seed paired differences),
    resampling the seeds with replacement."""
    rng = random.Random(seed)
    means = sorted(statistics.mean(rng.choices(values, k=len(values)))
                   for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: freeze_summary.py RESULTS.jsonl")
    runs = load(sys.argv[1])
    if not runs:
        sys.exit(f"{sys.argv[1]}: no runs to summarise")
    label = lambda r: r.get("label", r["policy"])
    labels = list(dict.fromkeys(label(r) for r in runs))
    seeds = sorted({r["seed"] for r in runs})
    first = runs[0]
    print(f"epochs {first['epochs']}, training images {first.get('train_images', '?')}")
    modelled = any(modelled_steps(r) for r in runs)
    header = (f"{'policy':<22} {'wall s':>8} {'/ none':>7} {'test acc':>9} {'- none':>7} "
              f"{'bwd saved':>10} {'monitor':>8}"
              + (f" {'steps':>7} {'model':>7} " if modelled else "")
              + "  frozen (layer: after epoch)")
    ratios = {l: [] for l in labels}
    diffs = {l: [] for l in labels}
    for seed in seeds:
        by_label = {label(r): r for r in runs if r["seed"] == seed}
        base = by_label.get("none")
        times = median_unit_times(by_label.values())
        print(f"\nseed {seed}")
        print(header)
        for l in labels:
            r = by_label.get(l)
            if r is None:
                continue
            ratio = r["wall_s"] / base["wall_s"] if base else float("nan")
            diff = r["test_acc"] - base["test_acc"] if base else float("nan")
            if base:
                ratios[l].append(ratio)
                diffs[l].append(diff)
            print(f"{l:<22} {r['wall_s']:>8.1f} {ratio:>7.3f} {r['test_acc']:>9.2f} {diff:>+7.2f} "
                  f"{r.get('backward_saved_fraction', 0.0):>10.3f} {monitor_share(r):>7.1%}"
                  f"{cost_columns(r, base, times) if modelled else ''}  {frozen_text(r)}")
    if len(seeds) > 1:
        print(f"\nmean over seeds {seeds} (per-seed ratios and differences to none; the "
              f"intervals: paired bootstrap over seeds, 95 %)")
        print(f"{'policy':<22} {'/ none':>7} {'ratio interval':>16} {'- none':>7} "
              f"{'difference interval':>20}  seeds")
        for l in labels:
            if ratios[l]:
                r_lo, r_hi = paired_bootstrap(ratios[l])
                d_lo, d_hi = paired_bootstrap(diffs[l])
                print(f"{l:<22} {statistics.mean(ratios[l]):>7.3f} "
                      f"{f'{r_lo:.3f} – {r_hi:.3f}':>16} {statistics.mean(diffs[l]):>+7.2f} "
                      f"{f'{d_lo:+.2f} – {d_hi:+.2f}':>20}  {len(ratios[l])}")
    relative, absolute, skipped = model_against_measurement(runs, label)
    if absolute:
        print_model_against_measurement(relative, absolute, skipped)
    timing = timing_against_first_epoch(runs, label)
    if timing:
        print_timing(timing)


if __name__ == "__main__":
    main()
