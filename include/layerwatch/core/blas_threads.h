#pragma once
/// @file
/// The thread count of the BLAS library the process has loaded.
///
/// LibTorch runs its CPU operators on its own OpenMP pool, and Debian's OpenBLAS (pthread
/// build) keeps a second pool; with both at the core count their threads outnumber the cores.
/// On a 2-core machine, giving BLAS one thread made a Fashion-MNIST CNN epoch 10 % faster
/// (63 s against 70 s), and the analyzer's comparisons, which also call BLAS, about 100× faster
/// while training ran (docs/performance.md, "BLAS threads next to LibTorch").
///
/// The calls are looked up at run time (`openblas_set_num_threads`, `openblas_get_num_threads`),
/// so nothing links against a particular BLAS; with another BLAS they report that they cannot.

namespace layerwatch {

/// Threads the loaded BLAS uses, or -1 when it has no call to ask (not OpenBLAS).
int blas_threads() noexcept;

/// Sets the loaded BLAS's thread count for the whole process. Returns false (and changes
/// nothing) when `threads` < 1 or the BLAS has no such call. Call it before training starts,
/// not while another thread is inside a BLAS call.
bool set_blas_threads(int threads) noexcept;

}  // namespace layerwatch
