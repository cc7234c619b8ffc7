#pragma once
// A deterministic cost model of freeze training: each unit's forward and backward time on one
// training batch, measured once before training, times the steps at which the unit runs them.
// Every step runs every unit's forward pass. A unit's backward pass runs until the frozen prefix
// covers it (the backward pass stops at the first unit that still trains), and what it computes
// depends on the units around it: the first unit that trains after a frozen prefix gets no
// input gradient (its input does not require one), and a frozen freeze target that the
// gradient still passes through computes only its input's gradient. (A frozen watched element
// runs without autograd and stops the backward pass instead; every policy freezes bottom-up, so
// no gradient ever has to pass a frozen unit.) The model leaves out what is not per unit
// (loss, optimizer step, data gathering, the monitor), so its ratio to the measured step time
// should be about the same in every arm. With the frozen-prefix cache, the forward passes it
// skipped come off (`cache_skipped_seconds`, from the cache's count of the examples it served at
// each prefix) and its own measured time (storing, reading, carrying) goes on.

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "layerwatch/freeze/freeze.h"
#include "layerwatch/torch/frozen_prefix_cache.h"

namespace unit_costs {

/// One unit's measured times, in seconds per step (one batch).
struct UnitCost {
  std::string name;
  double forward_s = 0;
  /// The backward pass of a unit that trains, with its input's gradient (the first unit has no
  /// input gradient: for it, the same as `backward_weights_s`).
  double backward_s = 0;
  /// The backward pass of a unit that trains right after a frozen prefix: no input gradient.
  double backward_weights_s = 0;
  /// The backward pass of a frozen unit with units before it still training: only the input's
  /// gradient (0 for the first unit).
  double backward_input_s = 0;
};

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n == 0 ? 0 : n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Times each unit on `batch` in the model's current mode: one warm-up, then the median of
// `repeats`, for each of the three backward passes (the unit's parameters and its input asking
// for a gradient as each case has them). Leaves the buffers (BatchNorm statistics), the
// parameters' `requires_grad` and the gradients (none) as they were, and draws no random
// numbers, so the run goes on exactly as without the measurement.
inline std::vector<UnitCost> measure(torch::nn::Module& model,
                                     std::vector<layerwatch::FrozenPrefixCache::Unit> units,
                                     const torch::Tensor& batch, int repeats = 5) {
  using Clock = std::chrono::steady_clock;
  const auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  std::vector<torch::Tensor> saved;
  for (const auto& buffer : model.buffers()) saved.push_back(buffer.clone());
  std::vector<bool> requires_grad;
  for (const auto& parameter : model.parameters())
    requires_grad.push_back(parameter.requires_grad());
  enum Case { kFull, kWeights, kInput, kCases };
  std::vector<std::vector<double>> forward(units.size());
  std::vector<std::array<std::vector<double>, kCases>> backward(units.size());
  for (int r = 0; r <= repeats; ++r) {
    torch::Tensor x = batch;
    for (size_t k = 0; k < units.size(); ++k) {
      torch::Tensor output;
      for (int c = 0; c < kCases; ++c) {
        for (auto& parameter : units[k].module.ptr()->parameters())
          parameter.requires_grad_(c != kInput);
        const bool input_gradient = k > 0 && c != kWeights;
        const auto input = input_gradient ? x.detach().requires_grad_(true) : x.detach();
        auto start = Clock::now();
        output = units[k].module.forward(input);
        const double f = since(start);
        double b = 0;  // nothing asks for a gradient: no backward pass
        if (output.requires_grad()) {
          const auto gradient = torch::ones_like(output);
          start = Clock::now();
          output.backward(gradient);
          b = since(start);
        }
        if (r == 0) continue;
        if (c == kFull) forward[k].push_back(f);
        backward[k][c].push_back(b);
      }
      x = output.detach();
    }
  }
  {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& buffer : model.buffers()) buffer.copy_(saved[i++]);
  }
  size_t i = 0;
  for (auto& parameter : model.parameters()) {
    parameter.requires_grad_(requires_grad[i++]);
    parameter.mutable_grad() = torch::Tensor();
  }
  std::vector<UnitCost> costs;
  for (size_t k = 0; k < units.size(); ++k) {
    costs.push_back({units[k].name, median(forward[k]), median(backward[k][kFull]),
                     median(backward[k][kWeights]), median(backward[k][kInput])});
  }
  return costs;
}

