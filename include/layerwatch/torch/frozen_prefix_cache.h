#pragma once
/// @file
/// `FrozenPrefixCache`: once the monitor has frozen the first layers of a model, their output
/// for a training example no longer changes from one epoch to the next, so it is computed once,
/// kept, and later epochs skip the frozen prefix's forward pass too (its backward pass is
/// already skipped by the freeze). Memory is bounded by a byte budget; examples beyond it are
/// computed as before.
///
/// @code
///   monitor.watch(model->features, layerwatch::WatchOptions().recurse(false));
///   monitor.watch(model->classifier, layerwatch::WatchOptions().recurse(false));
///   auto units = layerwatch::FrozenPrefixCache::units_of(model->features, "features");
///   for (auto& u : layerwatch::FrozenPrefixCache::units_of(model->classifier, "classifier"))
///     units.push_back(std::move(u));
///   layerwatch::FrozenPrefixCache cache(monitor, units, train_images.size(0));
///   for (…) {
///     auto logits = cache.forward(train_images.index_select(0, index), index);  // not model
///     …
///   }
/// @endcode
///
/// The units are the model's freeze units in forward order, named as the monitor names them,
/// and the model's forward must be exactly their composition (each unit's output is the next
/// one's input). The cached prefix is the longest run of leading units the monitor has frozen;
/// when it grows, the cached outputs are carried forward through the newly frozen units (no
/// pass over the data from the start).
///
/// The cache is only right when the frozen prefix is deterministic for an example: no data
/// augmentation before it, no dropout inside it, BatchNorm in eval mode (which
/// `Monitor::train()` keeps for frozen layers). A layer watched through `Monitor::watch` runs
/// wholly in eval mode once frozen, its dropout too; a freeze target added with
/// `add_freeze_target` keeps its modules' modes. The cache checks what it can: a Dropout or a
/// BatchNorm in training mode inside the prefix turns it off; and one
/// batch in `verify_every` served from the cache is computed again and compared, so inputs that
/// change between epochs (augmentation) turn it off. Either way it says so once (an event in
/// the monitor's logs, and the console) and training goes on with the plain forward pass.
///
/// A prefix whose forward pass is cheaper than keeping its output is not cached
/// (`skip_cheap_prefix`): at the first batch of a new prefix with nothing carried into it, the
/// cache times the prefix's forward pass and storing and reading the batch's output as it does
/// (converted to the cache's type, copied into and out of memory already touched: the first
/// touch of the cache's memory comes on top), and when the forward pass is faster it runs the
/// prefix as before until more layers freeze, and says so. A first conv layer with few input
/// channels is such a prefix: its output is many times its input.
///
/// Rows are stored and read with whole-row copies (storing takes 0.56-0.60× the time of
/// LibTorch 1.13's index_copy_ into a float16 table: bench/cache_store_bench.cpp). Filling the
/// cache's memory the first time costs more than either on a virtual machine whose host backs
/// fresh memory on first touch; `FrozenPrefixCacheStats::store_seconds` shows it.

#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "layerwatch/core/option.h"

