// MonitorOptions and its JSON config: the shipped default config, the round trip, and errors
// that name the key.

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

// validate()'s message, or "" when the options are valid.
std::string validation_error(const MonitorOptions& options) {
  try {
    options.validate();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

json shipped_default_config() {
  std::ifstream in(std::string(LAYERWATCH_SOURCE_DIR) + "/configs/default.json");
  return json::parse(in);
}

TEST(MonitorOptions, ShippedDefaultConfigEqualsTheBuiltInDefaultsInEveryKey) {
  const auto loaded =
      load_monitor_options(std::string(LAYERWATCH_SOURCE_DIR) + "/configs/default.json");
  EXPECT_TRUE(options_equal(loaded, MonitorOptions()));
  // Read onto options that differ everywhere, the file must still give the defaults: so it
  // holds every key, and each with the default value.
  auto changed =
      MonitorOptions().log_dir("elsewhere").sinks({"csv"}).report(false).huge_pages(true);
  changed.probe().every_n_steps(3).per_epoch(2).steps_per_epoch(9).each_epoch(false);
  changed.probe().at_start(false).batch_size(7).sample_cap(99).seed(5);
  changed.probe().conv_layout(similarity::ConvLayout::kPool);
  changed.analysis().metric(similarity::Metric::kCka).precision(similarity::Precision::kFloat32);
  changed.analysis().reference(Reference::kFirst).reference_lag(2).final_pass(false);
  changed.analysis().layer_matrix(true).threads(3).queue_capacity(5);
  changed.analysis().queue_policy(QueuePolicy::kDropNewest).bootstrap(100).confidence(0.9);
  changed.analysis().probing().linear_probe(true).control_clusters(7).class_logits("fc").every(3);
  changed.analysis().probing().probe().l2(1).held_out(0.5).seed(2).max_iterations(9).tolerance(
      1e-3);
  changed.analysis().metric_options().svcca().keep(0.5).dims(3).rank_tolerance(1e-3);
  changed.analysis().metric_options().svcca().reduction(similarity::SvccaReduction::kFixedDims);
  changed.analysis().metric_options().rbf().threshold(2).debiased(true).max_samples(100);
  changed.analysis().store().history(5).memory_budget(Bytes{1 << 20}).float16(true);
  changed.freeze().policy(FreezePolicyKind::kLinear).threshold(0.5).patience(3);
  changed.freeze().min_epochs(4).max_frozen_fraction(0.1).planned_epochs(9);
  changed.freeze().linear_start(0.5).linear_pace(0.8).wait_for_decisions(false);
  changed.freeze().drift_fraction(0.25).drift_examples(64).forecast_similarity(0.5);
  changed.freeze().cooldown_epochs(0.25);
  // Every key was changed above (the round trip below would otherwise not see it).
  const json changed_json = to_json(changed), default_json = to_json(MonitorOptions());
  for (const auto& key : monitor_option_keys()) {
    const auto pointer = json::json_pointer("/" + [&] {
      std::string p = key;
      for (auto& c : p) c = c == '.' ? '/' : c;
      return p;
    }());
    EXPECT_NE(changed_json.at(pointer), default_json.at(pointer)) << key;
  }
  EXPECT_TRUE(options_equal(monitor_options_from_json(shipped_default_config(), changed),
                            MonitorOptions()));
  // And it is exactly the dump of the defaults: no stale keys, nothing missing.
  EXPECT_EQ(shipped_default_config(), default_json);
}

TEST(MonitorOptions, ToJsonAndBackGivesTheSameOptions) {
  auto o = MonitorOptions().log_dir("runs/x").sinks({"jsonl", "tb:board"});
  o.probe().every_n_steps(50).conv_layout(similarity::ConvLayout::kFlatten).seed(12);
  o.analysis().metric(similarity::Metric::kCkaDebiased).threads(2);
  o.analysis().store().memory_budget(Bytes{std::size_t{64} << 20}).float16(true);
  o.freeze().policy(FreezePolicyKind::kAdaptive).threshold(0.9);
  const auto back = monitor_options_from_json(to_json(o));
  EXPECT_TRUE(options_equal(back, o));
  EXPECT_EQ(to_json(back), to_json(o));
  EXPECT_EQ(to_json(o)["analysis"]["store"]["memory_budget"], "64 MiB");
}

TEST(MonitorOptions, AppliesNestedKeysOnTopOfTheBase) {
  const auto o = monitor_options_from_json(json::parse(R"({
    "probe": {"every_n_steps": 50},
    "analysis": {"metric": "cka-debiased", "reference": "first", "threads": 2,
                 "queue_policy": "drop_newest", "precision": "float32",
                 "store": {"memory_budget": "64 MiB", "float16": true}},
    "sinks": ["jsonl:x.jsonl"]})"),
                                           MonitorOptions().log_dir("kept"));
  EXPECT_EQ(o.probe().every_n_steps(), 50);
  EXPECT_EQ(o.probe().batch_size(), 256);  // untouched keys keep the base's values
  EXPECT_EQ(o.analysis().metric(), similarity::Metric::kCkaDebiased);
  EXPECT_EQ(o.analysis().reference(), Reference::kFirst);
  EXPECT_EQ(o.analysis().threads(), 2);
  EXPECT_EQ(o.analysis().queue_policy(), QueuePolicy::kDropNewest);
  EXPECT_EQ(o.analysis().precision(), similarity::Precision::kFloat32);
  EXPECT_EQ(o.analysis().store().memory_budget().value, std::size_t{64} << 20);
  EXPECT_TRUE(o.analysis().store().float16());
  EXPECT_EQ(o.sinks(), std::vector<std::string>{"jsonl:x.jsonl"});
  EXPECT_EQ(o.log_dir(), "kept");
  EXPECT_NO_THROW(o.validate());
}

// Found by fuzzing (tests/fuzz/regressions/fuzz_config): a number too large for a double is
// not a JSON parse_error but an out_of_range, which escaped as an uncaught exception.
TEST(MonitorOptions, ANumberTooLargeForADoubleIsAConfigErrorNamingTheSource) {
  const std::string huge = "7" + std::string(400, '0');
  try {
    parse_monitor_options("{\"freeze\": {\"threshold\": " + huge + "}}", "'big.json'");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'big.json'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos) << e.what();
  }
}

