#!/usr/bin/env python3
"""Runs that stop and resume, with build/bin/fashion_mnist_freeze --checkpoint-dir / --resume.

  kill       SIGKILL at 20 random moments; after each, every log line but possibly the last
             parses, `layerwatch report` renders the run, and the next --resume continues from
             a complete checkpoint. Every chain of kills and resumes that completes ends with
             exactly the records, frozen set and accuracy of a run never stopped.
  corrupt    a truncated, a damaged and another run's checkpoint: exit 3 naming the file.
  full-disk  logs and checkpoints on small tmpfs mounts: the sinks say which file and why and
             are disabled, a checkpoint that does not fit is reported and the previous one stays
             and loads; training finishes. Exit 77 (skipped) where tmpfs cannot be mounted.

Usage: resume_example_test.py PART BIN_DIR WORK_DIR [DATA_DIR]"""
import json, os, random, shutil, signal, subprocess, sys, time

part, bin_dir, work = sys.argv[1], sys.argv[2], sys.argv[3]
data = sys.argv[4] if len(sys.argv) > 4 else "/usr/share/datasets/fashion-mnist"
example = os.path.join(bin_dir, "fashion_mnist_freeze")
command = os.path.join(bin_dir, "layerwatch")
work = os.path.join(work, part)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []
# A short run: 4 epochs of 1500 images, so a freeze falls between checkpoints.
RUN = ["--data", data, "--epochs", "4", "--train-subset", "1500", "--probe", "200",
       "--policy", "adaptive", "--sink", "jsonl", "--sink", "csv", "--sink", "tb"]


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name, flush=True)
    if not condition:
        failures.append(f"{name}: {str(detail)[-2000:]}")


