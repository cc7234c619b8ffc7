#!/usr/bin/env bash
# Runs the Fashion-MNIST freeze example with the none, linear and adaptive policies on the same
# seed and data, one after the other, and prints wall time, time ratio to none, test accuracy
# and its difference to none per policy and seed (bench/freeze_summary.py; with several
# seeds also the mean of the per-seed ratios).
#
#   bench/freeze_benchmark.sh                          # full training set, default config
#   bench/freeze_benchmark.sh --seeds "0 1 2" --epochs 6 --train-subset 20000
#   bench/freeze_benchmark.sh --config configs/default.json
#   bench/freeze_benchmark.sh --policies "none adaptive adaptive:my.json"   # a variant: policy:CONFIG
#   bench/freeze_benchmark.sh --policies "none linear@0.6 linear@0.8 linear linear@1.2"   # F(α)
#   bench/freeze_benchmark.sh --seeds 2 --append       # add runs to the earlier results
#   bench/freeze_benchmark.sh --policies "none adaptive+cache"  # +cache: with --cache-frozen
#   bench/freeze_benchmark.sh --policies "none forecast+cool"   # +cool: --cooldown-epochs 0.25
#   bench/freeze_benchmark.sh --quick                  # seed 100, 2 epochs on 5000 images: a check
#                                                      # of the pipeline, not a measurement
#   bench/freeze_benchmark.sh --help                   # this text
#
# Every other option goes to each run of the example (build/bin/fashion_mnist_freeze --help):
# --model, --lr-schedule, --epochs, --train-subset, --cost-model, --config, ...
#
# Each seed's arms run back to back in a random order (drawn from the seed by bench/run_order.py,
# so a rerun repeats it and other seeds get other orders), and each run's JSON line gets the
# 1-minute load average at its start, since this machine's speed drifts.
#
# Each run's JSON line and log directory are kept under build/freeze_benchmark/, with the
# frontier page (time against accuracy per arm, the fixed schedules' F(α), each arm's margin over
# it: bench/freeze_frontier.py) in build/freeze_benchmark/frontier.html.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="0"
policies="none linear adaptive"
extra=()
append=0
quick=0
seeds_given=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; seeds_given=1; shift 2 ;;
    --quick) quick=1; shift ;;
    --policies) policies="$2"; shift 2 ;;
    --append) append=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done
for arg in "${extra[@]}"; do
  [[ "$policies" == *:* && ( "$arg" == --config || "$arg" == --config=* ) ]] || continue
  echo "freeze_benchmark.sh: a variant (policy:CONFIG) brings its own config; drop --config or" \
    "put its keys into the variant's file (missing keys take the defaults of configs/default.json)" >&2
  exit 2
done
if [[ $quick == 1 ]]; then
  [[ $seeds_given == 1 ]] || seeds="100"
  extra=(--epochs 2 --train-subset 5000 "${extra[@]}")
fi
binary=build/bin/fashion_mnist_freeze
[[ -x $binary ]] || ./scripts/build.sh >/dev/null
out=build/freeze_benchmark
mkdir -p "$out"
results="$out/results.jsonl"
[[ $append == 1 ]] || : > "$results"
for seed in $seeds; do
  # shellcheck disable=SC2086
  order=$(/usr/bin/python3 bench/run_order.py "$seed" $policies)
  for entry in $order; do
    label=${entry}
    variant=()
    # Suffixes, in any order: "+cache", the same arm with the frozen-prefix cache; "+cool", with
    # a cool-down of a quarter epoch before each freeze (--cooldown-epochs 0.25).
    while [[ "$entry" == *+cache || "$entry" == *+cool ]]; do
      if [[ "$entry" == *+cache ]]; then
        entry=${entry%+cache}
        variant+=(--cache-frozen)
      else
        entry=${entry%+cool}
        variant+=(--cooldown-epochs 0.25)
      fi
    done
    # "policy" or "policy:CONFIG" (a variant with its own config, labelled by the file's name).
    policy=${entry%%:*}
    if [[ "$entry" == *:* ]]; then
      variant+=(--config "${entry#*:}")
      label="$policy:$(basename "${entry#*:}" .json)${label#"$entry"}"
    elif [[ "$entry" == linear@* ]]; then
      # "linear@α": the linear schedule at pace α, one point of the fixed-schedule family F(α).
      policy=linear
      variant+=(--linear-pace "${entry#linear@}")
    fi
    name="${label//[:\/@+]/_}_seed$seed"
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "== seed $seed, $label (load $load)" >&2
    "$binary" --policy "$policy" --seed "$seed" --log-dir "$out/$name" "${extra[@]}" \
      "${variant[@]}" > "$out/$name.out"
    if [[ "$(tail -n 1 "$out/$name.out")" != "{"* ]]; then
      echo "freeze_benchmark.sh: the run printed no JSON line (see $out/$name.out); an option" \
        "the example does not take? (bench/freeze_benchmark.sh --help;" \
        "$binary --help)" >&2
      exit 1
    fi
    tail -n 1 "$out/$name.out" | sed "s|^{|{\"label\":\"$label\",\"load\":$load,|" |
      tee -a "$results" >&2
  done
done
/usr/bin/python3 bench/freeze_summary.py "$results"
/usr/bin/python3 bench/freeze_frontier.py "$results" "$out/frontier.html"
