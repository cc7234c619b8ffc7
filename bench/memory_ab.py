#!/usr/bin/env python3
"""Page faults and where the time goes, side by side: this build against another build of
layerwatch (say, the landed code in a git worktree) and, for `compare`, against google/svcca's
cca_core, in one run. The arms alternate and repeat, because this machine's speed drifts by
tens of percent within an hour; every figure is printed, with the median and the spread.

    /usr/bin/python3 bench/memory_ab.py --baseline ../baseline/build \\
        [--svcca DIR_WITH_cca_core.py] [--repeat 3] [--long]

  compare   `layerwatch compare A B --metric cca --json` on two (10000, 1024) float32 .npy files
  epoch     `fashion_mnist_freeze --policy none --epochs 1 --train-subset 8000`: this build with
            huge pages (the default), this build with --no-huge-pages (unless
            --skip-no-huge-pages), and the baseline
  --long    also the 6-epoch 20000-image runs (policy none and adaptive, seed 1), --long-repeat
            rounds of them

Minor page faults come from getrusage of each child; the example reports its own training-step
time (steps_s) and everything else (outside_steps_s) when the build has them.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

CCA_CORE = """
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import cca_core
x = np.load(sys.argv[2]); y = np.load(sys.argv[3])
r = cca_core.get_cca_similarity(x.T, y.T, epsilon=0., compute_coefs=True, verbose=False)
print(float(np.mean(r["cca_coef1"])))
"""


def run(cmd, env=None):
    """Wall seconds, minor faults, system seconds and stdout of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return {"wall": wall, "faults": after.ru_minflt - before.ru_minflt,
            "sys": after.ru_stime - before.ru_stime, "out": p.stdout}


def summary(values, unit="s"):
    if not values:
        return "n/a"
    med = statistics.median(values)
    fmt = "{:.2f}" if unit == "s" else "{:.0f}"
    return (f"median {fmt.format(med)}{unit} (range {fmt.format(min(values))}-"
            f"{fmt.format(max(values))}; runs: {', '.join(fmt.format(v) for v in values)})")


def clean_env():
    env = dict(os.environ)
    for key in ("GLIBC_TUNABLES", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.pop(key, None)
    return env


def bench_compare(args, work):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10000, 1024)).astype(np.float32)
    y = (x @ rng.standard_normal((1024, 1024)).astype(np.float32) * 0.05
         + rng.standard_normal((10000, 1024)).astype(np.float32))
    fx, fy = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(fx, x)
    np.save(fy, y)
    arms = {"this build": [os.path.join(args.head, "bin/layerwatch"), "compare", fx, fy,
                           "--metric", "cca", "--json"]}
    if args.baseline:
        arms["baseline"] = [os.path.join(args.baseline, "bin/layerwatch"), "compare", fx, fy,
                            "--metric", "cca", "--json"]
    if args.svcca:
        script = os.path.join(work, "cca_core_run.py")
        with open(script, "w") as f:
            f.write(CCA_CORE)
        arms["google/svcca cca_core"] = [sys.executable, script, args.svcca, fx, fy]
    results = {name: [] for name in arms}
    values = {}
    for r in range(args.repeat):
        for name, cmd in arms.items():
            res = run(cmd, clean_env())
            results[name].append(res)
            out = res["out"].strip()
            values[name] = (json.loads(out)["metrics"]["cca"]["value"] if out.startswith("{")
                            else float(out))
            print(f"  compare round {r + 1}: {name}: {res['wall']:.2f} s, {res['faults']} faults, "
                  f"sys {res['sys']:.2f} s", flush=True)
    print("\n== layerwatch compare --metric cca, (10000, 1024) float32, whole processes")
    for name, runs in results.items():
        print(f"  {name:24} wall {summary([x['wall'] for x in runs])}")
        print(f"  {'':24} faults {summary([x['faults'] for x in runs], '')}")
        print(f"  {'':24} mean CCA {values[name]:.12f}")
    if "google/svcca cca_core" in results:
        ours = statistics.median(x["wall"] for x in results["this build"])
        theirs = statistics.median(x["wall"] for x in results["google/svcca cca_core"])
        print(f"  cca_core / this build: {theirs / ours:.2f}x (medians)")
    if "baseline" in results:
        ours = statistics.median(x["wall"] for x in results["this build"])
        base = statistics.median(x["wall"] for x in results["baseline"])
        print(f"  baseline / this build: {base / ours:.2f}x (medians)")


