#!/usr/bin/env python3
"""Bad input for build/bin/fashion_mnist_freeze: a missing or corrupt dataset, a bad config,
and Ctrl-C; and the residual network with the frozen-prefix cache. Each must end with a clear message and leave complete log lines behind.

Usage: freeze_example_test.py BIN_DIR WORK_DIR [DATA_DIR]"""
import gzip, json, os, shutil, signal, subprocess, sys, time

bin_dir, work = sys.argv[1], sys.argv[2]
data = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist"
example = os.path.join(bin_dir, "fashion_mnist_freeze")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name)
    if not condition:
        failures.append(f"{name}: {detail}")


def run(*args, timeout=300):
    return subprocess.run([example, *args], capture_output=True, text=True, timeout=timeout)


def jsonl_complete(path):
    if not os.path.exists(path):
        return False, "missing"
    with open(path) as f:
        text = f.read()
    if text and not text.endswith("\n"):
        return False, "last line is not terminated"
    for line in text.splitlines():
        json.loads(line)  # raises on a broken line
    return True, f"{len(text.splitlines())} lines"


# A missing dataset names the package and --data.
r = run("--data", os.path.join(work, "nowhere"), "--epochs", "1")
check("missing data: exit 3", r.returncode == 3, r.returncode)
check("missing data: names the package", "dataset-fashion-mnist" in r.stderr and "--data" in r.stderr, r.stderr)

# A truncated gz file is reported as corrupt, naming the file.
corrupt = os.path.join(work, "corrupt")
os.makedirs(corrupt)
for name in os.listdir(data):
    shutil.copy(os.path.join(data, name), corrupt)
with open(os.path.join(corrupt, "train-images-idx3-ubyte.gz"), "rb") as f:
    head = f.read(200000)
with open(os.path.join(corrupt, "train-images-idx3-ubyte.gz"), "wb") as f:
    f.write(head)
r = run("--data", corrupt, "--epochs", "1")
check("corrupt data: exit 3", r.returncode == 3, r.returncode)
check("corrupt data: names the file", "train-images-idx3-ubyte" in r.stderr and
      ("corrupt" in r.stderr or "truncated" in r.stderr), r.stderr)

# Configs with an unknown policy or an out-of-range threshold name the key.
for body, key in [({"freeze": {"policy": "greedy"}}, "freeze.policy"),
                  ({"freeze": {"threshold": 1.5}}, "freeze.threshold"),
                  ({"analysis": {"threads": 0}}, "analysis.threads"),
                  ({"analysis": {"reference": "first"}, "freeze": {"policy": "adaptive"}},
                   "analysis.reference")]:
    path = os.path.join(work, key + ".json")
    with open(path, "w") as f:
        json.dump(body, f)
    r = run("--config", path, "--epochs", "1")
    check(f"bad config {key}: exit 2", r.returncode == 2, r.returncode)
    check(f"bad config {key}: named", key in r.stderr, r.stderr)

# Ctrl-C mid-run: a clear message, exit 130, complete logs and a final JSON line.
log_dir = os.path.join(work, "interrupted")
p = subprocess.Popen([example, "--data", data, "--epochs", "3", "--train-subset", "4000",
                      "--policy", "adaptive", "--log-dir", log_dir],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
deadline = time.time() + 240
# Interrupt in the second epoch, once the first epoch's records exist.
while time.time() < deadline and p.poll() is None:
    path = os.path.join(log_dir, "convergence.jsonl")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        break
    time.sleep(0.2)
time.sleep(1.0)
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=120)
check("interrupt: exit 130", p.returncode == 130, f"{p.returncode} {err[-500:]}")
check("interrupt: says so", "interrupted" in err, err[-500:])
last = out.strip().splitlines()[-1] if out.strip() else ""
try:
    summary = json.loads(last)
    check("interrupt: final JSON line", summary.get("interrupted") is True, last)
except json.JSONDecodeError:
    check("interrupt: final JSON line", False, last)
