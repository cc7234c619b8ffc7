// Reading .pt files written by Python's torch.save (and .npy through the same entry point).

#include <gtest/gtest.h>

#include "layerwatch/io/npy.h"
#include "layerwatch/torch/tensor_file.h"
#include "test_util.h"

namespace layerwatch::io {
namespace {

using layerwatch::testing::test_data_path;

TEST(TensorFile, PtMatchesTheSameDataSavedAsNpy) {
  const Array pt = read_tensor_file(test_data_path("a.pt"));
  const Array npy = read_npy(test_data_path("a_f32.npy"));
  EXPECT_EQ(pt.shape, npy.shape);
  EXPECT_EQ(pt.dtype(), DType::kFloat32);
  EXPECT_EQ(pt.values, npy.values);
}

TEST(TensorFile, ReadsFloat64HalfStridedAndFourDimensionalTensors) {
  EXPECT_EQ(read_tensor_file(test_data_path("b_f64.pt")).dtype(), DType::kFloat64);
  const Array half = read_tensor_file(test_data_path("a_half.pt"));
  const Array full = read_npy(test_data_path("a_f32.npy"));
  const auto& full_values = full.as<float>();
  ASSERT_EQ(half.as<float>().size(), full_values.size());
  EXPECT_NEAR(half.as<float>()[7], full_values[7], 2e-3 * (1 + std::abs(full_values[7])));
  const Array strided = read_tensor_file(test_data_path("a_strided.pt"));
  EXPECT_EQ(strided.shape, (std::vector<int64_t>{300, 3}));
  EXPECT_EQ(strided.as<float>()[4],
            full_values[1 * 6 + 2]);  // row 1, column 1 of the view = column 2
  EXPECT_EQ(read_tensor_file(test_data_path("conv_a.pt")).shape,
            (std::vector<int64_t>{20, 3, 5, 5}));
}

TEST(TensorFile, NpyVariantsAllReadTheSameValues) {
  const Array base = read_tensor_file(test_data_path("a_f32.npy"));
  for (const char* name : {"a_v1.npy", "a_v2.npy", "a_v3.npy", "a_fortran.npy"}) {
    const Array other = read_tensor_file(test_data_path(name));
    EXPECT_EQ(other.shape, base.shape) << name;
    EXPECT_EQ(other.values, base.values) << name;
  }
  const Array big = read_tensor_file(test_data_path("a_bigendian.npy"));
  ASSERT_EQ(big.dtype(), DType::kFloat64);
  for (size_t i = 0; i < base.as<float>().size(); ++i)
    ASSERT_EQ(static_cast<float>(big.as<double>()[i]), base.as<float>()[i]);
}

void expect_file_error(const std::string& name, const std::string& needle) {
  try {
    read_tensor_file(test_data_path(name));
    FAIL() << "expected FileError for " << name;
  } catch (const FileError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(name), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}

TEST(TensorFile, BadFilesGiveOneLineErrorsNamingTheFile) {
  expect_file_error("truncated.pt", "truncated");
  expect_file_error("dict.pt", "save the tensor");
  expect_file_error("ints.pt", "not supported");
  expect_file_error("garbage.npy", "not a .npy or .pt");
  expect_file_error("empty.npy", "empty");
  expect_file_error("truncated.npy", "truncated");
  expect_file_error("header_only.npy", "truncated");
  expect_file_error("ints.npy", "not supported");
  expect_file_error("missing.pt", "cannot open");
}

}  // namespace
}  // namespace layerwatch::io
