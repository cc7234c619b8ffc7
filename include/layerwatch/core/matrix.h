#pragma once
/// @file
/// One type for "a float32 or float64 matrix": `Matrix` owns one, `MatrixRef` views one. Every
/// similarity function takes `MatrixRef`, so Eigen matrices, blocks and maps of either scalar
/// type (and `Matrix`) can be passed as they are; code that needs the concrete type calls
/// `visit` once instead of branching on the type:
///
/// @code
///   Eigen::MatrixXf a = ...;
///   layerwatch::MatrixRef view = a;                 // no copy
///   double sum = view.visit([](const auto& m) { return double(m.sum()); });
/// @endcode

#include <Eigen/Core>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

namespace layerwatch {

/// Element type of a matrix or array.
enum class DType {
  kFloat32,  ///< "float32"
  kFloat64,  ///< "float64"
};
/// Stable name ("float32", "float64").
const char* to_string(DType dtype) noexcept;

/// A dense column-major matrix of float32 or float64 that owns its data. Default: an empty
/// float32 matrix.
class Matrix {
 public:
  Matrix() = default;
  Matrix(Eigen::MatrixXf values) : data_(std::move(values)) {}  // NOLINT: implicit on purpose
  Matrix(Eigen::MatrixXd values) : data_(std::move(values)) {}  // NOLINT: implicit on purpose

  DType dtype() const noexcept { return data_.index() == 0 ? DType::kFloat32 : DType::kFloat64; }
  Eigen::Index rows() const {
    return std::visit([](const auto& m) { return m.rows(); }, data_);
  }
  Eigen::Index cols() const {
    return std::visit([](const auto& m) { return m.cols(); }, data_);
  }
  /// Calls `f(m)` with the matrix as `const Eigen::MatrixXf&` or `const Eigen::MatrixXd&`.
  template <typename F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), data_);
  }
  /// Calls `f(m)` with the matrix as `Eigen::MatrixXf&` or `Eigen::MatrixXd&`.
  template <typename F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), data_);
  }
  /// The matrix as `Eigen::Matrix<Scalar, …>`; throws `std::bad_variant_access` for the other
  /// scalar type.
  template <typename Scalar>
  const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>& get() const {
    return std::get<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>(data_);
  }

 private:
  std::variant<Eigen::MatrixXf, Eigen::MatrixXd> data_;
};

/// A read-only view of a float32 or float64 matrix, for parameters. Matrices, blocks and maps
/// whose columns are contiguous are viewed without a copy; any other expression (a product, a
/// cast, a row-major matrix) is evaluated once into a copy the view holds. A view of a
/// temporary lives as long as the temporary: keep `MatrixRef` as a parameter type.
class MatrixRef {
 public:
  template <typename Scalar>
  using Map = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>, 0,
                         Eigen::OuterStride<>>;

  template <typename Derived>
  MatrixRef(const Eigen::MatrixBase<Derived>& m)  // NOLINT: implicit on purpose
      : view_(view_of(m.derived())) {}
  MatrixRef(const Matrix& m)  // NOLINT: implicit on purpose
      : view_(m.visit([this](const auto& values) { return View(view_of(values)); })) {}

  DType dtype() const noexcept { return view_.index() == 0 ? DType::kFloat32 : DType::kFloat64; }
  Eigen::Index rows() const {
    return std::visit([](const auto& m) { return m.rows(); }, view_);
  }
  Eigen::Index cols() const {
    return std::visit([](const auto& m) { return m.cols(); }, view_);
  }
  /// Calls `f(m)` with the data as `const MatrixRef::Map<float>&` or `Map<double>&` (an Eigen
  /// map with an outer stride).
  template <typename F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), view_);
  }

 private:
  using View = std::variant<Map<float>, Map<double>>;

  template <typename Derived>
  View view_of(const Derived& m) {
    using Scalar = typename Derived::Scalar;
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "layerwatch matrices are float32 or float64");
    constexpr bool contiguous_columns = (Derived::Flags & Eigen::DirectAccessBit) &&
                                        !Derived::IsRowMajor &&
                                        Derived::InnerStrideAtCompileTime == 1;
    if constexpr (contiguous_columns) {
      return Map<Scalar>(m.data(), m.rows(), m.cols(), Eigen::OuterStride<>(m.outerStride()));
    } else {
      auto copy = std::make_shared<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>(m);
      owned_ = copy;
      return Map<Scalar>(copy->data(), copy->rows(), copy->cols(),
                         Eigen::OuterStride<>(copy->rows()));
    }
  }

  std::shared_ptr<const void> owned_;  // the evaluated copy of an expression, if any
  View view_;
};

}  // namespace layerwatch
