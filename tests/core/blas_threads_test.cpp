#include "layerwatch/core/blas_threads.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace {

// Whether this process mapped OpenBLAS (the build links the BLAS Debian's alternative selects).
bool openblas_mapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos) return true;
  }
  return false;
}

TEST(BlasThreads, SetsTheCountOpenBlasThenReports) {
  const int before = layerwatch::blas_threads();
  if (!openblas_mapped()) {
    EXPECT_EQ(before, -1);
    EXPECT_FALSE(layerwatch::set_blas_threads(1));
    GTEST_SKIP() << "the loaded BLAS is not OpenBLAS";
  }
  ASSERT_GE(before, 1) << "OpenBLAS is mapped but its thread count could not be read";
  ASSERT_TRUE(layerwatch::set_blas_threads(1));
  EXPECT_EQ(layerwatch::blas_threads(), 1);
  EXPECT_FALSE(layerwatch::set_blas_threads(0));
  EXPECT_FALSE(layerwatch::set_blas_threads(-3));
  EXPECT_EQ(layerwatch::blas_threads(), 1);
  ASSERT_TRUE(layerwatch::set_blas_threads(before));
  EXPECT_EQ(layerwatch::blas_threads(), before);
}

}  // namespace
