#!/usr/bin/env bash
# Installs what is missing, builds, and shows layerwatch on real data: a small network trained
# on Fashion-MNIST (Debian's dataset-fashion-mnist) with per-layer convergence measured on a
# fixed probe set, then the saved activations compared offline with `layerwatch compare`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
data=build/data/fashion-mnist
out=${LAYERWATCH_DEMO_DIR:-build/demo}
mkdir -p "$data"
for f in /usr/share/datasets/fashion-mnist/*.gz; do
  target="$data/$(basename "$f" .gz)"
  [[ -f "$target" ]] || gunzip -c "$f" >"$target"
done
echo "== Training an MLP on Fashion-MNIST; SVCCA per layer after each epoch"
build/bin/fashion_mnist_layers --data "$data" --out "$out" --epochs "${LAYERWATCH_DEMO_EPOCHS:-3}"
last=$(ls "$out"/fc1_epoch*.npy | sed 's/.*epoch\([0-9]*\).npy/\1/' | sort -n | tail -1)
echo
echo "== layerwatch compare: fc1 after epoch 1 vs after epoch $last, every metric"
build/bin/layerwatch compare "$out/fc1_epoch1.npy" "$out/fc1_epoch$last.npy" --metric all
echo
echo "== layerwatch compare: fc1 vs fc3 after training (different layers), JSON"
build/bin/layerwatch compare "$out/fc1_epoch$last.npy" "$out/fc3_epoch$last.npy" --metric svcca,cka,procrustes --json
