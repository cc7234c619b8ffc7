#!/usr/bin/env bash
# Fuzzes one parser with libFuzzer under ASan + UBSan (Debian's clang).
#   scripts/fuzz.sh TARGET SECONDS      TARGET: npy, config, run_log or checkpoint
# The corpus grows in build-fuzz/corpus/TARGET, seeded from tests/fuzz/corpus/fuzz_TARGET; an
# input that crashes is kept in build-fuzz/artifacts/. Copy it to
# tests/fuzz/regressions/fuzz_TARGET/ once fixed: the normal test suite replays that directory.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh npy|config|run_log|checkpoint SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
case $target in npy|config|run_log|checkpoint) ;; *)
  echo "fuzz.sh: unknown target '$target': npy, config, run_log or checkpoint" >&2; exit 2 ;;
esac
./scripts/install-deps.sh
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends clang libclang-rt-dev 2>/dev/null ||
    apt-get install -y --no-install-recommends clang "libclang-rt-$(clang --version | sed -n 's/.*version \([0-9]*\).*/\1/p')-dev"
fi
dir=build-fuzz
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
CC=clang CXX=clang++ cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLAYERWATCH_BUILD_TORCH=OFF -DLAYERWATCH_BUILD_BENCHMARKS=OFF -DLAYERWATCH_BUILD_EXAMPLES=OFF \
  -DLAYERWATCH_FUZZ=ON -DLAYERWATCH_SANITIZE=fuzzer-no-link,address,undefined >/dev/null
cmake --build "$dir" --parallel "$(nproc)" --target "fuzz_$target"
corpus="$dir/corpus/$target"
mkdir -p "$corpus" "$dir/artifacts"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export OPENBLAS_NUM_THREADS=1
"$dir/bin/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/${target}-" "$corpus" "tests/fuzz/corpus/fuzz_$target"
