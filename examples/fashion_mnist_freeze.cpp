// Freeze training on Fashion-MNIST: a CNN (four conv+BN+ReLU blocks, then two linear layers) or
// a residual network (--model resnet; examples/freeze_models.h) trained with SGD and a cosine
// (or step, --lr-schedule) learning rate, with layerwatch attached. Layers whose
// representation has converged are frozen bottom-up, so later steps skip their backward pass.
//
//   build/bin/fashion_mnist_freeze --policy adaptive            # full training set
//   build/bin/fashion_mnist_freeze --policy none --epochs 2 --train-subset 10000
//
// Ends with one JSON line: {"policy":…, "epochs":…, "wall_s":…, "train_s_per_epoch":[…],
// "test_acc":…, "frozen":{"layer":epoch,…}, "backward_saved_fraction":…, "process_s":…,
// "steps_s":…, "outside_steps_s":…, "minor_faults":…, "large_buffers":{"fresh":…,"reused":…}}:
// wall_s from the first step, process_s from the start, steps_s the training steps alone,
// outside_steps_s the rest, large_buffers the blocks of 2 MiB and more mapped afresh and
// reused. Every sink writes
// into --log-dir (console, convergence.jsonl + events.jsonl, convergence.csv, a TensorBoard
// event file; choose others with --sink), plus summary.json and report.html at the end.
// Ctrl-C stops after the current step and leaves complete logs and the report.
//
// With --checkpoint-dir DIR, every epoch end writes DIR/epoch-NNNN.pt (model, optimizer,
// monitor, the random generator's state and the data order's position) atomically: the
// previous checkpoint stays valid until the new one is complete. --resume continues from DIR's
// newest checkpoint, and the logs continue where that checkpoint left them.
//
// --cache-frozen keeps the frozen layers' output per training image (float16, within
// --cache-budget MiB), so the epochs after a freeze skip those layers' forward pass as well as
// their backward pass (layerwatch::FrozenPrefixCache).
//
// Data-parallel: --nproc N starts N local ranks over Gloo on 127.0.0.1 (the cores split
// between them); a launcher that sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT works too.
// Each rank trains on its shard of the training set (--batch per rank), the gradients are
// averaged across the ranks, layers freeze on every rank at the same step, and rank 0 writes
// the one set of logs, the report and the JSON line (with "world_size").

#include <fmt/format.h>
#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "fashion_mnist_data.h"
#include "freeze_models.h"
#include "layerwatch/core/blas_threads.h"
#include "layerwatch/io/checkpoint.h"
#include "layerwatch/report/html_report.h"
#include "layerwatch/torch/frozen_prefix_cache.h"
#include "layerwatch/torch/huge_page_allocator.h"
#include "layerwatch/torch/monitor.h"
#include "unit_costs.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

// One line of progress: a bar, the rate over the last steps (so the ETA follows the speed-up
// after a freeze) and the ETA of the epoch.
class Progress {
 public:
  Progress(int64_t total, int epoch, int epochs)
      : total_(total), epoch_(epoch), epochs_(epochs), tty_(isatty(STDERR_FILENO) != 0) {}

  void update(int64_t done, const std::string& frozen) {
    const auto now = Clock::now();
    if (last_ != Clock::time_point{}) {
      const double step = std::chrono::duration<double>(now - last_).count();
      rate_step_ = rate_step_ == 0 ? step : 0.9 * rate_step_ + 0.1 * step;
    }
    last_ = now;
    const bool milestone =
        done == total_ || (!tty_ && done % std::max<int64_t>(1, total_ / 4) == 0);
    if (!milestone && (!tty_ || std::chrono::duration<double>(now - drawn_).count() < 0.25)) return;
    drawn_ = now;
    const int width = 30;
    const int filled = static_cast<int>(width * done / std::max<int64_t>(1, total_));
    const double eta = rate_step_ * static_cast<double>(total_ - done);
    fmt::print(stderr, "{}epoch {}/{} [{}{}] {}/{} {:.1f} it/s ETA {}:{:02d}{}{}", tty_ ? "\r" : "",
               epoch_, epochs_, std::string(filled, '#'), std::string(width - filled, '.'), done,
               total_, rate_step_ > 0 ? 1.0 / rate_step_ : 0.0, static_cast<int>(eta) / 60,
               static_cast<int>(eta) % 60, frozen.empty() ? "" : "  frozen: ", frozen,
               tty_ && done != total_ ? "   " : "\n");
  }

 private:
  int64_t total_;
  int epoch_, epochs_;
  bool tty_;
  double rate_step_ = 0;
  Clock::time_point last_{}, drawn_{};
};

