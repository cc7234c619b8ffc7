// One rank of the data-parallel tests (distributed_test.py starts it with --nproc N): a small
// CNN with BatchNorm trained on its shard of a synthetic task, with a Monitor that freezes
// layers on the linear schedule and all-reduces the gradients. Each rank writes
// <out>/rank<r>.json: a hash of its parameters and buffers, the frozen set with steps, its
// probe-pass time. Rank 0 also runs a single-process Monitor over the whole probe set at the
// same points (<out>/single/), whose records the test compares with the distributed ones.
//
// Faults on request: --die-rank R --fault-step S kills rank R (SIGKILL) at step S; --hang-rank
// R --fault-step S stops it answering; --mismatch-rank R gives rank R another metric;
// --skip-rank R leaves out its monitor.step() at step S (its loop goes apart from the others').
// Checkpoints: --checkpoint FILE --stop-after-epoch E saves the model, the optimizer and the
// monitor after epoch E (rank 0 writes FILE) and ends; --resume FILE continues from it.

#include <fmt/format.h>
#include <signal.h>
#include <torch/torch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "layerwatch/core/blas_threads.h"
#include "layerwatch/torch/distributed.h"
#include "layerwatch/torch/monitor.h"

namespace {

// A Sequential that can sit inside another one (libtorch needs a concrete forward for that).
struct BlockImpl : torch::nn::SequentialImpl {
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Block);

struct NetImpl : torch::nn::Module {
  NetImpl()
      : features(register_module(
            "features",
            torch::nn::Sequential(
                Block(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)),
                      torch::nn::BatchNorm2d(4), torch::nn::ReLU()),
                Block(torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 8, 3).stride(2).padding(1)),
                      torch::nn::ReLU()),
                Block(torch::nn::Flatten(), torch::nn::Linear(128, 32), torch::nn::ReLU())))),
        head(register_module("head", torch::nn::Linear(32, 10))) {}
  torch::Tensor forward(const torch::Tensor& x) { return head(features->forward(x)); }
  torch::nn::Sequential features;
  torch::nn::Linear head;
};
TORCH_MODULE(Net);

