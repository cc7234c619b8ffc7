// Morcos et al. 2018's finding (the PWCCA paper, "Insights on representational similarity in
// neural networks with canonical correlation"), on Fashion-MNIST: networks that generalise
// converge to more similar representations than networks that memorise, and more so in higher
// layers. Trains a group of CNNs on the true labels of a training subset and a group on a fixed
// random relabelling of the same subset (the same relabelling for every network of the group),
// each from its own seed until it fits its training set, records every layer on a probe set of
// test images (one .npy per layer and network), and prints per layer the mean pairwise PWCCA
// distance (1 − PWCCA) within each group and across the groups, as a table and one JSON line.
//
//   build/bin/memorization_similarity --quick    # 3 + 3 networks on 1000 images
//   build/bin/memorization_similarity            # 3 + 3 networks on 4000 images

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fashion_mnist_data.h"
#include "findings_cnn.h"
#include "layerwatch/core/blas_threads.h"

namespace {

namespace fs = std::filesystem;
namespace sim = layerwatch::similarity;

using Network = std::vector<layerwatch::HeatmapLayer>;

// PWCCA distance of one layer between two networks, both directions averaged (PWCCA weights
// the canonical correlations by the first view's projections, so it is not symmetric).
double pwcca_distance(const layerwatch::HeatmapLayer& a, const layerwatch::HeatmapLayer& b) {
  const auto one_way = [](const layerwatch::HeatmapLayer& x, const layerwatch::HeatmapLayer& y) {
    sim::ActivationPair pair(x.activations, y.activations);
    const auto r = sim::compute_metric(sim::Metric::kPwcca, pair);
    if (!layerwatch::has_value(r.status())) {
      throw std::runtime_error(
          fmt::format("PWCCA of {} and {}: {}", x.source, y.source, r.message()));
    }
    return 1 - r.value();
  };
  return (one_way(a, b) + one_way(b, a)) / 2;
}

// Mean, minimum and maximum of the distances of `layer` over the network pairs given.
struct Spread {
  double mean = 0, min = INFINITY, max = -INFINITY;
};

Spread layer_distance(const std::vector<const Network*>& first,
                      const std::vector<const Network*>& second, size_t layer, bool within) {
  Spread s;
  int pairs = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    for (size_t j = within ? i + 1 : 0; j < second.size(); ++j) {
      const double d = pwcca_distance(first[i]->at(layer), second[j]->at(layer));
      s.mean += d;
      s.min = std::min(s.min, d);
      s.max = std::max(s.max, d);
      ++pairs;
    }
  }
  s.mean /= pairs;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Morcos et al.'s generalising versus memorising networks, on Fashion-MNIST"};
  std::string data = fashion_mnist::kDefaultDir, out_dir = "memorization";
  int networks = 3, max_epochs = 100, probe_size = 2000, pool = 2;
  int64_t train_subset = 4000, seed = 0, relabel_seed = 12345;
  double fit = 99;
  bool quick = false;
  app.add_option("--data", data, "Directory with the Fashion-MNIST IDX files");
  app.add_option("--networks", networks, "Networks per group (default 3)")
      ->check(CLI::Range(2, 20));
  app.add_option("--train-subset", train_subset,
                 "Training images, the same for both groups (default 4000)")
      ->check(CLI::Range(int64_t{100}, int64_t{60000}));
  app.add_option("--fit", fit,
                 "Train each network until its training accuracy reaches this % (default 99)")
      ->check(CLI::Range(10.0, 100.0));
  app.add_option("--max-epochs", max_epochs, "Give up fitting after this many epochs (default 100)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--probe", probe_size, "Probe images from the test set (default 2000)")
      ->check(CLI::Range(20, 10000));
  app.add_option("--pool", pool, "Conv layers are average-pooled to POOL × POOL (default 2)")
      ->check(CLI::Range(1, 7));
  app.add_option("--seed", seed, "Seed of network k of each group: seed + k");
  app.add_option("--relabel-seed", relabel_seed, "Seed of the random relabelling");
  app.add_option("--out", out_dir,
                 "Where the layer files go: OUT/{generalising,memorising}/net<k>/<layer>.npy");
  app.add_flag("--quick", quick, "1000 training images, 500 probe images, at most 60 epochs");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    train_subset = 1000;
    probe_size = 500;
    max_epochs = 60;
  }
  layerwatch::set_blas_threads(1);
  findings::Data d;
  try {
    d = findings::load_data(data, train_subset, probe_size);
  } catch (const std::exception& e) {
    fmt::print(stderr, "memorization_similarity: {}\n", e.what());
    return 3;
  }
  const auto& images = d.train_images;
  const auto& labels = d.train_labels;
  // The random relabelling: the subset's labels shuffled among its images, so the class
  // frequencies stay those of the task while the label says nothing about the image.
  torch::manual_seed(relabel_seed);
  const auto random_labels = labels.index_select(0, torch::randperm(train_subset));
  const double agreement = labels.eq(random_labels).to(torch::kFloat).mean().item<double>() * 100;
  auto layout = layerwatch::LayerHeatmapOptions();
  layout.conv().pool_size(pool);

  const auto start = std::chrono::steady_clock::now();
  struct Group {
    std::string name;
    torch::Tensor labels;
    std::vector<Network> networks;
    nlohmann::json trained = nlohmann::json::array();
  };
  std::vector<Group> groups = {{"generalising", labels, {}, {}},
                               {"memorising", random_labels, {}, {}}};
  fmt::print("{} training images; the random labels agree with the true ones on {:.1f} %\n",
             train_subset, agreement);
  for (int k = 0; k < networks; ++k) {
    for (auto& group : groups) {
      findings::TrainSettings settings;
      settings.seed = seed + k;
      settings.max_epochs = max_epochs;
      settings.stop_at_train_accuracy = fit;
      auto trained = findings::train_cnn(images, group.labels, settings);
      const double test = findings::accuracy_percent(trained.model, d.test_images, d.test_labels);
      const std::string dir = (fs::path(out_dir) / group.name / fmt::format("net{}", k)).string();
      try {
        group.networks.push_back(findings::record_layers(trained.model, d.probe, dir, layout));
      } catch (const std::exception& e) {
        fmt::print(stderr, "memorization_similarity: {}\n", e.what());
        return 3;
      }
      group.trained.push_back({{"seed", seed + k},
                               {"epochs", trained.epochs},
                               {"train_accuracy", std::round(trained.train_accuracy * 10) / 10},
                               {"test_accuracy", std::round(test * 10) / 10}});
      fmt::print(
          "{} network {} (seed {}): {} epochs, training accuracy {:.1f} %{}, test accuracy "
          "{:.1f} %, {:.0f} s so far\n",
          group.name, k, seed + k, trained.epochs, trained.train_accuracy,
          trained.train_accuracy < fit ? " (did not fit: raise --max-epochs)" : "", test,
          findings::seconds_since(start));
      std::fflush(stdout);
    }
  }

  std::vector<const Network*> generalising, memorising;
  for (const auto& n : groups[0].networks) generalising.push_back(&n);
  for (const auto& n : groups[1].networks) memorising.push_back(&n);
  nlohmann::json result = {{"networks_per_group", networks},
                           {"train_images", train_subset},
                           {"probe_images", probe_size},
                           {"pool", pool},
                           {"fit", fit},
                           {"generalising", groups[0].trained},
                           {"memorising", groups[1].trained},
                           {"train_s", std::round(findings::seconds_since(start))}};
  fmt::print(
      "\nmean pairwise PWCCA distance (1 − PWCCA; min–max over the pairs) on {} probe "
      "images\n{:<8} {:>22} {:>22} {:>22} {:>12}\n",
      probe_size, "layer", "generalising", "memorising", "across groups", "mem − gen");
  int closer = 0;
  std::vector<double> gaps;
  for (size_t layer = 0; layer < findings::layer_names().size(); ++layer) {
    Spread gen, mem, across;
    try {
      gen = layer_distance(generalising, generalising, layer, true);
      mem = layer_distance(memorising, memorising, layer, true);
      across = layer_distance(generalising, memorising, layer, false);
    } catch (const std::exception& e) {
      fmt::print(stderr, "memorization_similarity: {}\n", e.what());
      return 4;
    }
    const auto cell = [](const Spread& s) {
      return fmt::format("{:.3f} ({:.3f}–{:.3f})", s.mean, s.min, s.max);
    };
    const std::string& name = findings::layer_names()[layer];
    fmt::print("{:<8} {:>22} {:>22} {:>22} {:>+12.3f}\n", name, cell(gen), cell(mem), cell(across),
               mem.mean - gen.mean);
    closer += gen.mean < mem.mean;
    gaps.push_back(mem.mean - gen.mean);
    result["distance"][name] = {
        {"generalising", gen.mean}, {"memorising", mem.mean}, {"across", across.mean}};
  }
  const bool higher_more = gaps.back() > gaps.front();
  fmt::print(
      "\nthe generalising group is the more similar in {} of {} layers; the gap is {} in the last "
      "layer ({:+.3f}) than in the first ({:+.3f})\n",
      closer, gaps.size(), higher_more ? "larger" : "not larger", gaps.back(), gaps.front());
  result["generalising_closer_layers"] = closer;
  result["total_s"] = std::round(findings::seconds_since(start));
  fmt::print("layer files in {}\n{}\n", out_dir, result.dump());
  return 0;
}
