// Trains a small MLP on Fashion-MNIST, saves each hidden layer's activations on a fixed probe set
// (test images) after every epoch as .npy files, and prints how each layer converges: SVCCA of
// every snapshot against the layer's previous one and against its final one.
//
//   build/bin/fashion_mnist_layers --data build/data/fashion-mnist --out build/demo --epochs 3
//
// The saved files can be compared offline: build/bin/layerwatch compare A.npy B.npy --metric all

#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <map>

#include "layerwatch/io/npy.h"
#include "layerwatch/similarity/similarity.h"

namespace sim = layerwatch::similarity;

namespace {

struct MlpImpl : torch::nn::Module {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr}, out{nullptr};
  MlpImpl() {
    fc1 = register_module("fc1", torch::nn::Linear(784, 256));
    fc2 = register_module("fc2", torch::nn::Linear(256, 128));
    fc3 = register_module("fc3", torch::nn::Linear(128, 64));
    out = register_module("out", torch::nn::Linear(64, 10));
  }
  // Returns the logits; fills `hidden` with each hidden layer's output when given.
  torch::Tensor forward(torch::Tensor x, std::vector<torch::Tensor>* hidden = nullptr) {
    x = x.view({x.size(0), 784});
    for (auto* layer : {&fc1, &fc2, &fc3}) {
      x = torch::relu((*layer)->forward(x));
      if (hidden) hidden->push_back(x);
    }
    return out->forward(x);
  }
};
TORCH_MODULE(Mlp);

const std::vector<std::string> kLayers = {"fc1", "fc2", "fc3"};

std::vector<Eigen::MatrixXf> probe_activations(Mlp& model, const torch::Tensor& probe) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<torch::Tensor> hidden;
  model->forward(probe, &hidden);
  model->train();
  std::vector<Eigen::MatrixXf> out;
  for (auto& h : hidden) {
    h = h.contiguous();
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    out.emplace_back(Eigen::Map<const RowMajor>(h.data_ptr<float>(), h.size(0), h.size(1)));
  }
  return out;
}

void save(const Eigen::MatrixXf& m, const std::string& path) {
  layerwatch::io::Array a;
  a.shape = {m.rows(), m.cols()};
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = m;
  a.values = std::vector<float>(rows.data(), rows.data() + rows.size());
  layerwatch::io::write_npy(path, a);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Per-layer convergence of an MLP on Fashion-MNIST"};
  std::string data = "build/data/fashion-mnist", out = "build/demo";
  int epochs = 3, probe_size = 2000, seed = 0;
  app.add_option("--data", data, "Directory with the uncompressed Fashion-MNIST IDX files");
  app.add_option("--out", out, "Where the .npy snapshots go");
  app.add_option("--epochs", epochs, "Training epochs")->check(CLI::Range(1, 100));
  app.add_option("--probe", probe_size, "Probe examples (test images)")
      ->check(CLI::Range(100, 10000));
  app.add_option("--seed", seed, "Random seed");
  CLI11_PARSE(app, argc, argv);

  if (!std::filesystem::exists(data + "/train-images-idx3-ubyte")) {
    fmt::print(stderr,
               "fashion_mnist_layers: no Fashion-MNIST in '{}': install Debian's "
               "dataset-fashion-mnist and gunzip /usr/share/datasets/fashion-mnist/*.gz there\n",
               data);
    return 3;
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    fmt::print(stderr, "fashion_mnist_layers: cannot create '{}': {}\n", out, ec.message());
    return 3;
  }
  torch::manual_seed(seed);
  auto train = torch::data::datasets::MNIST(data, torch::data::datasets::MNIST::Mode::kTrain)
                   .map(torch::data::transforms::Normalize<>(0.2860, 0.3530))
                   .map(torch::data::transforms::Stack<>());
  torch::data::datasets::MNIST test_set(data, torch::data::datasets::MNIST::Mode::kTest);
  const torch::Tensor probe = ((test_set.images().slice(0, 0, probe_size) - 0.2860) / 0.3530);
  const auto loader = torch::data::make_data_loader(
      std::move(train), torch::data::DataLoaderOptions().batch_size(128));

  Mlp model;
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  std::vector<std::vector<sim::Activations>> snapshots(kLayers.size());
  const auto snapshot = [&](int epoch) {
    const auto acts = probe_activations(model, probe);
    for (size_t l = 0; l < kLayers.size(); ++l) {
      save(acts[l], fmt::format("{}/{}_epoch{}.npy", out, kLayers[l], epoch));
      snapshots[l].emplace_back(acts[l]);
    }
  };
  snapshot(0);
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int batches = 0;
    for (auto& batch : *loader) {
      optimizer.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model->forward(batch.data), batch.target);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    torch::NoGradGuard no_grad;
    model->eval();
    const auto logits = model->forward((test_set.images() - 0.2860) / 0.3530);
    const double accuracy =
        logits.argmax(1).eq(test_set.targets()).to(torch::kFloat).mean().item<double>();
    model->train();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    snapshot(epoch);
    fmt::print("epoch {}: loss {:.4f}, test accuracy {:.2f} %, {:.1f} s\n", epoch,
               loss_sum / batches, 100 * accuracy, seconds);
    for (size_t l = 0; l < kLayers.size(); ++l) {
      auto& s = snapshots[l];
      const auto r = sim::ActivationPair(s[s.size() - 2], s.back()).svcca();
      fmt::print("  {:<4} SVCCA vs previous epoch {:.4f} ({} / {} dims, {})\n", kLayers[l], r.value,
                 r.kept_x, r.kept_y, layerwatch::to_string(r.status));
    }
  }
  fmt::print("\nLearning dynamics: SVCCA of each epoch's snapshot with the final one\n{:<6}",
             "layer");
  for (int e = 0; e <= epochs; ++e) fmt::print(" {:>7}", fmt::format("ep{}", e));
  fmt::print("\n");
  for (size_t l = 0; l < kLayers.size(); ++l) {
    fmt::print("{:<6}", kLayers[l]);
    for (auto& s : snapshots[l])
      fmt::print(" {:>7.4f}", sim::ActivationPair(s, snapshots[l].back()).svcca().value);
    fmt::print("\n");
  }
  fmt::print("\nSnapshots written to {}/<layer>_epoch<k>.npy\n", out);
  return 0;
}
