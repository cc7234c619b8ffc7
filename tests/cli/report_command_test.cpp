// `layerwatch report RUN_DIR`: exit codes and messages for good and bad run directories.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using layerwatch::testing::run_layerwatch;

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / "report_command_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string record_line(const std::string& layer, int step, int epoch, double value) {
  return "{\"schema_version\":1,\"step\":" + std::to_string(step) +
         ",\"epoch\":" + std::to_string(epoch) + ",\"layer\":\"" + layer +
         "\",\"reference\":\"previous\",\"metric\":\"svcca\",\"value\":" + std::to_string(value) +
         ",\"status\":\"ok\"}";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ReportCommand, AMissingDirectoryExitsWithCode3AndNamesIt) {
  const auto dir = fs::path(::testing::TempDir()) / "report_command_test" / "nowhere";
  fs::remove_all(dir);
  const auto r = run_layerwatch("report " + dir.string());
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(dir.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
}

TEST(ReportCommand, AnEmptyRunWritesAPageAndWarns) {
  const auto dir = fresh_dir("empty");
  const auto r = run_layerwatch("report " + dir.string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("holds no convergence records"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir / "report.html"));
}

TEST(ReportCommand, ATruncatedLastLineIsReportedAndTheRestRendered) {
  const auto dir = fresh_dir("truncated");
  std::ofstream(dir / "convergence.jsonl") << record_line("features.0", 100, 1, 0.91) << "\n"
                                           << record_line("features.1", 100, 1, 0.82) << "\n"
                                           << record_line("features.0", 200, 2, 0.97).substr(0, 40);
  const auto out = dir / "custom" / "page.html";
  const auto r = run_layerwatch("report " + dir.string() + " -o " + out.string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("line 3 is truncated"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("wrote " + out.string() + " (2 records"), std::string::npos) << r.out;
  const std::string html = read_file(out);
  EXPECT_NE(html.find("data-chart=\"convergence\" data-series=\"2\""), std::string::npos);
  EXPECT_NE(html.find("line 3 is truncated"), std::string::npos) << "the page names it too";
}

TEST(ReportCommand, AnUnwritableOutputExitsWithCode1) {
  const auto dir = fresh_dir("unwritable");
  std::ofstream(dir / "convergence.jsonl") << record_line("a", 1, 1, 0.5) << "\n";
  std::ofstream(dir / "file") << "x";
  const auto r =
      run_layerwatch("report " + dir.string() + " -o " + (dir / "file" / "r.html").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write the report"), std::string::npos) << r.err;
}

TEST(ReportCommand, WithoutARunDirectoryItIsAUsageError) {
  const auto r = run_layerwatch("report");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("RUN_DIR"), std::string::npos) << r.err;
}

}  // namespace
