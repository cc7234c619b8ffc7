// Monitor: the probe pass (modes, BatchNorm statistics, chunking, layouts), the path from
// capture points to records, and bad inputs that must never stop training.

#include "layerwatch/torch/monitor.h"

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <array>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "layerwatch/core/blas_threads.h"
#include "layerwatch/similarity/similarity.h"
#include "sinks/recording_sink.h"

namespace layerwatch {
namespace {

using testing::RecordingSink;

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("monitor_test_" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Probe options of the tests: no probe at the first step unless a test asks for it.
ProbeOptions quiet_probe() { return ProbeOptions().at_start(false); }

MonitorOptions quiet(const std::string& name) {
  return MonitorOptions().log_dir(temp_dir(name)).sinks({"jsonl"}).probe(quiet_probe());
}

AnalyzerOptions drop_newest() { return AnalyzerOptions().queue_policy(QueuePolicy::kDropNewest); }

// quiet() with a memory budget of `bytes` for the snapshots.
MonitorOptions quiet_with_budget(const std::string& name, std::size_t bytes) {
  return quiet(name).analysis(AnalyzerOptions().store(SnapshotStoreOptions().memory_budget(bytes)));
}

// Events whose message contains `text`.
int count_messages(const std::vector<MonitorEvent>& events, const std::string& text) {
  int n = 0;
  for (const auto& e : events) n += e.message.find(text) != std::string::npos ? 1 : 0;
  return n;
}

torch::nn::Sequential small_cnn() {
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)),
                               torch::nn::BatchNorm2d(4), torch::nn::ReLU(),
                               torch::nn::Dropout(0.5), torch::nn::Flatten(),
                               torch::nn::Linear(4 * 6 * 6, 5));
}

TEST(Monitor, ProbePassRestoresEveryModeAndLeavesBatchNormStatisticsUnchanged) {
  torch::manual_seed(0);
  auto model = small_cnn();
  // Warm the BN statistics up so that an update would be visible.
  for (int i = 0; i < 3; ++i) model->forward(torch::randn({8, 1, 6, 6}));
  model->train();
  model[3]->eval();  // a module the user keeps in eval mode must stay so
  auto* bn = model[1]->as<torch::nn::BatchNorm2d>();
  const auto mean = bn->running_mean.clone(), var = bn->running_var.clone();
  const auto batches = bn->num_batches_tracked.item<int64_t>();

  Monitor monitor(model, torch::randn({20, 1, 6, 6}), quiet("modes"));
  monitor.watch(model);
  monitor.probe();
  monitor.flush();

  EXPECT_TRUE(torch::equal(bn->running_mean, mean));
  EXPECT_TRUE(torch::equal(bn->running_var, var));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), batches);
  EXPECT_TRUE(model->is_training());
  EXPECT_FALSE(model->children()[3]->is_training());
  EXPECT_TRUE(model->children()[1]->is_training());
  EXPECT_EQ(monitor.stats().probe_passes, 1);
  EXPECT_EQ(monitor.analyzer().store().layers().size(), 6u);
}

TEST(Monitor, SnapshotsHoldTheLayerOutputsInTheDocumentedLayout) {
  torch::manual_seed(1);
  auto model = small_cnn();
  model->eval();
  const auto probe = torch::randn({10, 1, 6, 6});
  const auto conv = model->children()[0]->as<torch::nn::Conv2dImpl>()->forward(probe);
  const auto logits = model->forward(probe);

  Monitor monitor(model, probe, quiet("layout").probe(quiet_probe().batch_size(3)));
  monitor.watch(model);
  monitor.probe();
  const auto& store = monitor.analyzer().store();
  // conv: (N·H·W, C) with every position a sample (10·36 = 360 rows ≤ the cap).
  const auto conv_snapshot = store.latest("0");
  ASSERT_NE(conv_snapshot, nullptr);
  const auto expected = conv.detach().permute({0, 2, 3, 1}).reshape({360, 4}).contiguous();
  ASSERT_EQ(conv_snapshot->samples(), 360);
  ASSERT_EQ(conv_snapshot->features(), 4);
  for (int64_t r = 0; r < 360; r += 37) {
    for (int64_t c = 0; c < 4; ++c) {
      EXPECT_NEAR(conv_snapshot->values(r, c), expected[r][c].item<float>(), 1e-5);
    }
  }
  // linear: (N, features)
  const auto fc = store.latest("5");
  ASSERT_EQ(fc->samples(), 10);
  for (int64_t r = 0; r < 10; ++r) {
    for (int64_t c = 0; c < 5; ++c) EXPECT_NEAR(fc->values(r, c), logits[r][c].item<float>(), 1e-5);
  }
}

TEST(Monitor, SampleCapIsDeterministicAndIndependentOfChunking) {
  torch::manual_seed(2);
  auto model = small_cnn();
  const auto probe = torch::randn({30, 1, 6, 6});
  std::vector<Eigen::MatrixXf> snapshots;
  for (const int64_t chunk : {4, 7, 30}) {
    Monitor monitor(model, probe,
                    quiet("cap").probe(quiet_probe().batch_size(chunk).sample_cap(100)));
    auto handle = monitor.watch(model);
    monitor.probe();
    snapshots.push_back(monitor.analyzer().store().latest("0")->values);
    handle.remove();
  }
  ASSERT_EQ(snapshots[0].rows(), 100);
  EXPECT_EQ(snapshots[0], snapshots[1]);
  EXPECT_EQ(snapshots[0], snapshots[2]);
}

struct MlpImpl : torch::nn::Module {
  MlpImpl()
      : body(register_module("body",
                             torch::nn::Sequential(torch::nn::Linear(8, 32), torch::nn::ReLU(),
                                                   torch::nn::Linear(32, 16), torch::nn::ReLU()))),
        head(register_module("head", torch::nn::Linear(16, 3))) {}
  torch::Tensor forward(torch::Tensor x) { return head(tap("penultimate", body->forward(x))); }
  torch::nn::Sequential body;
  torch::nn::Linear head;
};
TORCH_MODULE(Mlp);

