// read_activation_file: .npy directly, .pt through the plugin, from several threads at once.

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "layerwatch/io/activation_file.h"
#include "layerwatch/io/npy.h"
#include "test_util.h"

namespace layerwatch::io {
namespace {

using layerwatch::testing::test_data_path;

TEST(ActivationFile, PtFilesReadFromSeveralThreadsAtOnceAllAgree) {
  if (!std::filesystem::exists(std::string(LAYERWATCH_BIN_DIR) + "/../lib/liblayerwatch_pt.so")) {
    GTEST_SKIP() << "the .pt plugin is not built (LAYERWATCH_BUILD_TORCH=OFF)";
  }
  if (!std::filesystem::exists(test_data_path("a.pt"))) {
    GTEST_SKIP() << "a.pt was not written (python3-torch missing)";
  }
  const Array expected = read_npy(test_data_path("a_f32.npy"));
  // The first .pt read loads the plugin: every thread races to be that first read.
  std::vector<Array> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back(
        [&results, i] { results[i] = read_activation_file(test_data_path("a.pt")); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    EXPECT_EQ(r.shape, expected.shape);
    EXPECT_EQ(r.values, expected.values);
  }
}

}  // namespace
}  // namespace layerwatch::io
