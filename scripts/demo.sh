#!/usr/bin/env bash
# Installs what is missing, builds, and shows layerwatch on real data (Debian's
# dataset-fashion-mnist): a CNN trained with freeze training (adaptive policy, default config),
# per-layer convergence on the console, logs (JSONL, CSV, TensorBoard) and an HTML report in
# build/demo/freeze/; then two saved activation
# snapshots compared offline with `layerwatch compare`.
#
# LAYERWATCH_DEMO_EPOCHS (default 4) and LAYERWATCH_DEMO_SUBSET (training images, default all)
# make it shorter or longer.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
out=${LAYERWATCH_DEMO_DIR:-build/demo}
mkdir -p "$out"
echo "== Freeze training on Fashion-MNIST (adaptive policy, configs/default.json)"
build/bin/fashion_mnist_freeze --policy adaptive --config configs/default.json \
  --epochs "${LAYERWATCH_DEMO_EPOCHS:-4}" --train-subset "${LAYERWATCH_DEMO_SUBSET:-0}" \
  --log-dir "$out/freeze"
echo
echo "Report:      $out/freeze/report.html (open it in a browser)"
echo "TensorBoard: tensorboard --logdir $out/freeze"
echo "Records:     $out/freeze/convergence.jsonl and .csv, events (freezes): $out/freeze/events.jsonl"
echo
echo "== Saving per-layer activations of a small MLP, then comparing them offline"
data=build/data/fashion-mnist
mkdir -p "$data"
for f in /usr/share/datasets/fashion-mnist/*.gz; do
  target="$data/$(basename "$f" .gz)"
  [[ -f "$target" ]] || gunzip -c "$f" >"$target"
done
build/bin/fashion_mnist_layers --data "$data" --out "$out/mlp" --epochs 2 >/dev/null
echo "layerwatch compare: fc1 after epoch 1 vs after epoch 2, every metric"
build/bin/layerwatch compare "$out/mlp/fc1_epoch1.npy" "$out/mlp/fc1_epoch2.npy" --metric all
echo
echo "layerwatch compare: fc1 vs fc3 (different layers), JSON"
build/bin/layerwatch compare "$out/mlp/fc1_epoch2.npy" "$out/mlp/fc3_epoch2.npy" \
  --metric svcca,cka,procrustes --json
