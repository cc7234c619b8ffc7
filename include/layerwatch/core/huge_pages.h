#pragma once
/// @file
/// Large buffers on transparent huge pages, and reused.
///
/// On virtualised machines with 4 KiB pages, the first touch of fresh memory costs far more
/// than the arithmetic done on it: every 4 KiB page is a fault. layerwatch therefore takes its
/// own large buffers (centred activations, matrices read from files) from an allocator that
///  - aligns every request of 2 MiB or more to 2 MiB, rounds it up to whole 2 MiB pages and
///    advises the kernel to back it with transparent huge pages (`madvise(MADV_HUGEPAGE)`),
///    so a first touch faults once per 2 MiB instead of once per 4 KiB;
///  - keeps freed blocks (up to `large_buffer_cache_limit`, default 1 GiB) and hands them out
///    again for the next request of the same rounded size, so buffers whose shapes recur (every
///    probe pass, every training step) fault only the first time.
/// Smaller requests go to `malloc`. `torch/huge_page_allocator.h` puts LibTorch's CPU tensors
/// on the same allocator.
///
/// Huge pages need the kernel's transparent huge pages set to `always` or `madvise`
/// (`/sys/kernel/mm/transparent_hugepage/enabled`); with `never`, buffers are still aligned and
/// reused, on 4 KiB pages.

#include <cstddef>
#include <cstdint>

namespace layerwatch {

/// How the kernel offers transparent huge pages.
enum class HugePageMode {
  kAlways,       ///< "always": every large anonymous mapping may get huge pages.
  kMadvise,      ///< "madvise": only memory advised with MADV_HUGEPAGE (what layerwatch does).
  kNever,        ///< "never": no huge pages.
  kUnavailable,  ///< the setting cannot be read (not Linux, or no THP support).
};
/// Stable name ("always", "madvise", "never", "unavailable").
const char* to_string(HugePageMode mode) noexcept;

/// The kernel's transparent-huge-page setting, read once.
HugePageMode transparent_huge_pages() noexcept;

/// Counters of the large-buffer allocator since the process started.
struct LargeBufferStats {
  int64_t fresh = 0;             ///< Blocks mapped from the kernel.
  int64_t reused = 0;            ///< Requests served from the cache of freed blocks.
  int64_t advise_failures = 0;   ///< Blocks whose madvise(MADV_HUGEPAGE) failed.
  std::size_t live_bytes = 0;    ///< Bytes handed out and not yet freed.
  std::size_t cached_bytes = 0;  ///< Bytes of freed blocks kept for reuse.
};
LargeBufferStats large_buffer_stats() noexcept;

/// Most bytes of freed blocks kept for reuse; beyond it the oldest are returned to the kernel.
/// Default 1 GiB. 0 keeps nothing (every free unmaps).
void set_large_buffer_cache_limit(std::size_t bytes) noexcept;
std::size_t large_buffer_cache_limit() noexcept;

/// Returns every cached block to the kernel.
void release_large_buffer_cache() noexcept;

namespace detail {

/// Requests from this size up are large: 2 MiB aligned, advised, cached.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

/// `bytes` of uninitialised memory (64-byte aligned at least; 2 MiB aligned when large).
/// Throws std::bad_alloc when the memory cannot be had.
void* allocate_large(std::size_t bytes);
/// Frees memory from `allocate_large` (null is ignored).
void release_large(void* pointer) noexcept;

/// Advises huge pages for the whole 2 MiB pages inside [pointer, pointer + bytes) of memory
/// from elsewhere (an Eigen matrix's buffer, before it is first written). Does nothing below
/// 4 MiB or when no whole huge page fits.
void advise_huge_pages(void* pointer, std::size_t bytes) noexcept;

}  // namespace detail

}  // namespace layerwatch