// FNV-1a over the bytes of every parameter and buffer.
std::string weights_hash(Net& model) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&](const torch::Tensor& t) {
    const auto c = t.detach().contiguous();
    const auto* bytes = static_cast<const unsigned char*>(c.data_ptr());
    for (int64_t i = 0; i < c.numel() * static_cast<int64_t>(c.element_size()); ++i)
      h = (h ^ bytes[i]) * 1099511628211ull;
  };
  for (const auto& p : model->parameters()) mix(p);
  for (const auto& b : model->buffers()) mix(b);
  return fmt::format("{:016x}", h);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"One rank of layerwatch's data-parallel tests"};
  std::string out;
  int nproc = 0, epochs = 3, die_rank = -1, hang_rank = -1, mismatch_rank = -1, fault_step = 5;
  int timeout_ms = 20000, skip_rank = -1;
  bool no_store = false;
  std::string checkpoint, resume;
  int stop_after = 0;
  app.add_option("--out", out, "Output directory")->required();
  app.add_option("--nproc", nproc, "Start this many local ranks");
  app.add_option("--epochs", epochs, "Epochs");
  app.add_option("--die-rank", die_rank, "Rank killed at --fault-step");
  app.add_option("--hang-rank", hang_rank, "Rank that stops answering at --fault-step");
  app.add_option("--mismatch-rank", mismatch_rank, "Rank with another metric");
  app.add_option("--skip-rank", skip_rank, "Rank that skips monitor.step() at --fault-step");
  app.add_option("--fault-step", fault_step, "Step of the fault");
  app.add_option("--timeout-ms", timeout_ms, "Collective timeout");
  app.add_flag("--no-store", no_store, "Do not give the Monitor the store");
  app.add_option("--checkpoint", checkpoint, "Checkpoint file written after --stop-after-epoch");
  app.add_option("--stop-after-epoch", stop_after, "Save the checkpoint after this epoch and end");
  app.add_option("--resume", resume, "Continue from this checkpoint");
  CLI11_PARSE(app, argc, argv);
  if (nproc > 0 && !layerwatch::DistributedEnvironment::launched()) {
    return layerwatch::run_local_ranks(nproc, argc, argv,
                                       std::chrono::milliseconds(timeout_ms + 10000));
  }
  torch::set_num_threads(1);
  layerwatch::set_blas_threads(1);
  const auto env = layerwatch::DistributedEnvironment::from_environment();
  const int rank = env.rank, world = env.world_size;
  try {
    auto group = layerwatch::make_gloo_group(env, std::chrono::milliseconds(timeout_ms));

    // The whole synthetic task is the same on every rank; each rank trains on its shard.
    torch::manual_seed(7);
    const auto teacher = torch::randn({64, 10});
    const auto images = torch::randn({768, 1, 8, 8});
    const auto labels = images.reshape({768, 64}).matmul(teacher).argmax(1);
    const auto probe = torch::randn({96, 1, 8, 8});
    const int64_t shard = 768 / world, batch = 16;
    const auto my_images = images.narrow(0, rank * shard, shard);
    const auto my_labels = labels.narrow(0, rank * shard, shard);

    torch::manual_seed(100 + rank);  // other weights on every rank: distribute() aligns them
    Net model;
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));

    layerwatch::MonitorOptions options;
    options.log_dir(out + "/logs").sinks({"jsonl"});
    options.probe().batch_size(16).per_epoch(2).steps_per_epoch(shard / batch);
    options.analysis().metric(rank == mismatch_rank ? layerwatch::similarity::Metric::kCka
                                                    : layerwatch::similarity::Metric::kSvcca);
    options.freeze().policy(layerwatch::FreezePolicyKind::kLinear).planned_epochs(epochs);
    layerwatch::Monitor monitor(model, probe, options);
    monitor.watch(model->features, layerwatch::WatchOptions().recurse(false));
    monitor.attach_optimizer(optimizer);
    layerwatch::DistributedOptions distributed;
    if (!no_store) distributed.store(group.store);
    monitor.distribute(group.process_group, distributed);
    int first_epoch = 0;
    if (!resume.empty()) {
      // Every rank reads rank 0's file: the model's weights, the monitor (which re-freezes the
      // frozen layers), then the optimizer's state, which fits the frozen set.
      torch::serialize::InputArchive archive, model_archive, optimizer_archive;
      archive.load_from(resume);
      archive.read("model", model_archive);
      model->load(model_archive);
      monitor.load(archive);
      archive.read("optimizer", optimizer_archive);
      optimizer.load(optimizer_archive);
      torch::Tensor epoch;
      archive.read("epoch", epoch);
      first_epoch = static_cast<int>(epoch.item<int64_t>());
    }

    // Rank 0 only: the same analysis in one process over the whole probe set, at the same
    // points (the capture points deliver to whichever monitor is probing).
    std::unique_ptr<layerwatch::Monitor> single;
    if (rank == 0 && checkpoint.empty() && resume.empty()) {
      auto single_options = options;
      single_options.log_dir(out + "/single").report(false);
      single_options.freeze().policy(layerwatch::FreezePolicyKind::kNone);
      single = std::make_unique<layerwatch::Monitor>(model, probe, single_options);
    }

    int64_t step = first_epoch * (shard / batch);
    for (int epoch = first_epoch; epoch < epochs; ++epoch) {
      monitor.train();
      for (int64_t offset = 0; offset + batch <= shard; offset += batch) {
        ++step;
        if (rank == die_rank && step == fault_step) raise(SIGKILL);
        if (rank == hang_rank && step == fault_step) pause();
        optimizer.zero_grad();
        const auto loss = torch::nn::functional::cross_entropy(
            model->forward(my_images.narrow(0, offset, batch)), my_labels.narrow(0, offset, batch));
        loss.backward();
        monitor.all_reduce_gradients();
        optimizer.step();
        if (!(rank == skip_rank && step == fault_step)) monitor.step();
        if (single) single->step();
      }
      monitor.end_epoch();
      if (single) single->end_epoch();
      if (!checkpoint.empty() && epoch + 1 == stop_after) {
        torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
        model->save(model_archive);
        optimizer.save(optimizer_archive);
        archive.write("model", model_archive);
        archive.write("optimizer", optimizer_archive);
        monitor.save(archive);  // a collective: every rank's part reaches rank 0's archive
        archive.write("epoch", torch::tensor(static_cast<int64_t>(epoch + 1)));
        if (rank == 0) archive.save_to(checkpoint);
        return 0;
      }
    }
    monitor.finish();
    if (single) single->finish();

    nlohmann::json result;
    result["rank"] = rank;
    result["world_size"] = world;
    result["weights"] = weights_hash(model);
    result["frozen"] = nlohmann::json::array();
    const auto stats = monitor.stats();
    for (const auto& f : stats.frozen) result["frozen"].push_back({f.layer, f.step, f.epoch});
    result["probe_seconds"] = stats.probe_seconds;
    result["probe_passes"] = stats.probe_passes;
    std::ofstream(fmt::format("{}/rank{}.json", out, rank)) << result.dump(1) << "\n";
    return 0;
  } catch (const layerwatch::CheckpointError& e) {
    fmt::print(stderr, "distributed_worker: rank {}: {}\n", rank, e.what());
    return 5;
  } catch (const layerwatch::DistributedError& e) {
    fmt::print(stderr, "distributed_worker: {}\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    fmt::print(stderr, "distributed_worker: rank {}: {}\n", rank, e.what());
    return 4;
  }
}
