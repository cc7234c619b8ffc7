#include "layerwatch/torch/frozen_prefix_cache.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include "capture/capture_detail.h"
#include "layerwatch/torch/monitor.h"
#include "torch/row_copy.h"

namespace layerwatch {
namespace {

using Clock = std::chrono::steady_clock;

// Adds the time from its construction to its end to `total`.
class AddTime {
 public:
  explicit AddTime(double& total) : total_(total), start_(Clock::now()) {}
  ~AddTime() { total_ += std::chrono::duration<double>(Clock::now() - start_).count(); }
  AddTime(const AddTime&) = delete;
  AddTime& operator=(const AddTime&) = delete;

 private:
  double& total_;
  Clock::time_point start_;
};

// Cached outputs carried through newly frozen units this many at a time.
constexpr int64_t kCarryChunk = 512;

// Rounding a comparison must tolerate: float16's (carried through a few more units), or
// float32's (a batch of another size may take another kernel path).
double tolerance(bool float16) { return float16 ? 2e-2 : 1e-3; }

double mebibytes(double bytes) { return bytes / double(1 << 20); }

}  // namespace

std::vector<FrozenPrefixCache::Unit> FrozenPrefixCache::units_of(
    const torch::nn::Sequential& sequential, const std::string& prefix) {
  std::vector<Unit> units;
  int64_t index = 0;
  for (const auto& module : *sequential) {
    const auto number = std::to_string(index++);
    units.push_back({prefix.empty() ? number : prefix + "." + number, module});
  }
  return units;
}

FrozenPrefixCache::FrozenPrefixCache(Monitor& monitor, std::vector<Unit> units, int64_t examples,
                                     FrozenPrefixCacheOptions options)
    : monitor_(monitor), units_(std::move(units)), examples_(examples), options_(options) {
  validate_options(options_);
  if (units_.empty()) {
    throw std::invalid_argument(
        "FrozenPrefixCache: no units; give the model's freeze units in "
        "forward order (FrozenPrefixCache::units_of)");
  }
  std::set<std::string> names;
  for (const auto& unit : units_) {
    if (unit.module.is_empty()) {
      throw std::invalid_argument(
          fmt::format("FrozenPrefixCache: unit '{}' has no module", unit.name));
    }
    if (!names.insert(unit.name).second) {
      throw std::invalid_argument(
          fmt::format("FrozenPrefixCache: unit '{}' is given twice", unit.name));
    }
  }
  if (examples_ < 1) {
    throw std::invalid_argument(fmt::format(
        "FrozenPrefixCache: examples must be the training set's size (≥ 1), got {}", examples_));
  }
  present_ = torch::zeros({examples_}, torch::kBool);
}

int64_t FrozenPrefixCache::frozen_prefix() const {
  const auto frozen = monitor_.frozen_layers();
  const std::set<std::string> names(frozen.begin(), frozen.end());
  int64_t units = 0;
  // The last unit always runs: the cache never stands in for the whole model.
  while (units + 1 < static_cast<int64_t>(units_.size()) && names.count(units_[units].name) > 0)
    ++units;
  return units;
}

namespace {
// The first module in training mode whose output varies between calls (Dropout) or with the
// batch (BatchNorm) inside `module`, described; empty if none. A frozen capture point (a watched
// element) runs in eval mode whatever its modules' modes, so its subtree is left out.
std::string nondeterministic_inside(const torch::nn::Module& module, const std::string& unit) {
  if (detail::is_frozen_capture_point(module)) return "";
  if (module.is_training()) {
    const auto& type = module.name();
    if (type.find("Dropout") != std::string::npos) {
      return fmt::format(
          "{} inside the frozen unit {} is in training mode, so the frozen prefix's output "
          "differs every time",
          type, unit);
    }
    if (type.find("BatchNorm") != std::string::npos) {
      return fmt::format(
          "{} inside the frozen unit {} is in training mode (use Monitor::train(), which keeps "
          "frozen layers in eval, rather than the model's train())",
          type, unit);
    }
  }
  for (const auto& child : module.children()) {
    auto reason = nondeterministic_inside(*child, unit);
    if (!reason.empty()) return reason;
  }
  return "";
}
}  // namespace

std::string FrozenPrefixCache::nondeterministic_module(int64_t units) const {
  for (int64_t u = 0; u < units; ++u) {
    auto reason = nondeterministic_inside(*units_[u].module.ptr(), units_[u].name);
    if (!reason.empty()) return reason;
  }
  return "";
}

torch::Tensor FrozenPrefixCache::run(int64_t first, int64_t last, torch::Tensor x) {
  for (int64_t u = first; u < last; ++u) x = units_[u].module.forward(x);
  return x;
}

torch::Tensor FrozenPrefixCache::cached_rows(const torch::Tensor& indices) {
  AddTime timed(stats_.read_seconds);
  return detail::gather_rows(storage_, indices).to(torch::kFloat);
}

void FrozenPrefixCache::store_rows(const torch::Tensor& indices, const torch::Tensor& outputs) {
  AddTime timed(stats_.store_seconds);
  if (!sized_) {
    sized_ = true;
    // The first output at this prefix gives the shape, and so the budget's capacity.
    const auto dtype = options_.float16() ? torch::kHalf : outputs.scalar_type();
    const int64_t per_example = outputs[0].numel() * static_cast<int64_t>(c10::elementSize(dtype));
    stats_.capacity = std::min<int64_t>(
        examples_, static_cast<int64_t>(options_.memory_budget().value) / per_example);
    const auto& end = units_[stats_.prefix_units - 1].name;
    const double all = mebibytes(static_cast<double>(per_example) * examples_);
    if (stats_.capacity == 0) {
      announce(
          fmt::format("frozen-prefix cache: one example's output of {} takes {:.2f} MiB, "
                      "more than the budget ({:.1f} MiB); nothing is cached until more "
                      "layers freeze",
                      end, mebibytes(per_example), mebibytes(options_.memory_budget().value)));
      return;
    }
    auto shape = outputs.sizes().vec();
    shape[0] = stats_.capacity;
    storage_ = torch::empty(shape, outputs.options().dtype(dtype));
    stats_.bytes = storage_.numel() * static_cast<int64_t>(storage_.element_size());
    announce(stats_.capacity == examples_
                 ? fmt::format("frozen-prefix cache: keeping the output of {} ({} unit{}) for "
                               "all {} examples, {:.1f} MiB {}",
                               end, stats_.prefix_units, stats_.prefix_units == 1 ? "" : "s",
                               examples_, all, options_.float16() ? "float16" : "as computed")
                 : fmt::format("frozen-prefix cache: the output of {} for all {} examples takes "
                               "{:.1f} MiB; the budget ({:.1f} MiB) holds {} of them, the rest "
                               "run the frozen layers every epoch (raise memory_budget to "
                               "cache them all)",
                               end, examples_, all, mebibytes(options_.memory_budget().value),
                               stats_.capacity));
  }
  if (stats_.capacity == 0) return;
  const auto keep = indices.lt(stats_.capacity).nonzero().squeeze(1);
  if (keep.numel() == 0) return;
  const bool all = keep.numel() == indices.numel();
  const auto rows = all ? indices : indices.index_select(0, keep);
  const auto kept = all ? outputs : outputs.index_select(0, keep);
  detail::scatter_rows(storage_, rows, kept.to(storage_.scalar_type()).contiguous());
  present_.index_fill_(0, rows, true);
  stats_.cached_examples += keep.numel();
}

void FrozenPrefixCache::announce(const std::string& message) {
  const auto stats = monitor_.stats();
  monitor_.analyzer().announce(
      MonitorEvent::make(MonitorEvent::Kind::kNote, stats.steps, stats.epochs, message));
}

void FrozenPrefixCache::turn_off(const std::string& reason) {
  stats_.enabled = false;
  stats_.off_reason = reason;
  storage_ = torch::Tensor();
  present_.zero_();
  sized_ = false;
  stats_.cached_examples = stats_.capacity = stats_.bytes = 0;
  announce(fmt::format("frozen-prefix cache off: {}; training goes on without it", reason));
}

bool FrozenPrefixCache::cheaper_to_run(const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  const auto best_of_three = [](const auto& work) {
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < 3; ++i) {
      const auto start = Clock::now();
      work();
      best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    }
    return best;
  };
  torch::Tensor outputs;
  const double running = best_of_three([&] { outputs = run(0, stats_.prefix_units, inputs); });
  const auto dtype = options_.float16() ? torch::kHalf : outputs.scalar_type();
  // Storing and reading the batch as the cache does, in a table whose memory is already touched
  // (the first touch of the cache's memory comes on top, spread over the first epoch).
  auto table = torch::zeros(outputs.sizes(), outputs.options().dtype(dtype));
  const auto rows = torch::arange(inputs.size(0) - 1, -1, -1, torch::kLong);
  const double keeping = best_of_three([&] {
    detail::scatter_rows(table, rows, outputs.to(dtype).contiguous());
    (void)detail::gather_rows(table, rows).to(torch::kFloat);
  });
  const bool cheaper = running < keeping;
  announce(fmt::format(
      "frozen-prefix cache: running {} takes {:.2f} ms per batch of {}, "
      "storing and reading its output at least {:.2f} ms: {}",
      units_[stats_.prefix_units - 1].name, 1e3 * running, inputs.size(0), 1e3 * keeping,
      cheaper ? "not cached; it runs as before until more layers freeze" : "cached"));
  return cheaper;
}

