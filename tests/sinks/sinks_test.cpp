// Console and JSONL sinks: what they write, and how they fail.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sinks/console_sink.h"
#include "sinks/jsonl_sink.h"
#include "sinks/record_json.h"

namespace layerwatch {
namespace {

ConvergenceRecord record(const std::string& layer, int64_t epoch, double value) {
  ConvergenceRecord r;
  r.layer = layer;
  r.epoch = epoch;
  r.step = epoch * 100;
  r.probe_index = epoch;
  r.reference_step = (epoch - 1) * 100;
  r.reference_epoch = epoch - 1;
  r.value = value;
  r.kept_dims = {10, 11};
  r.compute_ms = 1.25;
  return r;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(JsonlSink, WritesOneCompleteRecordPerLineWithTheSchemaKeys) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "jsonl_sink_test" / "nested";
  std::filesystem::remove_all(dir);
  auto sink = make_sink("jsonl", dir.string());
  sink->open();
  sink->write(record("conv1", 1, 0.93));
  auto bad = record("fc", 1, std::nan(""));
  bad.status = Status::kNonFinite;
  bad.message = "2 NaN values";
  sink->write(bad);
  MonitorEvent event;
  event.kind = MonitorEvent::Kind::kJobsSkipped;
  event.count = 3;
  event.message = "fell behind";
  sink->write_event(event);
  sink->end_epoch(1);  // flushed here: readable before close
  const auto lines = lines_of((dir / "convergence.jsonl").string());
  ASSERT_EQ(lines.size(), 2u);
  const auto first = nlohmann::json::parse(lines[0]);
  for (const auto* key : {"schema_version", "step", "epoch", "layer", "reference", "metric",
                          "value", "status", "kept_dims", "compute_ms"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  EXPECT_EQ(first["schema_version"], 1);
  EXPECT_EQ(first["reference"], "previous");
  EXPECT_EQ(first["metric"], "svcca");
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_TRUE(second["value"].is_null());
  EXPECT_EQ(second["status"], "non_finite");
  const auto back = record_from_json(first);
  EXPECT_EQ(back.layer, "conv1");
  EXPECT_DOUBLE_EQ(back.value, 0.93);
  EXPECT_EQ(back.kept_dims, (std::vector<int64_t>{10, 11}));
  const auto events = lines_of((dir / "events.jsonl").string());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(events[0])["event"], "jobs_skipped");
  sink->close();
}

TEST(JsonlSink, UnwritableDirectoryGivesAClearMessage) {
  // A path below a regular file cannot be created, whoever runs the test.
  const auto file = std::filesystem::path(::testing::TempDir()) / "jsonl_blocker";
  std::ofstream(file) << "x";
  JsonlSink sink((file / "logs" / "convergence.jsonl").string());
  try {
    sink.open();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("jsonl_blocker"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("log_dir"), std::string::npos) << e.what();
  }
}

TEST(RecordJson, MalformedRecordsNameTheKey) {
  auto o = to_json(record("a", 1, 0.5));
  o.erase("layer");
  try {
    record_from_json(o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("layer"), std::string::npos);
  }
}

// Found by fuzzing (tests/fuzz/regressions/fuzz_run_log): a float where an integer belongs was
// converted without a range check, which is undefined behaviour for 6.7e27.
TEST(RecordJson, AFloatWhereAnIntegerBelongsIsRefusedNamingTheKey) {
  auto j = to_json(record("conv1", 1, 0.5));
  j["step"] = 6.66667e27;
  try {
    record_from_json(j);
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'step'"), std::string::npos) << e.what();
  }
  j["step"] = 3;
  j["kept_dims"] = {1.5e300, 2};
  EXPECT_THROW(record_from_json(j), std::invalid_argument);
}

TEST(RecordJson, ABootstrapIntervalRoundTripsAndIsLeftOutWhenThereIsNone) {
  auto r = record("conv1", 1, 0.9);
  EXPECT_FALSE(to_json(r).contains("interval"));
  r.low = 0.88;
  r.high = 0.92;
  const auto j = to_json(r);
  EXPECT_EQ(j["interval"], nlohmann::json({0.88, 0.92}));
  const auto back = record_from_json(j);
  EXPECT_DOUBLE_EQ(back.low, 0.88);
  EXPECT_DOUBLE_EQ(back.high, 0.92);
  auto broken = j;
  broken["interval"] = {0.88};
  EXPECT_THROW(record_from_json(broken), std::invalid_argument);
}

TEST(ConsoleSink, PrintsOneLinePerLayerWithTheTrend) {
  std::FILE* out = std::tmpfile();
  ConsoleSink sink(out);
  sink.write(record("conv1", 1, 0.90));
  sink.write(record("fc", 1, 0.80));
  sink.end_epoch(1);
  sink.write(record("conv1", 2, 0.95));
  sink.write(record("fc", 2, 0.79));
  sink.end_epoch(2);
  auto final = record("conv1", 1, 0.7);
  final.reference = Reference::kFinal;
  sink.write(final);
  sink.close();
  std::rewind(out);
  std::string text;
  char buffer[4096];
  while (const size_t n = std::fread(buffer, 1, sizeof buffer, out)) text.append(buffer, n);
  std::fclose(out);
  EXPECT_NE(text.find("epoch 2"), std::string::npos) << text;
  EXPECT_NE(text.find("▲ +0.0500"), std::string::npos) << text;
  EXPECT_NE(text.find("▼ -0.0100"), std::string::npos) << text;
  EXPECT_NE(text.find("dims 10/11"), std::string::npos) << text;
  EXPECT_NE(text.find("learning dynamics"), std::string::npos) << text;
  EXPECT_NE(text.find("0.700"), std::string::npos) << text;
}

TEST(MakeSink, UnknownSpecsListTheAllowedForms) {
  try {
    make_sink("kafka:topic", "logs");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("jsonl:PATH"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("tb:DIR"), std::string::npos);
  }
}

}  // namespace
}  // namespace layerwatch

namespace layerwatch {
namespace {

TEST(CsvSink, WritesALongFormatTableWithAHeader) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "csv_sink_test";
  std::filesystem::remove_all(dir);
  auto sink = make_sink("csv", dir.string());
  sink->open();
  auto first = record("conv1", 1, 0.93);
  first.low = 0.91;
  first.high = 0.945;
  sink->write(first);
  auto bad = record("odd,name", 2, std::nan(""));
  bad.status = Status::kNonFinite;
  sink->write(bad);
  auto matrix = record("conv1", 2, 0.5);
  matrix.reference = Reference::kFinal;
  matrix.reference_layer = "fc";
  sink->write(matrix);
  sink->end_epoch(2);
  const auto lines = lines_of((dir / "convergence.csv").string());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "step,epoch,layer,reference,metric,value,status,low,high");
  EXPECT_EQ(lines[1], "100,1,conv1,previous,svcca,0.93,ok,0.91,0.945");
  EXPECT_EQ(lines[2], "200,2,\"odd,name\",previous,svcca,,non_finite,,");
  EXPECT_EQ(lines[3], "200,2,conv1,final:fc,svcca,0.5,ok,,");
  sink->close();
}

// A resume: what the sinks saved at the checkpoint lets new sinks cut the files back to that
// point (dropping what a run that died later wrote) and continue them.
TEST(FileSinks, ContinueFromTheirCheckpointAndDropWhatCameAfterIt) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "sinks_resume";
  std::filesystem::remove_all(dir);
  nlohmann::json jsonl_state, csv_state;
  {
    auto jsonl = make_sink("jsonl", dir.string());
    auto csv = make_sink("csv", dir.string());
    jsonl->open();
    csv->open();
    for (auto* sink : {jsonl.get(), csv.get()}) sink->write(record("conv1", 1, 0.5));
    jsonl_state = jsonl->save_state();
    csv_state = csv->save_state();
    // After the checkpoint, the run writes on and dies.
    for (auto* sink : {jsonl.get(), csv.get()}) sink->write(record("conv1", 2, 0.6));
    jsonl->close();
    csv->close();
  }
  ASSERT_EQ(lines_of((dir / "convergence.jsonl").string()).size(), 2u);
  auto jsonl = make_sink("jsonl", dir.string());
  auto csv = make_sink("csv", dir.string());
  jsonl->restore_state(jsonl_state);
  csv->restore_state(csv_state);
  jsonl->open();
  csv->open();
  for (auto* sink : {jsonl.get(), csv.get()}) sink->write(record("conv1", 2, 0.7));
  jsonl->close();
  csv->close();
  const auto records = lines_of((dir / "convergence.jsonl").string());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(records[0]).at("value"), 0.5);
  EXPECT_EQ(nlohmann::json::parse(records[1]).at("value"), 0.7);
  const auto rows = lines_of((dir / "convergence.csv").string());
  ASSERT_EQ(rows.size(), 3u);  // one header, then epochs 1 and 2
  EXPECT_EQ(rows[0].rfind("step,", 0), 0u);
  EXPECT_NE(rows[2].find("0.7"), std::string::npos) << rows[2];
}

// A disk that fills up: the sink says which file and why, once, and is disabled.
TEST(FileSinks, AFullDiskNamesTheFileAndTheError) {
  auto sink = make_sink("csv:/dev/full", "");
  sink->open();
  sink->write(record("conv1", 1, 0.5));
  try {
    sink->flush();
    FAIL() << "writing to a full device succeeded";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("/dev/full"), std::string::npos) << message;
    EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace layerwatch