for name in ["convergence.jsonl", "events.jsonl"]:
    ok, detail = jsonl_complete(os.path.join(log_dir, name))
    check(f"interrupt: {name} complete", ok, detail)

# Every sink writes into the log directory by default, and the report and summary follow.
with open(os.path.join(log_dir, "convergence.csv")) as f:
    csv_text = f.read()
csv_rows = csv_text.splitlines()
check("default sinks: csv complete", csv_text.endswith("\n") and len(csv_rows) > 1 and
      csv_rows[0] == "step,epoch,layer,reference,metric,value,status,low,high" and
      all(row.count(",") == 8 for row in csv_rows), csv_rows[:3])
with open(os.path.join(log_dir, "convergence.jsonl")) as f:
    check("default sinks: one csv row per record", len(csv_rows) - 1 == len(f.read().splitlines()))
tb = [n for n in os.listdir(log_dir) if n.startswith("events.out.tfevents.")]
check("default sinks: one TensorBoard file", len(tb) == 1 and
      os.path.getsize(os.path.join(log_dir, tb[0])) > 100, tb)
with open(os.path.join(log_dir, "summary.json")) as f:
    check("summary.json written", json.load(f).get("interrupted") is True)
with open(os.path.join(log_dir, "report.html")) as f:
    page = f.read()
check("report.html written", 'data-chart="convergence"' in page and "interrupted" in page)


