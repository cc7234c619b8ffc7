// Monitor::save / Monitor::load: a resumed run continues exactly as an uninterrupted one (weights,
// frozen set, records, logs), the optimizer's state fits after a freeze (mosaicml/composer#1002),
// and a checkpoint that is truncated, corrupt or of another model is refused, naming it.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "layerwatch/torch/monitor.h"
#include "sinks/recording_sink.h"

namespace layerwatch {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / ("monitor_checkpoint_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

torch::nn::Sequential toy_model() {
  return torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::BatchNorm1d(16),
                               torch::nn::ReLU(), torch::nn::Linear(16, 16), torch::nn::ReLU(),
                               torch::nn::Linear(16, 3));
}

struct Data {
  torch::Tensor x, y;
};

Data toy_data() {
  torch::manual_seed(21);
  Data d;
  d.x = torch::randn({400, 8});
  d.y = d.x.narrow(1, 0, 3).argmax(1);
  return d;
}

MonitorOptions toy_options(const std::string& log_dir, double cooldown_epochs = 0) {
  MonitorOptions options;
  options.log_dir(log_dir).sinks({"jsonl", "csv", "tb"}).report(false);
  options.probe().at_start(false).every_n_steps(5);
  options.freeze()
      .policy(FreezePolicyKind::kAdaptive)
      .threshold(0.995)  // this toy then freezes two layers before epoch 2 ends and two after
      .patience(2)
      .min_epochs(1)
      .max_frozen_fraction(0.67)
      .cooldown_epochs(cooldown_epochs);
  return options;
}

// Model, optimizer and monitor built the same way at the start and at a resume.
struct ToyRun {
  ToyRun(const std::string& log_dir, uint64_t init_seed, double cooldown_epochs = 0) {
    torch::manual_seed(init_seed);
    model = toy_model();
    optimizer = std::make_unique<torch::optim::SGD>(
        model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4));
    monitor = std::make_unique<Monitor>(model, data.x.narrow(0, 0, 200),
                                        toy_options(log_dir, cooldown_epochs));
    monitor->watch(model);
    monitor->attach_optimizer(*optimizer);
  }

  void train_epochs(int from, int to) {
    for (int epoch = from; epoch < to; ++epoch) {
      monitor->train();
      // The data order of each epoch is a function of the epoch, so a resume repeats it.
      const auto order =
          torch::randperm(400, at::detail::createCPUGenerator(1000 + epoch), torch::kLong);
      for (int64_t b = 0; b < 400; b += 40) {
        const auto index = order.narrow(0, b, 40);
        optimizer->zero_grad();
        torch::cross_entropy_loss(model->forward(data.x.index_select(0, index)),
                                  data.y.index_select(0, index))
            .backward();
        optimizer->step();
        monitor->step();
      }
      monitor->end_epoch();
    }
  }

  // Model, optimizer and monitor in one archive, in the order a resume needs them.
  void save(const std::string& path) {
    torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
    model->save(model_archive);
    optimizer->save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    monitor->save(archive);
    archive.save_to(path);
  }

  void load(const std::string& path) {
    torch::serialize::InputArchive archive, model_archive, optimizer_archive;
    archive.load_from(path);
    archive.read("model", model_archive);
    model->load(model_archive);
    monitor->load(archive);  // re-freezes: the frozen parameters leave the fresh optimizer
    archive.read("optimizer", optimizer_archive);
    optimizer->load(optimizer_archive);
  }

  std::vector<torch::Tensor> state() const {
    std::vector<torch::Tensor> out;
    for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
    for (const auto& b : model->buffers()) out.push_back(b.clone());
    return out;
  }

  Data data = toy_data();
  torch::nn::Sequential model{nullptr};
  std::unique_ptr<torch::optim::SGD> optimizer;
  std::unique_ptr<Monitor> monitor;
};

using RecordKey = std::tuple<int64_t, std::string, std::string, std::string, std::string>;

// convergence.jsonl as (step, layer, reference, metric, reference layer) -> value; counts
// duplicates.
std::map<RecordKey, double> read_records(const std::string& log_dir, int* duplicates) {
  std::map<RecordKey, double> out;
  std::ifstream in(fs::path(log_dir) / "convergence.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const RecordKey key{j.at("step").get<int64_t>(), j.at("layer").get<std::string>(),
                        j.at("reference").get<std::string>(), j.at("metric").get<std::string>(),
                        j.value("reference_layer", std::string())};
    const double value = j.at("value").is_number() ? j.at("value").get<double>() : -1;
    if (!out.emplace(key, value).second) ++*duplicates;
  }
  return out;
}

