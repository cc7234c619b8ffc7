#include "layerwatch/similarity/minibatch_cka.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "kernels.h"
#include "linalg.h"

namespace layerwatch::similarity {

void MinibatchCka::update(MatrixRef x, MatrixRef y) {
  // The sums are accumulated in float64 whatever the batches' type.
  const auto as_double = [](const auto& m) -> Eigen::MatrixXd { return m.template cast<double>(); };
  add(x.visit(as_double), y.visit(as_double));
}

void MinibatchCka::add(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  if (x.rows() != y.rows()) {
    throw std::invalid_argument(fmt::format(
        "MinibatchCka: x batch is {}×{} but y batch is {}×{}: rows (samples) must match", x.rows(),
        x.cols(), y.rows(), y.cols()));
  }
  if (batch_size_ == 0) {
    if (x.rows() < 4) {
      throw std::invalid_argument(fmt::format(
          "MinibatchCka: batch of {} samples; the unbiased HSIC needs at least 4", x.rows()));
    }
    batch_size_ = x.rows();
    width_x_ = x.cols();
    width_y_ = y.cols();
  } else if (x.rows() != batch_size_ || x.cols() != width_x_ || y.cols() != width_y_) {
    throw std::invalid_argument(fmt::format(
        "MinibatchCka: batch is {}×{} and {}×{} but earlier batches were {}×{} and {}×{}: "
        "batches must have equal sizes (drop or pad the last one)",
        x.rows(), x.cols(), y.rows(), y.cols(), batch_size_, width_x_, batch_size_, width_y_));
  }
  if (!x.allFinite() || !y.allFinite()) {
    ++skipped_;
    return;
  }
  const Eigen::MatrixXd k = linalg::gram_of_rows(x);
  const Eigen::MatrixXd l = linalg::gram_of_rows(y);
  hsic_xy_ += detail::unbiased_hsic(k, l);
  hsic_xx_ += detail::unbiased_hsic(k, k);
  hsic_yy_ += detail::unbiased_hsic(l, l);
  ++batches_;
}

CkaResult MinibatchCka::result() const {
  CkaResult result;
  result.n_samples = batches_ * batch_size_;
  if (batches_ == 0) {
    result.status = Status::kEmptyInput;
    result.message = skipped_ ? fmt::format("all {} batches held NaN/Inf", skipped_)
                              : std::string("no batch accumulated yet");
    return result;
  }
  if (!(hsic_xx_ > 0 && hsic_yy_ > 0)) {
    result.status = Status::kZeroVariance;
    result.message = "accumulated self-HSIC is not positive (constant activations?)";
    return result;
  }
  result.value = hsic_xy_ / std::sqrt(hsic_xx_ * hsic_yy_);
  if (skipped_) result.message = fmt::format("{} batch(es) with NaN/Inf skipped", skipped_);
  return result;
}

void MinibatchCka::reset() { *this = MinibatchCka(); }

}  // namespace layerwatch::similarity