TEST(Monitor, TrainingLoopProducesRecordsThatEqualDirectCalls) {
  torch::manual_seed(3);
  Mlp model;
  const auto x = torch::randn({600, 8});
  const auto y = (x.narrow(1, 0, 3).argmax(1));
  auto recorder = std::make_shared<RecordingSink>();
  const auto dir = temp_dir("loop");
  Monitor monitor(model, x.narrow(0, 0, 300),
                  MonitorOptions().log_dir(dir).sinks({"jsonl"}).analysis(drop_newest()),
                  {recorder});
  monitor.watch(model->body);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  for (int epoch = 0; epoch < 4; ++epoch) {
    for (int64_t b = 0; b < 600; b += 60) {
      optimizer.zero_grad();
      torch::cross_entropy_loss(model->forward(x.narrow(0, b, 60)), y.narrow(0, b, 60)).backward();
      optimizer.step();
      monitor.step();
    }
    monitor.end_epoch();
  }
  monitor.flush();
  // Online records: every layer, every epoch (the start probe is the first reference).
  const auto online = recorder->with_reference(Reference::kPrevious);
  EXPECT_EQ(online.size(), 4u * 5u);  // body.0..body.3 and penultimate, 4 epochs
  const auto& store = monitor.analyzer().store();
  for (const auto& r : online) {
    const auto current = store.find(r.layer, r.probe_index);
    const auto reference = store.find(r.layer, r.probe_index - 1);
    ASSERT_TRUE(current && reference) << r.layer;
    const auto direct = similarity::svcca(reference->values, current->values);
    EXPECT_NEAR(r.value, direct.value, 1e-12) << r.layer << " epoch " << r.epoch;
  }
  monitor.finish();
  EXPECT_EQ(recorder->with_reference(Reference::kFinal).size(), 4u * 5u);
  // The JSONL file holds the same records, one complete JSON object per line.
  std::ifstream in(dir + "/convergence.jsonl");
  size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto o = nlohmann::json::parse(line);
    EXPECT_EQ(o["schema_version"], 1);
  }
  EXPECT_EQ(lines, recorder->records.size());
}

TEST(Monitor, NanActivationsGiveANonFiniteStatusAndTrainingGoesOn) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::Functional([](torch::Tensor x) {
                                return x * std::numeric_limits<float>::quiet_NaN();
                              }));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({50, 4}), quiet("nan").analysis(drop_newest()), {recorder});
  monitor.watch(model);
  monitor.probe();
  monitor.probe();
  monitor.finish();
  bool non_finite = false;
  for (const auto& r : recorder->records) {
    if (r.layer == "1") {
      EXPECT_EQ(r.status, Status::kNonFinite);
      non_finite = true;
    }
  }
  EXPECT_TRUE(non_finite);
}

TEST(Monitor, NonFloatOutputsBecomeErrorRecordsNamingTheLayer) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3),
                              torch::nn::Functional([](torch::Tensor x) { return x.argmax(1); }));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({20, 4}), quiet("dtype"), {recorder});
  monitor.watch(model);
  monitor.probe();
  monitor.flush();
  ASSERT_EQ(recorder->records.size(), 1u);
  EXPECT_EQ(recorder->records[0].layer, "1");
  EXPECT_EQ(recorder->records[0].status, Status::kError);
  EXPECT_NE(recorder->records[0].message.find("Long"), std::string::npos)
      << recorder->records[0].message;
  EXPECT_EQ(monitor.stats().capture_errors, 1);
}

TEST(Monitor, AnEmptyProbeSetIsReportedAndNeverProbes) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::empty({0, 4}), quiet("empty"), {recorder});
  monitor.watch(model);
  EXPECT_FALSE(monitor.probing());
  for (int i = 0; i < 5; ++i) monitor.step();
  monitor.end_epoch();
  monitor.finish();
  EXPECT_EQ(monitor.stats().probe_passes, 0);
  ASSERT_FALSE(recorder->events.empty());
  EXPECT_NE(recorder->events[0].message.find("probe set is empty"), std::string::npos);
}

TEST(Monitor, NotesWhenBlasAndLibTorchBothRunSeveralThreads) {
  const int blas_before = blas_threads();
  if (blas_before < 0) GTEST_SKIP() << "the loaded BLAS is not OpenBLAS";
  const int torch_before = torch::get_num_threads();
  const auto notes_for = [](int blas, int torch_threads) {
    torch::set_num_threads(torch_threads);
    EXPECT_TRUE(set_blas_threads(blas));
    torch::nn::Sequential model(torch::nn::Linear(4, 3));
    auto recorder = std::make_shared<RecordingSink>();
    {
      Monitor monitor(model, torch::randn({10, 4}), quiet("blas_note"), {recorder});
      monitor.finish();
    }
    int notes = 0;
    for (const auto& event : recorder->events) {
      notes += event.message.find("set_blas_threads(1)") != std::string::npos ? 1 : 0;
    }
    return notes;
  };
  EXPECT_EQ(notes_for(2, 2), 1);
  EXPECT_EQ(notes_for(1, 2), 0);
  EXPECT_EQ(notes_for(2, 1), 0);
  set_blas_threads(blas_before);
  torch::set_num_threads(torch_before);
}

TEST(Monitor, AFailingProbeForwardIsReportedAndTrainingGoesOn) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3));
  auto recorder = std::make_shared<RecordingSink>();
  // Probe inputs of the wrong width: the forward throws inside the probe pass.
  Monitor monitor(model, torch::randn({10, 7}), quiet("throws"), {recorder});
  monitor.watch(model);
  model->train();
  EXPECT_NO_THROW(monitor.end_epoch());
  monitor.flush();
  EXPECT_TRUE(model->is_training());  // modes restored after the exception
  ASSERT_FALSE(recorder->events.empty());
  EXPECT_NE(recorder->events[0].message.find("probe pass"), std::string::npos);
  EXPECT_EQ(recorder->events[0].message.find("frame #"), std::string::npos);  // no backtrace
}

