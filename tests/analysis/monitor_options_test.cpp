// MonitorOptions and its JSON config: the shipped default config, and errors that name the key.

#include "layerwatch/monitor_options.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace layerwatch {
namespace {

using nlohmann::json;

std::string error_of(const json& config) {
  try {
    monitor_options_from_json(config);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(MonitorOptions, ShippedDefaultConfigEqualsTheBuiltInDefaults) {
  const auto loaded =
      load_monitor_options(std::string(LAYERWATCH_SOURCE_DIR) + "/configs/default.json");
  const MonitorOptions defaults;
  EXPECT_EQ(loaded.metric(), defaults.metric());
  EXPECT_EQ(loaded.reference(), defaults.reference());
  EXPECT_EQ(loaded.reference_lag(), defaults.reference_lag());
  EXPECT_EQ(loaded.probe_every_n_steps(), defaults.probe_every_n_steps());
  EXPECT_EQ(loaded.probes_per_epoch(), defaults.probes_per_epoch());
  EXPECT_EQ(loaded.steps_per_epoch(), defaults.steps_per_epoch());
  EXPECT_EQ(loaded.probe_batch_size(), defaults.probe_batch_size());
  EXPECT_EQ(loaded.sample_cap(), defaults.sample_cap());
  EXPECT_EQ(loaded.history(), defaults.history());
  EXPECT_EQ(loaded.memory_budget(), defaults.memory_budget());
  EXPECT_EQ(loaded.threads(), defaults.threads());
  EXPECT_EQ(loaded.queue_policy(), defaults.queue_policy());
  EXPECT_EQ(loaded.svcca_keep(), defaults.svcca_keep());
  EXPECT_EQ(loaded.log_dir(), defaults.log_dir());
  EXPECT_EQ(loaded.sinks(), defaults.sinks());
  // Every key is in the shipped file, so it documents all of them.
  std::ifstream in(std::string(LAYERWATCH_SOURCE_DIR) + "/configs/default.json");
  const auto file = json::parse(in);
  for (const auto& key : monitor_option_keys()) EXPECT_TRUE(file.contains(key)) << key;
  EXPECT_EQ(loaded.freeze().policy(), defaults.freeze().policy());
  EXPECT_EQ(loaded.freeze().threshold(), defaults.freeze().threshold());
  EXPECT_EQ(loaded.freeze().patience(), defaults.freeze().patience());
  EXPECT_EQ(loaded.freeze().min_epochs(), defaults.freeze().min_epochs());
  EXPECT_EQ(loaded.freeze().max_frozen_fraction(), defaults.freeze().max_frozen_fraction());
}

TEST(MonitorOptions, AppliesKeys) {
  const auto o = monitor_options_from_json(json::parse(R"({
    "metric": "cka-debiased", "reference": "first", "probe_every_n_steps": 50,
    "memory_budget_mib": 64, "threads": 2, "queue_policy": "drop_newest",
    "precision": "float32", "sinks": ["jsonl:x.jsonl"], "store_float16": true})"));
  EXPECT_EQ(o.metric(), similarity::Metric::kCkaDebiased);
  EXPECT_EQ(o.reference(), Reference::kFirst);
  EXPECT_EQ(o.probe_every_n_steps(), 50);
  EXPECT_EQ(o.memory_budget(), std::size_t{64} << 20);
  EXPECT_EQ(o.threads(), 2);
  EXPECT_EQ(o.queue_policy(), QueuePolicy::kDropNewest);
  EXPECT_EQ(o.precision(), similarity::Precision::kFloat32);
  EXPECT_EQ(o.sinks(), std::vector<std::string>{"jsonl:x.jsonl"});
  EXPECT_TRUE(o.store_float16());
  EXPECT_NO_THROW(o.validate());
  const auto a = o.analyzer_options();
  EXPECT_EQ(a.store().memory_budget(), std::size_t{64} << 20);
  EXPECT_EQ(a.threads(), 2);
}

TEST(MonitorOptions, UnknownKeyNamesItAndTheAllowedKeys) {
  const auto message = error_of(json::parse(R"({"treads": 2})"));
  EXPECT_NE(message.find("'treads'"), std::string::npos) << message;
  EXPECT_NE(message.find("threads"), std::string::npos) << message;
}

TEST(MonitorOptions, OutOfRangeAndWrongTypesNameTheKeyAndTheRange) {
  auto m = error_of(json::parse(R"({"threads": 0})"));
  EXPECT_NE(m.find("'threads'"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 64]"), std::string::npos) << m;
  m = error_of(json::parse(R"({"svcca_keep": 1.5})"));
  EXPECT_NE(m.find("'svcca_keep'"), std::string::npos) << m;
  m = error_of(json::parse(R"({"metric": "svd"})"));
  EXPECT_NE(m.find("svcca"), std::string::npos) << m;
  m = error_of(json::parse(R"({"probe_batch_size": "big"})"));
  EXPECT_NE(m.find("'probe_batch_size'"), std::string::npos) << m;
  m = error_of(json::parse(R"({"reference": "final"})"));
  EXPECT_NE(m.find("final_pass"), std::string::npos) << m;
  m = error_of(json::parse(R"({"sinks": ["tensorboard"]})"));
  EXPECT_NE(m.find("allowed"), std::string::npos) << m;
  m = error_of(json::parse("[1, 2]"));
  EXPECT_NE(m.find("object"), std::string::npos) << m;
}

TEST(MonitorOptions, BrokenOrMissingFilesNameTheFile) {
  const std::string path = ::testing::TempDir() + "/broken_config.json";
  std::ofstream(path) << "{\"threads\": 2,";
  try {
    load_monitor_options(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
  }
  EXPECT_THROW(load_monitor_options(path + ".missing"), ConfigError);
}

TEST(MonitorOptions, ValidateNamesTheField) {
  try {
    MonitorOptions().sample_cap(3).validate();
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("sample_cap"), std::string::npos);
  }
  EXPECT_THROW(MonitorOptions().memory_budget(10).validate(), std::invalid_argument);
  EXPECT_THROW(MonitorOptions().sinks({"parquet"}).validate(), std::invalid_argument);
}

TEST(MonitorOptions, AdaptiveFreezingWithTheFirstReferenceIsRefusedNamingBoth) {
  // The adaptive policy reads each layer's similarity to its previous snapshot; with the first
  // snapshot as reference it would never see one and never freeze.
  const auto options = MonitorOptions()
                           .reference(Reference::kFirst)
                           .freeze(FreezeOptions().policy(FreezePolicyKind::kAdaptive));
  try {
    options.validate();
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("reference"), std::string::npos) << m;
    EXPECT_NE(m.find("adaptive"), std::string::npos) << m;
  }
  const auto from_json = monitor_options_from_json(
      json::parse(R"({"reference": "first", "freeze": {"policy": "adaptive"}})"));
  EXPECT_THROW(from_json.validate(), std::invalid_argument);
  // Either alone is fine.
  EXPECT_NO_THROW(MonitorOptions().reference(Reference::kFirst).validate());
  EXPECT_NO_THROW(
      MonitorOptions().freeze(FreezeOptions().policy(FreezePolicyKind::kAdaptive)).validate());
}

TEST(MonitorOptions, AReferenceLagBeyondTheHistoryIsRefusedNamingBoth) {
  EXPECT_NO_THROW(MonitorOptions().history(4).reference_lag(4).validate());
  try {
    MonitorOptions().history(4).reference_lag(5).validate();
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("reference_lag"), std::string::npos) << m;
    EXPECT_NE(m.find("history"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace layerwatch
