#!/usr/bin/env bash
# Mean epoch time of the Fashion-MNIST example (policy none) under two sets of options, run
# alternately (A B A B …) so that drifts in the machine's speed fall on both, and their ratio.
#
#   bench/epoch_time_ab.sh --a "--no-monitor" --b "" [--pairs 2] [--name NAME]
#                          [--label-a TEXT] [--label-b TEXT] [options for both, e.g. --epochs 2]
#
# Without options for both it runs 2 epochs on the full training set. Each run's JSON line goes
# to build/epoch_time_ab/NAME.jsonl, its logs to build/epoch_time_ab/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=2 name=ab a="" b="" label_a=A label_b=B
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --a) a="$2"; shift 2 ;;
    --b) b="$2"; shift 2 ;;
    --label-a) label_a="$2"; shift 2 ;;
    --label-b) label_b="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
[[ ${#extra[@]} -gt 0 ]] || extra=(--epochs 2)
binary=build/bin/fashion_mnist_freeze
[[ -x $binary ]] || ./scripts/build.sh >/dev/null
out=build/epoch_time_ab
mkdir -p "$out/$name"
results="$out/$name.jsonl"
: > "$results"
for ((i = 0; i < pairs; i++)); do
  for side in a b; do
    label_var="label_$side"
    label=${!label_var}
    read -r -a own <<< "${!side}"
    echo "== pair $((i + 1))/$pairs: $label" >&2
    line=$("$binary" --policy none --log-dir "$out/$name/$side" "${own[@]}" "${extra[@]}" \
      2>/dev/null | tail -n 1)
    echo "$line" >&2
    /usr/bin/python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r["variant"] = sys.argv[2]; print(json.dumps(r))' \
      "$line" "$label" >> "$results"
  done
done
/usr/bin/python3 - "$results" "$label_a" "$label_b" <<'PY'
import json, statistics, sys
path, label_a, label_b = sys.argv[1:4]
epochs = {label_a: [], label_b: []}
for line in open(path):
    if line.strip():
        run = json.loads(line)
        epochs[run["variant"]].extend(run["train_s_per_epoch"])
mean = {label: statistics.mean(times) for label, times in epochs.items()}
for label, times in epochs.items():
    print(f"{label}: mean epoch {mean[label]:.2f} s over {len(times)} epochs "
          f"({', '.join(f'{t:.1f}' for t in times)})")
ratio = mean[label_b] / mean[label_a]
print(f"{label_b} / {label_a}: {ratio:.3f} ({100 * (ratio - 1):+.1f} % of the epoch time)")
PY