TEST(Monitor, UnwritableLogDirDisablesOnlyThatSink) {
  const auto blocker = std::filesystem::path(::testing::TempDir()) / "monitor_test_blocker";
  std::ofstream(blocker) << "x";
  torch::nn::Sequential model(torch::nn::Linear(4, 3));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({40, 4}),
                  MonitorOptions().log_dir((blocker / "logs").string()).sinks({"jsonl"}),
                  {recorder});
  monitor.watch(model);
  monitor.step();  // probe at start
  monitor.step();
  monitor.end_epoch();  // a second snapshot, one step later: one record per layer
  monitor.finish();
  EXPECT_EQ(monitor.analyzer().sink_failures().size(), 1u);
  EXPECT_FALSE(recorder->records.empty());  // nothing lost for the working sink
}

TEST(Monitor, InvalidOptionsAreRejectedAtConstruction) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3));
  EXPECT_THROW(Monitor(model, torch::randn({10, 4}),
                       MonitorOptions().analysis(AnalyzerOptions().threads(0))),
               std::invalid_argument);
}

// Runs epochs of the given lengths (step() calls, then end_epoch()) and returns the steps of
// the records against the previous snapshot, and the number of probe passes.
struct ProbeSchedule {
  std::vector<int64_t> steps;
  int64_t probe_passes = 0;
};
ProbeSchedule run_probe_schedule(const MonitorOptions& options,
                                 const std::vector<int>& epoch_lengths) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({40, 4}), options, {recorder});
  monitor.watch(model);
  for (const int length : epoch_lengths) {
    for (int s = 0; s < length; ++s) {
      monitor.step();
      monitor.flush();  // analyse every snapshot (none skipped)
    }
    monitor.end_epoch();
  }
  monitor.finish();
  ProbeSchedule schedule;
  for (const auto& r : recorder->records) {
    if (r.reference == Reference::kPrevious) schedule.steps.push_back(r.step);
  }
  schedule.probe_passes = monitor.stats().probe_passes;
  return schedule;
}

TEST(Monitor, StepProbesRestartEveryEpochAndNeverRepeatAStep) {
  // 10 steps per epoch: probes at 4, 8 and the end (10, 20); then 8 steps: probes at 24 and
  // 28, and the epoch end at 28 is not repeated.
  const auto schedule = run_probe_schedule(
      quiet("probe_schedule").probe(quiet_probe().every_n_steps(4)), {10, 10, 8});
  // The first snapshot (step 4) has no predecessor, so records start at step 8.
  EXPECT_EQ(schedule.steps, (std::vector<int64_t>{8, 10, 14, 18, 20, 24, 28}));
  EXPECT_EQ(schedule.probe_passes, 8);
}

TEST(Monitor, ProbesPerEpochSpreadsProbesEvenlyOnceTheEpochLengthIsKnown) {
  // Learned from the first epoch: that one is probed at its end only (and at step 1).
  EXPECT_EQ(run_probe_schedule(quiet("per_epoch_learned").probe(ProbeOptions().per_epoch(2)),
                               {10, 10, 10})
                .steps,
            (std::vector<int64_t>{10, 15, 20, 25, 30}));
  // Told: every epoch, the first one too.
  EXPECT_EQ(
      run_probe_schedule(
          quiet("per_epoch_told").probe(ProbeOptions().per_epoch(3).steps_per_epoch(9)), {9, 9})
          .steps,
      (std::vector<int64_t>{3, 6, 9, 12, 15, 18}));
  EXPECT_EQ(
      run_probe_schedule(
          quiet("per_epoch_one").probe(ProbeOptions().per_epoch(1).steps_per_epoch(9)), {9, 9})
          .steps,
      (std::vector<int64_t>{9, 18}));
}

TEST(Monitor, CaptureHandleStopsExplicitTaps) {
  Mlp model;
  Monitor monitor(model, torch::randn({40, 8}), quiet("handle"));
  auto handle = monitor.capture_handle("penultimate");
  monitor.probe();
  EXPECT_NE(monitor.analyzer().store().latest("penultimate"), nullptr);
  handle.remove();
  monitor.probe();
  EXPECT_EQ(monitor.analyzer().store().latest("penultimate")->probe_index, 0);
}

}  // namespace
}  // namespace layerwatch

