#pragma once
// A deterministic cost model of freeze training: each unit's forward and backward time on one
// training batch, measured once before training, times the steps at which the unit runs them.
// Every step runs every unit's forward pass; a unit's backward pass runs until the frozen prefix
// covers it (the backward pass stops at the first unit that still trains). The model leaves out
// what is not per unit (loss, optimizer step, data gathering, the monitor), so its ratio to the
// measured step time should be about the same in every arm. With the frozen-prefix cache, the
// forward passes it skipped come off (`cache_skipped_seconds`, from the cache's count of the
// examples it served at each prefix) and its own measured time (storing, reading, carrying)
// goes on.

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "layerwatch/freeze/freeze.h"
#include "layerwatch/torch/frozen_prefix_cache.h"

namespace unit_costs {

struct UnitCost {
  std::string name;
  double forward_s = 0;   // per step (one batch)
  double backward_s = 0;  // per step, the input's gradient included (not for the first unit)
};

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n == 0 ? 0 : n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Times each unit on `batch` in the model's current mode: one warm-up, then the median of
// `repeats`. Leaves the buffers (BatchNorm statistics) and the gradients as they were (none),
// and draws no random numbers, so the run goes on exactly as without the measurement.
inline std::vector<UnitCost> measure(torch::nn::Module& model,
                                     std::vector<layerwatch::FrozenPrefixCache::Unit> units,
                                     const torch::Tensor& batch, int repeats = 5) {
  using Clock = std::chrono::steady_clock;
  const auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  std::vector<torch::Tensor> saved;
  for (const auto& buffer : model.buffers()) saved.push_back(buffer.clone());
  std::vector<std::vector<double>> forward(units.size()), backward(units.size());
  for (int r = 0; r <= repeats; ++r) {
    torch::Tensor x = batch;
    for (size_t k = 0; k < units.size(); ++k) {
      const auto input = k == 0 ? x : x.detach().requires_grad_(true);
      auto start = Clock::now();
      const torch::Tensor output = units[k].module.forward(input);
      const double f = since(start);
      double b = 0;  // a frozen unit (after a resume) has no backward pass
      if (output.requires_grad()) {
        const auto gradient = torch::ones_like(output);
        start = Clock::now();
        output.backward(gradient);
        b = since(start);
      }
      if (r > 0) {
        forward[k].push_back(f);
        backward[k].push_back(b);
      }
      x = output.detach();
    }
  }
  {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& buffer : model.buffers()) buffer.copy_(saved[i++]);
  }
  for (auto& parameter : model.parameters()) parameter.mutable_grad() = torch::Tensor();
  std::vector<UnitCost> costs;
  for (size_t k = 0; k < units.size(); ++k)
    costs.push_back({units[k].name, median(forward[k]), median(backward[k])});
  return costs;
}

// Seconds the steps [first_step, total_steps) take by the model, given when each unit froze.
inline double modelled_seconds(const std::vector<UnitCost>& costs,
                               const std::vector<layerwatch::FrozenLayer>& frozen,
                               int64_t first_step, int64_t total_steps) {
  double seconds = 0;
  // A unit's backward pass stops once it and every unit before it are frozen.
  int64_t prefix_frozen_at = std::numeric_limits<int64_t>::min();
  for (const auto& cost : costs) {
    int64_t frozen_at = std::numeric_limits<int64_t>::max();
    for (const auto& f : frozen) {
      if (f.layer == cost.name) frozen_at = f.step;
    }
    prefix_frozen_at = std::max(prefix_frozen_at, frozen_at);
    const int64_t steps = std::max<int64_t>(0, total_steps - first_step);
    const int64_t backward_steps =
        std::max<int64_t>(0, std::min(total_steps, prefix_frozen_at) - first_step);
    seconds += cost.forward_s * static_cast<double>(steps) +
               cost.backward_s * static_cast<double>(backward_steps);
  }
  return seconds;
}

// The forward time the frozen-prefix cache saved: unit k did not run on the examples served at a
// prefix that ends at k or after it (`served_by_prefix_end`, from FrozenPrefixCacheStats), at
// `batch` examples per measured step. (The cache's checks, one served batch in
// `verify_every`, run the prefix again; that is left out.)
inline double cache_skipped_seconds(const std::vector<UnitCost>& costs,
                                    const std::map<std::string, int64_t>& served_by_prefix_end,
                                    int64_t batch) {
  double seconds = 0;
  int64_t served_here_or_after = 0;
  for (size_t k = costs.size(); k-- > 0;) {
    const auto served = served_by_prefix_end.find(costs[k].name);
    if (served != served_by_prefix_end.end()) served_here_or_after += served->second;
    seconds += costs[k].forward_s * static_cast<double>(served_here_or_after) /
               static_cast<double>(std::max<int64_t>(1, batch));
  }
  return seconds;
}

}  // namespace unit_costs
