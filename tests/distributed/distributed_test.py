#!/usr/bin/env python3
"""Data-parallel training on Gloo over loopback, through distributed_worker --nproc N.

ranks:  2 and 3 ranks train with freezing; every rank ends with bit-identical parameters and
        buffers and the same frozen set at the same steps; rank 0's records equal (1e-9) those
        of a single-process monitor over the whole probe set; one set of logs.
faults: a killed rank (0 or not), a rank that stops answering, ranks set up differently: every
        rank ends with a message naming the rank or the difference, within the test's time.
Both: no process outlives a run.

Usage: distributed_test.py ranks|faults BIN_DIR WORK_DIR"""
import json, os, shutil, signal, subprocess, sys, time

part, bin_dir, work = sys.argv[1], sys.argv[2], os.path.join(sys.argv[3], sys.argv[1])
worker = os.path.join(bin_dir, "distributed_worker")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name, flush=True)
    if not condition:
        failures.append(f"{name}: {detail}")


def left_in_group(group):
    """Processes of process group `group` still running (zombies awaiting their reaper do not
    count: they have ended), which are then killed."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            left.append(int(pid))
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def run(name, *args, limit=120, into=None):
    """Runs the worker in its own session (into the directory of run `into`, if given); returns
    (exit code, stderr, seconds, out dir) and checks that no process of the session is left."""
    out = os.path.join(work, into or name)
    os.makedirs(out, exist_ok=True)
    start = time.monotonic()
    p = subprocess.Popen([worker, "--out", out, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        check(f"{name}: ends within {limit} s", False, err[-2000:])
    seconds = time.monotonic() - start
    time.sleep(0.2)
    left = left_in_group(p.pid)
    check(f"{name}: no process left behind", not left, left)
    return p.returncode, err, seconds, out


def said_by(err, rank, world):
    """The lines in which rank `rank` of `world` says why it ended."""
    return [l for l in err.splitlines()
            if l.startswith(f"distributed_worker: rank {rank} of {world}")]


def records(path):
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            out[(r["step"], r["layer"], r["metric"], r["reference"], r.get("reference_step"))] = r
    return out


if part == "ranks":
    for n in (2, 3):
        code, err, seconds, out = run(f"train{n}", "--nproc", str(n), "--epochs", "3")
        check(f"{n} ranks: exit 0", code == 0, err[-3000:])
        ranks = [json.load(open(os.path.join(out, f"rank{r}.json"))) for r in range(n)]
        check(f"{n} ranks: parameters and buffers bit-identical on every rank",
              len({r["weights"] for r in ranks}) == 1, [r["weights"] for r in ranks])
        check(f"{n} ranks: layers froze", len(ranks[0]["frozen"]) >= 2, ranks[0]["frozen"])
        check(f"{n} ranks: the same frozen set at the same steps on every rank",
              all(r["frozen"] == ranks[0]["frozen"] for r in ranks), [r["frozen"] for r in ranks])
        check(f"{n} ranks: the same probe passes on every rank",
              len({r["probe_passes"] for r in ranks}) == 1)
        logs = sorted(os.listdir(os.path.join(out, "logs")))
        check(f"{n} ranks: one set of logs with the report", logs ==
              ["convergence.jsonl", "events.jsonl", "report.html"], logs)
        distributed = records(os.path.join(out, "logs", "convergence.jsonl"))
        single = records(os.path.join(out, "single", "convergence.jsonl"))
        check(f"{n} ranks: the records of the single-process analysis, no more, no fewer",
              set(distributed) == set(single) and len(single) >= 30,
              (len(distributed), len(single)))
        worst = max((abs(distributed[k]["value"] - single[k]["value"]) for k in single
                     if k in distributed and single[k]["value"] is not None), default=1.0)
        check(f"{n} ranks: records equal the single-process analysis within 1e-9 "
              f"(largest difference {worst:.1e})", worst <= 1e-9)
        events = [json.loads(l) for l in open(os.path.join(out, "logs", "events.jsonl"))]
        freezes = [e for e in events if e["event"] == "freeze"]
        check(f"{n} ranks: freeze events give the all-reduce bytes before and after",
              freezes and all("gradient all-reduce" in e["message"] and " -> " in e["message"]
                              for e in freezes), [e["message"] for e in freezes])
        notes = " ".join(e["message"] for e in events if e["event"] == "note")
        check(f"{n} ranks: the events say the world size and who analyses which layer",
              f"distributed over {n} ranks" in notes and "layers analysed by" in notes, notes)
        print(f"   {n} ranks: {seconds:.1f} s", flush=True)

    # Stop after epoch 1 with a checkpoint, resume from it: the run ends as if never stopped.
    whole = os.path.join(work, "train2")
    code, err, _, out = run("stopped", "--nproc", "2", "--epochs", "3", "--checkpoint",
                            os.path.join(work, "ranks.pt"), "--stop-after-epoch", "1")
    check("checkpoint: the ranks save and end", code == 0 and
          os.path.exists(os.path.join(work, "ranks.pt")), err[-3000:])
    code, err, _, _ = run("resumed", "--nproc", "2", "--epochs", "3", "--resume",
                          os.path.join(work, "ranks.pt"), into="stopped")
    check("checkpoint: every rank resumes from rank 0's file", code == 0, err[-3000:])
    resumed = [json.load(open(os.path.join(work, "stopped", f"rank{r}.json"))) for r in range(2)]
    baseline = json.load(open(os.path.join(whole, "rank0.json")))
    check("checkpoint: weights bit-identical to the run that never stopped",
          all(r["weights"] == baseline["weights"] for r in resumed),
          ([r["weights"] for r in resumed], baseline["weights"]))
    check("checkpoint: the same frozen set at the same steps",
          all(r["frozen"] == baseline["frozen"] for r in resumed), resumed[0]["frozen"])
    # The logs, continued by the resumed run: the whole run's records, with the same values.
    after = records(os.path.join(work, "stopped", "logs", "convergence.jsonl"))
    whole_records = records(os.path.join(whole, "logs", "convergence.jsonl"))
    check("checkpoint: the continued logs hold the whole run's records, equal",
          set(after) == set(whole_records) and
          all(after[k]["value"] == r["value"] for k, r in whole_records.items()),
          (len(after), len(whole_records)))
    code, err, _, _ = run("resumed3", "--nproc", "3", "--epochs", "3", "--resume",
                          os.path.join(work, "ranks.pt"))
    said = [l for l in err.splitlines() if l.startswith("distributed_worker: rank ")]
    check("checkpoint: 3 ranks refuse 2 ranks' checkpoint, every one naming the counts",
          code != 0 and len(said) >= 3 and all("saved by 2 ranks and this run has 3" in l for l in said),
          err[-2000:])

if part == "faults":
    for victim in (1, 0):
        code, err, seconds, _ = run(f"killed{victim}", "--nproc", "3", "--die-rank", str(victim),
                                    "--timeout-ms", "20000", limit=90)
        check(f"rank {victim} killed: the launcher fails", code != 0, err[-2000:])
        survivors = [r for r in range(3) if r != victim]
        for r in survivors:
            said = said_by(err, r, 3)
            named = (f"rank {victim} (pid" in said[0] and "has exited" in said[0]) if victim else \
                    (said and "rank 0 (which serves the store) does not answer" in said[0])
            check(f"rank {victim} killed: rank {r} ends with a message naming rank {victim}",
                  bool(said) and named, err[-2000:])
        check(f"rank {victim} killed: all ranks end well within the 20 s timeout "
              f"({seconds:.1f} s)", seconds < 20)

    code, err, seconds, _ = run("hang", "--nproc", "3", "--hang-rank", "2", "--timeout-ms", "3000",
                                limit=90)
    check("rank 2 hangs: the launcher fails", code != 0)
    for r in (0, 1):
        said = said_by(err, r, 3)
        check(f"rank 2 hangs: rank {r} ends naming rank 2",
              bool(said) and "rank 2 stopped answering" in said[0], err[-2000:])
    check("rank 2 hangs: the launcher kills it", "rank 2 (pid" in err and "killing it" in err,
          err[-2000:])
    print(f"   hang: {seconds:.1f} s", flush=True)

    # One rank's loop goes apart (it skips a monitor.step()): every rank ends naming where each
    # is, never a Gloo abort from operations of different sizes.
    code, err, seconds, _ = run("apart", "--nproc", "2", "--skip-rank", "1", "--fault-step", "3",
                                limit=90)
    for r in (0, 1):
        said = said_by(err, r, 2)
        check(f"loops apart: rank {r} ends saying where each rank is",
              bool(said) and "the ranks' loops went apart" in said[0] and "rank 1 at" in said[0],
              err[-2000:])
    check("loops apart: no abort (every rank exits with the monitor's error code 3)",
          code == 3 and "terminate called" not in err and "Abort" not in err, err[-2000:])

    # The launcher killed: its ranks die with it (no orphans).
    out = os.path.join(work, "launcher")
    os.makedirs(out)
    p = subprocess.Popen([worker, "--out", out, "--nproc", "2", "--hang-rank", "1",
                          "--fault-step", "1", "--timeout-ms", "60000"],
                         stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(2)
    p.kill()
    p.wait()
    time.sleep(0.5)
    left = left_in_group(p.pid)
    check("launcher killed: its ranks end with it", not left, left)

    code, err, seconds, out = run("mismatch", "--nproc", "2", "--mismatch-rank", "1", limit=90)
    check("set up differently: the launcher fails", code != 0)
    for r in (0, 1):
        said = said_by(err, r, 2)
        check(f"set up differently: rank {r} ends naming the option that differs",
              bool(said) and "options.analysis.metric" in said[0] and '"cka" on rank 1' in said[0],
              err[-2000:])
    check("set up differently: no training happened",
          not os.path.exists(os.path.join(out, "rank0.json")))

if failures:
    print("\n".join(failures))
    sys.exit(1)
