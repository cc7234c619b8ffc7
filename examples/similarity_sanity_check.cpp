// Kornblith et al. 2019's sanity check for similarity indices (their Table 2), on Fashion-MNIST:
// among networks of one architecture trained from different seeds, an index should find, for
// each layer of one network, that the most similar layer of another network is the
// corresponding one. Trains K CNNs, records every layer on a common probe set (one .npy per
// layer and network, which `layerwatch heatmap` reads), and prints per index the share of
// (network pair, layer) cases identified correctly, as a table and one JSON line.
//
//   build/bin/similarity_sanity_check --quick    # 5 networks, 1 epoch on 6000 images
//   build/bin/similarity_sanity_check            # 5 networks, 3 epochs on all 60000 images
//
// Published on CIFAR-10 (10 CNNs): linear CKA 99.3 %, RBF CKA 99.1 %, CCA ρ̄ 1.4 %,
// SVCCA 9.9 %, PWCCA 11.1 %.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "fashion_mnist_data.h"
#include "findings_cnn.h"
#include "layerwatch/core/blas_threads.h"

namespace {

namespace fs = std::filesystem;
namespace sim = layerwatch::similarity;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kornblith et al.'s sanity check for similarity indices, on Fashion-MNIST"};
  std::string data = fashion_mnist::kDefaultDir, out_dir = "sanity_check";
  int networks = 5, epochs = 3, probe_size = 2000, pool = 2;
  int64_t train_subset = 60000, seed = 0;
  bool quick = false, include_logits = false;
  std::vector<std::string> metric_names = {"cca", "svcca", "pwcca", "cka", "cka-rbf", "procrustes"};
  app.add_option("--data", data, "Directory with the Fashion-MNIST IDX files");
  app.add_option("--networks", networks, "Networks trained from different seeds (default 5)")
      ->check(CLI::Range(2, 100));
  app.add_option("--epochs", epochs, "Training epochs per network (default 3)")
      ->check(CLI::Range(1, 100));
  app.add_option("--train-subset", train_subset, "Training images per network (default 60000)")
      ->check(CLI::Range(int64_t{100}, int64_t{60000}));
  app.add_option("--probe", probe_size, "Probe images from the test set (default 2000)")
      ->check(CLI::Range(20, 10000));
  app.add_option("--pool", pool,
                 "Conv layers are average-pooled to POOL × POOL per channel (default 2; the "
                 "widest layer then has 256 features, fewer than the probe images)")
      ->check(CLI::Range(1, 7));
  app.add_flag("--include-logits", include_logits,
               "Score the logits layer too (Kornblith et al. leave it out)");
  app.add_option("--seed", seed, "Seed of the first network; network k uses seed + k");
  app.add_option("--out", out_dir, "Where the layer files go: OUT/net<k>/<layer>.npy");
  app.add_option("--metric", metric_names, "Indices to score (comma-separated)")->delimiter(',');
  app.add_flag("--quick", quick, "5 networks, 1 epoch, 6000 training images, 1000 probe images");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    networks = 5;
    epochs = 1;
    train_subset = 6000;
    probe_size = 1000;
  }
  std::vector<sim::Metric> metrics;
  try {
    for (const auto& name : metric_names) metrics.push_back(sim::parse_metric(name));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "similarity_sanity_check: {}\n", e.what());
    return 2;
  }
  layerwatch::set_blas_threads(1);
  findings::Data d;
  try {
    d = findings::load_data(data, train_subset, probe_size);
  } catch (const std::exception& e) {
    fmt::print(stderr, "similarity_sanity_check: {}\n", e.what());
    return 3;
  }
  auto layout = layerwatch::LayerHeatmapOptions();
  layout.conv().pool_size(pool);

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<layerwatch::HeatmapLayer>> layers;
  std::vector<double> accuracies;
  for (int k = 0; k < networks; ++k) {
    findings::TrainSettings settings;
    settings.seed = seed + k;
    settings.max_epochs = epochs;
    auto trained = findings::train_cnn(d.train_images, d.train_labels, settings);
    const double accuracy = findings::accuracy_percent(trained.model, d.test_images, d.test_labels);
    const std::string dir = (fs::path(out_dir) / fmt::format("net{}", k)).string();
    try {
      layers.push_back(findings::record_layers(trained.model, d.probe, dir, layout));
    } catch (const std::exception& e) {
      fmt::print(stderr, "similarity_sanity_check: {}\n", e.what());
      return 3;
    }
    if (!include_logits) layers.back().pop_back();
    accuracies.push_back(accuracy);
    fmt::print("network {} (seed {}): test accuracy {:.2f} %, {:.0f} s so far\n", k, seed + k,
               accuracy, findings::seconds_since(start));
    std::fflush(stdout);
  }
  const double train_seconds = findings::seconds_since(start);

  // Published values (Kornblith et al. 2019, Table 2, CIFAR-10).
  const std::map<std::string, double> published = {
      {"cka", 99.3}, {"cka-rbf", 99.1}, {"cca", 1.4}, {"svcca", 9.9}, {"pwcca", 11.1}};
  nlohmann::json result = {{"networks", networks},
                           {"epochs", epochs},
                           {"train_images", train_subset},
                           {"probe_images", probe_size},
                           {"pool", pool},
                           {"layers", layers.front().size()},
                           {"test_accuracy", accuracies},
                           {"train_s", std::round(train_seconds)}};
  const size_t layer_count = layers.front().size();
  const int pairs = networks * (networks - 1);
  fmt::print(
      "\nshare of the {} ordered network pairs in which a layer of A is found most similar to its "
      "counterpart in B (chance {:.1f}%)\n{:<12} {:>9} {:>10}",
      pairs, 100.0 / static_cast<double>(layer_count), "index", "all", "published");
  for (const auto& layer : layers.front()) fmt::print(" {:>7}", layer.name);
  fmt::print("\n");
  for (const auto metric : metrics) {
    const auto options = layerwatch::LayerHeatmapOptions().metric(metric);
    std::vector<int> right(layer_count, 0);
    for (int a = 0; a < networks; ++a) {
      for (int b = 0; b < networks; ++b) {
        if (a == b) continue;
        const auto map = layerwatch::compute_layer_heatmap(layers[a], layers[b], options);
        for (size_t r = 0; r < map.rows.size(); ++r) {
          const int best = layerwatch::most_similar_column(map, r);
          right[r] += best >= 0 && map.columns[best] == map.rows[r];
        }
      }
    }
    const std::string name = sim::to_string(metric);
    const auto percent = [](double n, double of) { return std::round(1000 * n / of) / 10; };
    const double accuracy = percent(std::accumulate(right.begin(), right.end(), 0.0),
                                    static_cast<double>(pairs * static_cast<int>(layer_count)));
    const auto it = published.find(name);
    fmt::print("{:<12} {:>8.1f}% {:>10}", name, accuracy,
               it == published.end() ? std::string("–") : fmt::format("{:.1f}%", it->second));
    for (size_t r = 0; r < layer_count; ++r) {
      const double share = percent(right[r], pairs);
      fmt::print(" {:>6.0f}%", share);
      result["per_layer"][name][layers.front()[r].name] = share;
    }
    fmt::print("\n");
    std::fflush(stdout);
    result["accuracy"][name] = accuracy;
  }
  result["total_s"] = std::round(findings::seconds_since(start));
  fmt::print(
      "\nlayer files in {0}; e.g. layerwatch heatmap {0}/net0 {0}/net1 --metric cka --pool-size "
      "{1}\n"
      "{2}\n",
      out_dir, pool, result.dump());
  return 0;
}