void FrozenPrefixCache::move_to_prefix(int64_t units) {
  const int64_t old_units = stats_.prefix_units;
  const auto old_storage = storage_;
  const auto old_rows = present_.nonzero().squeeze(1);
  storage_ = torch::Tensor();
  present_.zero_();
  sized_ = false;
  stats_.prefix_units = units;
  stats_.prefix_end = units > 0 ? units_[units - 1].name : "";
  stats_.cached_examples = stats_.capacity = stats_.bytes = 0;
  stats_.skipped.clear();
  judge_ = false;
  if (!stats_.enabled || units == 0) return;
  judge_ = options_.skip_cheap_prefix();
  // A longer prefix: what is cached goes on through the newly frozen units; the rest fills as
  // the examples come. (A shorter one only happens with a new monitor state; it refills.)
  if (units <= old_units || !old_storage.defined() || old_rows.numel() == 0) return;
  torch::NoGradGuard no_grad;
  AddTime timed(stats_.carry_seconds);
  for (int64_t first = 0; first < old_rows.numel(); first += kCarryChunk) {
    const auto rows = old_rows.narrow(0, first, std::min(kCarryChunk, old_rows.numel() - first));
    const auto outputs =
        run(old_units, units, detail::gather_rows(old_storage, rows).to(torch::kFloat));
    store_rows(rows, outputs);
    stats_.examples_carried += rows.numel();
    if (stats_.capacity == 0) break;
  }
  // What was carried is paid for; it is served whatever the prefix costs.
  judge_ = judge_ && !storage_.defined();
}

