// The freeze cost model of the example (examples/unit_costs.h): the step time it predicts from
// per-unit forward and backward times, the freezes and what the frozen-prefix cache served.

#include "unit_costs.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace {

std::vector<unit_costs::UnitCost> three_units() {
  return {{"a", 0.001, 0.010}, {"b", 0.002, 0.020}, {"c", 0.004, 0.040}};
}

layerwatch::FrozenLayer frozen(const std::string& layer, int64_t step) {
  layerwatch::FrozenLayer f;
  f.layer = layer;
  f.step = step;
  return f;
}

TEST(UnitCosts, EveryForwardRunsAndEachBackwardUntilThePrefixCoversItsUnit) {
  // 30 steps: forwards (1 + 2 + 4) ms × 30; backwards a 10 ms × 10, b 20 ms × 20, c 40 ms × 30.
  EXPECT_NEAR(
      unit_costs::modelled_seconds(three_units(), {frozen("a", 10), frozen("b", 20)}, 0, 30),
      0.210 + 0.100 + 0.400 + 1.200, 1e-12);
  // b frozen before a: b's backward still runs until a freezes (a's gradient passes through it).
  EXPECT_NEAR(unit_costs::modelled_seconds(three_units(), {frozen("b", 5), frozen("a", 15)}, 0, 30),
              0.210 + 0.150 + 0.300 + 1.200, 1e-12);
  // From a resume at step 12: only the steps after it.
  EXPECT_NEAR(
      unit_costs::modelled_seconds(three_units(), {frozen("a", 10), frozen("b", 20)}, 12, 30),
      0.007 * 18 + 0 + 0.020 * 8 + 0.040 * 18, 1e-12);
  // Nothing frozen: every pass at every step.
  EXPECT_NEAR(unit_costs::modelled_seconds(three_units(), {}, 0, 10), 0.077 * 10, 1e-12);
}

TEST(UnitCosts, TheCacheSavesTheForwardOfEveryUnitUpToThePrefixEnd) {
  // 256 examples served at the prefix ending at a, 128 at the one ending at b, batches of 128:
  // a skipped 3 batches (1 ms each), b 1 batch (2 ms), c none.
  const std::map<std::string, int64_t> served = {{"a", 256}, {"b", 128}};
  EXPECT_NEAR(unit_costs::cache_skipped_seconds(three_units(), served, 128), 0.003 + 0.002, 1e-12);
  EXPECT_EQ(unit_costs::cache_skipped_seconds(three_units(), {}, 128), 0.0);
  // A name the model does not know is not counted; a batch of 0 is taken as 1.
  EXPECT_EQ(unit_costs::cache_skipped_seconds(three_units(), {{"z", 1000}}, 128), 0.0);
  EXPECT_NEAR(unit_costs::cache_skipped_seconds(three_units(), {{"a", 2}}, 0), 0.002, 1e-12);
}

}  // namespace
