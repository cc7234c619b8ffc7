#!/usr/bin/env bash
# Builds the tests with a sanitizer and runs them.
#   scripts/sanitize.sh                     ASan + UBSan on the torch-free core tests
#   scripts/sanitize.sh thread              TSan on the core tests and the capture/monitor tests
# OpenBLAS's and OpenMP's worker pools are not instrumented, so TSan would report their
# internal hand-offs as races; the runs use one BLAS/OpenMP thread and check our own threads.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address,undefined}
dir="build-${kind//,/-}"
./scripts/install-deps.sh
torch=OFF
targets=(similarity_test io_test core_test write_sample_run)
labels=core
if [[ $kind == thread ]]; then
  torch=ON
  targets+=(monitor_test layerwatch_pt)
  labels='core|monitor'
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAYERWATCH_BUILD_TORCH=$torch \
  -DLAYERWATCH_BUILD_BENCHMARKS=OFF -DLAYERWATCH_SANITIZE="$kind" >/dev/null
cmake --build "$dir" --parallel "$(nproc)" --target "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
cd "$dir" && ctest --output-on-failure -L "$labels" --parallel "$(nproc)"
