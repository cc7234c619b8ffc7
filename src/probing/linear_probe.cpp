#include "layerwatch/probing/linear_probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>
#include <stdexcept>

#include "core/random_index.h"

namespace layerwatch::probing {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// The rows `rows` of `features` in float64, standardised with `mean` and `scale`.
MatrixXd standardised_rows(MatrixRef features, const std::vector<int64_t>& rows,
                           const VectorXd& mean, const VectorXd& scale) {
  return features.visit([&](const auto& m) {
    MatrixXd out(static_cast<Eigen::Index>(rows.size()), m.cols());
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      for (size_t i = 0; i < rows.size(); ++i) {
        out(static_cast<Eigen::Index>(i), j) =
            (static_cast<double>(m(rows[i], j)) - mean(j)) / scale(j);
      }
    }
    return out;
  });
}

// The L2-regularised multinomial logistic loss of standardised training rows and its gradient,
// over the parameters θ = [vec(W) (p·k); b (k)].
class SoftmaxObjective {
 public:
  SoftmaxObjective(const MatrixXd& z, const std::vector<int64_t>& labels, int64_t classes,
                   double l2)
      : z_(z), labels_(labels), classes_(classes), l2_(l2) {}

  Eigen::Index size() const { return z_.cols() * classes_ + classes_; }

  double operator()(const VectorXd& theta, VectorXd& gradient) const {
    const Eigen::Index n = z_.rows(), p = z_.cols(), k = classes_;
    const Eigen::Map<const MatrixXd> w(theta.data(), p, k);
    const Eigen::Map<const VectorXd> b(theta.data() + p * k, k);
    MatrixXd scores = z_ * w;
    scores.rowwise() += b.transpose();
    double loss = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double top = scores.row(i).maxCoeff();
      scores.row(i) = (scores.row(i).array() - top).exp().matrix();
      const double total = scores.row(i).sum();
      loss += std::log(total) + top - (std::log(scores(i, labels_[i])) + top);
      scores.row(i) /= total;      // now the probabilities P
      scores(i, labels_[i]) -= 1;  // P − Y
    }
    scores /= static_cast<double>(n);
    gradient.resize(size());
    Eigen::Map<MatrixXd> gw(gradient.data(), p, k);
    gw.noalias() = z_.transpose() * scores;
    gw += l2_ * w;
    gradient.tail(k) = scores.colwise().sum().transpose();
    return loss / static_cast<double>(n) + 0.5 * l2_ * w.squaredNorm();
  }

 private:
  const MatrixXd& z_;
  const std::vector<int64_t>& labels_;
  int64_t classes_;
  double l2_;
};

struct Minimum {
  VectorXd x;
  double value = 0;
  int64_t iterations = 0;
  bool converged = false;
  std::string stopped;  // why it stopped without converging
};

// Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo search.
template <typename Objective>
Minimum minimise_lbfgs(const Objective& f, VectorXd x, int64_t max_iterations, double tolerance) {
  constexpr size_t kMemory = 10;
  std::deque<std::pair<VectorXd, VectorXd>> history;  // (s, y)
  VectorXd g, g_new;
  Minimum out;
  double value = f(x, g);
  for (out.iterations = 0; out.iterations < max_iterations; ++out.iterations) {
    if (g.lpNorm<Eigen::Infinity>() < tolerance) {
      out.converged = true;
      break;
    }
    // Two-loop recursion: d = −H g.
    VectorXd d = -g;
    std::vector<double> alpha(history.size());
    for (size_t i = history.size(); i-- > 0;) {
      const auto& [s, y] = history[i];
      alpha[i] = s.dot(d) / y.dot(s);
      d -= alpha[i] * y;
    }
    if (!history.empty()) {
      const auto& [s, y] = history.back();
      d *= s.dot(y) / y.squaredNorm();
    } else {
      d /= std::max(1.0, g.norm());
    }
    for (size_t i = 0; i < history.size(); ++i) {
      const auto& [s, y] = history[i];
      d += s * (alpha[i] - y.dot(d) / y.dot(s));
    }
    double slope = g.dot(d);
    if (!(slope < 0)) {  // not a descent direction: restart from steepest descent
      history.clear();
      d = -g / std::max(1.0, g.norm());
      slope = g.dot(d);
    }
    double step = 1;
    VectorXd x_new;
    double value_new = 0;
    bool accepted = false;
    for (int tries = 0; tries < 50; ++tries, step *= 0.5) {
      x_new = x + step * d;
      value_new = f(x_new, g_new);
      if (std::isfinite(value_new) && value_new <= value + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {
      out.stopped = "the line search found no decrease (the objective is flat to rounding)";
      break;
    }
    VectorXd s = x_new - x, y = g_new - g;
    if (s.dot(y) > 1e-12 * y.squaredNorm()) {
      if (history.size() == kMemory) history.pop_front();
      history.emplace_back(std::move(s), std::move(y));
    }
    x.swap(x_new);
    g.swap(g_new);
    value = value_new;
  }
  if (!out.converged && out.stopped.empty()) {
    out.converged = g.lpNorm<Eigen::Infinity>() < tolerance;
    if (!out.converged) {
      out.stopped = fmt::format("{} iterations reached with the gradient at {:.2g}", max_iterations,
                                g.lpNorm<Eigen::Infinity>());
    }
  }
  out.x = std::move(x);
  out.value = value;
  return out;
}

double accuracy(const MatrixXd& z, const std::vector<int64_t>& labels, const MatrixXd& w,
                const VectorXd& b) {
  if (z.rows() == 0) return std::numeric_limits<double>::quiet_NaN();
  MatrixXd scores = z * w;
  scores.rowwise() += b.transpose();
  int64_t right = 0;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    Eigen::Index best = 0;
    scores.row(i).maxCoeff(&best);
    right += best == labels[static_cast<size_t>(i)];
  }
  return static_cast<double>(right) / static_cast<double>(z.rows());
}

std::vector<int64_t> labels_of(const std::vector<int64_t>& labels,
                               const std::vector<int64_t>& rows) {
  std::vector<int64_t> out;
  out.reserve(rows.size());
  for (const auto row : rows) out.push_back(labels[static_cast<size_t>(row)]);
  return out;
}

}  // namespace

