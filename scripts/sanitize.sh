#!/usr/bin/env bash
# Builds the torch-free targets with a sanitizer and runs their tests.
# Usage: scripts/sanitize.sh [address,undefined|thread]   (default: address,undefined)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address,undefined}
dir="build-${kind//,/-}"
./scripts/install-deps.sh
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAYERWATCH_BUILD_TORCH=OFF \
  -DLAYERWATCH_BUILD_BENCHMARKS=OFF -DLAYERWATCH_SANITIZE="$kind" >/dev/null
cmake --build "$dir" --parallel "$(nproc)"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1
cd "$dir" && ctest --output-on-failure -L core --parallel "$(nproc)"
