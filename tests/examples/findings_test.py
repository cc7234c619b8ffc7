#!/usr/bin/env python3
"""The two findings' programs on a small budget: they run, write the layer files they promise,
and their numbers agree with the same indices recomputed by the command line from those files
(`layerwatch heatmap` for the sanity check's identification, `layerwatch compare` for the
PWCCA distances).

Usage: findings_test.py BIN_DIR WORK_DIR [DATA_DIR]"""
import json, os, shutil, subprocess, sys

bin_dir, work = sys.argv[1], sys.argv[2]
data = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist"
if not os.path.isdir(data):
    print(f"skipped: no Fashion-MNIST in {data}")
    sys.exit(77)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []
LAYERS = ["conv1", "conv2", "conv3", "conv4", "dense1", "logits"]


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name)
    if not condition:
        failures.append(f"{name}: {detail}")


def run(program, *args):
    r = subprocess.run([os.path.join(bin_dir, program), *args], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    return r


def npy_rows(path):
    with open(path, "rb") as f:
        head = f.read(256).decode("latin1")
    shape = head[head.index("(") + 1:head.index(")")]
    return int(shape.split(",")[0])


# The sanity check: 2 networks, 500 images, 1 epoch.
out = os.path.join(work, "sanity")
r = run("similarity_sanity_check", "--data", data, "--networks", "2", "--epochs", "1",
        "--train-subset", "500", "--probe", "300", "--out", out, "--metric", "cka,pwcca")
check("sanity check: exit 0", r.returncode == 0, r.stderr)
result = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
check("sanity check: JSON names the settings",
      result.get("networks") == 2 and result.get("probe_images") == 300 and
      result.get("layers") == 5, result)
for k in range(2):
    files = sorted(os.listdir(os.path.join(out, f"net{k}")))
    check(f"sanity check: net{k} has one file per layer", files == sorted(l + ".npy" for l in LAYERS),
          files)
    check(f"sanity check: net{k} files hold the probe images",
          all(npy_rows(os.path.join(out, f"net{k}", f)) == 300 for f in files))

# Recompute the CKA identification from the files with `layerwatch heatmap`.
right = cases = 0
for a, b in [(0, 1), (1, 0)]:
    r = subprocess.run([os.path.join(bin_dir, "layerwatch"), "heatmap", os.path.join(out, f"net{a}"),
                        os.path.join(out, f"net{b}"), "--metric", "cka", "--pool-size", "2",
                        "--json", "-o", os.path.join(work, "heatmap.html")],
                       capture_output=True, text=True, timeout=600)
    check(f"heatmap net{a} net{b}: exit 0", r.returncode == 0, r.stderr)
    heatmap = json.loads(r.stdout)
    for i, row in enumerate(heatmap["rows"]):
        if row == "logits":
            continue
        values = [v if c != "logits" else -1 for c, v in zip(heatmap["columns"], heatmap["values"][i])]
        right += heatmap["columns"][values.index(max(values))] == row
        cases += 1
expected = round(100 * right / cases, 1)
check("sanity check: CKA identification equals the heatmaps of its files",
      result.get("accuracy", {}).get("cka") == expected, f"{result.get('accuracy')} vs {expected}")

# Generalising versus memorising: 2 + 2 networks on 300 images, at most 4 epochs.
out = os.path.join(work, "memorization")
r = run("memorization_similarity", "--data", data, "--networks", "2", "--train-subset", "300",
        "--probe", "600", "--max-epochs", "4", "--fit", "99", "--out", out)
check("memorization: exit 0", r.returncode == 0, r.stderr)
result = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
for group in ["generalising", "memorising"]:
    nets = result.get(group, [])
    check(f"memorization: {group} has 2 networks, each trained at most 4 epochs",
          len(nets) == 2 and all(1 <= n["epochs"] <= 4 for n in nets), nets)
check("memorization: a distance per layer in [0, 1]",
      sorted(result.get("distance", {})) == sorted(LAYERS) and
      all(0 <= v <= 1 for d in result["distance"].values() for v in d.values()), result)
# With two networks per group, the group's mean is one pair's distance, both directions
# averaged: recompute it from the files with `layerwatch compare`.
for group in ["generalising", "memorising"]:
    for layer in ["conv2", "dense1"]:
        a = os.path.join(out, group, "net0", layer + ".npy")
        b = os.path.join(out, group, "net1", layer + ".npy")
        values = []
        for x, y in [(a, b), (b, a)]:
            r = subprocess.run([os.path.join(bin_dir, "layerwatch"), "compare", x, y, "--metric",
                                "pwcca", "--conv", "pool", "--pool-size", "2", "--json"],
                               capture_output=True, text=True, timeout=600)
            values.append(json.loads(r.stdout)["metrics"]["pwcca"]["value"])
        expected = 1 - sum(values) / 2
        got = result.get("distance", {}).get(layer, {}).get(group, -1)
        check(f"memorization: {group} {layer} distance equals layerwatch compare's PWCCA",
              abs(got - expected) < 1e-9, f"{got} vs {expected}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