namespace layerwatch {
namespace {

TEST(MonitorFreezing, AdaptivePolicyFreezesTheConvergedPrefixAndItStopsMoving) {
  torch::manual_seed(4);
  torch::nn::Sequential model(torch::nn::Linear(8, 16), torch::nn::ReLU(),
                              torch::nn::Linear(16, 16), torch::nn::ReLU(),
                              torch::nn::Linear(16, 3));
  const auto first = model[0];
  const auto x = torch::randn({400, 8});
  const auto y = x.narrow(1, 0, 3).argmax(1);
  auto recorder = std::make_shared<RecordingSink>();
  // A low threshold, so that the test does not depend on how fast this toy converges; the cap
  // keeps the last two layers (⌊0.6·5⌋ = 3 may freeze).
  Monitor monitor(model, x.narrow(0, 0, 200),
                  quiet("freezing")
                      .freeze(FreezeOptions()
                                  .policy(FreezePolicyKind::kAdaptive)
                                  .threshold(0.3)
                                  .min_epochs(1)
                                  .max_frozen_fraction(0.6)),
                  {recorder});
  monitor.watch(model);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  monitor.attach_optimizer(optimizer);
  torch::Tensor frozen_weight;
  for (int epoch = 0; epoch < 4; ++epoch) {
    for (int64_t b = 0; b < 400; b += 40) {
      optimizer.zero_grad();
      torch::cross_entropy_loss(model->forward(x.narrow(0, b, 40)), y.narrow(0, b, 40)).backward();
      optimizer.step();
      monitor.step();
      if (!frozen_weight.defined() && !monitor.frozen_layers().empty()) {
        frozen_weight = first->as<torch::nn::LinearImpl>()->weight.clone();
      }
    }
    monitor.end_epoch();
    monitor.flush();  // lets the decisions of this epoch reach the next step deterministically
  }
  monitor.finish();
  const auto frozen = monitor.frozen_layers();
  ASSERT_EQ(frozen, (std::vector<std::string>{"0", "1", "2"}));
  ASSERT_TRUE(frozen_weight.defined());
  EXPECT_TRUE(torch::equal(first->as<torch::nn::LinearImpl>()->weight, frozen_weight));
  EXPECT_EQ(monitor.stats().frozen.size(), 3u);
  int freeze_events = 0;
  for (const auto& e : recorder->events) {
    if (e.kind == MonitorEvent::Kind::kFreeze) {
      ++freeze_events;
      EXPECT_GE(e.value, 0.3);
      EXPECT_NE(e.message.find(">= 0.3"), std::string::npos) << e.message;
    }
  }
  EXPECT_EQ(freeze_events, 3);
}

// One seeded training run with the adaptive policy and probes every 5 steps (two per epoch of 10);
// returns the freeze events and the final parameters.
struct FreezeRun {
  std::vector<std::pair<std::string, int64_t>> freezes;  // (layer, step)
  std::vector<torch::Tensor> parameters;
  MonitorStats stats;
};

FreezeRun run_freezing_toy(const std::string& name) {
  torch::manual_seed(11);
  torch::nn::Sequential model(torch::nn::Linear(8, 16), torch::nn::ReLU(),
                              torch::nn::Linear(16, 16), torch::nn::ReLU(),
                              torch::nn::Linear(16, 3));
  const auto x = torch::randn({400, 8});
  const auto y = x.narrow(1, 0, 3).argmax(1);
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, x.narrow(0, 0, 200),
                  quiet(name)
                      .probe(quiet_probe().every_n_steps(5))
                      .freeze(FreezeOptions()
                                  .policy(FreezePolicyKind::kAdaptive)
                                  .threshold(0.5)
                                  .min_epochs(0)
                                  .max_frozen_fraction(0.6)),
                  {recorder});
  monitor.watch(model);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  monitor.attach_optimizer(optimizer);
  for (int epoch = 0; epoch < 3; ++epoch) {
    for (int64_t b = 0; b < 400; b += 40) {
      optimizer.zero_grad();
      torch::cross_entropy_loss(model->forward(x.narrow(0, b, 40)), y.narrow(0, b, 40)).backward();
      optimizer.step();
      monitor.step();
    }
    monitor.end_epoch();  // no flush(): the monitor waits for its decisions itself
  }
  monitor.finish();
  FreezeRun run;
  for (const auto& e : recorder->events) {
    if (e.kind == MonitorEvent::Kind::kFreeze) run.freezes.emplace_back(e.layer, e.step);
  }
  for (const auto& p : model->parameters()) run.parameters.push_back(p.detach().clone());
  run.stats = monitor.stats();
  return run;
}

TEST(MonitorFreezing, WaitingForDecisionsFreezesAtTheProbeStepAndRepeatsExactly) {
  const FreezeRun a = run_freezing_toy("wait_a");
  const FreezeRun b = run_freezing_toy("wait_b");
  ASSERT_EQ(a.freezes.size(), 3u);
  for (const auto& [layer, step] : a.freezes) {
    EXPECT_EQ(step % 5, 0) << layer << " froze at step " << step << ", not at a probe step";
  }
  EXPECT_EQ(a.freezes, b.freezes);
  // The waits are counted apart from the probe passes (2 per epoch, none at the start here).
  EXPECT_EQ(a.stats.probe_passes, 6);
  EXPECT_GT(a.stats.decision_wait_seconds, 0.0);
  EXPECT_GT(a.stats.probe_seconds, 0.0);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (size_t i = 0; i < a.parameters.size(); ++i) {
    EXPECT_TRUE(torch::equal(a.parameters[i], b.parameters[i])) << "parameter " << i;
  }
}

// Three bias-free linear units as a chain, probed at steps 5 and 10 with learning rate 0.1 (no
// training: the weights move only by `scales`, applied to the units' weights after step 5).
// Each unit runs on its input of step 5, so its drift is its own change / 0.5 (the rate summed
// over steps 6–10), whatever its input did. Returns the notes that start with `prefix` and the
// units frozen after step 10.
std::pair<std::vector<std::string>, std::vector<std::string>> run_three_unit_chain(
    const std::string& name, FreezeOptions freeze, const std::array<double, 3>& scales,
    const std::string& prefix, bool schedule = false) {
  torch::manual_seed(4);
  const auto linear = [] { return torch::nn::Linear(torch::nn::LinearOptions(4, 4).bias(false)); };
  std::array<torch::nn::Linear, 3> units = {linear(), linear(), linear()};
  torch::nn::Sequential model(units[0], units[1], units[2]);
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({32, 4}),
                  quiet(name).probe(quiet_probe().every_n_steps(5)).freeze(freeze), {recorder});
  monitor.watch(model);
  monitor.set_unit_chain(FrozenPrefixCache::units_of(model, ""));
  // 0.1 per step for 20 steps: at step 10, steps 10–19 are still to come, 1.0 in all.
  if (schedule) monitor.set_learning_rate_schedule([](int64_t) { return 0.1; }, 20);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
  monitor.attach_optimizer(optimizer);
  for (int step = 1; step <= 10; ++step) {
    if (step == 6) {
      torch::NoGradGuard no_grad;
      for (size_t k = 0; k < units.size(); ++k) units[k]->weight.mul_(scales[k]);
    }
    monitor.step();
  }
  monitor.finish();
  std::vector<std::string> notes;
  for (const auto& e : recorder->events) {
    if (e.kind == MonitorEvent::Kind::kNote && e.message.rfind(prefix, 0) == 0)
      notes.push_back(e.message);
  }
  return {notes, monitor.frozen_layers()};
}