double accuracy(freeze_models::Model& model, const fashion_mnist::Split& test) {
  torch::NoGradGuard no_grad;
  const bool training = model.module->is_training();
  model.module->eval();
  int64_t correct = 0;
  for (int64_t b = 0; b < test.images.size(0); b += 1000) {
    const int64_t n = std::min<int64_t>(1000, test.images.size(0) - b);
    const auto logits = model.forward(test.images.narrow(0, b, n));
    correct += logits.argmax(1).eq(test.labels.narrow(0, b, n)).sum().item<int64_t>();
  }
  model.module->train(training);
  return 100.0 * static_cast<double>(correct) / static_cast<double>(test.images.size(0));
}

// The run's summary beside its logs, and the report again so that it shows the summary too
// (Monitor::finish wrote one before the summary existed).
void write_summary_and_report(const nlohmann::json& summary,
                              const layerwatch::MonitorOptions& options) {
  const auto path = std::filesystem::path(options.log_dir()) / "summary.json";
  std::ofstream file(path);
  file << summary.dump(2) << "\n";
  file.close();
  if (!file) {
    fmt::print(stderr, "fashion_mnist_freeze: cannot write {}\n", path.string());
    return;
  }
  if (!options.report()) return;
  try {
    const auto result = layerwatch::write_report(options.log_dir());
    fmt::print("report: {}\n", result.path);
  } catch (const std::exception& e) {
    fmt::print(stderr, "fashion_mnist_freeze: report not written: {}\n", e.what());
  }
}

// The learning rate at `step` of `total`: cosine decay from `peak` to 0, or steps (`peak`, a
// tenth of it from half of training, a hundredth from three quarters).
double learning_rate(const std::string& schedule, double peak, int64_t step, int64_t total) {
  const double f = static_cast<double>(step) / static_cast<double>(total);
  if (schedule == "step") return peak * (f < 0.5 ? 1.0 : f < 0.75 ? 0.1 : 0.01);
  return 0.5 * peak * (1 + std::cos(M_PI * f));
}

// A checkpoint that cannot be used: the example says why and exits with code 3.
struct CheckpointProblem : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What must be equal for a checkpoint to continue this command's run.
std::string run_identity(const std::string& model, const std::string& policy, int epochs,
                         int64_t train_subset, int batch, int seed, double lr,
                         const std::string& lr_schedule, int probe_size) {
  return fmt::format("{}policy={} epochs={} train_subset={} batch={} seed={} lr={}{} probe={}",
                     model == "cnn" ? "" : "model=" + model + " ", policy, epochs, train_subset,
                     batch, seed, lr, lr_schedule == "cosine" ? "" : " lr_schedule=" + lr_schedule,
                     probe_size);
}

// Checkpoints of one run: DIR/epoch-NNNN.pt, written atomically; the two newest are kept.
class Checkpoints {
 public:
  explicit Checkpoints(std::string dir) : dir_(std::move(dir)) {}

