// Kornblith et al. 2019's sanity check for similarity indices (their Table 2), on Fashion-MNIST:
// among networks of one architecture trained from different seeds, an index should find, for
// each layer of one network, that the most similar layer of another network is the
// corresponding one. Trains K CNNs, records every layer on a common probe set (one .npy per
// layer and network, which `layerwatch heatmap` reads), and prints per index the share of
// (network pair, layer) cases identified correctly, as a table and one JSON line.
//
//   build/bin/similarity_sanity_check --quick            # 5 networks, 1 epoch: a few minutes
//   build/bin/similarity_sanity_check --networks 10 --epochs 3
//
// Published on CIFAR-10 (10 CNNs): linear CKA 99.3 %, RBF CKA 99.1 %, CCA ρ̄ 1.4 %,
// SVCCA 9.9 %, PWCCA 11.1 %.

#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "fashion_mnist_data.h"
#include "layerwatch/core/blas_threads.h"
#include "layerwatch/io/npy.h"
#include "layerwatch/report/layer_heatmap.h"

namespace {

namespace fs = std::filesystem;
namespace sim = layerwatch::similarity;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Four conv layers (pooled after the first and the third) and two dense ones; every ReLU's
// output and the logits are recorded.
torch::nn::Sequential make_cnn() {
  using namespace torch::nn;
  const auto conv = [](int64_t in, int64_t out) {
    return Conv2d(Conv2dOptions(in, out, 3).padding(1));
  };
  return Sequential(conv(1, 16), ReLU(), MaxPool2d(2), conv(16, 32), ReLU(), conv(32, 32), ReLU(),
                    MaxPool2d(2), conv(32, 64), ReLU(), Flatten(), Linear(64 * 7 * 7, 128), ReLU(),
                    Linear(128, 10));
}

// The recorded layers' outputs on `inputs`, in forward order, named conv1 … dense2, logits.
std::vector<std::pair<std::string, torch::Tensor>> layer_outputs(torch::nn::Sequential& model,
                                                                 torch::Tensor x) {
  static const std::vector<std::string> kNames = {"conv1", "conv2",  "conv3",
                                                  "conv4", "dense1", "logits"};
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t i = 0; i < model->size(); ++i) {
    x = model[i]->as<torch::nn::ReLU>()        ? model[i]->as<torch::nn::ReLU>()->forward(x)
        : model[i]->as<torch::nn::Conv2d>()    ? model[i]->as<torch::nn::Conv2d>()->forward(x)
        : model[i]->as<torch::nn::MaxPool2d>() ? model[i]->as<torch::nn::MaxPool2d>()->forward(x)
        : model[i]->as<torch::nn::Flatten>()   ? model[i]->as<torch::nn::Flatten>()->forward(x)
                                               : model[i]->as<torch::nn::Linear>()->forward(x);
    const bool recorded = model[i]->as<torch::nn::ReLU>() || i + 1 == model->size();
    if (recorded) out.emplace_back(kNames[out.size()], x.detach().clone());
  }
  return out;
}

void save_npy(const fs::path& path, const torch::Tensor& t) {
  const auto c = t.contiguous().to(torch::kFloat);
  layerwatch::io::Array a;
  a.shape.assign(c.sizes().begin(), c.sizes().end());
  a.values = std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  layerwatch::io::write_npy(path.string(), a);
}

