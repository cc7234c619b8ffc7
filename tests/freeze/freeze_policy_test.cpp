// Freeze policies: the adaptive rule (threshold, patience, minimum epochs, bottom-up, cap) and
// the linear schedule, fed with records as the analyzer would.

#include "freeze/freeze_policy.h"

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "layerwatch/monitor_options.h"

namespace layerwatch {
namespace {

ConvergenceRecord online(const std::string& layer, int64_t epoch, double value) {
  ConvergenceRecord r;
  r.layer = layer;
  r.epoch = epoch;
  r.step = epoch * 100;
  r.value = value;
  return r;
}

std::vector<std::string> layers_of(const std::vector<FreezeDecision>& decisions) {
  std::vector<std::string> out;
  for (const auto& d : decisions) out.push_back(d.layer);
  return out;
}

TEST(AdaptivePolicy, FreezesBottomUpAfterPatienceAndMinimumEpochs) {
  FreezePolicy policy(FreezeOptions()
                          .policy(FreezePolicyKind::kAdaptive)
                          .threshold(0.98)
                          .patience(2)
                          .min_epochs(2)
                          .max_frozen_fraction(1.0));
  policy.set_layers({"a", "b", "c"});
  // Epoch 1: a and b converged, but too early.
  policy.write(online("a", 1, 0.99));
  policy.write(online("b", 1, 0.99));
  policy.write(online("c", 1, 0.90));
  EXPECT_TRUE(policy.take_decisions().empty());
  // Epoch 2: a has two passes above the threshold and freezes; b follows at its own record.
  policy.write(online("a", 2, 0.995));
  EXPECT_EQ(layers_of(policy.take_decisions()), std::vector<std::string>{"a"});
  policy.write(online("b", 2, 0.985));
  const auto decisions = policy.take_decisions();
  ASSERT_EQ(layers_of(decisions), std::vector<std::string>{"b"});
  EXPECT_EQ(decisions[0].epoch, 2);
  EXPECT_DOUBLE_EQ(decisions[0].value, 0.985);
  EXPECT_NE(decisions[0].reason.find("0.98"), std::string::npos) << decisions[0].reason;
  // A dip below the threshold resets the streak.
  policy.write(online("c", 2, 0.99));
  policy.write(online("c", 3, 0.97));
  policy.write(online("c", 4, 0.99));
  EXPECT_TRUE(policy.take_decisions().empty());
  policy.write(online("c", 5, 0.99));
  EXPECT_EQ(layers_of(policy.take_decisions()), std::vector<std::string>{"c"});
  EXPECT_EQ(policy.decided().size(), 3u);
}

TEST(AdaptivePolicy, NeverFreezesALayerAboveAnUnfrozenOne) {
  FreezePolicy policy(
      FreezeOptions().policy(FreezePolicyKind::kAdaptive).threshold(0.9).min_epochs(0));
  policy.set_layers({"a", "b", "c"});
  policy.write(online("b", 1, 0.99));
  policy.write(online("c", 1, 0.99));
  policy.write(online("a", 1, 0.5));
  EXPECT_TRUE(policy.take_decisions().empty());
  policy.write(online("a", 2, 0.95));  // now a freezes, and b (already converged) follows
  EXPECT_EQ(layers_of(policy.take_decisions()), (std::vector<std::string>{"a", "b"}));
}

TEST(AdaptivePolicy, RespectsTheCapOnFrozenLayersAndIgnoresOtherRecords) {
  FreezePolicy policy(FreezeOptions()
                          .policy(FreezePolicyKind::kAdaptive)
                          .threshold(0.9)
                          .min_epochs(0)
                          .max_frozen_fraction(0.5));
  policy.set_layers({"a", "b", "c", "d", "e"});
  auto final = online("a", 1, 0.99);
  final.reference = Reference::kFinal;
  policy.write(final);  // learning-dynamics records are no signal
  auto failed = online("a", 1, 0.99);
  failed.status = Status::kNonFinite;
  policy.write(failed);  // nor are failed ones
  EXPECT_TRUE(policy.take_decisions().empty());
  for (const auto* layer : {"a", "b", "c", "d", "e"}) policy.write(online(layer, 1, 0.99));
  EXPECT_EQ(layers_of(policy.take_decisions()), (std::vector<std::string>{"a", "b"}));  // ⌊2.5⌋
}

TEST(LinearPolicy, FreezesLayerIOfLAtFractionIOverLOfThePlannedEpochs) {
  FreezePolicy policy(
      FreezeOptions().policy(FreezePolicyKind::kLinear).planned_epochs(8).linear_start(0.25));
  policy.set_layers({"a", "b", "c"});
  // start = 2 epochs; due after 2 + 6·i/3 = 4, 6, 8.
  std::vector<std::pair<int64_t, std::string>> frozen;
  for (int64_t epoch = 1; epoch <= 8; ++epoch) {
    policy.write(online("a", epoch, 0.1));  // values do not matter to the schedule
    policy.end_epoch(epoch);
    for (const auto& d : policy.take_decisions()) frozen.emplace_back(d.epoch, d.layer);
  }
  EXPECT_EQ(frozen, (std::vector<std::pair<int64_t, std::string>>{{4, "a"}, {6, "b"}, {8, "c"}}));
}

TEST(LinearPolicy, ThePaceMovesEveryLayersDueEpochAndCapsItAtTheEnd) {
  const auto frozen_at = [](double pace) {
    FreezePolicy policy(
        FreezeOptions().policy(FreezePolicyKind::kLinear).planned_epochs(8).linear_pace(pace));
    policy.set_layers({"a", "b", "c", "d"});
    std::vector<std::pair<int64_t, std::string>> frozen;
    for (int64_t epoch = 1; epoch <= 8; ++epoch) {
      policy.end_epoch(epoch);
      for (const auto& d : policy.take_decisions()) frozen.emplace_back(d.epoch, d.layer);
    }
    return frozen;
  };
  using Frozen = std::vector<std::pair<int64_t, std::string>>;
  // due = 8·min(1, α·i/4)
  EXPECT_EQ(frozen_at(1.0), (Frozen{{2, "a"}, {4, "b"}, {6, "c"}, {8, "d"}}));
  EXPECT_EQ(frozen_at(0.5), (Frozen{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}}));
  EXPECT_EQ(frozen_at(2.0), (Frozen{{4, "a"}, {8, "b"}, {8, "c"}, {8, "d"}}));
  EXPECT_THROW(validate_options(FreezeOptions().linear_pace(0)), std::invalid_argument);
}

TEST(DriftPolicy, FreezesTheFirstUnitWhenItsDriftFallsBelowAFractionOfTheMedian) {
  FreezePolicy policy(FreezeOptions()
                          .policy(FreezePolicyKind::kDrift)
                          .drift_fraction(0.5)
                          .patience(2)
                          .min_epochs(1)
                          .max_frozen_fraction(0.75));
  policy.set_layers({"a", "b", "c", "d"});
  using Drift = std::map<std::string, double>;
  // Median of the four training units 1.0: a (0.2) is below 0.5 but too early, and its streak
  // needs two passes anyway.
  policy.observe_drift(100, 0, Drift{{"a", 0.2}, {"b", 1.0}, {"c", 1.0}, {"d", 2.0}});
  EXPECT_TRUE(policy.take_decisions().empty());
  // b is below too, but only the first unfrozen unit may freeze.
  policy.observe_drift(200, 1, Drift{{"a", 0.3}, {"b", 0.1}, {"c", 1.0}, {"d", 2.0}});
  auto decisions = policy.take_decisions();
  ASSERT_EQ(layers_of(decisions), std::vector<std::string>{"a"});
  EXPECT_EQ(decisions[0].step, 200);
  EXPECT_DOUBLE_EQ(decisions[0].value, 0.3);
  EXPECT_NE(decisions[0].reason.find("median of the 4 units still training"), std::string::npos)
      << decisions[0].reason;
  // The median is over the units still training (b, c, d: 1.0); a's own drift no longer counts.
  policy.observe_drift(300, 2, Drift{{"a", 0.0}, {"b", 0.6}, {"c", 1.0}, {"d", 2.0}});
  policy.observe_drift(400, 2, Drift{{"a", 0.0}, {"b", 0.4}, {"c", 1.0}, {"d", 2.0}});
  EXPECT_TRUE(policy.take_decisions().empty());  // b's streak restarted at 400
  policy.observe_drift(500, 3, Drift{{"a", 0.0}, {"b", 0.45}, {"c", 1.0}, {"d", 2.0}});
  EXPECT_EQ(layers_of(policy.take_decisions()), std::vector<std::string>{"b"});
  // c: two passes below half the median of c and d.
  policy.observe_drift(600, 3, Drift{{"c", 0.1}, {"d", 2.0}});
  policy.observe_drift(700, 4, Drift{{"c", 0.1}, {"d", 2.0}});
  EXPECT_EQ(layers_of(policy.take_decisions()), std::vector<std::string>{"c"});
  policy.observe_drift(800, 4, Drift{{"d", 0.0}, {"e", 5.0}});
  policy.observe_drift(900, 5, Drift{{"d", 0.0}, {"e", 5.0}});
  // d alone is no median (and a fourth unit would pass the cap of 0.75 × 4); e is not a unit.
  EXPECT_TRUE(policy.take_decisions().empty());
  EXPECT_EQ(policy.decided().size(), 3u);
}

TEST(DriftPolicy, OtherPoliciesIgnoreDriftAndItsStreaksSurviveACheckpoint) {
  FreezePolicy adaptive(FreezeOptions().policy(FreezePolicyKind::kAdaptive).min_epochs(0));
  adaptive.set_layers({"a", "b", "c"});
  adaptive.observe_drift(1, 5, {{"a", 0.0}, {"b", 1.0}, {"c", 1.0}});
  EXPECT_TRUE(adaptive.take_decisions().empty());

  const auto options = FreezeOptions().policy(FreezePolicyKind::kDrift).patience(2).min_epochs(0);
  FreezePolicy before(options);
  before.set_layers({"a", "b", "c"});
  before.observe_drift(1, 0, {{"a", 0.1}, {"b", 1.0}, {"c", 1.0}});
  FreezePolicy after(options);
  after.set_layers({"a", "b", "c"});
  after.restore_state(before.save_state());
  after.observe_drift(2, 0, {{"a", 0.1}, {"b", 1.0}, {"c", 1.0}});
  EXPECT_EQ(layers_of(after.take_decisions()), std::vector<std::string>{"a"});
  EXPECT_EQ(parse_freeze_policy("drift"), FreezePolicyKind::kDrift);
  EXPECT_STREQ(to_string(FreezePolicyKind::kDrift), "drift");
}

TEST(ForecastPolicy, FreezesTheFirstUnitOnceItsForecastSimilarityReachesKappa) {
  FreezePolicy policy(FreezeOptions()
                          .policy(FreezePolicyKind::kForecast)
                          .forecast_similarity(0.9)
                          .min_epochs(1)
                          .max_frozen_fraction(0.67));
  policy.set_layers({"a", "b", "c"});
  using Drift = std::map<std::string, double>;
  // a: 1 − 0.01 × 5 = 0.95, but before min_epochs.
  policy.observe_drift(100, 0, Drift{{"a", 0.01}, {"b", 0.0}, {"c", 1.0}}, 5.0);
  EXPECT_TRUE(policy.take_decisions().empty());
  // a: 1 − 0.03 × 5 = 0.85 < 0.9; b (forecast 1) waits for a.
  policy.observe_drift(200, 1, Drift{{"a", 0.03}, {"b", 0.0}, {"c", 1.0}}, 5.0);
  EXPECT_TRUE(policy.take_decisions().empty());
  // The same drift with less learning rate to come: 1 − 0.03 × 2 = 0.94; then b follows at once.
  policy.observe_drift(300, 1, Drift{{"a", 0.03}, {"b", 0.0}, {"c", 1.0}}, 2.0);
  const auto decisions = policy.take_decisions();
  ASSERT_EQ(layers_of(decisions), (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(decisions[0].value, 0.94);
  EXPECT_DOUBLE_EQ(decisions[1].value, 1.0);
  EXPECT_NE(decisions[0].reason.find("0.9400 >= 0.9"), std::string::npos) << decisions[0].reason;
  // c would pass the cap (0.67 × 3 → 2), whatever its forecast.
  policy.observe_drift(400, 2, Drift{{"c", 0.0}}, 1.0);
  EXPECT_TRUE(policy.take_decisions().empty());
  // An unknown horizon decides nothing; the signal is clamped at 0.
  FreezePolicy unknown(FreezeOptions().policy(FreezePolicyKind::kForecast).min_epochs(0));
  unknown.set_layers({"a", "b"});
  unknown.observe_drift(1, 0, Drift{{"a", 0.0}, {"b", 1.0}});
  EXPECT_TRUE(unknown.take_decisions().empty());
  EXPECT_EQ(forecast_similarity(2.0, 1.0), 0.0);
  EXPECT_TRUE(std::isnan(forecast_similarity(std::nan(""), 1.0)));
  EXPECT_EQ(parse_freeze_policy("forecast"), FreezePolicyKind::kForecast);
  EXPECT_STREQ(to_string(FreezePolicyKind::kForecast), "forecast");
}

TEST(NonePolicy, NeverDecides) {
  FreezePolicy policy{FreezeOptions()};
  policy.set_layers({"a"});
  for (int64_t e = 1; e < 5; ++e) {
    policy.write(online("a", e, 1.0));
    policy.end_epoch(e);
  }
  EXPECT_TRUE(policy.take_decisions().empty());
}

TEST(FreezeOptions, ValidationAndConfigErrorsNameTheKey) {
  EXPECT_THROW(validate_options(FreezeOptions().policy(FreezePolicyKind::kLinear)),
               std::invalid_argument);  // no planned length
  EXPECT_THROW(validate_options(FreezeOptions().threshold(1.5)), std::invalid_argument);
  const auto error_of = [](const char* text) {
    try {
      monitor_options_from_json(nlohmann::json::parse(text));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto m = error_of(R"({"freeze": {"policy": "greedy"}})");
  EXPECT_NE(m.find("freeze.policy"), std::string::npos) << m;
  EXPECT_NE(m.find("adaptive"), std::string::npos) << m;
  m = error_of(R"({"freeze": {"threshold": 1.2}})");
  EXPECT_NE(m.find("freeze.threshold"), std::string::npos) << m;
  m = error_of(R"({"freeze": {"treshold": 0.9}})");
  EXPECT_NE(m.find("freeze.treshold"), std::string::npos) << m;
  const auto o = monitor_options_from_json(
      nlohmann::json::parse(R"({"freeze": {"policy": "adaptive", "patience": 3}})"));
  EXPECT_EQ(o.freeze().policy(), FreezePolicyKind::kAdaptive);
  EXPECT_EQ(o.freeze().patience(), 3);
  EXPECT_EQ(o.freeze().threshold(), FreezeOptions().threshold());
}

}  // namespace
}  // namespace layerwatch
