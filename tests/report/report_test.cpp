// Reading a run directory back and rendering its HTML report; the TensorBoard sink's files.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "layerwatch/report/html_report.h"
#include "layerwatch/report/run_log.h"
#include "layerwatch/sinks/sink.h"
#include "sinks/jsonl_sink.h"
#include "sinks/tensorboard_sink.h"

namespace layerwatch {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / "report_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

ConvergenceRecord record(const std::string& layer, int64_t step, int64_t epoch, double value,
                         Reference reference = Reference::kPrevious) {
  ConvergenceRecord r;
  r.layer = layer;
  r.step = step;
  r.epoch = epoch;
  r.reference = reference;
  r.value = value;
  return r;
}

void write_jsonl(const fs::path& dir, const std::vector<ConvergenceRecord>& records,
                 const std::vector<MonitorEvent>& events = {}) {
  JsonlSink sink((dir / "convergence.jsonl").string());
  sink.open();
  for (const auto& r : records) sink.write(r);
  for (const auto& e : events) sink.write_event(e);
  sink.close();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool any_contains(const std::vector<std::string>& texts, const std::string& part) {
  for (const auto& t : texts) {
    if (t.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(ReadRunLog, AMissingDirectoryIsAnErrorNamingIt) {
  const auto dir = fs::path(::testing::TempDir()) / "report_test" / "does_not_exist";
  fs::remove_all(dir);
  try {
    read_run_log(dir.string());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST(ReadRunLog, KeepsEveryValidLineAndNamesATruncatedLastOne) {
  const auto dir = fresh_dir("truncated");
  write_jsonl(dir, {record("a", 100, 1, 0.9), record("b", 100, 1, 0.8), record("a", 200, 2, 0.95)});
  std::ofstream(dir / "convergence.jsonl", std::ios::app) << R"({"schema_version":1,"step":3)";
  const RunLog log = read_run_log(dir.string());
  ASSERT_EQ(log.records.size(), 3u);
  EXPECT_EQ(log.records[2].layer, "a");
  EXPECT_DOUBLE_EQ(log.records[2].value, 0.95);
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_NE(log.warnings[0].find("line 4 is truncated"), std::string::npos) << log.warnings[0];
}

TEST(ReadRunLog, SkipsMalformedLinesInTheMiddleAndSaysWhy) {
  const auto dir = fresh_dir("malformed");
  std::ofstream(dir / "convergence.jsonl")
      << R"({"schema_version":1,"step":1,"epoch":1,"layer":"a","reference":"previous",)"
      << R"("metric":"svcca","value":0.5,"status":"ok"})"
      << "\nnot json\n"
      << R"({"schema_version":1,"step":2,"epoch":1,"layer":"a","reference":"sideways",)"
      << R"("metric":"svcca","value":0.5,"status":"ok"})"
      << "\n";
  const RunLog log = read_run_log(dir.string());
  EXPECT_EQ(log.records.size(), 1u);
  ASSERT_EQ(log.warnings.size(), 2u);
  EXPECT_NE(log.warnings[0].find("line 2: not valid JSON"), std::string::npos) << log.warnings[0];
  EXPECT_NE(log.warnings[1].find("unknown reference 'sideways'"), std::string::npos)
      << log.warnings[1];
}

TEST(WriteReport, AnEmptyRunStillGetsAPageThatSaysSo) {
  const auto dir = fresh_dir("empty");
  const auto result = write_report(dir.string());
  EXPECT_EQ(result.records, 0u);
  EXPECT_TRUE(any_contains(result.warnings, "no convergence.jsonl"));
  EXPECT_TRUE(any_contains(result.warnings, "holds no convergence records"));
  const std::string html = read_file(dir / "report.html");
  EXPECT_NE(html.find("no convergence records yet"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
}

TEST(WriteReport, AnUnwritableOutputIsAnErrorNamingIt) {
  const auto dir = fresh_dir("unwritable");
  write_jsonl(dir, {record("a", 100, 1, 0.9)});
  std::ofstream(dir / "plain_file") << "x";
  const auto target = (dir / "plain_file" / "report.html").string();
  try {
    write_report(dir.string(), target);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
  }
}

TEST(RenderReport, PlacesProbesWithinAnEpochAtFractionalEpochsAndEscapesNames) {
  RunLog log;
  log.run_dir = "runs/x";
  // Epoch 1 starts at step 100, epoch 2 at step 200: a probe at step 150 sits at epoch 1.5.
  log.records = {record("conv<1>&", 100, 1, 0.8), record("conv<1>&", 150, 1, 0.9),
                 record("conv<1>&", 200, 2, 0.95)};
  const std::string html = render_report_html(log);
  EXPECT_NE(html.find("conv&lt;1&gt;&amp;: 0.9000 at 1.5"), std::string::npos);
  EXPECT_EQ(html.find("conv<1>"), std::string::npos) << "unescaped layer name";
  EXPECT_NE(html.find("data-chart=\"convergence\" data-series=\"1\""), std::string::npos);
  EXPECT_NE(html.find("data-chart=\"freeze-timeline\""), std::string::npos);
  EXPECT_NE(html.find("No layer was frozen"), std::string::npos);
  EXPECT_NE(html.find("No records against the final snapshot"), std::string::npos);
  EXPECT_EQ(html.find("data-chart=\"layer-matrix\""), std::string::npos);
  EXPECT_NE(html.find("<title>layerwatch report: x</title>"), std::string::npos);
}

TEST(RenderReport, ARunThatNeverEndedAnEpochIsDrawnAgainstTheStep) {
  RunLog log;
  log.run_dir = "run";
  log.records = {record("a", 50, 0, 0.8), record("a", 100, 0, 0.9), record("a", 150, 0, 0.95)};
  const std::string html = render_report_html(log);
  EXPECT_NE(html.find("a: 0.9000 at 100<"), std::string::npos);
  EXPECT_NE(html.find("text-anchor=\"middle\">step</text>"), std::string::npos);
  EXPECT_EQ(html.find("text-anchor=\"middle\">epoch</text>"), std::string::npos);
}

TEST(RenderReport, ShowsTheFreezeAndTheSummary) {
  RunLog log;
  log.run_dir = "run";
  log.records = {record("a", 100, 1, 0.8),
                 record("b", 100, 1, 0.7),
                 record("a", 200, 2, 0.97),
                 record("b", 200, 2, 0.9),
                 record("a", 0, 0, 0.6, Reference::kFinal),
                 record("b", 0, 0, 0.5, Reference::kFinal)};
  MonitorEvent freeze;
  freeze.kind = MonitorEvent::Kind::kFreeze;
  freeze.layer = "a";
  freeze.step = 200;
  freeze.epoch = 2;
  freeze.value = 0.97;
  log.events = {freeze};
  log.summary = {{"policy", "adaptive"}, {"test_acc", 91.5}};
  const std::string html = render_report_html(log, ReportOptions().title("My run"));
  EXPECT_NE(html.find("<title>My run</title>"), std::string::npos);
  EXPECT_NE(html.find("frozen at epoch 2 (0.970)"), std::string::npos);
  EXPECT_NE(html.find("class=\"frozen\""), std::string::npos);
  EXPECT_NE(html.find("<th>policy</th><td>adaptive</td>"), std::string::npos);
  EXPECT_NE(html.find("data-chart=\"learning-dynamics\" data-rows=\"2\" data-columns=\"1\""),
            std::string::npos);
}

TEST(TensorBoardSink, OpensOneNewEventFileEachTimeInTheLogDirectory) {
  const auto dir = fresh_dir("tb");
  auto first = make_sink("tb", dir.string());
  auto second = make_sink("tb", dir.string());
  first->open();
  second->open();
  const auto& a = dynamic_cast<TensorBoardSink&>(*first).path();
  const auto& b = dynamic_cast<TensorBoardSink&>(*second).path();
  EXPECT_NE(a, b);
  EXPECT_EQ(fs::path(a).parent_path(), dir);
  EXPECT_EQ(fs::path(a).filename().string().rfind("events.out.tfevents.", 0), 0u) << a;
  first->close();
  second->close();
  // The file-version event alone: 8 + 4 + payload + 4 bytes, nothing buffered after close.
  EXPECT_GT(fs::file_size(a), 16u);
}

TEST(TensorBoardSink, AnUnwritableDirectoryIsAnErrorNamingIt) {
  const auto dir = fresh_dir("tb_unwritable");
  std::ofstream(dir / "plain_file") << "x";
  TensorBoardSink sink((dir / "plain_file" / "tb").string());
  try {
    sink.open();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("plain_file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("log_dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace layerwatch
