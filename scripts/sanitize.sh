#!/usr/bin/env bash
# Builds everything with a sanitizer and runs the tests.
#   scripts/sanitize.sh                     ASan + UBSan (+ LeakSanitizer) on the whole suite
#   scripts/sanitize.sh address,undefined core   the same on the torch-free core tests only
#   scripts/sanitize.sh thread              TSan on the core (analyzer, store, sinks) and the
#                                           capture/monitor tests
# LibTorch, OpenBLAS and OpenMP are not instrumented: ASan's container-overflow check is off
# (their STL containers are not annotated), leaks inside them are suppressed
# (scripts/sanitizers/lsan.supp), and TSan runs use one BLAS/OpenMP thread, since their worker
# pools' internal hand-offs would show as races; the checks cover layerwatch's own code.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address,undefined}
scope=${2:-all}
dir="build-${kind//,/-}-$scope"
./scripts/install-deps.sh
torch=ON
targets=(all)
labels='.*'
exclude='install'  # builds another project from scratch; nothing of ours to check
if [[ $kind == thread ]]; then
  dir=build-thread
  targets=(similarity_test probing_test io_test core_test write_sample_run monitor_test layerwatch_pt
           fuzz_npy_replay fuzz_config_replay fuzz_run_log_replay fuzz_checkpoint_replay)
  labels='core|monitor'
elif [[ $scope == core ]]; then
  torch=OFF
  targets=(similarity_test probing_test io_test core_test write_sample_run
           fuzz_npy_replay fuzz_config_replay fuzz_run_log_replay fuzz_checkpoint_replay)
  labels=core
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAYERWATCH_BUILD_TORCH=$torch \
  -DLAYERWATCH_BUILD_BENCHMARKS=OFF -DLAYERWATCH_SANITIZE="$kind" >/dev/null
cmake --build "$dir" --parallel "$(nproc)" --target "${targets[@]}"
supp="$PWD/scripts/sanitizers"
export ASAN_OPTIONS=detect_leaks=1:detect_container_overflow=0
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
cd "$dir" && ctest --output-on-failure -L "$labels" -LE "$exclude" --parallel "$(nproc)"