ProbeSplit split_examples(int64_t n, double held_out, uint64_t seed) {
  if (n < 2) {
    throw std::invalid_argument(
        fmt::format("split_examples: {} examples; a probe needs at least 2 (one to train on, one "
                    "to score)",
                    n));
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  layerwatch::detail::RandomIndex(seed).shuffle(order);
  const auto scored =
      std::clamp<int64_t>(std::llround(held_out * static_cast<double>(n)), 1, n - 1);
  ProbeSplit split;
  split.held_out.assign(order.begin(), order.begin() + scored);
  split.train.assign(order.begin() + scored, order.end());
  std::sort(split.held_out.begin(), split.held_out.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

LinearProbeResult fit_linear_probe(MatrixRef features, const std::vector<int64_t>& labels,
                                   const ProbeSplit& split, const LinearProbeOptions& options) {
  validate_options(options);
  const int64_t n = features.rows();
  if (static_cast<int64_t>(labels.size()) != n) {
    throw std::invalid_argument(fmt::format(
        "fit_linear_probe: {} labels for {} rows of features: give one label per example",
        labels.size(), n));
  }
  for (const auto& part : {split.train, split.held_out}) {
    for (const auto row : part) {
      if (row < 0 || row >= n) {
        throw std::invalid_argument(
            fmt::format("fit_linear_probe: split row {} is outside the {} examples", row, n));
      }
    }
  }
  LinearProbeResult out;
  int64_t classes = 0;
  for (const auto label : labels) {
    if (label < 0) {
      throw std::invalid_argument(fmt::format(
          "fit_linear_probe: label {} is negative; labels are class indices 0, 1, …", label));
    }
    classes = std::max(classes, label + 1);
  }
  out.classes = classes;
  if (n == 0 || features.cols() == 0) {
    out.status = Status::kEmptyInput;
    out.message = fmt::format("no features to probe ({} × {})", n, features.cols());
    return out;
  }
  const bool finite = features.visit([](const auto& m) { return m.allFinite(); });
  if (!finite) {
    out.status = Status::kNonFinite;
    out.message = "the activations hold NaN or Inf; a probe needs finite values";
    return out;
  }
  if (split.train.size() < 2 || split.held_out.empty()) {
    out.status = Status::kTooFewSamples;
    out.message =
        fmt::format("{} training and {} held-out examples; a probe needs at least 2 and 1",
                    split.train.size(), split.held_out.size());
    return out;
  }

  // Standardisation from the training rows only.
  const Eigen::Index p = features.cols();
  out.feature_mean = VectorXd::Zero(p);
  out.feature_scale = VectorXd::Ones(p);
  const VectorXd unit = VectorXd::Ones(p);
  const MatrixXd raw_train = standardised_rows(features, split.train, out.feature_mean, unit);
  out.feature_mean = raw_train.colwise().mean().transpose();
  for (Eigen::Index j = 0; j < p; ++j) {
    const double sd = std::sqrt((raw_train.col(j).array() - out.feature_mean(j)).square().mean());
    out.feature_scale(j) = sd > 1e-12 * (1 + std::abs(out.feature_mean(j))) ? sd : 1.0;
  }
  const MatrixXd train = (raw_train.rowwise() - out.feature_mean.transpose()).array().rowwise() /
                         out.feature_scale.transpose().array();
  const auto train_labels = labels_of(labels, split.train);

  const SoftmaxObjective objective(train, train_labels, classes, options.l2());
  auto minimum = minimise_lbfgs(objective, VectorXd::Zero(objective.size()),
                                options.max_iterations(), options.tolerance());
  out.weights = Eigen::Map<const MatrixXd>(minimum.x.data(), p, classes);
  out.bias = minimum.x.tail(classes);
  out.loss = minimum.value;
  out.iterations = minimum.iterations;
  out.converged = minimum.converged;
  if (!minimum.converged) out.message = "probe fit not converged: " + minimum.stopped;
  out.train_accuracy = accuracy(train, train_labels, out.weights, out.bias);
  const MatrixXd scored =
      standardised_rows(features, split.held_out, out.feature_mean, out.feature_scale);
  out.accuracy = accuracy(scored, labels_of(labels, split.held_out), out.weights, out.bias);
  return out;
}

ProbeWithControl probe_with_control(MatrixRef features, const std::vector<int64_t>& labels,
                                    const std::vector<int64_t>& control_labels,
                                    const LinearProbeOptions& options) {
  validate_options(options);
  const auto split = split_examples(features.rows(), options.held_out(), options.seed());
  ProbeWithControl out;
  out.probe = fit_linear_probe(features, labels, split, options);
  if (!has_value(out.probe.status)) {
    out.control.status = out.probe.status;
    out.control.message = out.probe.message;
    return out;
  }
  out.control = fit_linear_probe(features, control_labels, split, options);
  if (has_value(out.control.status)) out.selectivity = out.probe.accuracy - out.control.accuracy;
  return out;
}

}  // namespace layerwatch::probing
