// Layer × layer heatmaps over directories of per-layer activation files: cells equal the
// index computed directly, layers in natural order, clear errors for bad directories.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "layerwatch/io/npy.h"
#include "layerwatch/report/layer_heatmap.h"
#include "layerwatch/similarity/similarity.h"
#include "test_util.h"

namespace layerwatch {
namespace {

namespace fs = std::filesystem;
using layerwatch::testing::gaussian;
using layerwatch::testing::related;

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / "layer_heatmap_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void save(const fs::path& path, const Eigen::MatrixXd& m) {
  io::Array a;
  a.shape = {m.rows(), m.cols()};
  std::vector<double> values;
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) values.push_back(m(i, j));
  a.values = std::move(values);
  io::write_npy(path.string(), a);
}

// A "network" of three layers, each a noisy function of the one before.
struct Network {
  Eigen::MatrixXd l2, l10, l1;
};
Network network(const fs::path& dir, uint64_t seed) {
  Network n;
  n.l1 = gaussian(120, 6, seed);
  n.l2 = related(n.l1, 5, 0.5, seed + 10);
  n.l10 = related(n.l2, 4, 0.5, seed + 20);
  save(dir / "layer.1.npy", n.l1);
  save(dir / "layer.2.npy", n.l2);
  save(dir / "layer.10.npy", n.l10);
  return n;
}

TEST(LayerHeatmap, CellsAreTheIndexOfEachPairInNaturalLayerOrder) {
  const auto dir = fresh_dir("one");
  const auto net = network(dir, 1);
  const auto map = compute_layer_heatmap(dir.string(), "");
  ASSERT_EQ(map.rows, (std::vector<std::string>{"layer.1", "layer.2", "layer.10"}));
  EXPECT_EQ(map.columns, map.rows);
  EXPECT_EQ(map.samples, 120);
  EXPECT_EQ(map.dir_b, map.dir_a);
  const std::vector<const Eigen::MatrixXd*> layers = {&net.l1, &net.l2, &net.l10};
  for (size_t r = 0; r < 3; ++r) {
    for (size_t c = 0; c < 3; ++c) {
      EXPECT_NEAR(map.values[r][c], similarity::linear_cka(*layers[r], *layers[c]).value, 1e-12);
    }
    EXPECT_NEAR(map.values[r][r], 1.0, 1e-12);
  }
  // Within one network the diagonal is skipped when asked: the next best is a neighbour.
  EXPECT_EQ(most_similar_column(map, 0), 0);
  const int other = most_similar_column(map, 0, /*skip_same_name=*/true);
  EXPECT_NE(other, 0);
  EXPECT_EQ(map.values[0][other], std::max(map.values[0][1], map.values[0][2]));
  const auto json = nlohmann::json::parse(layer_heatmap_json(map));
  EXPECT_EQ(json["metric"], "cka");
  EXPECT_EQ(json["rows"][2], "layer.10");
  EXPECT_NEAR(json["values"][0][1].get<double>(), map.values[0][1], 1e-15);
}

TEST(LayerHeatmap, AcrossTwoNetworksWithADistanceDrawnBrightestAtZero) {
  const auto a = fresh_dir("a"), b = fresh_dir("b");
  const auto na = network(a, 1);
  const auto nb = network(b, 100);
  int64_t calls = 0;
  const auto map = compute_layer_heatmap(
      a.string(), b.string(), LayerHeatmapOptions().metric(similarity::Metric::kProcrustes),
      [&calls](int64_t done, int64_t total) {
        ++calls;
        EXPECT_EQ(total, 9);
        EXPECT_EQ(done, calls);
      });
  EXPECT_EQ(calls, 9);
  EXPECT_NEAR(map.values[1][2], similarity::procrustes(na.l2, nb.l10).value, 1e-12);
  for (size_t r = 0; r < 3; ++r) {  // a distance: the most similar column is the smallest
    const auto& row = map.values[r];
    const auto smallest = std::min_element(row.begin(), row.end()) - row.begin();
    EXPECT_EQ(most_similar_column(map, r), smallest);
  }
  const std::string html = render_layer_heatmap_html(map, "");
  EXPECT_NE(html.find("data-chart=\"layer-heatmap\""), std::string::npos);
  EXPECT_NE(html.find("data-rows=\"3\" data-columns=\"3\""), std::string::npos);
  EXPECT_NE(html.find("a distance"), std::string::npos);
  EXPECT_NE(html.find("Most similar layer"), std::string::npos);
  EXPECT_NE(html.find(b.string()), std::string::npos);
}

