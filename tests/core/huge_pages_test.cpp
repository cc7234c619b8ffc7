// The large-buffer allocator: 2 MiB-aligned, huge-page-advised blocks for large requests,
// reused by size, freed exactly; and Matrix, which keeps its data there.

#include "layerwatch/core/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "layerwatch/core/matrix.h"

namespace layerwatch {
namespace {

using detail::allocate_large;
using detail::kHugePageBytes;
using detail::release_large;

constexpr std::size_t kMiB = std::size_t{1} << 20;

bool aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

// The VmFlags line of the mapping that holds `p` in /proc/self/smaps.
std::string vm_flags_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= address && address < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

// Each test starts from an empty cache, so reuse is counted from zero.
class LargeBuffers : public ::testing::Test {
 protected:
  void SetUp() override {
    release_large_buffer_cache();
    set_large_buffer_cache_limit(std::size_t{1} << 30);
    before_ = large_buffer_stats();
  }
  void TearDown() override { release_large_buffer_cache(); }
  LargeBufferStats before_;
};

TEST_F(LargeBuffers, LargeRequestsAre2MiBAlignedAndAdvisedForHugePages) {
  void* block = allocate_large(5 * kMiB + 3);
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(aligned(block, kHugePageBytes));
  const auto stats = large_buffer_stats();
  EXPECT_EQ(stats.fresh, before_.fresh + 1);
  EXPECT_EQ(stats.live_bytes, before_.live_bytes + 6 * kMiB);  // three whole huge pages
  static_cast<char*>(block)[6 * kMiB - 1] = 1;                 // the whole rounded block is usable
  const HugePageMode mode = transparent_huge_pages();
  if (mode == HugePageMode::kUnavailable) {
    GTEST_SKIP() << "this kernel offers no transparent huge pages: blocks are aligned and reused "
                    "but cannot be advised";
  }
  EXPECT_EQ(stats.advise_failures, before_.advise_failures);
  // The kernel marks an advised mapping "hg" in its VmFlags.
  const std::string flags = vm_flags_of(block);
  EXPECT_NE(flags.find(" hg"), std::string::npos)
      << flags << " (THP mode " << to_string(mode) << ")";
  release_large(block);
}

TEST_F(LargeBuffers, AFreedBlockIsHandedOutAgainForTheSameRoundedSize) {
  void* first = allocate_large(3 * kMiB);
  release_large(first);
  EXPECT_EQ(large_buffer_stats().cached_bytes, before_.cached_bytes + 4 * kMiB);
  void* second = allocate_large(4 * kMiB - 100);  // rounds to the same 4 MiB
  EXPECT_EQ(second, first);
  EXPECT_EQ(large_buffer_stats().reused, before_.reused + 1);
  void* other = allocate_large(8 * kMiB);  // another size: a fresh block
  EXPECT_NE(other, first);
  release_large(second);
  release_large(other);
}

TEST_F(LargeBuffers, MemoryIsFreedExactly) {
  std::vector<void*> blocks;
  for (int i = 1; i <= 6; ++i) blocks.push_back(allocate_large(static_cast<std::size_t>(i) * kMiB));
  blocks.push_back(allocate_large(1000));  // small: plain malloc
  EXPECT_TRUE(aligned(blocks.back(), 64));
  for (void* b : blocks) release_large(b);
  EXPECT_EQ(large_buffer_stats().live_bytes, before_.live_bytes);
  // Beyond the cache limit, freed blocks go back to the kernel.
  set_large_buffer_cache_limit(0);
  EXPECT_EQ(large_buffer_stats().cached_bytes, 0u);
  void* block = allocate_large(2 * kMiB);
  release_large(block);
  EXPECT_EQ(large_buffer_stats().cached_bytes, 0u);
  set_large_buffer_cache_limit(5 * kMiB);
  for (int i = 0; i < 4; ++i) blocks[i] = allocate_large(2 * kMiB);
  for (int i = 0; i < 4; ++i) release_large(blocks[i]);
  EXPECT_EQ(large_buffer_stats().cached_bytes, 4 * kMiB);  // two 2 MiB blocks were unmapped
  release_large(nullptr);                                  // ignored
}

TEST_F(LargeBuffers, ThreadsAllocateAndReleaseConcurrently) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) {
        const std::size_t bytes = static_cast<std::size_t>(1 + (i + t) % 3) * kHugePageBytes;
        auto* block = static_cast<unsigned char*>(allocate_large(bytes));
        block[0] = block[bytes - 1] = static_cast<unsigned char>(i);
        release_large(block);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(large_buffer_stats().live_bytes, before_.live_bytes);
}

TEST(Matrix, CopiesAreDeepAndColumnsCanBeDropped) {
  Eigen::MatrixXd values(4, 3);
  values << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;
  Matrix a(values);
  Matrix b = a;
  b.visit([](auto& m) { m(0, 0) = -1; });
  EXPECT_EQ(a.get<double>()(0, 0), 1);
  EXPECT_EQ(b.get<double>()(0, 0), -1);
  a.resize_columns(2);
  EXPECT_EQ(a.cols(), 2);
  EXPECT_EQ(a.get<double>()(3, 1), 11);  // row 3, column 1 (the initializer fills rows)
  EXPECT_THROW(a.resize_columns(3), std::invalid_argument);
  EXPECT_THROW(a.get<float>(), std::invalid_argument);
  const Matrix big(DType::kFloat32, 2048, 1024);  // 8 MiB: a large buffer
  EXPECT_TRUE(big.visit([](const auto& m) { return aligned(m.data(), kHugePageBytes); }));
  Matrix moved = std::move(b);
  EXPECT_EQ(moved.rows(), 4);
  EXPECT_EQ(b.rows(), 0);  // NOLINT(bugprone-use-after-move): moved-from is empty
}

}  // namespace
}  // namespace layerwatch