std::vector<std::string> freeze_events(const std::string& log_dir) {
  std::vector<std::string> out;
  std::ifstream in(fs::path(log_dir) / "events.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("event") == "freeze") {
      out.push_back(j.at("layer").get<std::string>() + "@" +
                    std::to_string(j.at("step").get<int64_t>()));
    }
  }
  return out;
}

int count_lines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(MonitorCheckpoint, AResumedRunContinuesExactlyAsAnUninterruptedOne) {
  const auto straight_dir = fresh_dir("straight"), resumed_dir = fresh_dir("resumed");
  const auto checkpoint = (fs::path(resumed_dir) / "checkpoint.pt").string();

  // A: four epochs without a stop.
  ToyRun straight(straight_dir, 5);
  straight.train_epochs(0, 4);
  straight.monitor->finish();
  const auto straight_frozen = straight.monitor->stats().frozen;

  // B: two epochs, a checkpoint, then one more epoch of a run that dies before finishing: its
  // records after the checkpoint are in the logs.
  std::vector<std::string> frozen_at_checkpoint;
  {
    ToyRun dying(resumed_dir, 5);
    dying.train_epochs(0, 2);
    dying.save(checkpoint);
    frozen_at_checkpoint = dying.monitor->frozen_layers();
    dying.train_epochs(2, 3);
    dying.monitor->flush();
  }
  // C: a new process: fresh weights (another seed), fresh optimizer, the same log directory.
  ToyRun resumed(resumed_dir, 99);
  resumed.load(checkpoint);
  EXPECT_EQ(resumed.monitor->frozen_layers(), frozen_at_checkpoint);
  EXPECT_EQ(resumed.monitor->stats().steps, 20);
  resumed.train_epochs(2, 4);
  resumed.monitor->finish();

  // The toy freezes before the checkpoint and after it, so both halves are exercised.
  ASSERT_FALSE(frozen_at_checkpoint.empty());
  ASSERT_GT(straight_frozen.size(), frozen_at_checkpoint.size());

  const auto a = straight.state(), c = resumed.state();
  ASSERT_EQ(a.size(), c.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i], c[i])) << "parameter or buffer " << i << " differs";
  }
  const auto resumed_frozen = resumed.monitor->stats().frozen;
  ASSERT_EQ(resumed_frozen.size(), straight_frozen.size());
  for (size_t i = 0; i < straight_frozen.size(); ++i) {
    EXPECT_EQ(resumed_frozen[i].layer, straight_frozen[i].layer);
    EXPECT_EQ(resumed_frozen[i].step, straight_frozen[i].step);
    EXPECT_EQ(resumed_frozen[i].epoch, straight_frozen[i].epoch);
  }

  // Exactly one record per (step, layer, reference, metric), the same ones with the same values.
  int straight_duplicates = 0, resumed_duplicates = 0;
  const auto straight_records = read_records(straight_dir, &straight_duplicates);
  const auto resumed_records = read_records(resumed_dir, &resumed_duplicates);
  EXPECT_EQ(straight_duplicates, 0);
  EXPECT_EQ(resumed_duplicates, 0);
  ASSERT_EQ(resumed_records.size(), straight_records.size());
  for (const auto& [key, value] : straight_records) {
    const auto it = resumed_records.find(key);
    ASSERT_NE(it, resumed_records.end()) << "missing record at step " << std::get<0>(key) << " of "
                                         << std::get<1>(key) << " vs " << std::get<2>(key);
    EXPECT_NEAR(it->second, value, 1e-9) << std::get<1>(key) << " at step " << std::get<0>(key);
  }
  EXPECT_EQ(freeze_events(resumed_dir), freeze_events(straight_dir));
  EXPECT_EQ(count_lines((fs::path(resumed_dir) / "convergence.csv").string()),
            count_lines((fs::path(straight_dir) / "convergence.csv").string()));
  // TensorBoard: the dying run's file (cut back to the checkpoint) and the resumed run's.
  int event_files = 0;
  for (const auto& entry : fs::directory_iterator(resumed_dir)) {
    event_files += entry.path().filename().string().rfind("events.out.tfevents", 0) == 0;
  }
  EXPECT_EQ(event_files, 2);
}

