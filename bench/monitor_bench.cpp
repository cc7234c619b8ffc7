// What the monitor costs the training thread, and how long the analyzer needs.
//
// 1. Step-time ratio: the same CNN training step with and without capture points installed
//    (outside probe passes), interleaved in rounds so that drift in machine speed hits both
//    alike; the ratio of the medians is reported (goal ≤ 1.01).
// 2. Analysis time: two probe passes of the CNN (500 probe images) 10 training steps apart,
//    then the time the analyzer takes to compare every layer's snapshot with its previous one
//    (SVCCA, one thread), per layer and in total, next to the training step time for scale.
//
//   build/bin/monitor_bench [--rounds 30] [--steps 4] [--batch 64]

#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>

#include "layerwatch/torch/monitor.h"

namespace {

using Clock = std::chrono::steady_clock;

// The design notes' CNN: four conv+BN+ReLU blocks (32-32-64-64) with two max-pools, then
// 3136→256→10. Flat, so every conv, BN, ReLU and pool gets its own capture point.
torch::nn::Sequential cnn() {
  torch::nn::Sequential seq;
  for (const auto& [in, out, pool] : std::vector<std::tuple<int64_t, int64_t, bool>>{
           {1, 32, false}, {32, 32, true}, {32, 64, false}, {64, 64, true}}) {
    seq->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)));
    seq->push_back(torch::nn::BatchNorm2d(out));
    seq->push_back(torch::nn::ReLU());
    if (pool) seq->push_back(torch::nn::MaxPool2d(2));
  }
  seq->push_back(torch::nn::Flatten());
  seq->push_back(torch::nn::Linear(64 * 7 * 7, 256));
  seq->push_back(torch::nn::ReLU());
  seq->push_back(torch::nn::Linear(256, 10));
  return seq;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Collects compute times of the online records.
class TimingSink : public layerwatch::Sink {
 public:
  std::string name() const override { return "timing"; }
  void write(const layerwatch::ConvergenceRecord& r) override {
    std::lock_guard<std::mutex> lock(mutex);
    records.push_back(r);
  }
  std::mutex mutex;
  std::vector<layerwatch::ConvergenceRecord> records;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Monitor overhead on the training thread and analyzer time"};
  int rounds = 30, steps = 4, batch = 64, probe_size = 500;
  app.add_option("--rounds", rounds, "Interleaved rounds")->check(CLI::Range(3, 1000));
  app.add_option("--steps", steps, "Steps per variant per round")->check(CLI::Range(1, 100));
  app.add_option("--batch", batch, "Training batch size")->check(CLI::Range(1, 1024));
  app.add_option("--probe", probe_size, "Probe images for the analysis timing")
      ->check(CLI::Range(16, 10000));
  CLI11_PARSE(app, argc, argv);

  torch::manual_seed(0);
  auto model = cnn();
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const auto x = torch::randn({batch, 1, 28, 28});
  const auto y = torch::randint(0, 10, {batch});
  const auto train_step = [&] {
    optimizer.zero_grad();
    torch::cross_entropy_loss(model->forward(x), y).backward();
    optimizer.step();
  };
  for (int i = 0; i < 3; ++i) train_step();  // warm-up

  // 1. Step time with and without capture points, interleaved.
  std::vector<double> plain, watched;
  const auto time_steps = [&](std::vector<double>& out) {
    for (int s = 0; s < steps; ++s) {
      const auto start = Clock::now();
      train_step();
      out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  };
  size_t points = 0;
  for (int r = 0; r < rounds; ++r) {
    // Alternate which variant runs first, so that neither always follows the other.
    auto handle = layerwatch::watch(model);
    points = handle.names().size();
    if (r % 2 == 0) handle.remove();
    time_steps(r % 2 == 0 ? plain : watched);
    if (r % 2 == 0) {
      handle = layerwatch::watch(model);
    } else {
      handle.remove();
    }
    time_steps(r % 2 == 0 ? watched : plain);
    handle.remove();
  }
  const double plain_ms = median(plain), watched_ms = median(watched);

  // 2. Analysis of one snapshot of every layer against the previous one.
  const auto log_dir = std::filesystem::temp_directory_path() / "layerwatch_monitor_bench";
  auto timing = std::make_shared<TimingSink>();
  layerwatch::Monitor monitor(model, torch::randn({probe_size, 1, 28, 28}),
                              layerwatch::MonitorOptions()
                                  .log_dir(log_dir.string())
                                  .sinks({})
                                  .probe(layerwatch::ProbeOptions().at_start(false))
                                  .analysis(layerwatch::AnalyzerOptions().queue_policy(
                                      layerwatch::QueuePolicy::kDropNewest)),
                              {timing});
  monitor.watch(model);
  monitor.probe();
  for (int i = 0; i < 10; ++i) train_step();  // move the weights so values are not all 1
  const auto probe_start = Clock::now();
  monitor.probe();
  const double probe_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - probe_start).count();
  const auto analysis_start = Clock::now();
  monitor.flush();
  const double analysis_wall_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - analysis_start).count();

  fmt::print("capture points: {} (every element of the CNN), batch {}, {} rounds x {} steps\n",
             points, batch, rounds, steps);
  fmt::print("step time, median   without: {:.2f} ms   with capture points: {:.2f} ms\n", plain_ms,
             watched_ms);
  fmt::print("step-time ratio (with / without): {:.4f}   (goal <= 1.01)\n\n",
             watched_ms / plain_ms);
  fmt::print("analysis of one snapshot per layer vs the previous one (svcca, {} probe images):\n",
             probe_size);
  double total = 0;
  for (const auto& r : timing->records) {
    fmt::print("  {:<4} {:>6} x {:<4} {:>8.1f} ms  svcca {:.6f} ({})\n", r.layer,
               monitor.analyzer().store().latest(r.layer)->samples(),
               monitor.analyzer().store().latest(r.layer)->features(), r.compute_ms, r.value,
               layerwatch::to_string(r.status));
    total += r.compute_ms;
  }
  fmt::print(
      "  all {} layers: {:.0f} ms of analyzer time ({:.0f} ms wall after the probe pass); "
      "probe pass on the training thread: {:.0f} ms; one training step: {:.0f} ms\n",
      timing->records.size(), total, analysis_wall_ms, probe_ms, plain_ms);
  monitor.finish();
  return 0;
}
