#pragma once
/// @file
/// A control task for linear probes on images (after Hewitt & Liang 2019). Their control task
/// gives each word type a random label, so a probe can solve it only by recognising the type,
/// not by reading a property the representation encodes. Images have no types; here the probe
/// inputs are grouped into clusters by k-means on their pixels (the input view), and each
/// cluster is given one label drawn from the real labels' empirical distribution. Examples of
/// one cluster fall on both sides of the probe's split (it is by example), so the clusters recur
/// between training and scoring, as word types do: a layer that keeps its input's identity lets
/// a probe memorise cluster → label, one that keeps only what the task needs does not.
///
/// @code
///   auto control = layerwatch::probing::control_task(inputs, labels);  // once per probe set
///   // control.labels: one per example, with the label distribution of `labels`
/// @endcode

#include <cstdint>
#include <vector>

#include "layerwatch/core/matrix.h"
#include "layerwatch/core/option.h"

namespace layerwatch::probing {

/// Options of `control_task`.
struct ControlTaskOptions {
  LAYERWATCH_OPTIONS(ControlTaskOptions);
  /// Number of clusters; 0 = one per 10 examples (at least the number of classes), so each
  /// cluster has about 7 training and 3 held-out members under the default split. Default 0.
  LAYERWATCH_OPTION(int64_t, clusters, at_least(0)) = 0;
  /// Lloyd iterations of k-means after the k-means++ start. Default 30, range ≥ 1.
  LAYERWATCH_OPTION(int64_t, iterations, at_least(1)) = 30;
  /// Seed of the clustering's start and of the random labels. Default 0.
  LAYERWATCH_OPTION(uint64_t, seed, AnyValue{}) = 0;
  LAYERWATCH_OPTIONS_END();
};

/// The control task of one probe set.
struct ControlTask {
  std::vector<int64_t> labels;   ///< Control label of each example.
  std::vector<int64_t> cluster;  ///< Cluster of each example.
  int64_t clusters = 0;          ///< Number of clusters used.
};

/// Clusters `inputs` (examples × input features, e.g. flattened images) and labels each
/// cluster at random with the distribution of `labels`. Deterministic for a seed. Throws
/// `std::invalid_argument` when `labels` has another length than the rows, the inputs hold
/// NaN/Inf, or there are fewer than 2 examples.
ControlTask control_task(MatrixRef inputs, const std::vector<int64_t>& labels,
                         const ControlTaskOptions& options = {});

}  // namespace layerwatch::probing
