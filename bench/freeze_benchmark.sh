#!/usr/bin/env bash
# Runs the Fashion-MNIST freeze example with the none, linear and adaptive policies on the same
# seed and data, one after the other, and prints wall time, time ratio to none, test accuracy
# and its difference to none per policy (mean over seeds when several are given).
#
#   bench/freeze_benchmark.sh                          # full training set, default config
#   bench/freeze_benchmark.sh --seeds "0 1 2" --epochs 6 --train-subset 20000
#   bench/freeze_benchmark.sh --config configs/default.json
#   bench/freeze_benchmark.sh --policies "none adaptive adaptive:my.json"   # a variant: policy:CONFIG
#
# Each run's JSON line and log directory are kept under build/freeze_benchmark/.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="0"
policies="none linear adaptive"
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --policies) policies="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
binary=build/bin/fashion_mnist_freeze
[[ -x $binary ]] || ./scripts/build.sh >/dev/null
out=build/freeze_benchmark
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
for seed in $seeds; do
  for entry in $policies; do
    # "policy" or "policy:CONFIG" (a variant with its own config, labelled by the file's name).
    policy=${entry%%:*}
    label=$policy
    variant=()
    if [[ "$entry" == *:* ]]; then
      variant=(--config "${entry#*:}")
      label="$policy:$(basename "${entry#*:}" .json)"
    fi
    name="${label//[:\/]/_}_seed$seed"
    echo "== seed $seed, $label" >&2
    "$binary" --policy "$policy" --seed "$seed" --log-dir "$out/$name" "${extra[@]}" \
      "${variant[@]}" > "$out/$name.out"
    tail -n 1 "$out/$name.out" | sed "s|^{|{\"label\":\"$label\",|" | tee -a "$results" >&2
  done
done
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by_policy = {}
for r in runs:
    by_policy.setdefault(r.get("label", r["policy"]), []).append(r)
def mean(xs): return statistics.mean(xs) if xs else float("nan")
base = by_policy.get("none", [])
base_wall = mean([r["wall_s"] for r in base])
base_acc = mean([r["test_acc"] for r in base])
seeds = sorted({r["seed"] for r in runs})
print(f"seeds {seeds}, epochs {runs[0]['epochs']}, training images {runs[0]['train_images']}")
print(f"{'policy':<16} {'wall s':>8} {'/ none':>7} {'test acc':>9} {'- none':>7} {'backward saved':>15}  frozen (layer: epoch)")
for policy in by_policy:
    rs = by_policy.get(policy)
    if not rs: continue
    wall = mean([r["wall_s"] for r in rs]); acc = mean([r["test_acc"] for r in rs])
    saved = mean([r["backward_saved_fraction"] for r in rs])
    frozen = ", ".join(f"{k}: {v}" for k, v in sorted(rs[0]["frozen"].items(), key=lambda kv: kv[1]))
    ratio = wall / base_wall if base else float("nan")
    diff = acc - base_acc if base else float("nan")
    print(f"{policy:<16} {wall:>8.1f} {ratio:>7.3f} {acc:>9.2f} {diff:>+7.2f} {saved:>15.3f}  {frozen or '-'}")
PY