TEST(MonitorCheckpoint, AResumeInTheMiddleOfACoolDownFinishesItExactly) {
  const auto straight_dir = fresh_dir("cool_straight"), resumed_dir = fresh_dir("cool_resumed");
  const auto checkpoint = (fs::path(resumed_dir) / "checkpoint.pt").string();
  // Cool-downs of 8 steps (0.8 of a 10-step epoch).
  ToyRun straight(straight_dir, 5, 0.8);
  straight.train_epochs(0, 4);
  straight.monitor->finish();
  std::vector<std::string> cooling_at_checkpoint;
  {
    ToyRun dying(resumed_dir, 5, 0.8);
    dying.train_epochs(0, 2);
    dying.save(checkpoint);
    cooling_at_checkpoint = dying.monitor->stats().cooling;
  }
  ToyRun resumed(resumed_dir, 99, 0.8);
  resumed.load(checkpoint);
  EXPECT_EQ(resumed.monitor->stats().cooling, cooling_at_checkpoint);
  resumed.train_epochs(2, 4);
  resumed.monitor->finish();
  ASSERT_FALSE(cooling_at_checkpoint.empty()) << "the toy no longer cools a unit at step 20";
  const auto a = straight.state(), c = resumed.state();
  ASSERT_EQ(a.size(), c.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i], c[i])) << "parameter or buffer " << i << " differs";
  }
  EXPECT_EQ(freeze_events(resumed_dir), freeze_events(straight_dir));
  EXPECT_FALSE(freeze_events(straight_dir).empty());
}

// mosaicml/composer#1002: after a freeze the optimizer holds fewer parameters than a fresh one,
// so loading its state into a fresh optimizer fails; the monitor re-freezes first.
TEST(MonitorCheckpoint, TheOptimizerStateFitsAfterAFreezeBecauseTheMonitorReFreezesFirst) {
  const auto dir = fresh_dir("composer");
  const auto checkpoint = (fs::path(dir) / "checkpoint.pt").string();
  std::vector<torch::Tensor> momentum;
  {
    ToyRun run(dir, 5);
    run.train_epochs(0, 2);
    ASSERT_FALSE(run.monitor->frozen_layers().empty());
    run.save(checkpoint);
    for (const auto& p : run.optimizer->param_groups().at(0).params()) {
      const auto& state = static_cast<torch::optim::SGDParamState&>(
          *run.optimizer->state().at(c10::guts::to_string(p.unsafeGetTensorImpl())));
      momentum.push_back(state.momentum_buffer().clone());
    }
  }
  // The failure mode: optimizer state loaded into a fresh optimizer of the whole model.
  {
    ToyRun fresh(dir, 99);
    torch::serialize::InputArchive archive, optimizer_archive;
    archive.load_from(checkpoint);
    archive.read("optimizer", optimizer_archive);
    try {
      fresh.optimizer->load(optimizer_archive);
      FAIL() << "a fresh optimizer accepted the state of a partly frozen model";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find("different size"), std::string::npos) << e.what();
    }
  }
  // With the monitor loaded in between, it fits, and every momentum buffer is back.
  ToyRun resumed(dir, 99);
  resumed.load(checkpoint);
  const auto params = resumed.optimizer->param_groups().at(0).params();
  ASSERT_EQ(params.size(), momentum.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& state = static_cast<torch::optim::SGDParamState&>(
        *resumed.optimizer->state().at(c10::guts::to_string(params[i].unsafeGetTensorImpl())));
    EXPECT_TRUE(torch::equal(state.momentum_buffer(), momentum[i])) << "parameter " << i;
  }
  for (const auto& name : resumed.monitor->frozen_layers()) {
    for (const auto& p : resumed.model->named_modules()[name]->parameters()) {
      EXPECT_FALSE(p.requires_grad()) << name;
    }
  }
}

// Writes a checkpoint of the toy after two epochs to `path` (the monitor's own file).
void write_toy_checkpoint(const std::string& dir, const std::string& path) {
  ToyRun run(dir, 5);
  run.train_epochs(0, 2);
  run.monitor->save(path);
}

