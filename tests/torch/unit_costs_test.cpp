// The freeze cost model of the example (examples/unit_costs.h): the step time it predicts from
// per-unit forward and backward times, the freezes and what the frozen-prefix cache served.

#include "unit_costs.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace {

// name, forward, backward (with the input's gradient), without it, the input's gradient only.
std::vector<unit_costs::UnitCost> three_units() {
  return {{"a", 0.001, 0.011, 0.010, 0.0},
          {"b", 0.002, 0.020, 0.012, 0.008},
          {"c", 0.004, 0.040, 0.025, 0.015}};
}

layerwatch::FrozenLayer frozen(const std::string& layer, int64_t step) {
  layerwatch::FrozenLayer f;
  f.layer = layer;
  f.step = step;
  return f;
}

TEST(UnitCosts, EveryForwardRunsAndEachBackwardUntilThePrefixCoversItsUnit) {
  // 30 steps, a frozen at 10, b at 20: forwards (1 + 2 + 4) ms × 30; a (the first unit: never an
  // input gradient) 10 ms × 10; b with its input's gradient until a froze (20 ms × 10), then
  // without (12 ms × 10); c likewise 40 ms × 20, then 25 ms × 10.
  EXPECT_NEAR(
      unit_costs::modelled_seconds(three_units(), {frozen("a", 10), frozen("b", 20)}, 0, 30),
      0.210 + 0.100 + (0.200 + 0.120) + (0.800 + 0.250), 1e-12);
  // b frozen before a: b's backward still runs until a freezes (a's gradient passes through it),
  // but computes only its input's gradient (8 ms × 10 from step 5).
  EXPECT_NEAR(unit_costs::modelled_seconds(three_units(), {frozen("b", 5), frozen("a", 15)}, 0, 30),
              0.210 + 0.150 + (0.100 + 0.080) + (0.600 + 0.375), 1e-12);
  // From a resume at step 12: only the steps after it.
  EXPECT_NEAR(
      unit_costs::modelled_seconds(three_units(), {frozen("a", 10), frozen("b", 20)}, 12, 30),
      0.007 * 18 + 0 + 0.012 * 8 + (0.040 * 8 + 0.025 * 10), 1e-12);
  // Nothing frozen: every pass at every step, the first unit without an input gradient.
  EXPECT_NEAR(unit_costs::modelled_seconds(three_units(), {}, 0, 10), 0.070 + 0.100 + 0.200 + 0.400,
              1e-12);
}

TEST(UnitCosts, ThePassCountsPricedGiveTheModelledTime) {
  // b frozen before a, 30 steps: the counts behind the second case above.
  const auto passes =
      unit_costs::count_passes(three_units(), {frozen("b", 5), frozen("a", 15)}, 0, 30);
  ASSERT_EQ(passes.size(), 3u);
  const auto counts = [](const unit_costs::UnitPasses& p) {
    return std::vector<double>{p.forward, p.backward, p.backward_weights, p.backward_input};
  };
  EXPECT_EQ(passes[0].name, "a");
  EXPECT_EQ(counts(passes[0]), (std::vector<double>{30, 0, 15, 0}));
  EXPECT_EQ(counts(passes[1]), (std::vector<double>{30, 5, 0, 10}));
  EXPECT_EQ(counts(passes[2]), (std::vector<double>{30, 15, 15, 0}));
  EXPECT_NEAR(unit_costs::priced_seconds(three_units(), passes),
              unit_costs::modelled_seconds(three_units(), {frozen("b", 5), frozen("a", 15)}, 0, 30),
              1e-12);
  // Served at the prefix ending at b: a and b skipped 2 batches each, c none.
  EXPECT_EQ(unit_costs::cache_skipped_batches(three_units(), {{"b", 256}}, 128),
            (std::vector<double>{2, 2, 0}));
}

TEST(UnitCosts, MeasuringLeavesTheModelAsItWasAndTimesEachBackwardCase) {
  torch::manual_seed(1);
  torch::nn::Sequential model(torch::nn::Linear(32, 64), torch::nn::BatchNorm1d(64),
                              torch::nn::Linear(64, 10));
  model->train();
  // The last layer's bias frozen, as after a resume: it stays so.
  model[2]->named_parameters()["bias"].requires_grad_(false);
  std::vector<torch::Tensor> before;
  for (const auto& t : model->parameters()) before.push_back(t.detach().clone());
  for (const auto& t : model->buffers()) before.push_back(t.detach().clone());
  const auto units = layerwatch::FrozenPrefixCache::units_of(model, "u");

  const auto costs = unit_costs::measure(*model, units, torch::randn({256, 32}), 3);

  ASSERT_EQ(costs.size(), 3u);
  EXPECT_EQ(costs[1].name, "u.1");
  for (const auto& c : costs) {
    EXPECT_GT(c.forward_s, 0) << c.name;
    EXPECT_GT(c.backward_s, 0) << c.name;
    EXPECT_GT(c.backward_weights_s, 0) << c.name;
  }
  EXPECT_EQ(costs[0].backward_input_s, 0) << "the first unit has no input to pass a gradient to";
  EXPECT_GT(costs[1].backward_input_s, 0);
  EXPECT_GT(costs[2].backward_input_s, 0);
  size_t i = 0;
  for (const auto& t : model->parameters()) {
    EXPECT_TRUE(torch::equal(t, before[i++]));
    EXPECT_FALSE(t.grad().defined());
  }
  for (const auto& t : model->buffers()) EXPECT_TRUE(torch::equal(t, before[i++]));
  EXPECT_TRUE(model[0]->named_parameters()["weight"].requires_grad());
  EXPECT_TRUE(model[2]->named_parameters()["weight"].requires_grad());
  EXPECT_FALSE(model[2]->named_parameters()["bias"].requires_grad());
}

// The forward time the cache saved over three_units(), from what it served per prefix end.
double skipped_seconds(const std::map<std::string, int64_t>& served, int64_t batch) {
  return unit_costs::cache_skipped_seconds(
      three_units(), unit_costs::cache_skipped_batches(three_units(), served, batch));
}

TEST(UnitCosts, TheCacheSavesTheForwardOfEveryUnitUpToThePrefixEnd) {
  // 256 examples served at the prefix ending at a, 128 at the one ending at b, batches of 128:
  // a skipped 3 batches (1 ms each), b 1 batch (2 ms), c none.
  const std::map<std::string, int64_t> served = {{"a", 256}, {"b", 128}};
  EXPECT_NEAR(skipped_seconds(served, 128), 0.003 + 0.002, 1e-12);
  EXPECT_EQ(skipped_seconds({}, 128), 0.0);
  // A name the model does not know is not counted; a batch of 0 is taken as 1.
  EXPECT_EQ(skipped_seconds({{"z", 1000}}, 128), 0.0);
  EXPECT_NEAR(skipped_seconds({{"a", 2}}, 0), 0.002, 1e-12);
}

}  // namespace