# Ctrl-C to the launcher of 2 ranks: both ranks stop at the same step, rank 0 writes complete
# logs and the JSON line, and the launcher ends with 130.
ranks_dir = os.path.join(work, "ranks_interrupt")
p = subprocess.Popen([example, "--nproc", "2", "--epochs", "3", "--train-subset", "6000",
                      "--log-dir", ranks_dir, "--sink", "jsonl"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
deadline = time.time() + 120
while time.time() < deadline and not os.path.exists(os.path.join(ranks_dir, "convergence.jsonl")):
    time.sleep(0.2)
time.sleep(3)
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=300)
check("ranks interrupt: exit 130", p.returncode == 130, f"{p.returncode} {err[-800:]}")
last = out.strip().splitlines()[-1] if out.strip() else ""
try:
    summary = json.loads(last)
    check("ranks interrupt: rank 0's JSON line", summary.get("interrupted") is True and
          summary.get("world_size") == 2, last)
except json.JSONDecodeError:
    check("ranks interrupt: rank 0's JSON line", False, last)
check("ranks interrupt: one JSON line (rank 0's)",
      sum(1 for l in out.splitlines() if l.startswith("{")) == 1, out[-800:])
for name in ("convergence.jsonl", "events.jsonl"):
    ok, detail = jsonl_complete(os.path.join(ranks_dir, name))
    check(f"ranks interrupt: {name} complete", ok, detail)
check("ranks interrupt: no rank failed", "collective failed" not in err and
      "went apart" not in err, err[-800:])

# --sink chooses the sinks (repeatable); a bad spec is refused up front.
r = run("--sink", "kafka", "--epochs", "1")
check("bad --sink: exit 2", r.returncode == 2, r.returncode)
check("bad --sink: named", "kafka" in r.stderr and "tb:DIR" in r.stderr, r.stderr)
chosen = os.path.join(work, "chosen_sinks")
r = run("--data", data, "--epochs", "1", "--train-subset", "1000", "--log-dir", chosen,
        "--sink", "jsonl", "--sink", "csv:table.csv")
check("--sink run: exit 0", r.returncode == 0, r.stderr[-500:])
names = sorted(os.listdir(chosen)) if os.path.isdir(chosen) else []
check("--sink run: exactly the chosen sinks, summary and report",
      names == ["convergence.jsonl", "events.jsonl", "report.html", "summary.json", "table.csv"],
      names)
check("--sink run: no console table", "learning dynamics" not in r.stdout, r.stdout[-500:])

# The residual network (a custom module with taps and freeze targets) with the frozen-prefix
# cache and the step schedule: the linear schedule over five units freezes stem after epoch 1,
# block1 and block2 after epoch 2 and block3 after epoch 3, so epoch 2 computes and keeps every
# image's stem output, and epoch 3 carries it through block1 and block2 and serves it.
# (--cache-every-prefix: whether the stem alone is worth caching is a matter of timing.)
resnet = os.path.join(work, "resnet")
r = run("--data", data, "--model", "resnet", "--policy", "linear", "--epochs", "3",
        "--train-subset", "1000", "--cache-frozen", "--cache-every-prefix", "--lr-schedule",
        "step", "--sink", "jsonl", "--cost-model", "--log-dir", resnet)
check("resnet + cache: exit 0", r.returncode == 0, r.stderr[-800:])
line = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
cache = line.get("cache", {})
check("resnet + cache: the run says what it ran",
      line.get("model") == "resnet" and line.get("lr_schedule") == "step", line)
check("resnet + cache: four units frozen by the taps' names",
      sorted(line.get("frozen", {})) == ["block1", "block2", "block3", "stem"], line.get("frozen"))
check("resnet + cache: computed once, carried, then served",
      cache.get("enabled") is True and cache.get("prefix_end") == "block2" and
      cache.get("computed") == 1000 and cache.get("carried") == 1000 and
      cache.get("served") == 1000, cache)
check("resnet + cache: every served image was served at the prefix ending at block2",
      cache.get("served_by_prefix_end") == {"block2": 1000}, cache)
# The cost model with the cache: the forward passes of stem, block1 and block2 on the 1000
# served images (batches of 128) come off, the cache's own time goes on.
model = line.get("cost_model", {})
with_cache = model.get("with_cache", {})
units = model.get("units", {})
skipped = sum(units.get(u, {}).get("forward_ms", float("nan"))
              for u in ("stem", "block1", "block2")) * 1000 / 128 / 1000
check("resnet + cache: the cost model takes off the skipped forward passes",
      abs(with_cache.get("forward_skipped_s", -1) - skipped) <= 0.011 and skipped > 0,
      (with_cache, skipped))
check("resnet + cache: the cost model has each unit's three backward passes, the stem none "
      "to its input", all(k in units.get(u, {}) for u in ("stem", "block1", "head")
                          for k in ("backward_ms", "backward_weights_ms", "backward_input_ms")) and
      units["stem"]["backward_input_ms"] == 0 and units["block1"]["backward_input_ms"] > 0, units)
# The pass counts priced with the run's own times give its modelled times back.
try:
    priced = sum(count * units[u][key + "_ms"] / 1e3 for u in units
                 for key, count in units[u]["passes"].items())
    priced_cache = priced - sum(b * units[u]["forward_ms"] / 1e3 for u, b in
                                with_cache["forward_skipped_batches"].items())
except (KeyError, TypeError) as e:
    priced = priced_cache = f"missing {e}"
check("resnet + cache: each unit's pass counts, priced, give the modelled step time",
      isinstance(priced, float) and abs(priced - model.get("steps_s", -1)) <= 0.02 and
      abs(priced_cache - (model.get("steps_s", 0) - with_cache.get("forward_skipped_s", 0)))
      <= 0.03 and units["stem"]["passes"]["forward"] > 0, (priced, priced_cache, model))
check("resnet + cache: the cost model with the cache adds the cache's own time",
      abs(with_cache.get("steps_s", -1) - (model.get("steps_s", 0) -
          with_cache.get("forward_skipped_s", 0) + with_cache.get("cache_s", 0))) <= 0.02 and
      with_cache.get("cache_s", -1) > 0, model)
events = open(os.path.join(resnet, "events.jsonl")).read() if os.path.isdir(resnet) else ""
check("resnet + cache: the cache's notes reach the event log",
      "keeping the output of stem" in events and "keeping the output of block2" in events,
      events[-800:])
r = run("--data", data, "--no-monitor", "--cache-frozen", "--epochs", "1")
check("--cache-frozen without the monitor: exit 2 naming both",
      r.returncode == 2 and "--cache-frozen" in r.stderr and "--no-monitor" in r.stderr, r.stderr)

if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