TEST(MonitorFreezing, DriftIsEachUnitsOwnChangeOnItsStoredInputPerUnitOfLearningRate) {
  // Unit 0 doubles, unit 1 grows by 10 %, unit 2 stays (although its input changed).
  const auto [drift, frozen] = run_three_unit_chain(
      "drift", FreezeOptions().policy(FreezePolicyKind::kDrift).min_epochs(100), {2.0, 1.1, 1.0},
      "drift per unit of learning rate");
  ASSERT_EQ(drift.size(), 1u);  // the probe at step 5 had no earlier one
  EXPECT_EQ(drift[0], "drift per unit of learning rate: 0 2, 1 0.2, 2 0");
}

TEST(MonitorFreezing, ForecastIsOneMinusDriftTimesTheLearningRateStillToCome) {
  // Unit 1 grows by 10 % (drift 0.2 per unit of rate), unit 2 by 2 % (0.04).
  const auto [forecasts, frozen] = run_three_unit_chain(
      "forecast",
      FreezeOptions().policy(FreezePolicyKind::kForecast).forecast_similarity(0.9).min_epochs(0),
      {1.0, 1.1, 1.02}, "forecast similarity", true);
  ASSERT_EQ(forecasts.size(), 1u);
  EXPECT_EQ(forecasts[0],
            "forecast similarity to the final output (learning rate still to come 1): "
            "0 1.0000, 1 0.8000, 2 0.9600");
  // Unit 0 is forecast not to move and freezes; unit 1 (0.8 < 0.9) holds back unit 2.
  EXPECT_EQ(frozen, std::vector<std::string>{"0"});
  torch::nn::Sequential model(torch::nn::Linear(4, 4));
  Monitor monitor(model, torch::randn({8, 4}), quiet("forecast_schedule"));
  EXPECT_THROW(monitor.set_learning_rate_schedule(nullptr, 5), std::invalid_argument);
  EXPECT_THROW(monitor.set_learning_rate_schedule([](int64_t) { return 0.1; }, 0),
               std::invalid_argument);
}

TEST(MonitorFreezing, TheForecastPolicyWithoutASchedulesSaysWhatToCall) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::Linear(4, 4));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({16, 4}),
                  quiet("forecast_no_schedule")
                      .probe(quiet_probe().every_n_steps(2))
                      .freeze(FreezeOptions().policy(FreezePolicyKind::kForecast).min_epochs(0)),
                  {recorder});
  monitor.watch(model);
  monitor.set_unit_chain(FrozenPrefixCache::units_of(model, ""));
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
  monitor.attach_optimizer(optimizer);
  for (int step = 0; step < 6; ++step) monitor.step();
  monitor.finish();
  EXPECT_EQ(count_messages(recorder->events, "monitor.set_learning_rate_schedule"), 1);
  EXPECT_TRUE(monitor.frozen_layers().empty());
}

TEST(MonitorFreezing, ACoolDownScalesEachStepOfTheDecidedUnitDownToZeroThenFreezesIt) {
  torch::manual_seed(8);
  torch::nn::Linear bottom(4, 4), top(4, 2);
  torch::nn::Sequential model(bottom, top);
  auto recorder = std::make_shared<RecordingSink>();
  // Linear over 2 epochs: unit 0 is due after epoch 1; a cool-down of half a 4-step epoch.
  auto options = quiet("cooldown")
                     .freeze(FreezeOptions()
                                 .policy(FreezePolicyKind::kLinear)
                                 .planned_epochs(2)
                                 .cooldown_epochs(0.5));
  Monitor monitor(model, torch::randn({16, 4}), options, {recorder});
  monitor.watch(model);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  monitor.attach_optimizer(optimizer);
  const auto x = torch::randn({8, 4});
  const auto y = torch::randint(0, 2, {8}, torch::kLong);
  // One training step; returns what it moved the bottom weight (optimizer, then monitor).
  const auto train_step = [&] {
    optimizer.zero_grad();
    torch::cross_entropy_loss(model->forward(x), y).backward();
    const auto before = bottom->weight.detach().clone();
    optimizer.step();
    const auto by_optimizer = bottom->weight.detach() - before;
    monitor.step();
    return std::make_pair(by_optimizer, bottom->weight.detach() - before);
  };
  for (int step = 0; step < 4; ++step) train_step();
  monitor.end_epoch();
  EXPECT_TRUE(monitor.frozen_layers().empty());
  EXPECT_EQ(monitor.stats().cooling, std::vector<std::string>{"0"});
  // Step 5: half of the optimizer's step stays; step 6: none, and the unit freezes.
  const auto [optimizer_5, kept_5] = train_step();
  ASSERT_GT(optimizer_5.abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::allclose(kept_5, 0.5 * optimizer_5, 1e-6, 1e-7));
  EXPECT_TRUE(monitor.frozen_layers().empty());
  const auto [optimizer_6, kept_6] = train_step();
  ASSERT_GT(optimizer_6.abs().max().item<double>(), 0.0);
  EXPECT_EQ(kept_6.abs().max().item<double>(), 0.0);
  ASSERT_EQ(monitor.frozen_layers(), std::vector<std::string>{"0"});
  EXPECT_TRUE(monitor.stats().cooling.empty());
  EXPECT_EQ(monitor.stats().frozen.at(0).step, 6);
  EXPECT_FALSE(bottom->weight.requires_grad());
  monitor.finish();
  EXPECT_EQ(count_messages(recorder->events, "cooling '0' down over 2 steps"), 1);
  EXPECT_EQ(count_messages(recorder->events, "cooled down over the 2 steps since step 4"), 1);
}

TEST(MonitorFreezing, TheDriftPolicyWithoutAUnitChainSaysWhatToCall) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::Linear(4, 4));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({16, 4}),
                  quiet("drift_no_chain")
                      .probe(quiet_probe().every_n_steps(2))
                      .freeze(FreezeOptions().policy(FreezePolicyKind::kDrift)),
                  {recorder});
  monitor.watch(model);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
  monitor.attach_optimizer(optimizer);
  for (int step = 0; step < 6; ++step) monitor.step();
  monitor.finish();
  EXPECT_EQ(std::count_if(recorder->events.begin(), recorder->events.end(),
                          [](const MonitorEvent& e) {
                            return e.message.find("monitor.set_unit_chain") != std::string::npos;
                          }),
            1);
}

