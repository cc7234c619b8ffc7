// .npy reading: versions, dtypes, byte and memory orders, and broken files.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "io/formats.h"

#include "layerwatch/io/npy.h"
#include "test_util.h"

namespace layerwatch::io {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/layerwatch_npy_" + name;
}

Array sample(DType dtype) {
  Array a;
  a.shape = {3, 4};
  std::vector<float> f32;
  std::vector<double> f64;
  for (int i = 0; i < 12; ++i) {
    f32.push_back(0.5f * i - 1);
    f64.push_back(0.25 * i - 2);
  }
  if (dtype == DType::kFloat32) {
    a.values = f32;
  } else {
    a.values = f64;
  }
  return a;
}

TEST(NpyReader, RoundTripsBothDtypes) {
  for (const auto dtype : {DType::kFloat32, DType::kFloat64}) {
    const auto path = temp_path(dtype == DType::kFloat32 ? "f32.npy" : "f64.npy");
    const Array a = sample(dtype);
    write_npy(path, a);
    const Array b = read_npy(path);
    EXPECT_EQ(b.shape, a.shape);
    EXPECT_EQ(b.dtype(), dtype);
    EXPECT_EQ(b.values, a.values);
  }
}

TEST(NpyReader, ReadsFilesWrittenByNumpy) {
  const auto set = layerwatch::testing::reference_set("project");
  if (!set.missing().empty()) GTEST_SKIP() << set.missing();
  const Array a = read_npy(set.path("relu_a.npy"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2000, 48}));
  EXPECT_EQ(a.dtype(), DType::kFloat32);
  const Array g = read_npy(set.path("gaussian_x.npy"));
  EXPECT_EQ(g.dtype(), DType::kFloat64);
  EXPECT_EQ(g.size(), 1000);
}

TEST(NpyReader, SampleMatrixIsRowMajorDataInColumnMajorEigen) {
  const auto path = temp_path("m.npy");
  write_npy(path, sample(DType::kFloat32));
  const auto m = to_sample_matrix(read_npy(path));
  ASSERT_EQ(m.rows(), 3);
  ASSERT_EQ(m.cols(), 4);
  EXPECT_FLOAT_EQ(m.get<float>()(1, 2), 0.5f * 6 - 1);  // C order: element [1][2] is index 6
}

// Writes raw bytes and expects FileError whose message holds `needle`.
void expect_error(const std::string& name, const std::string& bytes, const std::string& needle) {
  const auto path = temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    read_npy(path);
    FAIL() << "expected FileError for " << name;
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::string header_v1(const std::string& dict) {
  std::string h = dict;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h;
}

TEST(NpyReader, BrokenFilesGiveClearErrors) {
  EXPECT_THROW(read_npy(temp_path("does_not_exist.npy")), FileError);
  expect_error("garbage.npy", "hello world, not numpy", "not a .npy file");
  expect_error("short_header.npy", std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 17),
               "truncated");
  expect_error("truncated_data.npy",
               header_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 10), }") +
                   std::string(40, '\0'),
               "truncated");
  expect_error("int.npy",
               header_v1("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }") +
                   std::string(32, '\0'),
               "not supported");
  expect_error("no_shape.npy", header_v1("{'descr': '<f4', 'fortran_order': False, }"), "shape");
  expect_error("version9.npy", std::string("\x93NUMPY\x09\x00\x10\x00", 10) + std::string(16, ' '),
               "version");
}

TEST(NpyReader, RanksOtherThanTwoOrFourAreRejectedForMatrices) {
  Array a;
  a.shape = {5};
  a.values = std::vector<float>(5, 1.0f);
  EXPECT_THROW(to_sample_matrix(a), std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch::io

namespace layerwatch::io {
namespace {

// Truncations and random byte flips of a valid file either parse or throw FileError; nothing
// else escapes and nothing reads out of bounds (run under AddressSanitizer too).
TEST(NpyReader, MutatedFilesParseOrThrowFileErrorOnly) {
  const auto path = temp_path("seed.npy");
  write_npy(path, sample(DType::kFloat64));
  const std::string original = read_file_bytes(path);
  std::mt19937 rng(11);
  int parsed = 0, rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = original;
    if (trial % 3 == 0) {
      bytes.resize(rng() % bytes.size());
    } else {
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        // Most flips land in the 128-byte header, where the parser does its work.
        const size_t at = rng() % std::min<size_t>(bytes.size(), trial % 2 ? 128 : bytes.size());
        bytes[at] = static_cast<char>(rng());
      }
    }
    try {
      const Array a = parse_npy("mutated.npy", bytes.data(), bytes.size());
      EXPECT_EQ(static_cast<size_t>(a.size()),
                std::visit([](const auto& v) { return v.size(); }, a.values));
      ++parsed;
    } catch (const FileError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace layerwatch::io