namespace layerwatch {

class Monitor;

/// Options of `FrozenPrefixCache` (chained setters).
struct FrozenPrefixCacheOptions {
  LAYERWATCH_OPTIONS(FrozenPrefixCacheOptions);
  /// Most bytes the cached outputs may take. Examples are cached in index order until the
  /// budget is reached; the rest run the prefix as before. Default 2 GiB, at least 1.
  LAYERWATCH_OPTION(Bytes, memory_budget, at_least(1)) = Bytes{std::size_t{2} << 30};
  /// Keep the outputs as float16 (half the memory; about three significant digits, which the
  /// training's own noise dwarfs). false: as computed. Default true.
  LAYERWATCH_OPTION(bool, float16, AnyValue{}) = true;
  /// Recompute one batch in this many served wholly from the cache, and compare: a difference
  /// beyond float16's (or float32's) rounding turns the cache off. 0: never check.
  /// Default 50, range [0, 2^30].
  LAYERWATCH_OPTION(int64_t, verify_every, range(0, int64_t{1} << 30)) = 50;
  /// Leave a prefix uncached when its forward pass on a batch is faster than storing and
  /// reading its output (measured once per prefix, best of three each). Default true.
  LAYERWATCH_OPTION(bool, skip_cheap_prefix, AnyValue{}) = true;
  LAYERWATCH_OPTIONS_END();
};

/// Counters of a `FrozenPrefixCache`, readable at any time.
struct FrozenPrefixCacheStats {
  int64_t prefix_units = 0;     ///< Units in the cached (frozen) prefix now; 0: none.
  std::string prefix_end;       ///< The last unit of that prefix ("" when none).
  int64_t cached_examples = 0;  ///< Examples whose prefix output is cached now.
  int64_t capacity = 0;         ///< Examples the budget holds at this prefix.
  int64_t bytes = 0;            ///< Bytes the cached outputs take now.
  int64_t examples_served = 0;  ///< Examples whose prefix output came from the cache.
  /// `examples_served` by the last unit of the prefix they were served at: for those examples
  /// every unit up to and including it skipped its forward pass.
  std::map<std::string, int64_t> served_by_prefix_end;
  int64_t examples_computed = 0;  ///< Examples whose frozen prefix ran (then were cached
                                  ///< when the budget allowed).
  int64_t examples_carried = 0;   ///< Cached outputs carried through newly frozen units.
  int64_t batches_verified = 0;   ///< Batches recomputed and compared.
  /// Where the cache's time went (seconds, summed over the run): running the frozen prefix on
  /// examples it did not serve, storing outputs (conversion and copy into the cache, the first
  /// touch of its memory included), reading them back, and carrying them through newly frozen
  /// units (whose storing counts in `store_seconds` too).
  double compute_seconds = 0, store_seconds = 0, read_seconds = 0, carry_seconds = 0;
  double largest_difference = 0;  ///< Largest relative difference those comparisons found.
  bool enabled = true;            ///< false once a check turned the cache off.
  std::string off_reason;         ///< Why it is off ("" while it is on).
  /// The end of the prefix left uncached because running it is cheaper than keeping its
  /// output (`skip_cheap_prefix`; "" when the prefix now is cached or there is none).
  std::string skipped;
};

/// Caches the frozen prefix's outputs per training example. See the file comment.
class FrozenPrefixCache {
 public:
  /// One freeze unit: the monitor's name for it and the module that computes it.
  struct Unit {
    std::string name;
    torch::nn::AnyModule module;
  };

  /// The elements of `sequential` as units named "<prefix>.<index>" (the monitor's names
  /// for `watch(sequential, WatchOptions().recurse(false))`). Call after `watch`.
  static std::vector<Unit> units_of(const torch::nn::Sequential& sequential,
                                    const std::string& prefix);

  /// `monitor`: whose frozen layers define the prefix; it must outlive the cache.
  /// `units`: the model's units in forward order (see the file comment). `examples`: the
  /// training set's size (example indices are in [0, examples)). Throws
  /// `std::invalid_argument` for no units, a unit without a module, repeated names,
  /// examples < 1 or invalid options.
  FrozenPrefixCache(Monitor& monitor, std::vector<Unit> units, int64_t examples,
                    FrozenPrefixCacheOptions options = {});

  /// The model's output for `inputs` (first dimension: examples), whose training-set indices
  /// are `example_indices` (int64, one per example, in [0, examples)): the frozen prefix's
  /// output from the cache where it is there, computed (and cached) where not, then the units
  /// that still train, with autograd as usual. Throws `std::invalid_argument` when the indices
  /// are not one int64 per example or out of range.
  torch::Tensor forward(const torch::Tensor& inputs, const torch::Tensor& example_indices);

  FrozenPrefixCacheStats stats() const { return stats_; }
  const FrozenPrefixCacheOptions& options() const { return options_; }

 private:
  int64_t frozen_prefix() const;
  void move_to_prefix(int64_t units);
  std::string nondeterministic_module(int64_t units) const;
  torch::Tensor run(int64_t first, int64_t last, torch::Tensor x);
  torch::Tensor cached_rows(const torch::Tensor& indices);
  void store_rows(const torch::Tensor& indices, const torch::Tensor& outputs);
  void verify(const torch::Tensor& inputs, torch::Tensor& prefix_outputs);
  void turn_off(const std::string& reason);
  void announce(const std::string& message);
  // skip_cheap_prefix: true when running the prefix on `inputs` is faster than storing and
  // reading its output (said in the logs either way).
  bool cheaper_to_run(const torch::Tensor& inputs);

  Monitor& monitor_;
  std::vector<Unit> units_;
  int64_t examples_;
  FrozenPrefixCacheOptions options_;
  FrozenPrefixCacheStats stats_;
  torch::Tensor storage_;  // capacity × the prefix output's shape
  torch::Tensor present_;  // examples, bool: whose row of storage_ is filled
  bool sized_ = false;     // the capacity at this prefix is known (from its first output)
  int64_t full_batches_served_ = 0;
  bool judge_ = false;  // the next computed batch decides whether this prefix is worth caching
};

}  // namespace layerwatch
