// Conv activation layouts.

#include <gtest/gtest.h>

#include <numeric>

#include "layerwatch/similarity/conv_layout.h"

namespace layerwatch::similarity {
namespace {

std::vector<float> iota_tensor(int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<float> v(static_cast<size_t>(n * c * h * w));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(ConvLayout, SpatialPutsEveryPositionInARowWithChannelsAsFeatures) {
  const auto t = iota_tensor(2, 3, 2, 2);  // t[n][c][h][w] = ((n*3+c)*2+h)*2+w
  const auto m = conv_to_matrix(t.data(), {2, 3, 2, 2}, ConvLayoutOptions().max_samples(0));
  ASSERT_EQ(m.rows(), 8);
  ASSERT_EQ(m.cols(), 3);
  for (int n = 0; n < 2; ++n)
    for (int pos = 0; pos < 4; ++pos)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(m(n * 4 + pos, c), static_cast<float>((n * 3 + c) * 4 + pos));
}

TEST(ConvLayout, SpatialSubsamplingIsDeterministicAndPaired) {
  const auto t = iota_tensor(10, 4, 8, 8);
  const auto options = ConvLayoutOptions().max_samples(100).seed(5);
  const auto a = conv_to_matrix(t.data(), {10, 4, 8, 8}, options);
  const auto b = conv_to_matrix(t.data(), {10, 4, 8, 8}, options);
  EXPECT_EQ(a.rows(), 100);
  EXPECT_TRUE(a == b);
  const auto rows = spatial_sample_rows(640, 100, 5);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  EXPECT_EQ(std::adjacent_find(rows.begin(), rows.end()), rows.end());  // no repeats
  EXPECT_NE(rows, spatial_sample_rows(640, 100, 6));
}

TEST(ConvLayout, FlattenKeepsOneRowPerExample) {
  const auto t = iota_tensor(3, 2, 2, 2);
  const auto m =
      conv_to_matrix(t.data(), {3, 2, 2, 2}, ConvLayoutOptions().layout(ConvLayout::kFlatten));
  ASSERT_EQ(m.rows(), 3);
  ASSERT_EQ(m.cols(), 8);
  EXPECT_EQ(m(2, 5), 2 * 8 + 5);
}

TEST(ConvLayout, PoolAveragesAdaptiveBins) {
  // 1 example, 1 channel, 3×3 pooled to 2×2: bins [0,2)×[0,2), [0,2)×[1,3), [1,3)×[0,2),
  // [1,3)×[1,3).
  const auto t = iota_tensor(1, 1, 3, 3);
  const auto m = conv_to_matrix(t.data(), {1, 1, 3, 3},
                                ConvLayoutOptions().layout(ConvLayout::kPool).pool_size(2));
  ASSERT_EQ(m.cols(), 4);
  EXPECT_FLOAT_EQ(m(0, 0), (0 + 1 + 3 + 4) / 4.0f);
  EXPECT_FLOAT_EQ(m(0, 1), (1 + 2 + 4 + 5) / 4.0f);
  EXPECT_FLOAT_EQ(m(0, 3), (4 + 5 + 7 + 8) / 4.0f);
  const auto global =
      conv_to_matrix(t.data(), {1, 1, 3, 3}, ConvLayoutOptions().layout(ConvLayout::kPool));
  EXPECT_FLOAT_EQ(global(0, 0), 4.0f);
  EXPECT_THROW(conv_to_matrix(t.data(), {1, 1, 3, 3},
                              ConvLayoutOptions().layout(ConvLayout::kPool).pool_size(4)),
               std::invalid_argument);
  EXPECT_THROW(parse_conv_layout("tiles"), std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch::similarity
