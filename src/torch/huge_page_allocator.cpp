#include "layerwatch/torch/huge_page_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <fmt/format.h>

namespace layerwatch {
namespace {

void release_tensor(void* pointer) { detail::release_large(pointer); }

// Large tensors from the large-buffer pool; small ones as LibTorch's default does.
class HugePageCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (bytes >= detail::kHugePageBytes) {
      void* pointer = detail::allocate_large(bytes);
      return {pointer, pointer, &release_tensor, cpu};
    }
    void* pointer = c10::alloc_cpu(bytes);
    return {pointer, pointer, &c10::free_cpu, cpu};
  }
  // Frees either kind: release_large hands a pointer it does not own to free(), as free_cpu does.
  c10::DeleterFnPtr raw_deleter() const override { return &release_tensor; }
};

HugePageAllocatorStatus install() {
  static HugePageCpuAllocator allocator;
  // Above the default's priority (0), so LibTorch's static registration cannot undo it.
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
  HugePageAllocatorStatus status;
  status.installed = c10::GetCPUAllocator() == &allocator;
  status.mode = transparent_huge_pages();
  if (!status.installed) {
    status.message =
        "LibTorch kept another CPU allocator registered with a higher priority: tensors are "
        "allocated as before";
  } else if (status.mode == HugePageMode::kNever || status.mode == HugePageMode::kUnavailable) {
    status.message = fmt::format(
        "transparent huge pages are {} here (/sys/kernel/mm/transparent_hugepage/enabled): "
        "LibTorch's large CPU tensors are reused but stay on 4 KiB pages",
        status.mode == HugePageMode::kNever ? "off" : "unavailable");
  } else {
    status.message = fmt::format(
        "LibTorch's CPU tensors of 2 MiB and more are on transparent huge pages (mode {}) and "
        "reused",
        to_string(status.mode));
  }
  return status;
}

}  // namespace

HugePageAllocatorStatus use_huge_page_allocator() {
  static const HugePageAllocatorStatus status = install();
  return status;
}

}  // namespace layerwatch
