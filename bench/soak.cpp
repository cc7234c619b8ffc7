// Soak: many probe passes over many layers through the background analyzer and the file sinks,
// with a small memory budget, and the process's resident memory sampled as it goes. Memory that
// grows with the number of passes after warm-up (a leak, a cache without a bound, a log held in
// memory) shows as a positive slope.
//
//   build/bin/soak_bench                       # 2000 passes, 24 layers, 64 MiB budget
//   build/bin/soak_bench --passes 500 --layers 8 --budget-mib 16
//
// Prints the resident memory every --report-every passes, then the least-squares slope after
// the warm-up (the first --warmup-fraction of the passes) in KiB per 100 passes, and the
// change from the end of the warm-up to the end. Exit code 0; the verdict is for the reader.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/core/blas_threads.h"
#include "layerwatch/core/huge_pages.h"
#include "layerwatch/sinks/sink.h"

namespace {

// Resident bytes of this process (/proc/self/statm, second field, in pages).
double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

struct Layer {
  std::string name;
  int64_t samples, features;
  Eigen::MatrixXf basis;  // fixed mixing, so successive passes are similar but not equal
};

// Least-squares slope of y over x.
double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double denominator = n * sxx - sx * sx;
  return denominator == 0 ? 0 : (n * sxy - sx * sy) / denominator;
}

}  // namespace

int main(int argc, char** argv) {
  int passes = 2000, layers = 24, report_every = 100;
  double budget_mib = 64, warmup_fraction = 0.1;
  int64_t samples = 1024;
  std::string log_dir = (std::filesystem::temp_directory_path() / "layerwatch_soak").string();
  CLI::App app{"Resident memory of the analyzer and file sinks over many probe passes"};
  app.add_option("--passes", passes, "probe passes")->check(CLI::Range(10, 1000000));
  app.add_option("--layers", layers, "layers per pass; every sixth is 4·samples × 128")
      ->check(CLI::Range(1, 1000));
  app.add_option("--samples", samples, "probe samples per layer")->check(CLI::Range(16, 100000));
  app.add_option("--budget-mib", budget_mib, "the snapshot store's memory budget")
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--report-every", report_every, "passes between memory samples")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--warmup-fraction", warmup_fraction, "passes left out of the slope")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--log-dir", log_dir, "where the JSONL and CSV sinks write (emptied first)");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(log_dir);
  layerwatch::set_blas_threads(1);  // as next to a training loop (docs/performance.md)
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::vector<Layer> watched;
  for (int i = 0; i < layers; ++i) {
    // Every sixth layer is wide: 4·samples × 128 float32, 2 MiB at the default 1024 samples, so
    // its copies go through the large-buffer allocator; the others are 16-64 features wide.
    const bool wide = i % 6 == 5;
    const int64_t features = wide ? 128 : 16 + 16 * (i % 4);
    Layer layer{fmt::format("layer{:02d}", i), wide ? 4 * samples : samples, features,
                Eigen::MatrixXf(features, features)};
    for (int64_t k = 0; k < layer.basis.size(); ++k) layer.basis.data()[k] = normal(rng);
    watched.push_back(std::move(layer));
  }
  layerwatch::AnalyzerOptions options;
  options.store().memory_budget(
      layerwatch::Bytes{static_cast<std::size_t>(budget_mib * 1024 * 1024)});
  layerwatch::Analyzer analyzer(
      options, {layerwatch::make_sink("jsonl", log_dir), layerwatch::make_sink("csv", log_dir)});

  std::vector<double> at, mib;
  const auto start = std::chrono::steady_clock::now();
  Eigen::MatrixXf noise;
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<layerwatch::Snapshot> snapshots;
    for (const auto& layer : watched) {
      noise.resize(layer.samples, layer.features);
      for (int64_t k = 0; k < noise.size(); ++k) noise.data()[k] = normal(rng);
      layerwatch::Snapshot s;
      s.layer = layer.name;
      s.step = pass;
      s.epoch = pass;
      s.probe_index = pass;
      s.values = noise * layer.basis;
      snapshots.push_back(std::move(s));
    }
    analyzer.add_probe_pass(std::move(snapshots));
    analyzer.end_epoch(pass + 1, pass);
    analyzer.flush();  // every comparison runs: nothing is skipped, the soak is the worst case
    if ((pass + 1) % report_every == 0 || pass + 1 == passes) {
      at.push_back(pass + 1);
      mib.push_back(resident_mib());
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("pass {:6d}  resident {:8.1f} MiB  ({:.0f} s, {} records)\n", pass + 1, mib.back(),
                 elapsed, analyzer.stats().records);
      std::fflush(stdout);
    }
  }
  analyzer.finish();
  const auto stats = analyzer.stats();
  const auto buffers = layerwatch::large_buffer_stats();

  const double warmup_end = warmup_fraction * passes;
  std::vector<double> x, y;
  for (std::size_t i = 0; i < at.size(); ++i) {
    if (at[i] <= warmup_end) continue;
    x.push_back(at[i]);
    y.push_back(mib[i]);
  }
  fmt::print(
      "records {}, failed {}, skipped {}, sink errors {}; snapshots stored {}, evicted {}, "
      "refused {}; peak {:.1f} MiB of a {:.0f} MiB budget\n",
      stats.records, stats.failed, stats.skipped, stats.sink_errors, stats.store.stored,
      stats.store.evicted, stats.store.refused,
      static_cast<double>(stats.store.peak_live_bytes) / (1024.0 * 1024.0), budget_mib);
  fmt::print("large buffers: {} mapped afresh, {} reused, {:.1f} MiB cached\n", buffers.fresh,
             buffers.reused, static_cast<double>(buffers.cached_bytes) / (1024.0 * 1024.0));
  if (x.size() < 2) {
    fmt::print(
        "too few samples after the warm-up for a slope: raise --passes or lower "
        "--report-every\n");
    return 0;
  }
  fmt::print(
      "resident memory after the warm-up (pass {:.0f} on): slope {:+.1f} KiB per 100 "
      "passes; {:.1f} -> {:.1f} MiB ({:+.1f} MiB)\n",
      warmup_end, slope(x, y) * 1024.0 * 100.0, y.front(), y.back(), y.back() - y.front());
  return 0;
}