def example_arms(args, extra):
    arms = {"this build": [os.path.join(args.head, "bin/fashion_mnist_freeze")] + extra}
    if not args.skip_no_huge_pages:
        arms["this build, --no-huge-pages"] = arms["this build"] + ["--no-huge-pages"]
    if args.baseline:
        arms["baseline"] = [os.path.join(args.baseline, "bin/fashion_mnist_freeze")] + extra
    return arms


def bench_example(args, work, title, extra, repeat):
    arms = example_arms(args, extra)
    rows = {name: [] for name in arms}
    for r in range(repeat):
        for name, cmd in arms.items():
            log_dir = os.path.join(work, "logs", name.replace(" ", "_").replace(",", ""))
            res = run(cmd + ["--log-dir", log_dir, "--sink", "jsonl"], clean_env())
            summary_line = json.loads(res["out"].strip().splitlines()[-1])
            summary_line["process_wall"] = res["wall"]
            summary_line["child_faults"] = res["faults"]
            summary_line["child_sys"] = res["sys"]
            rows[name].append(summary_line)
            print(f"  {title} round {r + 1}: {name}: {res['wall']:.1f} s wall, "
                  f"{res['faults']} faults, steps {summary_line.get('steps_s', 'n/a')} s, "
                  f"outside {summary_line.get('outside_steps_s', 'n/a')} s, probe "
                  f"{summary_line.get('monitor_probe_s', 'n/a')} s, test acc "
                  f"{summary_line['test_acc']}", flush=True)
    print(f"\n== {title}")
    for name, runs in rows.items():
        print(f"  {name}")
        for key, label in [("process_wall", "wall"), ("steps_s", "training steps"),
                           ("outside_steps_s", "outside the steps"),
                           ("monitor_probe_s", "probe passes"), ("child_sys", "system time")]:
            print(f"    {label:18} {summary([x[key] for x in runs if key in x])}")
        print(f"    {'minor faults':18} {summary([x['child_faults'] for x in runs], '')}")
        print(f"    {'test accuracy':18} {sorted({x['test_acc'] for x in runs})}")
        frozen = [x.get("frozen") for x in runs]
        if any(frozen):
            print(f"    {'frozen':18} {frozen[0]}")
    if "baseline" in rows:
        for key in ("process_wall", "outside_steps_s"):
            ours = [x[key] for x in rows["this build"] if key in x]
            base = [x[key] for x in rows["baseline"] if key in x]
            if ours and base:
                print(f"  baseline / this build, {key}: "
                      f"{statistics.median(base) / statistics.median(ours):.2f}x (medians)")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--head", default="build", help="this build's directory (default build)")
    parser.add_argument("--baseline", help="another build directory to compare with")
    parser.add_argument("--svcca", help="directory holding google/svcca's cca_core.py")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--long", action="store_true", help="also the 6-epoch runs")
    parser.add_argument("--long-repeat", type=int, default=1,
                        help="rounds of the 6-epoch runs (default 1)")
    parser.add_argument("--skip-no-huge-pages", action="store_true",
                        help="leave out the arm of this build with --no-huge-pages")
    parser.add_argument("--only", choices=["compare", "epoch", "long"], help="run one part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.only in (None, "compare"):
            bench_compare(args, work)
        if args.only in (None, "epoch"):
            bench_example(args, work, "fashion_mnist_freeze, 1 epoch, 8000 images, policy none",
                          ["--policy", "none", "--epochs", "1", "--train-subset", "8000"],
                          args.repeat)
        if args.long or args.only == "long":
            for policy in ("none", "adaptive"):
                bench_example(args, work,
                              f"fashion_mnist_freeze, 6 epochs, 20000 images, seed 1, {policy}",
                              ["--policy", policy, "--epochs", "6", "--train-subset", "20000",
                               "--seed", "1"], args.long_repeat)


if __name__ == "__main__":
    main()
