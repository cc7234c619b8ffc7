#pragma once
/// @file
/// Puts LibTorch's CPU tensors on layerwatch's large-buffer allocator (core/huge_pages.h):
/// tensors of 2 MiB and more get 2 MiB-aligned memory advised for transparent huge pages, and
/// their memory is kept when they are freed and handed to the next tensor of the same rounded
/// size. Smaller tensors are allocated as LibTorch does by default.
///
/// Why: on virtualised machines with 4 KiB pages, a training step that allocates its
/// activations and gradients afresh faults on every 4 KiB of them. On the 2-core machines this
/// project is measured on, a Fashion-MNIST epoch spent most of its time in the kernel's fault
/// path (docs/performance.md has the figures). PyTorch 2.2 added the huge-page half of this
/// behind THP_MEM_ALLOC_ENABLE; LibTorch 1.13 has neither half.
///
/// @code
///   layerwatch::use_huge_page_allocator();   // once, before training
/// @endcode
/// or `MonitorOptions().huge_pages(true)`, which calls it when the Monitor is built.
///
/// What changes: LibTorch's memory profiler no longer sees CPU allocations of 2 MiB and more,
/// and up to `large_buffer_cache_limit()` bytes of freed tensors stay mapped for reuse (1 GiB by
/// default; `set_large_buffer_cache_limit` changes it, 0 returns every freed block at once).
/// Where the kernel's transparent huge pages are `never`, tensors stay on 4 KiB pages and are
/// still reused; the status says so.

#include <string>

#include "layerwatch/core/huge_pages.h"

namespace layerwatch {

/// What `use_huge_page_allocator` did.
struct HugePageAllocatorStatus {
  bool installed = false;  ///< LibTorch's CPU tensors now come from layerwatch's allocator.
  HugePageMode mode = HugePageMode::kUnavailable;  ///< The kernel's THP setting.
  std::string message;  ///< One line for the user: what is in effect, and why.
};

/// Installs the allocator for LibTorch's CPU device (`c10::SetCPUAllocator`), once per process;
/// later calls return the first call's status. Call it before training starts, from one
/// thread: LibTorch does not synchronise the switch. Tensors allocated before keep their own
/// deleter, so switching while tensors exist is safe.
HugePageAllocatorStatus use_huge_page_allocator();

}  // namespace layerwatch