void FrozenPrefixCache::verify(const torch::Tensor& inputs, torch::Tensor& prefix_outputs) {
  const auto computed = run(0, stats_.prefix_units, inputs);
  const double scale = computed.abs().max().item<double>();
  const double difference =
      (computed - prefix_outputs).abs().max().item<double>() / std::max(scale, 1e-12);
  ++stats_.batches_verified;
  stats_.largest_difference = std::max(stats_.largest_difference, difference);
  if (difference <= tolerance(options_.float16()) && std::isfinite(difference)) return;
  prefix_outputs = computed;
  turn_off(
      fmt::format("the frozen prefix's output for a batch differs from its cached value by "
                  "{:.3g} of its largest value (tolerated: {:.3g}): the inputs change between "
                  "epochs (data augmentation?) or the frozen layers are not deterministic",
                  difference, tolerance(options_.float16())));
}

torch::Tensor FrozenPrefixCache::forward(const torch::Tensor& inputs,
                                         const torch::Tensor& example_indices) {
  if (!example_indices.defined() || example_indices.dim() != 1 ||
      example_indices.scalar_type() != torch::kLong || !inputs.defined() || inputs.dim() == 0 ||
      example_indices.size(0) != inputs.size(0)) {
    throw std::invalid_argument(fmt::format(
        "FrozenPrefixCache::forward: example_indices must be one int64 index per input example "
        "({} examples), got {}",
        inputs.defined() && inputs.dim() > 0 ? inputs.size(0) : 0,
        example_indices.defined()
            ? fmt::format("a {} tensor of shape {}", c10::toString(example_indices.scalar_type()),
                          c10::str(example_indices.sizes()))
            : std::string("an undefined tensor")));
  }
  const auto indices = example_indices.to(torch::kCPU).contiguous();
  if (indices.numel() > 0) {
    const int64_t low = indices.min().item<int64_t>(), high = indices.max().item<int64_t>();
    if (low < 0 || high >= examples_) {
      throw std::invalid_argument(fmt::format(
          "FrozenPrefixCache::forward: example index {} is outside [0, {}) (the training set's "
          "size given to the cache)",
          low < 0 ? low : high, examples_));
    }
  }
  const int64_t units = frozen_prefix();
  if (units > 0 && stats_.enabled) {
    const auto reason = nondeterministic_module(units);
    if (!reason.empty()) turn_off(reason);
  }
  if (units != stats_.prefix_units) move_to_prefix(units);
  const int64_t total = static_cast<int64_t>(units_.size());
  if (units == 0 || !stats_.enabled) return run(0, total, inputs);
  if (judge_ && inputs.size(0) > 0) {
    judge_ = false;
    if (cheaper_to_run(inputs)) stats_.skipped = stats_.prefix_end;
  }
  if (!stats_.skipped.empty()) return run(0, total, inputs);

  torch::Tensor prefix_outputs;
  {
    torch::NoGradGuard no_grad;
    const auto hit = present_.index_select(0, indices);
    const int64_t hits = hit.sum().item<int64_t>(), batch = indices.numel();
    if (hits == batch && batch > 0) {
      prefix_outputs = cached_rows(indices);
      stats_.examples_served += batch;
      stats_.served_by_prefix_end[stats_.prefix_end] += batch;
      const int64_t every = options_.verify_every();
      if (every > 0 && ++full_batches_served_ % every == 0) verify(inputs, prefix_outputs);
    } else if (hits == 0) {
      {
        AddTime timed(stats_.compute_seconds);
        prefix_outputs = run(0, units, inputs);
      }
      stats_.examples_computed += batch;
      store_rows(indices, prefix_outputs);
    } else {
      const auto hit_at = hit.nonzero().squeeze(1),
                 miss_at = hit.logical_not().nonzero().squeeze(1);
      torch::Tensor computed;
      {
        AddTime timed(stats_.compute_seconds);
        computed = run(0, units, inputs.index_select(0, miss_at));
      }
      stats_.examples_computed += miss_at.numel();
      stats_.examples_served += hit_at.numel();
      stats_.served_by_prefix_end[stats_.prefix_end] += hit_at.numel();
      store_rows(indices.index_select(0, miss_at), computed);
      auto shape = computed.sizes().vec();
      shape[0] = batch;
      prefix_outputs = torch::empty(shape, computed.options());
      detail::scatter_rows(prefix_outputs, miss_at, computed.contiguous());
      detail::scatter_rows(prefix_outputs, hit_at, cached_rows(indices.index_select(0, hit_at)));
    }
  }
  return run(units, total, prefix_outputs);
}

}  // namespace layerwatch
