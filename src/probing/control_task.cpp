#include "layerwatch/probing/control_task.h"

#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <limits>
#include <stdexcept>

#include "core/random_index.h"

namespace layerwatch::probing {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// Squared distances (examples × centres), from ‖x‖² − 2x·c + ‖c‖², clipped at 0.
MatrixXd squared_distances(const MatrixXd& x, const VectorXd& x_norms, const MatrixXd& centres) {
  MatrixXd d = -2.0 * x * centres.transpose();
  d.colwise() += x_norms;
  d.rowwise() += centres.rowwise().squaredNorm().transpose();
  return d.cwiseMax(0.0);
}

// k-means++ start (Arthur & Vassilvitskii 2007), then Lloyd iterations.
std::vector<int64_t> kmeans(const MatrixXd& x, int64_t k, int64_t iterations,
                            layerwatch::detail::RandomIndex& random) {
  const Eigen::Index n = x.rows();
  const VectorXd norms = x.rowwise().squaredNorm();
  MatrixXd centres(k, x.cols());
  centres.row(0) = x.row(random.below(n));
  VectorXd nearest = squared_distances(x, norms, centres.topRows(1)).col(0);
  for (int64_t c = 1; c < k; ++c) {
    const double total = nearest.sum();
    Eigen::Index pick = random.below(n);
    if (total > 0) {
      double target = random.uniform() * total;
      for (pick = 0; pick < n - 1 && target >= nearest(pick); ++pick) target -= nearest(pick);
    }
    centres.row(c) = x.row(pick);
    nearest = nearest.cwiseMin(squared_distances(x, norms, centres.row(c)).col(0));
  }
  std::vector<int64_t> assignment(static_cast<size_t>(n), -1);
  for (int64_t it = 0; it < iterations; ++it) {
    const MatrixXd d = squared_distances(x, norms, centres);
    bool changed = false;
    for (Eigen::Index i = 0; i < n; ++i) {
      Eigen::Index best = 0;
      d.row(i).minCoeff(&best);
      changed |= assignment[static_cast<size_t>(i)] != best;
      assignment[static_cast<size_t>(i)] = best;
    }
    if (!changed) break;
    MatrixXd sums = MatrixXd::Zero(k, x.cols());
    VectorXd counts = VectorXd::Zero(k);
    for (Eigen::Index i = 0; i < n; ++i) {
      sums.row(assignment[static_cast<size_t>(i)]) += x.row(i);
      counts(assignment[static_cast<size_t>(i)]) += 1;
    }
    for (int64_t c = 0; c < k; ++c) {
      if (counts(c) > 0) centres.row(c) = sums.row(c) / counts(c);  // an empty one stays put
    }
  }
  return assignment;
}

}  // namespace

ControlTask control_task(MatrixRef inputs, const std::vector<int64_t>& labels,
                         const ControlTaskOptions& options) {
  validate_options(options);
  const int64_t n = inputs.rows();
  if (static_cast<int64_t>(labels.size()) != n) {
    throw std::invalid_argument(
        fmt::format("control_task: {} labels for {} probe inputs: give one label per example",
                    labels.size(), n));
  }
  if (n < 2) {
    throw std::invalid_argument(
        fmt::format("control_task: {} probe inputs; at least 2 are needed", n));
  }
  const MatrixXd x = inputs.visit([](const auto& m) { return m.template cast<double>().eval(); });
  if (!x.allFinite()) {
    throw std::invalid_argument("control_task: the probe inputs hold NaN or Inf");
  }
  const int64_t classes = *std::max_element(labels.begin(), labels.end()) + 1;
  int64_t k = options.clusters() > 0 ? options.clusters() : std::max(classes, n / 10);
  k = std::clamp<int64_t>(k, 1, n);

  layerwatch::detail::RandomIndex random(options.seed());
  ControlTask task;
  task.clusters = k;
  task.cluster = kmeans(x, k, options.iterations(), random);
  // Each cluster's label: one of the real labels drawn uniformly, which draws a class with its
  // empirical frequency.
  std::vector<int64_t> cluster_label(static_cast<size_t>(k));
  for (auto& label : cluster_label) label = labels[random.below(labels.size())];
  task.labels.reserve(static_cast<size_t>(n));
  for (const auto c : task.cluster) task.labels.push_back(cluster_label[static_cast<size_t>(c)]);
  return task;
}

}  // namespace layerwatch::probing
