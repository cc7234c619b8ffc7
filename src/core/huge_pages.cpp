#include "layerwatch/core/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>

namespace layerwatch {
namespace {

using detail::kHugePageBytes;

std::size_t round_up(std::size_t bytes, std::size_t unit) {
  return (bytes + unit - 1) / unit * unit;
}

// A block of whole huge pages, 2 MiB aligned, advised for huge pages.
void* map_block(std::size_t bytes, int64_t& advise_failures) {
  const std::size_t span = bytes + kHugePageBytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  // Keep the 2 MiB-aligned part; give the ragged ends back.
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const auto aligned = round_up(begin, kHugePageBytes);
  if (aligned > begin) munmap(raw, aligned - begin);
  const std::uintptr_t end = begin + span, used_end = aligned + bytes;
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  void* block = reinterpret_cast<void*>(aligned);
  if (madvise(block, bytes, MADV_HUGEPAGE) != 0) ++advise_failures;
  return block;
}

// Blocks handed out, and freed blocks kept for reuse (oldest first), by rounded size.
class LargeBufferPool {
 public:
  void* allocate(std::size_t requested) {
    const std::size_t bytes = round_up(requested, kHugePageBytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* block = nullptr;
    const auto cached = by_size_.find(bytes);
    if (cached != by_size_.end()) {
      block = cached->second->second;
      fifo_.erase(cached->second);
      by_size_.erase(cached);
      stats_.cached_bytes -= bytes;
      ++stats_.reused;
    } else {
      block = map_block(bytes, stats_.advise_failures);
      if (!block) throw std::bad_alloc();
      ++stats_.fresh;
    }
    live_.emplace(block, bytes);
    stats_.live_bytes += bytes;
    return block;
  }

  // False when `block` is not one of ours.
  bool release(void* block) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_.find(block);
    if (it == live_.end()) return false;
    const std::size_t bytes = it->second;
    live_.erase(it);
    stats_.live_bytes -= bytes;
    if (bytes > limit_) {
      munmap(block, bytes);
      return true;
    }
    fifo_.emplace_back(bytes, block);
    by_size_.emplace(bytes, std::prev(fifo_.end()));
    stats_.cached_bytes += bytes;
    trim_locked(limit_);
    return true;
  }

  void set_limit(std::size_t bytes) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    trim_locked(limit_);
  }
  std::size_t limit() const noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }
  void clear() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    trim_locked(0);
  }
  LargeBufferStats stats() const noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  using Fifo = std::list<std::pair<std::size_t, void*>>;

  void trim_locked(std::size_t limit) noexcept {
    while (stats_.cached_bytes > limit && !fifo_.empty()) {
      const auto [bytes, block] = fifo_.front();
      for (auto it = by_size_.lower_bound(bytes); it != by_size_.end() && it->first == bytes;
           ++it) {
        if (it->second == fifo_.begin()) {
          by_size_.erase(it);
          break;
        }
      }
      fifo_.pop_front();
      munmap(block, bytes);
      stats_.cached_bytes -= bytes;
    }
  }

  mutable std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;
  Fifo fifo_;
  std::multimap<std::size_t, Fifo::iterator> by_size_;
  std::size_t limit_ = std::size_t{1} << 30;
  LargeBufferStats stats_;
};

// Never destroyed: tensors and matrices freed during static destruction still find it.
LargeBufferPool& pool() {
  static auto* instance = new LargeBufferPool();
  return *instance;
}

HugePageMode read_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string text;
  if (!in || !std::getline(in, text)) return HugePageMode::kUnavailable;
  // The active setting is the bracketed one: "always [madvise] never".
  if (text.find("[always]") != std::string::npos) return HugePageMode::kAlways;
  if (text.find("[madvise]") != std::string::npos) return HugePageMode::kMadvise;
  if (text.find("[never]") != std::string::npos) return HugePageMode::kNever;
  return HugePageMode::kUnavailable;
}

}  // namespace

const char* to_string(HugePageMode mode) noexcept {
  switch (mode) {
    case HugePageMode::kAlways:
      return "always";
    case HugePageMode::kMadvise:
      return "madvise";
    case HugePageMode::kNever:
      return "never";
    case HugePageMode::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

HugePageMode transparent_huge_pages() noexcept {
  static const HugePageMode mode = read_mode();
  return mode;
}

LargeBufferStats large_buffer_stats() noexcept { return pool().stats(); }

void set_large_buffer_cache_limit(std::size_t bytes) noexcept { pool().set_limit(bytes); }

std::size_t large_buffer_cache_limit() noexcept { return pool().limit(); }

void release_large_buffer_cache() noexcept { pool().clear(); }

namespace detail {

void* allocate_large(std::size_t bytes) {
  if (bytes >= kHugePageBytes) return pool().allocate(bytes);
  void* pointer = nullptr;
  if (posix_memalign(&pointer, 64, bytes == 0 ? 64 : bytes) != 0) throw std::bad_alloc();
  return pointer;
}

void release_large(void* pointer) noexcept {
  if (!pointer) return;
  if (!pool().release(pointer)) std::free(pointer);
}

void advise_huge_pages(void* pointer, std::size_t bytes) noexcept {
  if (!pointer || bytes < 2 * kHugePageBytes) return;
  const auto begin = round_up(reinterpret_cast<std::uintptr_t>(pointer), kHugePageBytes);
  const auto end =
      (reinterpret_cast<std::uintptr_t>(pointer) + bytes) / kHugePageBytes * kHugePageBytes;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace detail
}  // namespace layerwatch