def finish():
    if failures:
        print("\n".join(["", "failures:"] + failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def run(name, *extra, timeout=600):
    root = os.path.join(work, name)
    args = RUN + ["--log-dir", os.path.join(root, "logs"), "--checkpoint-dir",
                  os.path.join(root, "ck"), *extra]
    return subprocess.run([example, *args], capture_output=True, text=True, timeout=timeout)


def summary(result):
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def records(log_dir):
    """convergence.jsonl as {(step, layer, reference, metric, reference layer): value}; duplicates
    counted."""
    out, duplicates = {}, 0
    with open(os.path.join(log_dir, "convergence.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            key = (j["step"], j["layer"], j["reference"], j["metric"], j.get("reference_layer", ""))
            duplicates += key in out
            out[key] = j.get("value")
    return out, duplicates


def lines_parse_but_last(path):
    """Every line but possibly the last is JSON."""
    if not os.path.exists(path):
        return True, "absent"
    with open(path) as f:
        lines = f.read().split("\n")
    body = lines[:-2] if len(lines) >= 2 else []
    for i, line in enumerate(body):
        try:
            json.loads(line)
        except ValueError as e:
            return False, f"line {i + 1}: {e}"
    return True, f"{len(body)} complete lines"


def same_run(name, straight, resumed_dir, resumed_summary):
    a, a_dup = records(os.path.join(work, "straight", "logs"))
    b, b_dup = records(resumed_dir)
    check(f"{name}: no duplicated record", b_dup == 0 and a_dup == 0, (a_dup, b_dup))
    check(f"{name}: the same records as a run never stopped", a.keys() == b.keys(),
          sorted(set(a) ^ set(b))[:5])
    worst = max((abs((a[k] or 0) - (b[k] or 0)) for k in a.keys() & b.keys()), default=0)
    check(f"{name}: the same values (max difference {worst:.2g})", worst <= 1e-9, worst)
    check(f"{name}: the same frozen set and epochs",
          resumed_summary.get("frozen") == straight.get("frozen"),
          (resumed_summary.get("frozen"), straight.get("frozen")))
    check(f"{name}: the same test accuracy",
          resumed_summary.get("test_acc") == straight.get("test_acc"),
          (resumed_summary.get("test_acc"), straight.get("test_acc")))


if part == "kill":
    start = time.time()
    r = run("straight")
    straight = summary(r)
    duration = time.time() - start
    check("straight run: exit 0", r.returncode == 0, r.stderr)
    print(f"straight run: {duration:.1f} s, frozen {straight.get('frozen')}, "
          f"accuracy {straight.get('test_acc')}")
    seed = int(os.environ.get("LAYERWATCH_KILL_SEED", "1"))
    rng = random.Random(seed)
    kills, chain, completed_chains = 0, 0, 0
    while kills < 20 and time.time() - start < 1200:
        root = os.path.join(work, f"chain{chain}")
        args = RUN + ["--log-dir", os.path.join(root, "logs"), "--checkpoint-dir",
                      os.path.join(root, "ck"), "--resume"]
        p = subprocess.Popen([example, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        moment = rng.uniform(0.2, duration)
        try:
            out, err = p.communicate(timeout=moment)
            # The run ended before the kill: the chain is complete, compare it.
            check(f"chain {chain}: the last resume exits 0", p.returncode == 0, err)
            if p.returncode != 0:
                break
            resumed = json.loads(out.strip().splitlines()[-1])
            same_run(f"chain {chain}", straight, os.path.join(root, "logs"), resumed)
            completed_chains += 1
            chain += 1
            continue
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.communicate()
        kills += 1
        for name in ("convergence.jsonl", "events.jsonl"):
            ok, detail = lines_parse_but_last(os.path.join(root, "logs", name))
            check(f"kill {kills} at {moment:.1f} s: {name} parses", ok, detail)
        if os.path.exists(os.path.join(root, "logs", "convergence.jsonl")):
            report = subprocess.run([command, "report", os.path.join(root, "logs"), "-o",
                                     os.path.join(root, "report.html")],
                                    capture_output=True, text=True, timeout=120)
            check(f"kill {kills}: layerwatch report renders the run", report.returncode == 0,
                  report.stderr)
        names = sorted(os.listdir(os.path.join(root, "ck"))) if os.path.isdir(
            os.path.join(root, "ck")) else []
        complete = [n for n in names if n.startswith("epoch-") and n.endswith(".pt")]
        print(f"     checkpoints after kill {kills}: {complete}")
    # The last chain is resumed to its end, from whatever the last kill left.
    root = os.path.join(work, f"chain{chain}")
    args = RUN + ["--log-dir", os.path.join(root, "logs"), "--checkpoint-dir",
                  os.path.join(root, "ck"), "--resume"]
    r = subprocess.run([example, *args], capture_output=True, text=True, timeout=600)
    check(f"chain {chain}: resumed to the end, exit 0", r.returncode == 0, r.stderr)
    if r.returncode == 0:
        same_run(f"chain {chain}", straight, os.path.join(root, "logs"), summary(r))
        completed_chains += 1
    check("20 kills", kills == 20, kills)
    print(f"{kills} kills (seed {seed}), {completed_chains} chains completed and compared")
    finish()

if part == "corrupt":
    r = run("source")
    check("source run: exit 0", r.returncode == 0, r.stderr)
    source_ck = os.path.join(work, "source", "ck")
    newest = sorted(n for n in os.listdir(source_ck) if n.endswith(".pt"))[-1]
    size = os.path.getsize(os.path.join(source_ck, newest))

    def damaged(name, mutate):
        root = os.path.join(work, name)
        shutil.copytree(source_ck, os.path.join(root, "ck"))
        path = os.path.join(root, "ck", newest)
        with open(path, "rb") as f:
            content = bytearray(f.read())
        with open(path, "wb") as f:
            f.write(mutate(content))
        return path

    for name, mutate in [("truncated", lambda b: b[: len(b) // 2]),
                         ("damaged", lambda b: b[:len(b) // 2] + bytes(x ^ 0xFF for x in b[len(b) // 2: len(b) // 2 + 4096]) + b[len(b) // 2 + 4096:]),
                         ("empty", lambda b: b"")]:
        path = damaged(name, mutate)
        r = run(name, "--resume")
        check(f"{name} checkpoint: exit 3", r.returncode == 3, (r.returncode, r.stderr))
        check(f"{name} checkpoint: the message names the file", path in r.stderr, r.stderr)
    # A checkpoint of another run (another training subset).
    shutil.copytree(source_ck, os.path.join(work, "other", "ck"))
    r = subprocess.run([example, *RUN[:4], "--train-subset", "1000", *RUN[6:], "--log-dir",
                        os.path.join(work, "other", "logs"), "--checkpoint-dir",
                        os.path.join(work, "other", "ck"), "--resume"],
                       capture_output=True, text=True, timeout=600)
    check("another run's checkpoint: exit 3", r.returncode == 3, (r.returncode, r.stderr))
    check("another run's checkpoint: says what differs",
          "another run" in r.stderr and "train_subset=1000" in r.stderr, r.stderr)
    finish()

if part == "full-disk":
    mounts = []

    def mount_tmpfs(path, size):
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"skipped: cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")
            for m in mounts:
                subprocess.run(["umount", m])
            sys.exit(77)
        mounts.append(path)

    try:
        # The checkpoints grow with the stored snapshots: measure the first one.
        ck = os.path.join(work, "measure", "ck")
        r = subprocess.run([example, *RUN[:2], "--epochs", "1", *RUN[4:], "--log-dir",
                            os.path.join(work, "measure", "logs"), "--checkpoint-dir", ck],
                           capture_output=True, text=True, timeout=600)
        check("measuring run: exit 0", r.returncode == 0, r.stderr)
        first_bytes = os.path.getsize(os.path.join(ck, "epoch-0001.pt"))
        # Logs: 8 KiB hold the first records, not the run's.
        root = os.path.join(work, "logs_full")
        mount_tmpfs(os.path.join(root, "logs"), "8k")
        r = run("logs_full")
        check("full log disk: training finishes, exit 0", r.returncode == 0, r.stderr)
        check("full log disk: the message names the file and the error",
              "No space left on device" in r.stderr and os.path.join(root, "logs") in r.stderr,
              r.stderr)
        check("full log disk: the sink is disabled, said once",
              r.stderr.count("the sink is disabled") >= 1, r.stderr)
        check("full log disk: the summary line is printed", "test_acc" in r.stdout, r.stdout)
        # Checkpoints: room for the first one and a half.
        root = os.path.join(work, "ck_full")
        mount_tmpfs(os.path.join(root, "ck"), str(int(first_bytes * 1.5)))
        r = run("ck_full")
        check("full checkpoint disk: training finishes, exit 0", r.returncode == 0, r.stderr)
        check("full checkpoint disk: the failed checkpoint is reported",
              "not written" in r.stderr and "No space left on device" in r.stderr, r.stderr)
        left = sorted(os.listdir(os.path.join(root, "ck")))
        check("full checkpoint disk: the first checkpoint stays, no temporary left",
              left == ["epoch-0001.pt"], left)
        r = run("ck_full", "--resume")
        check("full checkpoint disk: the checkpoint that stayed loads",
              r.returncode == 0 and "resuming from" in r.stdout and "epoch-0001.pt" in r.stdout,
              (r.returncode, r.stdout[-500:], r.stderr[-1500:]))
    finally:
        for m in mounts:
            subprocess.run(["umount", m])
    finish()

print(f"unknown part {part}: kill, corrupt or full-disk")
sys.exit(2)
