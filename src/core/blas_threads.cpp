#include "layerwatch/core/blas_threads.h"

#include <dlfcn.h>

namespace layerwatch {
namespace {

template <typename Function>
Function find_symbol(const char* name) noexcept {
  // RTLD_DEFAULT: whichever loaded library defines it (libblas.so.3 points at OpenBLAS when
  // Debian's alternative selects it).
  return reinterpret_cast<Function>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

int blas_threads() noexcept {
  const auto get = find_symbol<int (*)()>("openblas_get_num_threads");
  return get ? get() : -1;
}

bool set_blas_threads(int threads) noexcept {
  if (threads < 1) return false;
  const auto set = find_symbol<void (*)(int)>("openblas_set_num_threads");
  if (!set) return false;
  set(threads);
  return true;
}

}  // namespace layerwatch
