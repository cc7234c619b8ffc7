// FrozenPrefixCache: training through the cache equals training through the model, the cached
// prefix follows the monitor's freezes (carried forward, not recomputed), the budget bounds
// it, and inputs or layers that are not deterministic turn it off without harm.

#include "layerwatch/torch/frozen_prefix_cache.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <optional>

#include "layerwatch/torch/monitor.h"
#include "sinks/recording_sink.h"

namespace layerwatch {
namespace {

using testing::RecordingSink;

constexpr int64_t kExamples = 240, kBatch = 40, kEpochs = 4;

// A Sequential that can sit inside another one.
struct BlockImpl : torch::nn::SequentialImpl {
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Block);

torch::nn::Sequential four_units(bool dropout, bool batch_norm = false) {
  Block first(torch::nn::Linear(6, 32), torch::nn::ReLU());
  if (dropout) first->push_back(torch::nn::Dropout(0.2));
  if (batch_norm) first->push_back(torch::nn::BatchNorm1d(32));
  return torch::nn::Sequential(first, Block(torch::nn::Linear(32, 32), torch::nn::ReLU()),
                               Block(torch::nn::Linear(32, 32), torch::nn::ReLU()),
                               torch::nn::Linear(32, 3));
}

// A first unit that costs nothing to run (an identity on wide inputs) before a costly one: the
// first prefix is cheaper to run than to keep, the second is not.
torch::nn::Sequential cheap_then_costly() {
  return torch::nn::Sequential(torch::nn::Identity(),
                               Block(torch::nn::Linear(512, 256), torch::nn::ReLU(),
                                     torch::nn::Linear(256, 256), torch::nn::ReLU()),
                               Block(torch::nn::Linear(256, 32), torch::nn::ReLU()),
                               torch::nn::Linear(32, 3));
}

struct Arm {
  std::optional<FrozenPrefixCacheOptions> cache;  // nothing: the model's own forward
  bool noisy_inputs = false;                      // a new perturbation at every use
  // Dropout in unit 0, and the units frozen as freeze targets rather than watched: a watched
  // layer runs wholly in eval mode once frozen, a freeze target keeps its modules' modes.
  bool dropout = false;
  bool cheap_first = false;  // cheap_then_costly() on 512 input features
  bool batch_norm = false;   // BatchNorm in unit 0
  bool targets = false;      // the units frozen as freeze targets (as with dropout)
  bool model_train = false;  // the model's train() each epoch rather than the monitor's
};

struct Run {
  std::vector<torch::Tensor> parameters;
  std::vector<std::vector<std::string>> frozen_after;  // per epoch
  std::vector<FrozenPrefixCacheStats> stats_after;     // per epoch (cached arms)
  std::vector<MonitorEvent> events;
};

// Four epochs of the linear schedule over four units: unit i freezes after epoch i (the last,
// due after epoch 4, never does), so the cached prefix grows by one unit per epoch.
Run train(const std::string& name, const Arm& arm) {
  torch::manual_seed(3);
  auto model = arm.cheap_first ? cheap_then_costly() : four_units(arm.dropout, arm.batch_norm);
  const auto x = torch::randn({kExamples, arm.cheap_first ? 512 : 6});
  const auto y = x.narrow(1, 0, 3).argmax(1);
  auto recorder = std::make_shared<RecordingSink>();
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("prefix_cache_" + name);
  std::filesystem::remove_all(dir);
  Monitor monitor(
      model, x.narrow(0, 0, 60),
      MonitorOptions()
          .log_dir(dir.string())
          .sinks({"jsonl"})
          .probe(ProbeOptions().at_start(false))
          .freeze(FreezeOptions().policy(FreezePolicyKind::kLinear).planned_epochs(kEpochs)),
      {recorder});
  if (arm.dropout || arm.targets) {
    for (size_t i = 0; i < model->size(); ++i)
      monitor.add_freeze_target(std::to_string(i), model->ptr(i));
  } else {
    monitor.watch(model, WatchOptions().recurse(false));
  }
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  monitor.attach_optimizer(optimizer);
  std::optional<FrozenPrefixCache> cache;
  if (arm.cache)
    cache.emplace(monitor, FrozenPrefixCache::units_of(model, ""), kExamples, *arm.cache);
  Run run;
  for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
    if (arm.model_train) {
      model->train();
    } else {
      monitor.train();
    }
    const auto order = torch::randperm(kExamples, torch::kLong);
    for (int64_t b = 0; b < kExamples; b += kBatch) {
      const auto index = order.narrow(0, b, kBatch);
      auto inputs = x.index_select(0, index);
      if (arm.noisy_inputs) inputs = inputs + 0.5 * torch::randn_like(inputs);
      optimizer.zero_grad();
      const auto outputs = cache ? cache->forward(inputs, index) : model->forward(inputs);
      torch::cross_entropy_loss(outputs, y.index_select(0, index)).backward();
      optimizer.step();
      monitor.step();
    }
    monitor.end_epoch();
    run.frozen_after.push_back(monitor.frozen_layers());
    if (cache) run.stats_after.push_back(cache->stats());
  }
  monitor.finish();
  for (const auto& p : model->parameters()) run.parameters.push_back(p.detach().clone());
  run.events = recorder->events;
  return run;
}

double largest_difference(const Run& a, const Run& b) {
  double largest = 0;
  for (size_t i = 0; i < a.parameters.size(); ++i)
    largest = std::max(largest, (a.parameters[i] - b.parameters[i]).abs().max().item<double>());
  return largest;
}

int count_messages(const std::vector<MonitorEvent>& events, const std::string& text) {
  int n = 0;
  for (const auto& e : events) n += e.message.find(text) != std::string::npos ? 1 : 0;
  return n;
}

// The tests of the mechanics keep every prefix (their small units cost about as much to run as
// to keep, so the judgement could go either way).
FrozenPrefixCacheOptions keep_all() { return FrozenPrefixCacheOptions().skip_cheap_prefix(false); }
FrozenPrefixCacheOptions float32() { return keep_all().float16(false); }

TEST(FrozenPrefixCache, TrainsLikeTheModelAndServesTheFrozenPrefixFromTheCache) {
  const auto plain = train("plain", {});
  const auto cached = train("cached", {float32()});
  // The premise: one more unit frozen after each epoch.
  const std::vector<std::vector<std::string>> frozen = {
      {"0"}, {"0", "1"}, {"0", "1", "2"}, {"0", "1", "2"}};
  EXPECT_EQ(plain.frozen_after, frozen);
  EXPECT_EQ(cached.frozen_after, frozen);
  // float32 cache: the same numbers, up to a batch's kernel path.
  EXPECT_LT(largest_difference(plain, cached), 1e-5);

  const auto& s = cached.stats_after;
  // Epoch 2 runs unit 0 once per example and keeps its output.
  EXPECT_EQ(s[1].prefix_units, 1);
  EXPECT_EQ(s[1].prefix_end, "0");
  EXPECT_EQ(s[1].examples_computed, kExamples);
  EXPECT_EQ(s[1].examples_served, 0);
  EXPECT_EQ(s[1].cached_examples, kExamples);
  EXPECT_EQ(s[1].bytes, kExamples * 32 * 4);
  // Epochs 3 and 4: the cache is carried through the newly frozen unit, then serves every
  // example; the frozen units never run on the inputs again.
  EXPECT_EQ(s[2].prefix_units, 2);
  EXPECT_EQ(s[2].examples_carried, kExamples);
  EXPECT_EQ(s[2].examples_served, kExamples);
  EXPECT_EQ(s[3].prefix_units, 3);
  EXPECT_EQ(s[3].examples_carried, 2 * kExamples);
  EXPECT_EQ(s[3].examples_served, 2 * kExamples);
  EXPECT_EQ(s[3].examples_computed, kExamples);
  // Epoch 3 served at the prefix ending at unit 1, epoch 4 at the one ending at unit 2.
  const std::map<std::string, int64_t> served = {{"1", kExamples}, {"2", kExamples}};
  EXPECT_EQ(s[3].served_by_prefix_end, served);
  EXPECT_TRUE(s[3].enabled);
  EXPECT_EQ(count_messages(cached.events, "frozen-prefix cache: keeping the output of"), 3);
}

TEST(FrozenPrefixCache, Float16HalvesTheBytesAndStaysCloseToFloat32) {
  const auto plain = train("plain16", {});
  const auto half = train("half", {keep_all().verify_every(1)});
  const auto& s = half.stats_after.back();
  EXPECT_EQ(s.bytes, kExamples * 32 * 2);
  EXPECT_EQ(s.examples_served, 2 * kExamples);
  // Every served batch was recomputed and compared, within float16's rounding.
  EXPECT_EQ(s.batches_verified, 2 * kExamples / kBatch);
  EXPECT_GT(s.largest_difference, 0);
  EXPECT_LT(s.largest_difference, 2e-2);
  EXPECT_TRUE(s.enabled);
  const double difference = largest_difference(plain, half);
  EXPECT_GT(difference, 0);
  EXPECT_LT(difference, 1e-2);
}

TEST(FrozenPrefixCache, ABudgetForPartOfTheExamplesCachesThoseAndSaysSo) {
  const auto plain = train("plain_budget", {});
  const auto part = train("part", {float32().memory_budget(100 * 32 * 4 + 10)});
  EXPECT_LT(largest_difference(plain, part), 1e-5);
  const auto& s = part.stats_after.back();
  EXPECT_EQ(s.capacity, 100);
  EXPECT_EQ(s.cached_examples, 100);
  EXPECT_EQ(s.bytes, 100 * 32 * 4);
  // Epochs 3 and 4 serve the 100 cached examples and compute the other 140.
  EXPECT_EQ(s.examples_served, 200);
  EXPECT_EQ(s.examples_computed, kExamples + 2 * 140);
  EXPECT_EQ(count_messages(part.events, "holds 100 of them"), 3);
}

TEST(FrozenPrefixCache, InputsThatChangeBetweenEpochsTurnItOffAndTrainingIsUnharmed) {
  const auto plain = train("plain_noisy", {{}, /*noisy_inputs=*/true});
  const auto cached = train("cached_noisy", {keep_all().verify_every(1), true});
  // The first batch served from the cache was checked, found wrong and replaced: the run is
  // the plain run's.
  EXPECT_LT(largest_difference(plain, cached), 1e-5);
  const auto& s = cached.stats_after.back();
  EXPECT_FALSE(s.enabled);
  EXPECT_NE(s.off_reason.find("data augmentation"), std::string::npos) << s.off_reason;
  EXPECT_EQ(s.bytes, 0);
  EXPECT_EQ(count_messages(cached.events, "frozen-prefix cache off"), 1);
}

// The cached run trained as the plain one, with the cache off from the first freeze, its reason
// naming `module` in unit 0.
void expect_off_naming(const Run& plain, const Run& cached, const std::string& module) {
  EXPECT_LT(largest_difference(plain, cached), 1e-5);
  const auto& s = cached.stats_after.back();
  EXPECT_FALSE(s.enabled);
  EXPECT_NE(s.off_reason.find(module), std::string::npos) << s.off_reason;
  EXPECT_NE(s.off_reason.find("unit 0"), std::string::npos) << s.off_reason;
  EXPECT_EQ(s.examples_served, 0);
}

TEST(FrozenPrefixCache, DropoutInsideTheFrozenPrefixTurnsItOffNamingIt) {
  const auto plain = train("plain_dropout", {{}, false, /*dropout=*/true});
  const auto cached = train("cached_dropout", {float32(), false, true});
  expect_off_naming(plain, cached, "Dropout");
}

TEST(FrozenPrefixCache, AWatchedUnitIsKeptWhateverTheModelsModeAFreezeTargetIsNot) {
  // A frozen watched element runs in eval mode even after the model's train(): the cache keeps
  // serving it.
  Arm watched;
  watched.batch_norm = watched.model_train = true;
  const auto plain = train("plain_bn_watched", watched);
  watched.cache = float32();
  const auto cached = train("cached_bn_watched", watched);
  EXPECT_LT(largest_difference(plain, cached), 1e-5);
  const auto& kept = cached.stats_after.back();
  EXPECT_TRUE(kept.enabled) << kept.off_reason;
  EXPECT_EQ(kept.examples_served, 2 * kExamples);
  // A freeze target keeps its modules' modes: its BatchNorm, in training mode after the
  // model's train(), turns the cache off, naming it.
  Arm target = watched;
  target.cache.reset();
  target.targets = true;
  const auto plain_target = train("plain_bn_target", target);
  target.cache = float32();
  expect_off_naming(plain_target, train("cached_bn_target", target), "BatchNorm1d");
}

TEST(FrozenPrefixCache, APrefixCheaperToRunThanToKeepIsNotCachedUntilALongerOneFreezes) {
  Arm plain_arm, cached_arm;
  plain_arm.cheap_first = cached_arm.cheap_first = true;
  cached_arm.cache = FrozenPrefixCacheOptions().float16(false);
  const auto plain = train("plain_cheap", plain_arm);
  const auto cached = train("cached_cheap", cached_arm);
  EXPECT_LT(largest_difference(plain, cached), 1e-5);
  const auto& s = cached.stats_after;
  // Epoch 2: the identity alone is frozen; running it costs nothing, so nothing is kept.
  EXPECT_EQ(s[1].prefix_units, 1);
  EXPECT_EQ(s[1].skipped, "0");
  EXPECT_EQ(s[1].cached_examples, 0);
  EXPECT_EQ(s[1].examples_computed, 0);
  EXPECT_EQ(s[1].bytes, 0);
  // Epoch 3: with the costly block frozen too, the prefix is kept (nothing to carry).
  EXPECT_EQ(s[2].prefix_units, 2);
  EXPECT_EQ(s[2].skipped, "");
  EXPECT_EQ(s[2].examples_computed, kExamples);
  EXPECT_EQ(s[2].cached_examples, kExamples);
  EXPECT_EQ(s[2].bytes, kExamples * 256 * 4);
  // Epoch 4: carried through the next unit and served.
  EXPECT_EQ(s[3].examples_carried, kExamples);
  EXPECT_EQ(s[3].examples_served, kExamples);
  EXPECT_EQ(count_messages(cached.events, "not cached; it runs as before"), 1);
  EXPECT_EQ(count_messages(cached.events, "storing and reading its output at least"), 2);
}

TEST(FrozenPrefixCache, BadIndicesAndUnitsAreRefusedNamingTheProblem) {
  auto model = four_units(false);
  const auto dir = std::filesystem::path(::testing::TempDir()) / "prefix_cache_bad";
  Monitor monitor(model, torch::randn({20, 6}),
                  MonitorOptions().log_dir(dir.string()).sinks({"jsonl"}));
  monitor.watch(model, WatchOptions().recurse(false));
  const auto units = FrozenPrefixCache::units_of(model, "");
  ASSERT_EQ(units.size(), 4u);
  EXPECT_EQ(units[3].name, "3");
  const auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_NE(message([&] { FrozenPrefixCache c(monitor, {}, 10); }).find("no units"),
            std::string::npos);
  EXPECT_NE(message([&] {
              FrozenPrefixCache c(monitor, {units[0], units[0]}, 10);
            }).find("'0' is given twice"),
            std::string::npos);
  EXPECT_NE(message([&] { FrozenPrefixCache c(monitor, units, 0); }).find("training set's size"),
            std::string::npos);
  EXPECT_NE(message([&] {
              FrozenPrefixCache c(monitor, units, 10, FrozenPrefixCacheOptions().verify_every(-1));
            }).find("verify_every"),
            std::string::npos);
  FrozenPrefixCache cache(monitor, units, 10);
  const auto x = torch::randn({4, 6});
  EXPECT_NE(message([&] {
              cache.forward(x, torch::arange(4).to(torch::kFloat));
            }).find("one int64 index per input example"),
            std::string::npos);
  EXPECT_NE(message([&] {
              cache.forward(x, torch::arange(3));
            }).find("one int64 index per input example (4 examples)"),
            std::string::npos);
  EXPECT_NE(
      message([&] { cache.forward(x, torch::arange(8, 12)); }).find("index 11 is outside [0, 10)"),
      std::string::npos);
  // Nothing frozen: the model's own output.
  EXPECT_TRUE(torch::equal(cache.forward(x, torch::arange(4)), model->forward(x)));
}

}  // namespace
}  // namespace layerwatch