// Trains one network from `seed` and returns its test accuracy.
double train(torch::nn::Sequential& model, const fashion_mnist::Split& train_set,
             const fashion_mnist::Split& test_set, int epochs, int64_t seed) {
  torch::manual_seed(seed);
  model = make_cnn();
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t n = train_set.images.size(0), batch = 128;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    model->train();
    const auto order = torch::randperm(n);
    for (int64_t start = 0; start < n; start += batch) {
      const auto idx = order.narrow(0, start, std::min(batch, n - start));
      optimizer.zero_grad();
      const auto loss = torch::nn::functional::cross_entropy(
          model->forward(train_set.images.index_select(0, idx)),
          train_set.labels.index_select(0, idx));
      loss.backward();
      optimizer.step();
    }
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const auto predicted = model->forward(test_set.images).argmax(1);
  return predicted.eq(test_set.labels).to(torch::kFloat).mean().item<double>() * 100;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kornblith et al.'s sanity check for similarity indices, on Fashion-MNIST"};
  std::string data = fashion_mnist::kDefaultDir, out_dir = "sanity_check";
  int networks = 5, epochs = 2, probe_size = 500;
  int64_t train_subset = 20000, seed = 0;
  bool quick = false;
  std::vector<std::string> metric_names = {"cca", "svcca", "pwcca", "cka", "cka-rbf", "procrustes"};
  app.add_option("--data", data, "Directory with the Fashion-MNIST IDX files");
  app.add_option("--networks", networks, "Networks trained from different seeds (default 5)")
      ->check(CLI::Range(2, 100));
  app.add_option("--epochs", epochs, "Training epochs per network (default 2)")
      ->check(CLI::Range(1, 100));
  app.add_option("--train-subset", train_subset, "Training images per network (default 20000)")
      ->check(CLI::Range(int64_t{100}, int64_t{60000}));
  app.add_option("--probe", probe_size, "Probe images from the test set (default 500)")
      ->check(CLI::Range(20, 10000));
  app.add_option("--seed", seed, "Seed of the first network; network k uses seed + k");
  app.add_option("--out", out_dir, "Where the layer files go: OUT/net<k>/<layer>.npy");
  app.add_option("--metric", metric_names, "Indices to score (comma-separated)")->delimiter(',');
  app.add_flag("--quick", quick, "5 networks, 1 epoch, 6000 training images, 300 probe images");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    networks = 5;
    epochs = 1;
    train_subset = 6000;
    probe_size = 300;
  }
  std::vector<sim::Metric> metrics;
  try {
    for (const auto& name : metric_names) metrics.push_back(sim::parse_metric(name));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "similarity_sanity_check: {}\n", e.what());
    return 2;
  }
  layerwatch::set_blas_threads(1);
  fashion_mnist::Split train_set, test_set;
  try {
    train_set = fashion_mnist::load(data, "train");
    test_set = fashion_mnist::load(data, "t10k");
  } catch (const std::exception& e) {
    fmt::print(stderr, "similarity_sanity_check: {}\n", e.what());
    return 3;
  }
  train_set.images = train_set.images.narrow(0, 0, train_subset);
  train_set.labels = train_set.labels.narrow(0, 0, train_subset);
  // The probe set: the first test images; accuracy on the rest.
  const auto probe = test_set.images.narrow(0, 0, probe_size);
  fashion_mnist::Split held_out{test_set.images.narrow(0, probe_size, 10000 - probe_size),
                                test_set.labels.narrow(0, probe_size, 10000 - probe_size)};

  const auto start = Clock::now();
  std::vector<std::string> dirs;
  std::vector<double> accuracies;
  for (int k = 0; k < networks; ++k) {
    torch::nn::Sequential model;
    const double accuracy = train(model, train_set, held_out, epochs, seed + k);
    const fs::path dir = fs::path(out_dir) / fmt::format("net{}", k);
    fs::create_directories(dir);
    torch::NoGradGuard no_grad;
    for (const auto& [name, output] : layer_outputs(model, probe))
      save_npy(dir / (name + ".npy"), output);
    dirs.push_back(dir.string());
    accuracies.push_back(accuracy);
    fmt::print("network {} (seed {}): test accuracy {:.2f} %, {:.0f} s so far\n", k, seed + k,
               accuracy, seconds_since(start));
  }
  const double train_seconds = seconds_since(start);

  // Published values (Kornblith et al. 2019, Table 2, CIFAR-10).
  const std::map<std::string, double> published = {
      {"cka", 99.3}, {"cka-rbf", 99.1}, {"cca", 1.4}, {"svcca", 9.9}, {"pwcca", 11.1}};
  nlohmann::json result = {{"networks", networks},         {"epochs", epochs},
                           {"train_images", train_subset}, {"probe_images", probe_size},
                           {"test_accuracy", accuracies},  {"train_s", std::round(train_seconds)}};
  fmt::print(
      "\n{:<12} {:>10} {:>12}   (layer of A found as its counterpart in B, over {} "
      "ordered pairs × layers)\n",
      "index", "accuracy", "published", networks * (networks - 1));
  for (const auto metric : metrics) {
    const auto options = layerwatch::LayerHeatmapOptions().metric(metric);
    int64_t right = 0, cases = 0;
    for (int a = 0; a < networks; ++a) {
      for (int b = 0; b < networks; ++b) {
        if (a == b) continue;
        const auto map = layerwatch::compute_layer_heatmap(dirs[a], dirs[b], options);
        for (size_t r = 0; r < map.rows.size(); ++r) {
          const int best = layerwatch::most_similar_column(map, r);
          right += best >= 0 && map.columns[best] == map.rows[r];
          ++cases;
        }
      }
    }
    const std::string name = sim::to_string(metric);
    const double accuracy = 100.0 * static_cast<double>(right) / static_cast<double>(cases);
    const auto it = published.find(name);
    fmt::print("{:<12} {:>9.1f}% {:>12}\n", name, accuracy,
               it == published.end() ? std::string("–") : fmt::format("{:.1f}%", it->second));
    result["accuracy"][name] = std::round(accuracy * 10) / 10;
  }
  result["total_s"] = std::round(seconds_since(start));
  fmt::print("\nlayer files in {}; e.g. layerwatch heatmap {} {} --metric cka\n{}\n", out_dir,
             dirs[0], dirs[1], result.dump());
  return 0;
}
