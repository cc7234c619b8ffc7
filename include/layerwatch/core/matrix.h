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
#include <cstddef>
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

/// A dense column-major matrix of float32 or float64 that owns its data, kept in large buffers
/// (2 MiB aligned on transparent huge pages when large, and reused: core/huge_pages.h).
/// Copies are deep. Default: an empty float32 matrix.
class Matrix {
 public:
  template <typename Scalar>
  using Map = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>;
  template <typename Scalar>
  using ConstMap = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>;

  Matrix() = default;
  /// `rows` × `cols` of `dtype`, uninitialised.
  Matrix(DType dtype, Eigen::Index rows, Eigen::Index cols);
  /// A copy of `values`.
  Matrix(const Eigen::MatrixXf& values);  // NOLINT: implicit on purpose
  Matrix(const Eigen::MatrixXd& values);  // NOLINT: implicit on purpose
  Matrix(const Matrix& other);
  Matrix& operator=(const Matrix& other);
  Matrix(Matrix&& other) noexcept;
  Matrix& operator=(Matrix&& other) noexcept;
  ~Matrix() = default;

  DType dtype() const noexcept { return dtype_; }
  Eigen::Index rows() const noexcept { return rows_; }
  Eigen::Index cols() const noexcept { return cols_; }

  /// Calls `f(m)` with the matrix as `const Matrix::ConstMap<float>&` or `ConstMap<double>&`.
  template <typename F>
  decltype(auto) visit(F&& f) const {
    if (dtype_ == DType::kFloat32) {
      const ConstMap<float> m(static_cast<const float*>(data_.get()), rows_, cols_);
      return f(m);
    }
    const ConstMap<double> m(static_cast<const double*>(data_.get()), rows_, cols_);
    return f(m);
  }
  /// Calls `f(m)` with the matrix as `Matrix::Map<float>&` or `Map<double>&` (writable).
  template <typename F>
  decltype(auto) visit(F&& f) {
    if (dtype_ == DType::kFloat32) {
      Map<float> m(static_cast<float*>(data_.get()), rows_, cols_);
      return f(m);
    }
    Map<double> m(static_cast<double*>(data_.get()), rows_, cols_);
    return f(m);
  }
  /// The matrix as a map of `Scalar`; throws `std::invalid_argument` for the other type.
  template <typename Scalar>
  ConstMap<Scalar> get() const {
    check_scalar(std::is_same_v<Scalar, float> ? DType::kFloat32 : DType::kFloat64);
    return ConstMap<Scalar>(static_cast<const Scalar*>(data_.get()), rows_, cols_);
  }
  /// Keeps the first `cols` columns (at most the present number), without copying.
  void resize_columns(Eigen::Index cols);

 private:
  struct Release {
    void operator()(void* pointer) const noexcept;
  };
  void check_scalar(DType wanted) const;
  std::size_t bytes() const noexcept;

  std::unique_ptr<void, Release> data_;
  DType dtype_ = DType::kFloat32;
  Eigen::Index rows_ = 0, cols_ = 0;
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
