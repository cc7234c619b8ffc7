// LibTorch's CPU tensors on the large-buffer allocator: large ones 2 MiB aligned and reused,
// small ones as before, and training gives bit-identical results.

#include "layerwatch/torch/huge_page_allocator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace layerwatch {
namespace {

bool aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

// A few seeded SGD steps of a small CNN; returns its parameters after them.
std::vector<torch::Tensor> train_small_cnn() {
  torch::manual_seed(7);
  torch::nn::Sequential model(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)),
                              torch::nn::BatchNorm2d(16), torch::nn::ReLU(), torch::nn::Flatten(),
                              torch::nn::Linear(16 * 28 * 28, 10));
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  for (int step = 0; step < 4; ++step) {
    const auto x = torch::randn({128, 1, 28, 28});  // activations of several MiB per layer
    const auto y = torch::randint(0, 10, {128});
    optimizer.zero_grad();
    torch::cross_entropy_loss(model->forward(x), y).backward();
    optimizer.step();
  }
  std::vector<torch::Tensor> parameters;
  for (const auto& p : model->parameters()) parameters.push_back(p.detach().clone());
  return parameters;
}

TEST(HugePageAllocator, TrainingIsBitIdenticalAndLargeTensorsAreAlignedAndReused) {
  const auto before = train_small_cnn();  // LibTorch's own allocator

  const auto status = use_huge_page_allocator();
  ASSERT_TRUE(status.installed) << status.message;
  EXPECT_FALSE(status.message.empty());
  EXPECT_EQ(use_huge_page_allocator().message, status.message);  // once per process

  const auto after = train_small_cnn();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(torch::equal(before[i], after[i])) << "parameter " << i;
  }

  const auto stats = large_buffer_stats();
  auto large = torch::empty({1024, 1024}, torch::kFloat32);  // 4 MiB
  EXPECT_TRUE(aligned(large.data_ptr(), detail::kHugePageBytes));
  const auto small = torch::empty({16}, torch::kFloat32);
  EXPECT_TRUE(aligned(small.data_ptr(), 64));
  EXPECT_EQ(large_buffer_stats().live_bytes, stats.live_bytes + (4u << 20));
  void* first = large.data_ptr();
  large = torch::Tensor();  // its memory goes back to the cache
  const auto again = torch::empty({1024, 1024}, torch::kFloat32);
  EXPECT_EQ(again.data_ptr(), first);  // the freed block, handed out again
  EXPECT_GT(large_buffer_stats().reused, stats.reused);
}

TEST(HugePageAllocator, SaysWhatIsInEffect) {
  const auto status = use_huge_page_allocator();
  switch (transparent_huge_pages()) {
    case HugePageMode::kAlways:
    case HugePageMode::kMadvise:
      EXPECT_NE(status.message.find("huge pages"), std::string::npos) << status.message;
      break;
    case HugePageMode::kNever:
    case HugePageMode::kUnavailable:
      EXPECT_NE(status.message.find("4 KiB pages"), std::string::npos) << status.message;
      break;
  }
}

}  // namespace
}  // namespace layerwatch