  // Temporary files of a run killed while writing (one run per directory, so none is live).
  void remove_temporaries() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      const auto name = entry.path().filename().string();
      if (name.rfind(".epoch-", 0) == 0 && name.find(".tmp-") != std::string::npos)
        std::filesystem::remove(entry.path(), ec);
    }
  }

  // The newest complete checkpoint older than `before` (temporary files have other names), or
  // empty.
  std::string newest(const std::string& before = "") const {
    std::string best;
    const auto limit = std::filesystem::path(before).filename().string();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      const auto name = entry.path().filename().string();
      if (name.size() == 13 && name.rfind("epoch-", 0) == 0 && name.compare(10, 3, ".pt") == 0 &&
          name > std::filesystem::path(best).filename().string() && (limit.empty() || name < limit))
        best = entry.path().string();
    }
    return best;
  }

  // Every rank calls it (the monitor's save is a collective); only `write` (rank 0) writes.
  void save(int epoch, int64_t step, const std::string& identity, torch::nn::Module& model,
            torch::optim::Optimizer& optimizer, layerwatch::Monitor* monitor, bool write) {
    torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
    model.save(model_archive);
    optimizer.save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    if (monitor) monitor->save(archive);
    if (!write) return;
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      archive.write("rng", generator.get_state());
    }
    archive.write("epoch", torch::tensor(static_cast<int64_t>(epoch)));
    archive.write("step", torch::tensor(step));
    archive.write("run", c10::IValue(identity));
    const auto path = path_of(epoch);
    // Into memory first: LibTorch's save_to(file) throws from a destructor when the disk is
    // full, which ends the process; write_file_atomically reports it and keeps the old file.
    std::ostringstream bytes;
    archive.save_to(bytes);
    layerwatch::write_file_atomically(path, bytes.str());
    // The newest two stay: the new one, and the one before it in case the new one is damaged.
    std::error_code ec;
    if (epoch > 2) std::filesystem::remove(path_of(epoch - 2), ec);
  }

  struct Position {
    int epoch = 0;
    int64_t step = 0;
  };

  // Loads `path` into the model, the monitor and the optimizer, in that order, and restores
  // the generator. Throws CheckpointProblem naming the file and what is wrong.
  Position load(const std::string& path, const std::string& identity, torch::nn::Module& model,
                torch::optim::Optimizer& optimizer, layerwatch::Monitor* monitor) {
    const auto problem = [&](const std::string& what) {
      return CheckpointProblem(fmt::format("checkpoint {}: {}", path, what));
    };
    torch::serialize::InputArchive archive, model_archive, optimizer_archive;
    try {
      archive.load_from(path);
    } catch (const c10::Error& e) {
      throw problem(
          fmt::format("unreadable (truncated or corrupt): {}", e.what_without_backtrace()));
    }
    c10::IValue run;
    torch::Tensor epoch, step, rng;
    try {
      archive.read("run", run);
      archive.read("epoch", epoch);
      archive.read("step", step);
      archive.read("rng", rng);
    } catch (const c10::Error& e) {
      throw problem(
          fmt::format("not a checkpoint of this example: {}", e.what_without_backtrace()));
    }
    if (!run.isString() || run.toStringRef() != identity) {
      throw problem(fmt::format("it continues another run ({}); this command is {}",
                                run.isString() ? run.toStringRef() : "?", identity));
    }
    try {
      archive.read("model", model_archive);
      model.load(model_archive);
    } catch (const c10::Error& e) {
      throw problem(fmt::format("its model does not fit this one: {}", e.what_without_backtrace()));
    }
    try {
      if (monitor) monitor->load(archive);  // re-freezes before the optimizer's state comes in
    } catch (const layerwatch::CheckpointError& e) {
      throw problem(e.what());
    }
    try {
      archive.read("optimizer", optimizer_archive);
      optimizer.load(optimizer_archive);
    } catch (const c10::Error& e) {
      throw problem(
          fmt::format("its optimizer state does not fit: {}", e.what_without_backtrace()));
    }
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
    return {static_cast<int>(epoch.item<int64_t>()), step.item<int64_t>()};
  }

 private:
  std::string path_of(int epoch) const {
    return (std::filesystem::path(dir_) / fmt::format("epoch-{:04d}.pt", epoch)).string();
  }
  std::string dir_;
};

}  // namespace

