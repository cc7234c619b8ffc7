// `layerwatch config [FILE]`: the defaults as JSON, a file checked and completed, the keys.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "layerwatch/monitor_options.h"

namespace {

using layerwatch::testing::run_layerwatch;

std::string write_config(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::path(::testing::TempDir()) / ("config_command_" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(ConfigCommand, PrintsTheDefaultsWhichTheShippedConfigHolds) {
  const auto r = run_layerwatch("config");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream shipped(std::string(LAYERWATCH_SOURCE_DIR) + "/configs/default.json");
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(shipped));
}

TEST(ConfigCommand, CompletesAFileWithTheDefaults) {
  const auto path = write_config("partial.json", R"({"analysis": {"threads": 2}})");
  const auto r = run_layerwatch("config " + path);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["analysis"]["threads"], 2);
  EXPECT_EQ(out["analysis"]["metric"], "svcca");
  EXPECT_EQ(out["probe"]["batch_size"], 256);
}

TEST(ConfigCommand, ABadFileExitsThreeNamingTheKey) {
  const auto bad =
      run_layerwatch("config " + write_config("bad.json", R"({"probe": {"seed": -1}})"));
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find("'probe.seed'"), std::string::npos) << bad.err;
  // A combination that cannot work is refused too, naming both options.
  const auto both =
      run_layerwatch("config " + write_config("both.json", R"({"analysis": {"reference": "first"},
                                                "freeze": {"policy": "adaptive"}})"));
  EXPECT_EQ(both.code, 3);
  EXPECT_NE(both.err.find("analysis.reference"), std::string::npos) << both.err;
  EXPECT_EQ(run_layerwatch("config " + write_config("broken.json", "{")).code, 3);
}

TEST(ConfigCommand, ListsEveryKey) {
  const auto r = run_layerwatch("config --keys");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string expected;
  for (const auto& key : layerwatch::monitor_option_keys()) expected += key + "\n";
  EXPECT_EQ(r.out, expected);
}

}  // namespace
