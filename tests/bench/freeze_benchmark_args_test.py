#!/usr/bin/env python3
"""bench/freeze_benchmark.sh --help: prints the usage (the script's header) and runs nothing,
leaving the earlier results as they were.

Usage: freeze_benchmark_args_test.py SOURCE_DIR"""
import os, subprocess, sys

from checks import check, finish

source = sys.argv[1]
results = os.path.join(source, "build", "freeze_benchmark", "results.jsonl")
before = open(results, "rb").read() if os.path.exists(results) else None
for flag in ("--help", "-h"):
    out = subprocess.run(["bash", os.path.join(source, "bench", "freeze_benchmark.sh"),
                          "--seeds", "5", flag], capture_output=True, text=True, timeout=60)
    check(f"{flag}: exit 0", out.returncode == 0, out.stderr)
    check(f"{flag}: the usage, with the options and where the others go",
          "--policies" in out.stdout and "--append" in out.stdout and
          "fashion_mnist_freeze --help" in out.stdout and "set -euo" not in out.stdout,
          out.stdout)
    check(f"{flag}: no run started", "== seed" not in out.stderr, out.stderr)
after = open(results, "rb").read() if os.path.exists(results) else None
check("the earlier results are untouched", before == after)
finish()
