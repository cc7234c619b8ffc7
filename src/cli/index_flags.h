#pragma once
// The command-line flags that choose how an index is computed, shared by `compare` and
// `heatmap`: SVCCA's reduction, RBF CKA's bandwidth, the layout of 4-D activations and the
// precision of the products.

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/similarity/conv_layout.h"
#include "layerwatch/similarity/metric.h"

namespace layerwatch::cli {

/// Names of an enum's values, for CLI11's IsMember checks.
template <typename E>
std::vector<std::string> names_of(const std::vector<E>& values) {
  std::vector<std::string> names;
  for (const auto v : values) names.emplace_back(to_string(v));
  return names;
}

/// What the flags set; `resolve()` turns the names into options once parsing is done.
struct IndexFlags {
  similarity::MetricOptions metric_options;
  similarity::ConvLayoutOptions conv_options;
  std::string svcca_reduction = "mass";
  std::string conv;  // empty: the command's default layout
  std::string precision = "float64";

  /// Applies the named choices; returns the precision.
  similarity::Precision resolve();
};

/// Registers the flags on `cmd`, writing into `flags`. `conv_help` describes the command's
/// default 4-D layout.
void add_index_flags(CLI::App* cmd, const std::shared_ptr<IndexFlags>& flags,
                     const std::string& conv_help);

}  // namespace layerwatch::cli