TEST(MonitorFreezing, WithoutAnOptimizerNothingIsFrozenAndItSaysWhy) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::Linear(4, 2));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({50, 4}),
                  quiet("no_optimizer")
                      .freeze(FreezeOptions().policy(FreezePolicyKind::kLinear).planned_epochs(2)),
                  {recorder});
  monitor.watch(model);
  for (int epoch = 0; epoch < 2; ++epoch) {
    monitor.step();
    monitor.end_epoch();
    monitor.flush();
  }
  monitor.step();
  monitor.finish();
  EXPECT_TRUE(monitor.frozen_layers().empty());
  bool explained = false;
  for (const auto& e : recorder->events) {
    explained = explained || e.message.find("attach_optimizer") != std::string::npos;
  }
  EXPECT_TRUE(explained);
}

}  // namespace
}  // namespace layerwatch

namespace layerwatch {
namespace {

// A ResNet-style model as a user writes one: the stem's conv and BatchNorm sit directly on the
// model, residual blocks are a custom module, and Tap modules mark the capture points.
struct ResidualBlockImpl : torch::nn::Module {
  explicit ResidualBlockImpl(int64_t channels)
      : conv1(register_module(
            "conv1", torch::nn::Conv2d(
                         torch::nn::Conv2dOptions(channels, channels, 3).padding(1).bias(false)))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(channels))),
        conv2(register_module(
            "conv2", torch::nn::Conv2d(
                         torch::nn::Conv2dOptions(channels, channels, 3).padding(1).bias(false)))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(channels))) {}
  torch::Tensor forward(torch::Tensor x) {
    auto h = torch::relu(bn1(conv1(x)));
    return torch::relu(bn2(conv2(h)) + x);
  }
  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::Conv2d conv2;
  torch::nn::BatchNorm2d bn2;
};
TORCH_MODULE(ResidualBlock);

struct ResNetImpl : torch::nn::Module {
  ResNetImpl()
      : stem_conv(register_module("stem_conv",
                                  torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 6, 3).padding(1)))),
        stem_bn(register_module("stem_bn", torch::nn::BatchNorm2d(6))),
        block1(register_module("block1", ResidualBlock(6))),
        block2(register_module("block2", ResidualBlock(6))),
        head(register_module("head", torch::nn::Linear(6, 3))),
        tap_stem(register_module("tap_stem", Tap("stem"))),
        tap_block1(register_module("tap_block1", Tap("block1"))),
        tap_block2(register_module("tap_block2", Tap("block2"))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = tap_stem(torch::relu(stem_bn(stem_conv(x))));
    x = tap_block1(block1(x));
    x = tap_block2(block2(x));
    return tap("head", head(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1)));
  }
  torch::nn::Conv2d stem_conv;
  torch::nn::BatchNorm2d stem_bn;
  ResidualBlock block1, block2;
  torch::nn::Linear head;
  Tap tap_stem, tap_block1, tap_block2;
};
TORCH_MODULE(ResNet);

// Trains `epochs` epochs of 6 steps, calling `set_train()` at the start of every epoch (the
// usual `model->train()`), and `after_epoch(epoch)` after each `end_epoch()`.
template <typename SetTrain, typename AfterEpoch>
void train_resnet(ResNet& model, Monitor& monitor, torch::optim::Optimizer& optimizer, int epochs,
                  SetTrain set_train, AfterEpoch after_epoch) {
  torch::manual_seed(21);
  const auto x = torch::randn({96, 1, 6, 6});
  const auto y = (x.mean({1, 2, 3}) > 0).to(torch::kLong) + (x[0][0][0][0] > 0).to(torch::kLong);
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    set_train();
    for (int64_t b = 0; b < 96; b += 16) {
      optimizer.zero_grad();
      torch::cross_entropy_loss(model->forward(x.narrow(0, b, 16)), y.narrow(0, b, 16)).backward();
      optimizer.step();
      monitor.step();
    }
    monitor.end_epoch();
    after_epoch(epoch);
  }
}

MonitorOptions linear_freeze(const std::string& name, int64_t planned_epochs) {
  return quiet(name).freeze(
      FreezeOptions().policy(FreezePolicyKind::kLinear).planned_epochs(planned_epochs));
}

TEST(MonitorFreezing, AFreezeThatWouldLeaveNothingToTrainIsRefusedAndTrainingGoesOn) {
  torch::manual_seed(6);
  ResNet model;
  auto recorder = std::make_shared<RecordingSink>();
  // Pace 0.5 over 2 epochs: all four units, the head included, are due after epoch 1.
  auto options = linear_freeze("refused", 2);
  options.freeze().linear_pace(0.5);
  Monitor monitor(model, torch::randn({40, 1, 6, 6}), options, {recorder});
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05));
  monitor.attach_optimizer(optimizer);
  monitor.add_freeze_target("stem", model->stem_conv.ptr());
  monitor.add_freeze_target("stem", model->stem_bn.ptr());
  monitor.add_freeze_target("block1", model->block1.ptr());
  monitor.add_freeze_target("block2", model->block2.ptr());
  monitor.add_freeze_target("head", model->head.ptr());
  std::vector<std::vector<std::string>> frozen_after;
  // Epoch 2 runs backward through the head alone; freezing it too would make backward throw.
  ASSERT_NO_THROW(train_resnet(
      model, monitor, optimizer, 2, [&] { monitor.train(); },
      [&](int) { frozen_after.push_back(monitor.frozen_layers()); }));
  monitor.finish();
  const std::vector<std::string> all_but_head = {"stem", "block1", "block2"};
  EXPECT_EQ(frozen_after[0], all_but_head);
  EXPECT_EQ(frozen_after[1], all_but_head);
  for (const auto& p : model->head->parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(count_messages(recorder->events, "not freezing 'head'"), 1);
  EXPECT_EQ(count_messages(recorder->events, "last parameters the optimizer trains"), 1);
}