TEST(LayerHeatmap, LayersPreparedOnceGiveTheCellsOfTheFiles) {
  const auto a = fresh_dir("prepared_a"), b = fresh_dir("prepared_b");
  network(a, 3);
  network(b, 300);
  const auto options = LayerHeatmapOptions().metric(similarity::Metric::kPwcca);
  const auto from_files = compute_layer_heatmap(a.string(), b.string(), options);
  const auto layers_a = read_heatmap_layers(a.string(), options);
  const auto layers_b = read_heatmap_layers(b.string(), options);
  ASSERT_EQ(layers_a.size(), 3u);
  EXPECT_EQ(layers_a[2].name, "layer.10");
  EXPECT_EQ(layers_a[2].source, (a / "layer.10.npy").string());
  const auto prepared = compute_layer_heatmap(layers_a, layers_b, options);
  EXPECT_EQ(prepared.rows, from_files.rows);
  EXPECT_EQ(prepared.values, from_files.values);  // the same computation, bit for bit
  EXPECT_TRUE(prepared.dir_a.empty());

  // Layers from memory: examples must agree across the two networks, named by their source.
  const std::vector<HeatmapLayer> x = {
      {"x", "memory x", similarity::Activations(gaussian(120, 3, 1))}};
  const std::vector<HeatmapLayer> y = {
      {"y", "memory y", similarity::Activations(gaussian(100, 3, 2))}};
  try {
    compute_layer_heatmap(x, y);
    ADD_FAILURE() << "layers of 120 and 100 examples were compared";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("memory y holds 100 examples but memory x holds 120"),
              std::string::npos)
        << e.what();
  }
}

TEST(LayerHeatmap, BadDirectoriesAndMismatchedLayersAreNamed) {
  const auto expect_error = [](const std::function<void()>& f, const std::string& part) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one naming " << part;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  const auto empty = fresh_dir("empty");
  expect_error([&] { compute_layer_heatmap(empty.string(), ""); }, "holds no .npy");
  expect_error([&] { compute_layer_heatmap((empty / "missing").string(), ""); },
               "is not a directory");

  const auto short_dir = fresh_dir("short");
  save(short_dir / "a.npy", gaussian(120, 3, 1));
  save(short_dir / "b.npy", gaussian(119, 3, 2));
  expect_error([&] { compute_layer_heatmap(short_dir.string(), ""); }, "b.npy holds 119");

  const auto nan_dir = fresh_dir("nan");
  Eigen::MatrixXd bad = gaussian(50, 3, 1);
  bad(3, 1) = std::nan("");
  save(nan_dir / "a.npy", bad);
  expect_error([&] { compute_layer_heatmap(nan_dir.string(), ""); }, "a.npy");

  const auto spatial = LayerHeatmapOptions().conv(
      similarity::ConvLayoutOptions().layout(similarity::ConvLayout::kSpatial));
  expect_error([&] { compute_layer_heatmap(short_dir.string(), "", spatial); }, "spatial");
}

TEST(LayerHeatmap, CellsWithoutAValueAreListedNotFatal) {
  const auto dir = fresh_dir("wide");
  save(dir / "narrow.npy", gaussian(30, 3, 1));
  save(dir / "wide.npy", gaussian(30, 40, 2));  // more features than examples: no CCA
  const auto map = compute_layer_heatmap(dir.string(), "",
                                         LayerHeatmapOptions().metric(similarity::Metric::kCca));
  EXPECT_TRUE(std::isnan(map.values[1][1]));
  EXPECT_FALSE(map.problems.empty());
  EXPECT_NE(map.problems[0].find("wide"), std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(layer_heatmap_json(map))["values"][1][1].is_null());
}

}  // namespace
}  // namespace layerwatch