int main(int argc, char** argv) {
  const auto program_start = Clock::now();
  CLI::App app{"Freeze training on Fashion-MNIST with layerwatch"};
  std::string policy = "adaptive", model_name = "cnn", lr_schedule = "cosine",
              data = fashion_mnist::kDefaultDir, config, log_dir;
  int epochs = 6, seed = 0, probe_size = 500, batch = 128, blas_threads = 1;
  int64_t train_subset = 0;
  double lr = 0.05, linear_pace = 0, cooldown_epochs = -1;
  bool eval_each_epoch = false, no_monitor = false, huge_pages = true, resume = false;
  bool linear_probe = false, class_logits = false, cache_frozen = false, cost_model = false;
  int64_t cache_budget_mib = 2048;
  bool cache_every_prefix = false;
  int nproc = 1, threads = 0, timeout_s = 300;
  std::string checkpoint_dir;
  std::vector<std::string> sinks;
  app.add_option("--policy", policy, "Freeze policy")
      ->check(CLI::IsMember({"none", "linear", "adaptive", "drift", "forecast"}));
  app.add_option("--linear-pace", linear_pace,
                 "linear policy: pace α, layer i of L frozen at min(1, α·i/L) of training (default "
                 "1, or the config's freeze.linear_pace)")
      ->check(CLI::Range(0.01, 10.0));
  app.add_option("--cooldown-epochs", cooldown_epochs,
                 "Every policy: cool a decided layer down over this many epochs (its steps "
                 "scaled from 1 to 0), then freeze it (default 0, or the config's "
                 "freeze.cooldown_epochs)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_flag("--cache-frozen", cache_frozen,
               "Keep the frozen layers' output per training image (float16), so later epochs "
               "skip their forward pass too (layerwatch::FrozenPrefixCache)");
  app.add_option("--cache-budget", cache_budget_mib,
                 "--cache-frozen: most memory the cached outputs take, in MiB (default 2048)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_flag("--cache-every-prefix", cache_every_prefix,
               "--cache-frozen: cache a frozen prefix even when running it is faster than "
               "storing and reading its output (FrozenPrefixCacheOptions::skip_cheap_prefix "
               "false; the choice otherwise depends on timing)");
  app.add_option("--model", model_name,
                 "cnn: four conv blocks and two linear layers (Sequentials, watched); resnet: a "
                 "stem, three residual blocks and a linear head (a custom module with taps)")
      ->check(CLI::IsMember({"cnn", "resnet"}));
  app.add_flag("--cost-model", cost_model,
               "Time each unit's forward and backward pass on one batch before training, and "
               "report the step time they predict for this run's freezes (\"cost_model\" in "
               "the JSON line; examples/unit_costs.h)");
  app.add_option("--epochs", epochs, "Training epochs")->check(CLI::Range(1, 1000));
  app.add_option("--train-subset", train_subset, "Use only the first N training images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "Random seed (weights and shuffling)");
  app.add_option("--config", config, "JSON config (see configs/default.json)");
  app.add_option("--log-dir", log_dir,
                 "Log directory (default layerwatch_logs/fashion_mnist_<policy>)");
  app.add_option("--sink", sinks,
                 "Sink, repeatable: console, jsonl[:PATH], csv[:PATH], tb[:DIR] (default: all "
                 "four, in the log directory)");
  app.add_option("--data", data, "Directory with the Fashion-MNIST IDX files (.gz or not)");
  app.add_option("--probe", probe_size, "Probe images (from the test set)")
      ->check(CLI::Range(100, 10000));
  app.add_option("--batch", batch, "Batch size")->check(CLI::Range(1, 4096));
  app.add_option("--lr", lr, "Peak learning rate")->check(CLI::PositiveNumber);
  app.add_option("--lr-schedule", lr_schedule,
                 "cosine: decay from --lr to 0; step: --lr, then a tenth from half of training, a "
                 "hundredth from three quarters (default cosine)")
      ->check(CLI::IsMember({"cosine", "step"}));
  app.add_option("--blas-threads", blas_threads,
                 "Threads of the BLAS library (OpenBLAS); LibTorch keeps its own pool, and the two "
                 "at the core count compete (0 = as OPENBLAS_NUM_THREADS set it)")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--eval-each-epoch", eval_each_epoch,
               "Test accuracy after every epoch (default: at the end only; it costs a pass over "
               "the 10000 test images)");
  app.add_flag("--linear-probe", linear_probe,
               "Fit a linear probe with a control task on every watched layer at each probe pass "
               "(the probe images' labels are known)");
  app.add_flag("--class-logits", class_logits,
               "Class-logit CCA of every watched layer against the logits (classifier.1)");
  app.add_flag("--no-monitor", no_monitor,
               "Train without layerwatch (the baseline for the monitor's overhead)");
  app.add_flag("--huge-pages,!--no-huge-pages", huge_pages,
               "LibTorch's CPU tensors on transparent huge pages, their memory reused "
               "(layerwatch::use_huge_page_allocator; default on)");
  app.add_option("--checkpoint-dir", checkpoint_dir,
                 "Write a checkpoint (model, optimizer, monitor, random state) at every epoch end "
                 "into this directory");
  app.add_flag("--resume", resume,
               "Continue from the newest checkpoint in --checkpoint-dir (started afresh if there "
               "is none)");
  app.add_option("--nproc", nproc,
                 "Data-parallel: start this many local ranks over Gloo on 127.0.0.1")
      ->check(CLI::Range(1, 64));
  app.add_option("--threads", threads,
                 "LibTorch intra-op threads (default: the cores, split between the local ranks)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--timeout", timeout_s,
                 "Data-parallel: seconds after which a rank that stopped answering ends the run")
      ->check(CLI::Range(1, 86400));
  CLI11_PARSE(app, argc, argv);
  if (nproc > 1 && !layerwatch::DistributedEnvironment::launched()) {
    // This process only launches the ranks (each one re-runs this program) and waits for them.
    return layerwatch::run_local_ranks(nproc, argc, argv, std::chrono::seconds(timeout_s + 30));
  }
  layerwatch::DistributedEnvironment env;
  layerwatch::GlooGroup group;
  if (layerwatch::DistributedEnvironment::launched()) {
    try {
      env = layerwatch::DistributedEnvironment::from_environment();
      if (env.world_size > 1) {
        group = layerwatch::make_gloo_group(env, std::chrono::seconds(timeout_s));
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "fashion_mnist_freeze: {}\n", e.what());
      return 2;
    }
  }
  const bool distributed = env.world_size > 1;
  const bool rank0 = env.rank == 0;
  if (distributed && no_monitor) {
    fmt::print(stderr,
               "fashion_mnist_freeze: --no-monitor trains one process: the gradient all-reduce "
               "of several ranks is the monitor's\n");
    return 2;
  }
  if (cache_frozen && no_monitor) {
    fmt::print(stderr,
               "fashion_mnist_freeze: --cache-frozen caches what the monitor froze; it "
               "needs the monitor (drop --no-monitor)\n");
    return 2;
  }
  if (resume && checkpoint_dir.empty()) {
    fmt::print(stderr, "fashion_mnist_freeze: --resume needs --checkpoint-dir DIR\n");
    return 2;
  }

  layerwatch::MonitorOptions options;
  try {
    if (!config.empty()) options = layerwatch::load_monitor_options(config);
    options.freeze().policy(layerwatch::parse_freeze_policy(policy));
    if (options.freeze().planned_epochs() == 0) options.freeze().planned_epochs(epochs);
    if (linear_pace > 0) options.freeze().linear_pace(linear_pace);
    if (cooldown_epochs >= 0) options.freeze().cooldown_epochs(cooldown_epochs);
    options.log_dir(log_dir.empty() ? "layerwatch_logs/fashion_mnist_" + policy : log_dir);
    if (!sinks.empty()) options.sinks(sinks);
    if (linear_probe) options.analysis().probing().linear_probe(true);
    if (class_logits) {
      options.analysis().probing().class_logits(model_name == "resnet" ? "head" : "classifier.1");
    }
    options.validate();
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "fashion_mnist_freeze: {}\n", e.what());
    return 2;
  }

  // Before the data are loaded: every large tensor from here on is on huge pages and reused.
  if (huge_pages) {
    const auto message = layerwatch::use_huge_page_allocator().message;
    if (rank0) fmt::print("fashion_mnist_freeze: {}\n", message);
  }

  fashion_mnist::Split train, test;
  try {
    // Each rank keeps its own shard (the same number of images on every rank, so that every
    // rank takes the same number of steps); rank 0 alone evaluates.
    const int64_t total = train_subset > 0 ? std::min<int64_t>(train_subset, 60000) : 60000;
    const int64_t shard = total / env.world_size;
    train = fashion_mnist::load(data, "train", env.rank * shard, shard);
    test = fashion_mnist::load(data, "t10k");
  } catch (const std::exception& e) {
    fmt::print(stderr, "fashion_mnist_freeze: {}\n", e.what());
    return 3;
  }
  const int64_t n = train.images.size(0);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  const int64_t total_steps = steps_per_epoch * epochs;
  // Lets probe.per_epoch space the probes of the first epoch too.
  if (options.probe().steps_per_epoch() == 0) options.probe().steps_per_epoch(steps_per_epoch);
  if (threads == 0) threads = layerwatch::threads_per_local_rank();
  if (threads == 0) {
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / env.world_size);
  }
  torch::set_num_threads(threads);
  if (blas_threads > 0) layerwatch::set_blas_threads(blas_threads);
  blas_threads = layerwatch::blas_threads();  // what BLAS runs with now; -1 if not OpenBLAS
  torch::manual_seed(seed);

  auto model = freeze_models::make_model(model_name);
  torch::optim::SGD optimizer(model.module->parameters(),
                              torch::optim::SGDOptions(lr).momentum(0.9).weight_decay(5e-4));
  const auto probe = test.images.narrow(0, 0, probe_size);

  std::unique_ptr<layerwatch::Monitor> monitor;
  if (!no_monitor) {
    monitor = std::make_unique<layerwatch::Monitor>(
        model.module, probe, [&model](const torch::Tensor& chunk) { model.forward(chunk); },
        options);
    model.instrument(*monitor);
    monitor->set_unit_chain(model.units());  // for the drift and forecast policies
    monitor->set_learning_rate_schedule(     // for the forecast policy
        [&](int64_t s) { return learning_rate(lr_schedule, lr, s, total_steps); }, total_steps);
    monitor->attach_optimizer(optimizer);
    if (options.analysis().probing().linear_probe()) {
      monitor->set_probe_labels(test.labels.narrow(0, 0, probe_size));
    }
    if (distributed) {
      try {
        monitor->distribute(group.process_group,
                            layerwatch::DistributedOptions().store(group.store));
      } catch (const layerwatch::DistributedError& e) {
        fmt::print(stderr, "fashion_mnist_freeze: {}\n", e.what());
        return 3;
      }
    }
  }
  // The frozen layers' outputs per training image (the model's forward is the composition of
  // its freeze units).
  std::unique_ptr<layerwatch::FrozenPrefixCache> cache;
  if (cache_frozen) {
    cache = std::make_unique<layerwatch::FrozenPrefixCache>(
        *monitor, model.units(), n,
        layerwatch::FrozenPrefixCacheOptions()
            .memory_budget(static_cast<std::size_t>(cache_budget_mib) << 20)
            .skip_cheap_prefix(!cache_every_prefix));
  }
  std::vector<unit_costs::UnitCost> costs;
  if (cost_model) {
    model.module->train();
    costs = unit_costs::measure(*model.module, model.units(),
                                train.images.narrow(0, 0, std::min<int64_t>(batch, n)));
  }
  const auto frozen_layers = [&] {
    return monitor ? monitor->frozen_layers() : std::vector<std::string>{};
  };

  const std::string identity = run_identity(model_name, policy, epochs, train_subset, batch, seed,
                                            lr, lr_schedule, probe_size);
  Checkpoints checkpoints(checkpoint_dir);
  if (!checkpoint_dir.empty() && rank0) checkpoints.remove_temporaries();
  int completed = 0;
  int64_t step = 0;
  std::string resumed_from;
  if (resume) {
    const auto newest = checkpoints.newest();
    if (newest.empty()) {
      if (rank0)
        fmt::print("fashion_mnist_freeze: no checkpoint in {}: starting from the beginning\n",
                   checkpoint_dir);
    } else {
      try {
        const auto position =
            checkpoints.load(newest, identity, *model.module, optimizer, monitor.get());
        completed = position.epoch;
        step = position.step;
        resumed_from = newest;
      } catch (const CheckpointProblem& e) {
        const auto earlier = checkpoints.newest(newest);
        fmt::print(stderr, "fashion_mnist_freeze: {}{}\n", e.what(),
                   earlier.empty() ? ""
                                   : fmt::format("; to resume from the checkpoint before it, "
                                                 "move it away: {} is next",
                                                 earlier));
        return 3;
      }
      if (rank0)
        fmt::print("fashion_mnist_freeze: resuming from {}: {} of {} epochs done, step {}\n",
                   newest, completed, epochs, step);
    }
  }

  std::signal(SIGINT, on_interrupt);
  // A stop every rank takes at the same step (Ctrl-C reaches the ranks at different moments).
  bool stopped = false;
  const auto agree_to_stop = [&] {
    stopped = monitor ? monitor->any_rank(g_interrupted) : g_interrupted.load();
  };
  if (rank0) {
    fmt::print(
        "fashion_mnist_freeze: policy {}, {} epochs, {} training images{}, batch {}, {} torch "
        "threads, {} BLAS threads, logs in {}\n",
        policy, epochs, n * env.world_size,
        distributed ? fmt::format(" on {} ranks ({} each)", env.world_size, n) : "", batch,
        torch::get_num_threads(), blas_threads > 0 ? std::to_string(blas_threads) : "unknown",
        options.log_dir());
  }
  const auto run_start = Clock::now();
  const int64_t first_step = step;
  std::vector<double> train_seconds;
  double backward_seconds = 0, backward_reference = 0, step_seconds = 0;
  int64_t backward_steps = 0, reference_steps = 0;
  double test_acc = 0;
  try {
    for (int epoch = completed + 1; epoch <= epochs && !stopped; ++epoch) {
      // The monitor's train() keeps frozen layers' BatchNorm in eval mode.
      if (monitor) {
        monitor->train();
      } else {
        model.module->train();
      }
      const auto order = torch::randperm(n, torch::kLong);
      Progress progress(steps_per_epoch, epoch, epochs);
      const auto epoch_start = Clock::now();
      double loss_sum = 0;
      int64_t done = 0;
      for (int64_t b = 0; b < n && !stopped; b += batch, ++step) {
        const double current_lr = learning_rate(lr_schedule, lr, step, total_steps);
        for (auto& group : optimizer.param_groups()) {
          static_cast<torch::optim::SGDOptions&>(group.options()).lr(current_lr);
        }
        const auto step_start = Clock::now();
        const auto index = order.narrow(0, b, std::min<int64_t>(batch, n - b));
        optimizer.zero_grad();
        const auto images = train.images.index_select(0, index);
        auto loss =
            torch::cross_entropy_loss(cache ? cache->forward(images, index) : model.forward(images),
                                      train.labels.index_select(0, index));
        const auto backward_start = Clock::now();
        loss.backward();
        const double backward = seconds_since(backward_start);
        backward_seconds += backward;
        ++backward_steps;
        if (frozen_layers().empty()) {
          backward_reference += backward;
          ++reference_steps;
        }
        if (monitor) monitor->all_reduce_gradients();  // several ranks: averaged over them
        optimizer.step();
        loss_sum += loss.item<double>();
        step_seconds += seconds_since(step_start);
        if (monitor) monitor->step();
        agree_to_stop();
        ++done;
        if (rank0) progress.update(done, fmt::format("{}", fmt::join(frozen_layers(), ", ")));
      }
      if (stopped) {
        train_seconds.push_back(seconds_since(epoch_start));
        break;
      }
      // The epoch's probe pass counts as training time: it is what the monitor costs.
      if (monitor) monitor->end_epoch();
      train_seconds.push_back(seconds_since(epoch_start));
      std::string accuracy_text;
      if (rank0 && (eval_each_epoch || epoch == epochs)) {
        test_acc = accuracy(model, test);
        accuracy_text = fmt::format(", test accuracy {:.2f} %", test_acc);
      }
      const auto frozen = frozen_layers();
      if (rank0)
        fmt::print("epoch {}/{}: loss {:.4f}, train {:.1f} s{}, frozen: {}\n", epoch, epochs,
                   loss_sum / static_cast<double>(done), train_seconds.back(), accuracy_text,
                   frozen.empty() ? "none" : fmt::format("{}", fmt::join(frozen, ", ")));
      completed = epoch;
      if (!checkpoint_dir.empty()) {
        try {
          checkpoints.save(epoch, step, identity, *model.module, optimizer, monitor.get(), rank0);
        } catch (const std::exception& e) {
          // Training goes on; the previous checkpoint is still complete.
          fmt::print(stderr, "fashion_mnist_freeze: checkpoint of epoch {} not written: {}\n",
                     epoch, e.what());
        }
      }
    }
    if (stopped && rank0) {
      fmt::print(stderr,
                 "\nfashion_mnist_freeze: interrupted after {} complete epoch(s), step {}; "
                 "finishing the logs in {}\n",
                 completed, step, options.log_dir());
    }
    if (monitor) monitor->finish();
  } catch (const layerwatch::DistributedError& e) {
    // The monitor logged it and flushed the logs; this rank cannot go on without the others.
    fmt::print(stderr, "fashion_mnist_freeze: {}\n", e.what());
    return 3;
  }
  if (!rank0) return stopped ? 130 : 0;
  // A resume from the last epoch's checkpoint trains nothing more, but still reports.
  if (!stopped && completed == epochs && train_seconds.empty()) test_acc = accuracy(model, test);

  const double per_step_reference =
      reference_steps > 0 ? backward_reference / static_cast<double>(reference_steps) : 0;
  const double saved =
      per_step_reference > 0 && backward_steps > 0
          ? 1 - backward_seconds / (per_step_reference * static_cast<double>(backward_steps))
          : 0;
  nlohmann::json out;
  out["policy"] = no_monitor ? "no-monitor" : policy;
  out["epochs"] = completed;
  out["wall_s"] = std::round(seconds_since(run_start) * 100) / 100;
  out["train_s_per_epoch"] = nlohmann::json::array();
  for (const double s : train_seconds)
    out["train_s_per_epoch"].push_back(std::round(s * 100) / 100);
  out["test_acc"] = std::round(test_acc * 100) / 100;
  out["frozen"] = nlohmann::json::object();
  if (monitor) {
    for (const auto& frozen : monitor->stats().frozen) out["frozen"][frozen.layer] = frozen.epoch;
  }
  out["backward_saved_fraction"] = std::round(saved * 1000) / 1000;
  if (monitor) {
    // What the monitor cost the training thread: probe passes, and waiting for freeze decisions.
    const auto stats = monitor->stats();
    out["monitor_probe_s"] = std::round(stats.probe_seconds * 1000) / 1000;
    out["monitor_probe_passes"] = stats.probe_passes;
    out["monitor_probe_exchange_s"] = std::round(stats.probe_exchange_seconds * 1000) / 1000;
    out["monitor_wait_s"] = std::round(stats.decision_wait_seconds * 100) / 100;
  }
  // Where the time went: the training steps themselves (forward, backward, optimizer), and
  // everything else (loading, probe passes, evaluation, analysis, logs); and the minor page
  // faults of the whole run, which on 4 KiB pages are much of "everything else".
  const double process = seconds_since(program_start);
  out["process_s"] = std::round(process * 100) / 100;
  out["steps_s"] = std::round(step_seconds * 100) / 100;
  out["outside_steps_s"] = std::round((process - step_seconds) * 100) / 100;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  out["minor_faults"] = static_cast<int64_t>(usage.ru_minflt);
  out["huge_pages"] =
      huge_pages ? layerwatch::to_string(layerwatch::transparent_huge_pages()) : "off";
  // Buffers of 2 MiB and more: mapped afresh (each page faulted once) or reused from the cache.
  const auto buffers = layerwatch::large_buffer_stats();
  out["large_buffers"] = {{"fresh", buffers.fresh}, {"reused", buffers.reused}};
  out["train_images"] = n;
  out["blas_threads"] = blas_threads;
  out["seed"] = seed;
  out["world_size"] = env.world_size;
  out["model"] = model_name;
  // The cache's counts and times, read once for the cost model and the JSON line.
  const std::optional<layerwatch::FrozenPrefixCacheStats> cache_stats =
      cache ? std::optional(cache->stats()) : std::nullopt;
  const auto hundredths = [](double x) { return std::round(x * 100) / 100; };
  if (!costs.empty()) {
    const auto frozen = monitor ? monitor->stats().frozen : std::vector<layerwatch::FrozenLayer>{};
    const auto passes = unit_costs::count_passes(costs, frozen, first_step, step);
    // Each unit's measured times and how often the model runs each pass (so the run can be
    // priced with other times: bench/freeze_summary.py).
    nlohmann::json units = nlohmann::json::object();
    for (size_t k = 0; k < costs.size(); ++k) {
      const auto& c = costs[k];
      const auto& p = passes[k];
      units[c.name] = {{"forward_ms", hundredths(1e3 * c.forward_s)},
                       {"backward_ms", hundredths(1e3 * c.backward_s)},
                       {"backward_weights_ms", hundredths(1e3 * c.backward_weights_s)},
                       {"backward_input_ms", hundredths(1e3 * c.backward_input_s)},
                       {"passes",
                        {{"forward", p.forward},
                         {"backward", p.backward},
                         {"backward_weights", p.backward_weights},
                         {"backward_input", p.backward_input}}}};
    }
    const double modelled = unit_costs::priced_seconds(costs, passes);
    out["cost_model"] = {{"units", units}, {"steps_s", hundredths(modelled)}};
    if (cache_stats) {
      // The same model with the cache: the forward passes it skipped off, its own time on.
      const auto& c = *cache_stats;
      const int64_t batch_size = std::min<int64_t>(batch, n);
      const auto skipped_batches =
          unit_costs::cache_skipped_batches(costs, c.served_by_prefix_end, batch_size);
      nlohmann::json skipped_by_unit = nlohmann::json::object();
      for (size_t k = 0; k < costs.size(); ++k) skipped_by_unit[costs[k].name] = skipped_batches[k];
      const double skipped = unit_costs::cache_skipped_seconds(costs, skipped_batches);
      const double own = c.store_seconds + c.read_seconds + c.carry_seconds;
      out["cost_model"]["with_cache"] = {{"forward_skipped_s", hundredths(skipped)},
                                         {"forward_skipped_batches", skipped_by_unit},
                                         {"cache_s", hundredths(own)},
                                         {"steps_s", hundredths(modelled - skipped + own)}};
    }
  }
  out["lr_schedule"] = lr_schedule;
  out["cooldown_epochs"] = options.freeze().cooldown_epochs();
  if (cache_stats) {
    const auto& c = *cache_stats;
    out["cache"] = {{"enabled", c.enabled},
                    {"prefix_end", c.prefix_end},
                    {"bytes", c.bytes},
                    {"served", c.examples_served},
                    {"served_by_prefix_end", c.served_by_prefix_end},
                    {"computed", c.examples_computed},
                    {"carried", c.examples_carried},
                    {"verified", c.batches_verified},
                    {"seconds",
                     {{"compute", hundredths(c.compute_seconds)},
                      {"store", hundredths(c.store_seconds)},
                      {"read", hundredths(c.read_seconds)},
                      {"carry", hundredths(c.carry_seconds)}}},
                    {"largest_difference", c.largest_difference}};
    if (!c.enabled) out["cache"]["off_reason"] = c.off_reason;
  }
  out["threads"] = torch::get_num_threads();
  if (stopped) out["interrupted"] = true;
  if (!resumed_from.empty()) out["resumed_from"] = resumed_from;
  if (monitor) write_summary_and_report(out, options);
  fmt::print("{}\n", out.dump());
  return stopped ? 130 : 0;
}