TEST(MonitorFreezing, OneFreezeUnitHoldsEveryModuleAddedUnderItsName) {
  torch::manual_seed(5);
  ResNet model;
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({40, 1, 6, 6}), linear_freeze("unit", 3), {recorder});
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  monitor.attach_optimizer(optimizer);
  // The stem is two modules on the model itself: one unit, added in two calls.
  monitor.add_freeze_target("stem", model->stem_conv.ptr());
  monitor.add_freeze_target("stem", model->stem_bn.ptr());
  monitor.add_freeze_target("block1", model->block1.ptr());
  monitor.add_freeze_target("block2", model->block2.ptr());
  EXPECT_THROW(monitor.add_freeze_target("head", nullptr), std::invalid_argument);
  // Three units over three planned epochs: one per epoch, bottom-up.
  std::vector<std::vector<std::string>> frozen_after;
  train_resnet(
      model, monitor, optimizer, 3, [&] { monitor.train(); },
      [&](int) { frozen_after.push_back(monitor.frozen_layers()); });
  monitor.finish();
  EXPECT_EQ(frozen_after[0], (std::vector<std::string>{"stem"}));
  EXPECT_EQ(frozen_after[1], (std::vector<std::string>{"stem", "block1"}));
  EXPECT_EQ(frozen_after[2], (std::vector<std::string>{"stem", "block1", "block2"}));
  for (const auto& p : model->stem_conv->parameters()) EXPECT_FALSE(p.requires_grad());
  for (const auto& p : model->stem_bn->parameters()) EXPECT_FALSE(p.requires_grad());
  for (const auto& p : model->head->parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(count_messages(recorder->events, "linear schedule"), 3);
  // What each freeze touched, as a user reads it from the stats: the stem's conv weight and
  // bias and BatchNorm weight and bias left the optimizer with their momentum buffers; a
  // residual block has two bias-free convs and two BatchNorms.
  const auto frozen = monitor.stats().frozen;
  ASSERT_EQ(frozen.size(), 3u);
  EXPECT_EQ(frozen[0].layer, "stem");
  EXPECT_EQ(frozen[0].epoch, 1);
  EXPECT_EQ(frozen[0].step, 6);
  EXPECT_EQ(frozen[0].report.parameters, 4);
  EXPECT_EQ(frozen[0].report.removed_from_optimizer, 4);
  EXPECT_EQ(frozen[0].report.optimizer_states_erased, 4);
  EXPECT_EQ(frozen[0].report.batchnorm_modules, 1);
  EXPECT_EQ(frozen[1].layer, "block1");
  EXPECT_EQ(frozen[1].report.parameters, 6);
  EXPECT_EQ(frozen[1].report.removed_from_optimizer, 6);
  EXPECT_EQ(frozen[1].report.optimizer_states_erased, 6);
  EXPECT_EQ(frozen[1].report.batchnorm_modules, 2);
  EXPECT_FALSE(frozen[1].report.autograd_skipped);  // a freeze target, not a watched Sequential
  size_t left = 0;
  for (const auto& group : optimizer.param_groups()) left += group.params().size();
  EXPECT_EQ(left, 2u);  // the head's weight and bias
}

TEST(MonitorFreezing, BatchNormOfAFreezeTargetStaysInEvalThroughModelTrain) {
  for (const bool use_monitor_train : {false, true}) {
    SCOPED_TRACE(use_monitor_train ? "monitor.train()" : "model->train()");
    torch::manual_seed(6);
    ResNet model;
    auto recorder = std::make_shared<RecordingSink>();
    Monitor monitor(model, torch::randn({40, 1, 6, 6}), linear_freeze("bn_eval", 2), {recorder});
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    monitor.attach_optimizer(optimizer);
    monitor.add_freeze_target("block1", model->block1.ptr());
    monitor.add_freeze_target("block2", model->block2.ptr());
    auto* bn = model->block1->bn1.get();
    torch::Tensor mean_at_freeze, var_at_freeze;
    train_resnet(
        model, monitor, optimizer, 3,
        [&] {
          if (use_monitor_train) {
            monitor.train();
          } else {
            model->train();
          }
        },
        [&](int epoch) {
          if (epoch == 1) {
            ASSERT_EQ(monitor.frozen_layers(), std::vector<std::string>{"block1"});
            mean_at_freeze = bn->running_mean.clone();
            var_at_freeze = bn->running_var.clone();
          }
        });
    monitor.finish();
    // Two more epochs of training: the frozen block's statistics never moved.
    EXPECT_TRUE(torch::equal(bn->running_mean, mean_at_freeze));
    EXPECT_TRUE(torch::equal(bn->running_var, var_at_freeze));
    EXPECT_FALSE(bn->is_training());
    EXPECT_TRUE(model->head->is_training());  // the rest is in training mode as asked
    // model->train() put it in training mode: said once, with what to call instead.
    EXPECT_EQ(count_messages(recorder->events, "monitor.train()"), use_monitor_train ? 0 : 1);
  }
}

TEST(Monitor, ASnapshotLargerThanTheWholeBudgetIsTooLargeNotACaptureError) {
  // 200 × 1500 floats = 1.2 MB, over a 1 MiB budget; the second layer fits.
  torch::nn::Sequential model(torch::nn::Linear(10, 1500), torch::nn::Linear(1500, 4));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({200, 10}), quiet_with_budget("too_large", 1 << 20),
                  {recorder});
  monitor.watch(model);
  monitor.probe();
  monitor.probe();
  monitor.finish();
  int too_large = 0;
  for (const auto& r : recorder->records) {
    if (r.layer != "0") continue;
    EXPECT_EQ(r.status, Status::kTooLarge) << r.message;
    EXPECT_NE(r.message.find("memory budget"), std::string::npos) << r.message;
    ++too_large;
  }
  EXPECT_EQ(too_large, 2);
  EXPECT_EQ(monitor.stats().capture_errors, 0);
  EXPECT_FALSE(recorder->with_reference(Reference::kPrevious).empty());  // layer 1 compared
}