TEST(MonitorOptions, UnknownKeyNamesItAndTheAllowedKeys) {
  const auto message = error_of(json::parse(R"({"analysis": {"treads": 2}})"));
  EXPECT_NE(message.find("'analysis.treads'"), std::string::npos) << message;
  EXPECT_NE(message.find("threads"), std::string::npos) << message;
  const auto top = error_of(json::parse(R"({"metric": "cka"})"));
  EXPECT_NE(top.find("'metric'"), std::string::npos) << top;
  EXPECT_NE(top.find("analysis"), std::string::npos) << top;
}

TEST(MonitorOptions, OutOfRangeAndWrongTypesNameTheKeyAndTheRange) {
  auto m = error_of(json::parse(R"({"analysis": {"threads": 0}})"));
  EXPECT_NE(m.find("'analysis.threads'"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 64]"), std::string::npos) << m;
  m = error_of(json::parse(R"({"analysis": {"metric_options": {"svcca": {"keep": 1.5}}}})"));
  EXPECT_NE(m.find("'analysis.metric_options.svcca.keep'"), std::string::npos) << m;
  EXPECT_NE(m.find("(0, 1]"), std::string::npos) << m;
  m = error_of(json::parse(R"({"analysis": {"metric": "svd"}})"));
  EXPECT_NE(m.find("svcca"), std::string::npos) << m;
  m = error_of(json::parse(R"({"probe": {"batch_size": "big"}})"));
  EXPECT_NE(m.find("'probe.batch_size'"), std::string::npos) << m;
  m = error_of(json::parse(R"({"analysis": {"reference": "final"}})"));
  EXPECT_NE(m.find("previous, first"), std::string::npos) << m;
  m = error_of(json::parse(R"({"sinks": ["tensorboard"]})"));
  EXPECT_NE(m.find("allowed"), std::string::npos) << m;
  m = error_of(json::parse(R"({"freeze": {"patience": 5000}})"));
  EXPECT_NE(m.find("'freeze.patience'"), std::string::npos) << m;
  m = error_of(json::parse("[1, 2]"));
  EXPECT_NE(m.find("object"), std::string::npos) << m;
}

TEST(MonitorOptions, SettersAndJsonShareOneRange) {
  // freeze.patience was capped in JSON and not in the setter: both now read one declaration.
  EXPECT_THROW(MonitorOptions().freeze(FreezeOptions().patience(5000)).validate(),
               std::invalid_argument);
  EXPECT_NE(error_of(json::parse(R"({"freeze": {"patience": 5000}})")), "");
  EXPECT_NO_THROW(MonitorOptions().freeze(FreezeOptions().patience(1000)).validate());
  EXPECT_EQ(error_of(json::parse(R"({"freeze": {"patience": 1000}})")), "");
}

TEST(MonitorOptions, BrokenOrMissingFilesNameTheFile) {
  const std::string path = ::testing::TempDir() + "/broken_config.json";
  std::ofstream(path) << "{\"log_dir\": \"x\",";
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
  auto options = MonitorOptions();
  options.probe().sample_cap(3);
  EXPECT_EQ(validation_error(options),
            "MonitorOptions: probe.sample_cap must be in [16, 67108864], got 3");
  EXPECT_THROW(MonitorOptions().sinks({"parquet"}).validate(), std::invalid_argument);
  EXPECT_THROW(MonitorOptions().log_dir("").validate(), std::invalid_argument);
}

TEST(MonitorOptions, AdaptiveFreezingWithTheFirstReferenceIsRefusedNamingBoth) {
  // The adaptive policy reads each layer's similarity to its previous snapshot; with the first
  // snapshot as reference it would never see one and never freeze.
  auto options = MonitorOptions().freeze(FreezeOptions().policy(FreezePolicyKind::kAdaptive));
  options.analysis().reference(Reference::kFirst);
  const auto m = validation_error(options);
  EXPECT_NE(m.find("analysis.reference"), std::string::npos) << m;
  EXPECT_NE(m.find("adaptive"), std::string::npos) << m;
  const auto from_json = monitor_options_from_json(
      json::parse(R"({"analysis": {"reference": "first"}, "freeze": {"policy": "adaptive"}})"));
  EXPECT_EQ(validation_error(from_json), m);
  // Either alone is fine.
  auto first_only = MonitorOptions();
  first_only.analysis().reference(Reference::kFirst);
  EXPECT_EQ(validation_error(first_only), "");
  EXPECT_EQ(validation_error(
                MonitorOptions().freeze(FreezeOptions().policy(FreezePolicyKind::kAdaptive))),
            "");
}

TEST(MonitorOptions, AReferenceLagBeyondTheHistoryIsRefusedNamingBoth) {
  auto options = MonitorOptions();
  options.analysis().store().history(4);
  options.analysis().reference_lag(4);
  EXPECT_NO_THROW(options.validate());
  options.analysis().reference_lag(5);
  const auto m = validation_error(options);
  EXPECT_NE(m.find("reference_lag"), std::string::npos) << m;
  EXPECT_NE(m.find("history"), std::string::npos) << m;
}

}  // namespace
}  // namespace layerwatch
