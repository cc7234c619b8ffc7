#!/usr/bin/env bash
# Data-parallel training against one process on the same cores: the Fashion-MNIST example as
# 1 rank × 2 threads and 2 ranks × 1 thread (--nproc 2), without freezing (--policy none) and
# with it (--policy linear), per epoch; and the probe pass per rank against one process's
# (1 rank × 1 thread, the same threads per process; four probe passes per epoch). The arms alternate within each repeat
# (their order flips every repeat), since this machine's speed drifts; the table gives the mean
# and the spread (min–max) over repeats and epochs.
#
#   bench/distributed_benchmark.sh                               # 2 repeats, 2 epochs, 20000 images
#   bench/distributed_benchmark.sh --repeats 3 --epochs 2 --train-subset 60000
#   bench/distributed_benchmark.sh --arms "1x1 none,2x1 none" --repeats 4    # the probe pass only
#
# Each run's JSON line is kept in build/distributed_benchmark/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=2
epochs=2
subset=20000
arms_list="1x2 none,2x1 none,1x2 linear,2x1 linear,1x1 none"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeats) repeats="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --train-subset) subset="$2"; shift 2 ;;
    --arms) arms_list="$2"; shift 2 ;;
    *) echo "distributed_benchmark.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
binary=build/bin/fashion_mnist_freeze
[[ -x $binary ]] || ./scripts/build.sh >/dev/null
out=build/distributed_benchmark
rm -rf "$out"
mkdir -p "$out"
results="$out/results.jsonl"
# Four probe passes per epoch, so the probe pass's time is a mean over many passes.
config="$out/probe4.json"
echo '{"probe": {"per_epoch": 4}}' > "$config"
IFS=, read -r -a arms <<<"$arms_list"
for ((r = 0; r < repeats; r++)); do
  order=("${arms[@]}")
  if ((r % 2 == 1)); then
    order=()
    for ((i = ${#arms[@]} - 1; i >= 0; i--)); do order+=("${arms[i]}"); done
  fi
  for arm in "${order[@]}"; do
    read -r shape policy <<<"$arm"
    ranks=${shape%x*}
    threads=${shape#*x}
    name="${shape}_${policy}_r$r"
    echo "== repeat $r: $ranks rank(s) × $threads thread(s), policy $policy (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    "$binary" --nproc "$ranks" --threads "$threads" --policy "$policy" --epochs "$epochs" \
      --train-subset "$subset" --config "$config" --sink jsonl --log-dir "$out/$name" > "$out/$name.out" 2> "$out/$name.err"
    grep '^{' "$out/$name.out" | tail -n 1 |
      sed "s|^{|{\"arm\":\"$shape $policy\",\"repeat\":$r,\"load\":$(cut -d' ' -f1 /proc/loadavg),|" |
      tee -a "$results" >&2
  done
done
/usr/bin/python3 - "$results" <<'PY'
import json, sys, statistics
runs = [json.loads(l) for l in open(sys.argv[1])]
def stat(values):
    return f"{statistics.mean(values):7.2f}  ({min(values):.2f}–{max(values):.2f})"
arms = {}
for r in runs:
    arms.setdefault(r["arm"], []).append(r)
print(f"{'arm':<12} {'s per epoch (spread)':<26} {'probe s per pass (spread)':<28} "
      f"{'of it exchange':<15} test acc")
per_epoch, probe = {}, {}
for arm, rs in arms.items():
    per_epoch[arm] = [s for r in rs for s in r["train_s_per_epoch"]]
    probe[arm] = [r["monitor_probe_s"] / r["monitor_probe_passes"] for r in rs]
    exchange = statistics.mean(r.get("monitor_probe_exchange_s", 0) / r["monitor_probe_passes"]
                               for r in rs)
    acc = statistics.mean(r["test_acc"] for r in rs)
    print(f"{arm:<12} {stat(per_epoch[arm]):<26} {stat(probe[arm]):<28} {exchange:<15.3f} "
          f"{acc:.2f}")
def ratio(a, b, table):
    # The ratio of the means, and the paired ratios of each repeat (both arms ran back to back
    # within a repeat), whose spread says how far the machine's drift moves it.
    if a not in table or b not in table:
        return
    pooled = statistics.mean(table[a]) / statistics.mean(table[b])
    by_repeat = {}
    for arm in (a, b):
        for r in arms[arm]:
            value = (statistics.mean(r["train_s_per_epoch"]) if table is per_epoch
                     else r["monitor_probe_s"] / r["monitor_probe_passes"])
            by_repeat.setdefault(r["repeat"], {})[arm] = value
    paired = [v[a] / v[b] for v in by_repeat.values() if a in v and b in v]
    print(f"{a} / {b}: {pooled:.3f}  (per repeat {min(paired):.3f}–{max(paired):.3f}, "
          f"{len(paired)} repeats)")
print("epoch time:")
ratio("2x1 none", "1x2 none", per_epoch)
ratio("2x1 linear", "1x2 linear", per_epoch)
ratio("1x2 linear", "1x2 none", per_epoch)
ratio("2x1 linear", "2x1 none", per_epoch)
print("probe pass per rank:")
ratio("2x1 none", "1x1 none", probe)
ratio("2x1 none", "1x2 none", probe)
PY
