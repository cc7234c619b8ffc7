// `layerwatch heatmap` end to end: the page, the JSON, and the exit codes for bad input.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "layerwatch/io/npy.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using layerwatch::testing::gaussian;
using layerwatch::testing::related;
using Run = layerwatch::testing::CommandResult;
Run run(const std::string& args) { return layerwatch::testing::run_layerwatch(args); }

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / "heatmap_command_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A 4-D (N, C, H, W) float32 layer file.
void save_conv(const fs::path& path, const Eigen::MatrixXd& per_example, int64_t c, int64_t hw) {
  layerwatch::io::Array a;
  a.shape = {per_example.rows(), c, hw, hw};
  std::vector<float> values;
  for (Eigen::Index i = 0; i < per_example.rows(); ++i)
    for (Eigen::Index j = 0; j < c * hw * hw; ++j) values.push_back(float(per_example(i, j)));
  a.values = std::move(values);
  layerwatch::io::write_npy(path.string(), a);
}

TEST(HeatmapCommand, WritesThePageAndPrintsTheMatrix) {
  const auto dir = fresh_dir("net");
  const Eigen::MatrixXd x = gaussian(80, 2 * 4 * 4, 1);
  save_conv(dir / "conv.0.npy", x, 2, 4);
  save_conv(dir / "conv.1.npy", related(x, 3 * 2 * 2, 1.0, 2), 3, 2);
  const auto page = dir / "out" / "map.html";
  const auto r = run("heatmap " + dir.string() + " --json -o " + page.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["rows"], nlohmann::json({"conv.0", "conv.1"}));
  EXPECT_EQ(json["samples"], 80);
  EXPECT_NEAR(json["values"][0][0].get<double>(), 1.0, 1e-9);
  const double off = json["values"][0][1].get<double>();
  EXPECT_GT(off, 0.0);
  EXPECT_LT(off, 1.0);
  std::ifstream in(page);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("data-chart=\"layer-heatmap\""), std::string::npos);
  EXPECT_NE(r.err.find("wrote " + page.string()), std::string::npos) << r.err;
}

TEST(HeatmapCommand, BadInputExitsThreeAndAnUnwritablePageOne) {
  const auto empty = fresh_dir("empty");
  auto r = run("heatmap " + empty.string());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("holds no .npy"), std::string::npos) << r.err;
  r = run("heatmap " + (empty / "nope").string());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;

  const auto dir = fresh_dir("good");
  save_conv(dir / "a.npy", gaussian(20, 4, 1), 1, 2);
  r = run("heatmap " + dir.string() + " -o /proc/no/such/dir/map.html");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("/proc/no/such/dir/map.html"), std::string::npos) << r.err;
  EXPECT_EQ(run("heatmap " + dir.string() + " --conv spatial -o /dev/null").code, 2);
  EXPECT_EQ(run("heatmap " + dir.string() + " --metric nope").code, 2);
}

}  // namespace
