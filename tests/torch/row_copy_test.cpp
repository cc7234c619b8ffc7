// The frozen-prefix cache's row copies equal LibTorch's index_copy_ and index_select, on the
// memcpy path (contiguous CPU tensors) and on the fallback (anything else).

#include "torch/row_copy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace layerwatch::detail {
namespace {

class RowCopy : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(RowCopy, ScatterEqualsIndexCopy) {
  torch::manual_seed(3);
  const auto dtype = GetParam();
  auto table = torch::randn({50, 3, 4}).to(dtype);
  auto expected = table.clone();
  const auto rows = torch::randperm(50, torch::kLong).narrow(0, 0, 17);
  const auto batch = torch::randn({17, 3, 4}).to(dtype);
  ASSERT_TRUE(rows_are_plain(table, rows, batch));
  scatter_rows(table, rows, batch);
  expected.index_copy_(0, rows, batch);
  EXPECT_TRUE(torch::equal(table, expected));
}

TEST_P(RowCopy, GatherEqualsIndexSelect) {
  torch::manual_seed(4);
  const auto table = torch::randn({50, 7}).to(GetParam());
  const auto rows = torch::tensor({49, 0, 3, 3, 12}, torch::kLong);
  const auto gathered = gather_rows(table, rows);
  EXPECT_EQ(gathered.sizes(), (std::vector<int64_t>{5, 7}));
  EXPECT_TRUE(torch::equal(gathered, table.index_select(0, rows)));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RowCopy,
                         ::testing::Values(torch::kHalf, torch::kFloat, torch::kDouble));

TEST(RowCopyFallback, NonContiguousAndMismatchedInputsTakeTheIndexOps) {
  torch::manual_seed(5);
  // A transposed table (not contiguous): both directions still give index ops' results.
  auto table = torch::randn({6, 20}).t();
  auto expected = table.clone();
  const auto rows = torch::tensor({19, 2, 7}, torch::kLong);
  const auto batch = torch::randn({3, 6});
  EXPECT_FALSE(rows_are_plain(table, rows, batch));
  scatter_rows(table, rows, batch);
  expected.index_copy_(0, rows, batch);
  EXPECT_TRUE(torch::equal(table, expected));
  EXPECT_TRUE(torch::equal(gather_rows(table, rows), expected.index_select(0, rows)));
  // A batch of another dtype, or rows of another shape, is not the plain case.
  const auto plain = torch::zeros({20, 6});
  EXPECT_FALSE(rows_are_plain(plain, rows, batch.to(torch::kDouble)));
  EXPECT_FALSE(rows_are_plain(plain, rows, torch::zeros({3, 5})));
  EXPECT_FALSE(rows_are_plain(plain, rows.to(torch::kInt), batch));
}

}  // namespace
}  // namespace layerwatch::detail