TEST(Monitor, ABudgetTooSmallForTwoSnapshotsOfEachLayerIsSaidOnceWithTheBudgetNeeded) {
  // Two layers of 200 × 600 floats (0.46 MiB each): comparing each with its previous snapshot
  // needs four snapshots at once, 1.83 MiB, against a budget of 1 MiB.
  torch::nn::Sequential model(torch::nn::Linear(10, 600), torch::nn::Linear(600, 600));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model, torch::randn({200, 10}), quiet_with_budget("two_snapshots", 1 << 20),
                  {recorder});
  monitor.watch(model);
  for (int i = 0; i < 4; ++i) {
    monitor.probe();
    monitor.flush();
  }
  monitor.finish();
  ASSERT_EQ(count_messages(recorder->events, "needs at least"), 1);
  for (const auto& e : recorder->events) {
    if (e.message.find("needs at least") == std::string::npos) continue;
    EXPECT_NE(e.message.find("1.9 MiB"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("memory_budget"), std::string::npos) << e.message;
  }
}

TEST(Monitor, MessagesAppearOnceWithTheDefaultConsoleSink) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3));
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  {
    Monitor monitor(model, torch::empty({0, 4}),
                    MonitorOptions().log_dir(temp_dir("console_once")).report(false));
    monitor.finish();
  }
  const std::string out = ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  const auto count = [](const std::string& text, const std::string& what) {
    int n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(out, "probe set is empty") + count(err, "probe set is empty"), 1)
      << "stdout:\n"
      << out << "stderr:\n"
      << err;
}

TEST(Monitor, AProbeForwardThrowingANonStandardExceptionNeverReachesTheLoop) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3));
  auto recorder = std::make_shared<RecordingSink>();
  Monitor monitor(model.ptr(), torch::randn({10, 4}), [](const torch::Tensor&) { throw 42; },
                  quiet("throws_int"), {recorder});
  EXPECT_NO_THROW(monitor.probe());
  EXPECT_NO_THROW(monitor.step());
  EXPECT_NO_THROW(monitor.end_epoch());  // probes again, one step later
  monitor.finish();
  EXPECT_EQ(count_messages(recorder->events, "probe pass"), 2);
  EXPECT_TRUE(model->is_training());
}

}  // namespace
}  // namespace layerwatch

namespace layerwatch {
namespace {

// Three classes in 10 dimensions; the labels of the probe set go to the probes.
TEST(MonitorProbing, LinearProbesAndClassLogitsReachTheLogsForEveryWatchedLayer) {
  torch::manual_seed(3);
  const auto centres = 2.0 * torch::randn({3, 10});
  const auto labels = torch::arange(150) % 3;
  const auto inputs = centres.index_select(0, labels) + torch::randn({150, 10});
  torch::nn::Sequential model(torch::nn::Linear(10, 16), torch::nn::ReLU(),
                              torch::nn::Linear(16, 3));
  auto sink = std::make_shared<RecordingSink>();
  auto options = quiet("probing").probe(ProbeOptions().at_start(true));
  options.analysis().queue_policy(QueuePolicy::kDropNewest);
  options.analysis().probing().linear_probe(true).class_logits("2");
  Monitor monitor(model, inputs, options, {sink});
  monitor.watch(model);
  monitor.set_probe_labels(labels);
  torch::optim::SGD optimizer(model->parameters(), 0.1);
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (int batch = 0; batch < 5; ++batch) {
      const auto x = inputs.narrow(0, batch * 30, 30), y = labels.narrow(0, batch * 30, 30);
      optimizer.zero_grad();
      torch::nn::functional::cross_entropy(model->forward(x), y).backward();
      optimizer.step();
      monitor.step();
    }
    monitor.end_epoch();
  }
  monitor.finish();
  int linear = 0, class_logit = 0;
  for (const auto& r : sink->probes) {
    EXPECT_TRUE(has_value(r.status)) << r.layer << ": " << r.message;
    if (r.kind == ProbeRecord::Kind::kLinearProbe) {
      ++linear;
      EXPECT_GT(r.accuracy, 0.6) << r.layer;  // the classes are well separated
      EXPECT_NE(r.layer, "2");
    } else {
      ++class_logit;
      EXPECT_GE(r.class_index, 0);
      EXPECT_LT(r.class_index, 3);
    }
  }
  EXPECT_EQ(linear, 3 * 2);           // 3 probe passes × layers 0 and 1
  EXPECT_EQ(class_logit, 3 * 2 * 3);  // × 3 classes
  // The JSONL sink wrote them to probes.jsonl, one line each.
  std::ifstream in(std::filesystem::path(options.log_dir()) / "probes.jsonl");
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    EXPECT_TRUE(nlohmann::json::parse(line).is_object()) << line;
    ++lines;
  }
  EXPECT_EQ(lines, linear + class_logit);
}

TEST(MonitorProbing, LabelsThatDoNotFitTheProbeSetAreRefusedNamingTheProblem) {
  torch::nn::Sequential model(torch::nn::Linear(4, 2));
  Monitor monitor(model, torch::randn({20, 4}), quiet("probing_bad"));
  const auto expect_refused = [&](const torch::Tensor& labels, const std::string& part) {
    try {
      monitor.set_probe_labels(labels);
      ADD_FAILURE() << "accepted; expected an error naming " << part;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_refused(torch::zeros({19}, torch::kLong), "one class index per probe example (20)");
  expect_refused(torch::zeros({20}), "dtype");
  expect_refused(torch::zeros({20, 1}, torch::kLong), "shape [20, 1]");
  expect_refused(torch::full({20}, -1, torch::kLong), "negative");
  monitor.set_probe_labels(torch::zeros({20}, torch::kInt));  // any integer type
}

}  // namespace
}  // namespace layerwatch