/// How many steps (batches) each of a unit's passes runs in the model; the model's time is these
/// counts times the unit's measured times, so one run's counts can be priced with another set of
/// times (bench/freeze_summary.py prices every arm of a seed with the same ones).
struct UnitPasses {
  std::string name;
  double forward = 0;
  double backward = 0;          // with the input's gradient
  double backward_weights = 0;  // without it
  double backward_input = 0;    // the input's gradient only
};

// The passes of each unit over the steps [first_step, total_steps), given when each unit froze.
inline std::vector<UnitPasses> count_passes(const std::vector<UnitCost>& costs,
                                            const std::vector<layerwatch::FrozenLayer>& frozen,
                                            int64_t first_step, int64_t total_steps) {
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  constexpr int64_t kAlways = std::numeric_limits<int64_t>::min();
  // Steps of [from, to) within [first_step, total_steps) (clamped first: no overflow at the
  // open ends).
  const auto steps_between = [&](int64_t from, int64_t to) {
    const int64_t low = std::max(first_step, from), high = std::min(total_steps, to);
    return high > low ? static_cast<double>(high - low) : 0.0;
  };
  std::vector<UnitPasses> passes;
  // From when every unit before this one is frozen (always, for the first unit).
  int64_t prefix_before_frozen_at = kAlways;
  for (const auto& cost : costs) {
    int64_t frozen_at = kNever;
    for (const auto& f : frozen) {
      if (f.layer == cost.name) frozen_at = f.step;
    }
    const int64_t prefix_frozen_at = std::max(prefix_before_frozen_at, frozen_at);
    const int64_t trains_after_prefix_from = std::min(prefix_before_frozen_at, frozen_at);
    passes.push_back({cost.name, steps_between(kAlways, kNever),
                      steps_between(kAlways, trains_after_prefix_from),
                      steps_between(prefix_before_frozen_at, frozen_at),
                      steps_between(frozen_at, prefix_frozen_at)});
    prefix_before_frozen_at = prefix_frozen_at;
  }
  return passes;
}

// The forward passes the frozen-prefix cache saved, in batches per unit: unit k did not run on
// the examples served at a prefix that ends at k or after it (`served_by_prefix_end`, from
// FrozenPrefixCacheStats), at `batch` examples per step. (The cache's checks, one served batch
// in `verify_every`, run the prefix again; that is left out.)
inline std::vector<double> cache_skipped_batches(
    const std::vector<UnitCost>& costs, const std::map<std::string, int64_t>& served_by_prefix_end,
    int64_t batch) {
  std::vector<double> skipped(costs.size(), 0.0);
  int64_t served_here_or_after = 0;
  for (size_t k = costs.size(); k-- > 0;) {
    const auto served = served_by_prefix_end.find(costs[k].name);
    if (served != served_by_prefix_end.end()) served_here_or_after += served->second;
    skipped[k] = static_cast<double>(served_here_or_after) /
                 static_cast<double>(std::max<int64_t>(1, batch));
  }
  return skipped;
}

// The passes priced with the measured times (`passes` in the order of `costs`).
inline double priced_seconds(const std::vector<UnitCost>& costs,
                             const std::vector<UnitPasses>& passes) {
  double seconds = 0;
  for (size_t k = 0; k < costs.size() && k < passes.size(); ++k) {
    seconds += costs[k].forward_s * passes[k].forward + costs[k].backward_s * passes[k].backward +
               costs[k].backward_weights_s * passes[k].backward_weights +
               costs[k].backward_input_s * passes[k].backward_input;
  }
  return seconds;
}

// Seconds the steps [first_step, total_steps) take by the model, given when each unit froze.
inline double modelled_seconds(const std::vector<UnitCost>& costs,
                               const std::vector<layerwatch::FrozenLayer>& frozen,
                               int64_t first_step, int64_t total_steps) {
  return priced_seconds(costs, count_passes(costs, frozen, first_step, total_steps));
}

// The forward time the frozen-prefix cache saved: `skipped_batches` (from
// `cache_skipped_batches`, in the order of `costs`) priced at each unit's forward time.
inline double cache_skipped_seconds(const std::vector<UnitCost>& costs,
                                    const std::vector<double>& skipped_batches) {
  double seconds = 0;
  for (size_t k = 0; k < costs.size() && k < skipped_batches.size(); ++k)
    seconds += costs[k].forward_s * skipped_batches[k];
  return seconds;
}

}  // namespace unit_costs