std::string load_error(ToyRun& run, const std::string& path) {
  try {
    run.monitor->load(path);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(MonitorCheckpoint, TruncatedCorruptMissingOrForeignCheckpointsAreRefusedNamingTheFile) {
  const auto dir = fresh_dir("refused");
  const auto good = (fs::path(dir) / "monitor.ckpt").string();
  write_toy_checkpoint(dir, good);
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto write = [&](const std::string& name, const std::string& content) {
    const auto path = (fs::path(dir) / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  };
  const auto truncated = write("truncated.ckpt", bytes.substr(0, bytes.size() / 2));
  std::string flipped_bytes = bytes;
  flipped_bytes[bytes.size() / 3] ^= 0x40;
  const auto flipped = write("flipped.ckpt", flipped_bytes);
  const auto other = write("other.ckpt", "{\"not\": \"a checkpoint\"}");

  // Each refused load leaves the monitor untouched: the good checkpoint still loads after it.
  {
    ToyRun run(fresh_dir("refused_run"), 5);
    for (const auto& [path, expected] :
         std::vector<std::pair<std::string, std::string>>{{truncated, "truncated"},
                                                          {flipped, "checksum"},
                                                          {other, "not a layerwatch"},
                                                          {dir + "/missing.ckpt", "missing"}}) {
      const auto message = load_error(run, path);
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
    torch::serialize::OutputArchive model_archive;
    // The weights of the saved run, so that the frozen layers' checksums agree.
    ToyRun source(fresh_dir("refused_source"), 5);
    source.train_epochs(0, 2);
    source.model->save(model_archive);
    std::stringstream buffer;
    model_archive.save_to(buffer);
    torch::serialize::InputArchive in;
    in.load_from(buffer);
    run.model->load(in);
    EXPECT_EQ(load_error(run, good), "(no error)");
    EXPECT_FALSE(run.monitor->frozen_layers().empty());
  }
  // A model whose layers have other shapes.
  {
    torch::manual_seed(5);
    auto wide = torch::nn::Sequential(torch::nn::Linear(8, 32), torch::nn::BatchNorm1d(32),
                                      torch::nn::ReLU(), torch::nn::Linear(32, 16),
                                      torch::nn::ReLU(), torch::nn::Linear(16, 3));
    Monitor monitor(wide, torch::randn({50, 8}), toy_options(fresh_dir("wide")));
    monitor.watch(wide);
    try {
      monitor.load(good);
      FAIL() << "a checkpoint of another model was accepted";
    } catch (const CheckpointError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("layer '0'"), std::string::npos) << message;
      EXPECT_NE(message.find("[32,8]"), std::string::npos) << message;
    }
  }
  // A monitor that watches other layers.
  {
    torch::manual_seed(5);
    auto model = toy_model();
    Monitor monitor(model, torch::randn({50, 8}), toy_options(fresh_dir("fewer")));
    monitor.add_freeze_target("stem", model[0]);
    try {
      monitor.load(good);
      FAIL() << "a checkpoint of other layers was accepted";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find("[stem]"), std::string::npos) << e.what();
    }
  }
}

TEST(MonitorCheckpoint, LoadingTheMonitorBeforeTheModelOrAfterTheFirstStepIsRefused) {
  const auto dir = fresh_dir("order");
  const auto path = (fs::path(dir) / "monitor.ckpt").string();
  write_toy_checkpoint(dir, path);
  {
    ToyRun run(fresh_dir("order_fresh_weights"), 99);  // the model's weights were not loaded
    const auto message = load_error(run, path);
    EXPECT_NE(message.find("other weights"), std::string::npos) << message;
    EXPECT_TRUE(run.monitor->frozen_layers().empty());
  }
  {
    ToyRun run(fresh_dir("order_started"), 5);
    run.monitor->step();
    const auto message = load_error(run, path);
    EXPECT_NE(message.find("already started"), std::string::npos) << message;
  }
  {
    ToyRun run(fresh_dir("order_archive"), 5);
    torch::serialize::InputArchive empty;
    try {
      run.monitor->load(empty);
      FAIL() << "an archive without the monitor's state was accepted";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(Monitor::kArchiveKey), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace layerwatch
