#!/usr/bin/env bash
# The monitor's cost on a real training run: the Fashion-MNIST example with the monitor attached
# (policy none: probes and analysis, nothing frozen) against the same run without it
# (--no-monitor), alternating, and the ratio of the mean epoch times.
#
#   bench/monitor_overhead.sh [--pairs 2] [extra fashion_mnist_freeze options, e.g. --epochs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=2
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
[[ ${#extra[@]} -gt 0 ]] || extra=(--epochs 2)
binary=build/bin/fashion_mnist_freeze
[[ -x $binary ]] || ./scripts/build.sh >/dev/null
out=build/monitor_overhead
mkdir -p "$out"
: > "$out/results.jsonl"
for ((i = 0; i < pairs; i++)); do
  for variant in no-monitor none; do
    flags=(--policy none --log-dir "$out/$variant")
    [[ $variant == no-monitor ]] && flags+=(--no-monitor)
    echo "== pair $((i + 1))/$pairs: $variant" >&2
    "$binary" "${flags[@]}" "${extra[@]}" 2>/dev/null | tail -n 1 | tee -a "$out/results.jsonl" >&2
  done
done
/usr/bin/python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
epochs = {"no-monitor": [], "none": []}
for r in runs:
    epochs[r["policy"]].extend(r["train_s_per_epoch"])
base, monitored = statistics.mean(epochs["no-monitor"]), statistics.mean(epochs["none"])
print(f"mean epoch time: without monitor {base:.2f} s ({len(epochs['no-monitor'])} epochs), "
      f"with monitor {monitored:.2f} s ({len(epochs['none'])} epochs)")
print(f"overhead: {100 * (monitored / base - 1):+.1f} % of the epoch time (goal <= 5 %)")
PY
