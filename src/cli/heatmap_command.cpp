// `layerwatch heatmap DIR_A [DIR_B]`: every layer against every layer, as an HTML page.

#include <fmt/format.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "index_flags.h"
#include "layerwatch/io/checkpoint.h"
#include "layerwatch/report/layer_heatmap.h"
#include "progress_lines.h"

namespace layerwatch::cli {
namespace {

namespace sim = layerwatch::similarity;

struct HeatmapArgs {
  std::string dir_a, dir_b;
  std::string metric = "cka";
  std::string output = "heatmap.html";
  std::string title;
  bool as_json = false;
  std::shared_ptr<IndexFlags> index = [] {
    auto flags = std::make_shared<IndexFlags>();
    flags->conv_options = LayerHeatmapOptions().conv();
    return flags;
  }();
};

int run_heatmap(const HeatmapArgs& args) {
  auto options = LayerHeatmapOptions().metric(sim::parse_metric(args.metric));
  options.precision(args.index->resolve());
  options.metric_options(args.index->metric_options).conv(args.index->conv_options);
  LayerHeatmap heatmap;
  try {
    heatmap = compute_layer_heatmap(args.dir_a, args.dir_b, options,
                                    progress_lines("layerwatch heatmap:", " cells", 20));
  } catch (const std::runtime_error& e) {  // io::FileError too
    fmt::print(stderr, "layerwatch heatmap: {}\n", e.what());
    return kExitBadData;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "layerwatch heatmap: {}\n", e.what());
    return kExitUsage;
  }
  for (const auto& problem : heatmap.problems) {
    fmt::print(stderr, "layerwatch heatmap: no value for {}\n", problem);
  }
  if (args.as_json) fmt::print("{}\n", layer_heatmap_json(heatmap));
  try {
    write_file_atomically(args.output, render_layer_heatmap_html(heatmap, args.title));
  } catch (const CheckpointError& e) {
    fmt::print(stderr, "layerwatch heatmap: {}\n", e.what());
    return kExitFailure;
  }
  fmt::print(args.as_json ? stderr : stdout, "layerwatch heatmap: wrote {} ({} × {} layers, {})\n",
             args.output, heatmap.rows.size(), heatmap.columns.size(), args.metric);
  return kExitOk;
}

}  // namespace

std::function<int()> add_heatmap_command(CLI::App& app) {
  auto args = std::make_shared<HeatmapArgs>();
  auto* cmd = app.add_subcommand(
      "heatmap",
      "Layer × layer similarity of saved activations (one .npy or .pt file per layer, named by "
      "the layer), within one network or across two, as an HTML page");
  cmd->add_option("DIR_A", args->dir_a, "Directory of one network's layer files")->required();
  cmd->add_option("DIR_B", args->dir_b,
                  "Directory of another network's layer files on the same examples (default: "
                  "DIR_A against itself)");
  cmd->add_option("--metric", args->metric, "The index drawn (default cka)")
      ->check(CLI::IsMember(names_of(sim::all_metrics())));
  cmd->add_option("-o,--output", args->output, "The page written (default heatmap.html)");
  cmd->add_option("--title", args->title, "Page title");
  add_index_flags(cmd, args->index,
                  "4-D inputs: pool (C*S*S per example, S = --pool-size, default 2; the "
                  "default), flatten (C*H*W)");
  cmd->add_flag("--json", args->as_json, "Also print the matrix as one JSON object");
  return [args] { return run_heatmap(*args); };
}

}  // namespace layerwatch::cli
