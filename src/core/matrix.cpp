#include "layerwatch/core/matrix.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "layerwatch/core/huge_pages.h"

namespace layerwatch {
namespace {

std::size_t scalar_bytes(DType dtype) { return dtype == DType::kFloat32 ? 4 : 8; }

}  // namespace

const char* to_string(DType dtype) noexcept {
  return dtype == DType::kFloat32 ? "float32" : "float64";
}

void Matrix::Release::operator()(void* pointer) const noexcept { detail::release_large(pointer); }

Matrix::Matrix(DType dtype, Eigen::Index rows, Eigen::Index cols)
    : dtype_(dtype), rows_(rows), cols_(cols) {
  if (rows < 0 || cols < 0) {
    throw std::invalid_argument("a matrix cannot have a negative size: " + std::to_string(rows) +
                                " x " + std::to_string(cols));
  }
  data_.reset(detail::allocate_large(bytes()));
}

Matrix::Matrix(const Eigen::MatrixXf& values)
    : Matrix(DType::kFloat32, values.rows(), values.cols()) {
  if (values.size() > 0) std::memcpy(data_.get(), values.data(), bytes());
}

Matrix::Matrix(const Eigen::MatrixXd& values)
    : Matrix(DType::kFloat64, values.rows(), values.cols()) {
  if (values.size() > 0) std::memcpy(data_.get(), values.data(), bytes());
}

Matrix::Matrix(const Matrix& other) : Matrix(other.dtype_, other.rows_, other.cols_) {
  if (bytes() > 0) std::memcpy(data_.get(), other.data_.get(), bytes());
}

Matrix& Matrix::operator=(const Matrix& other) {
  if (this != &other) *this = Matrix(other);
  return *this;
}

Matrix::Matrix(Matrix&& other) noexcept
    : data_(std::move(other.data_)), dtype_(other.dtype_), rows_(other.rows_), cols_(other.cols_) {
  other.rows_ = other.cols_ = 0;
}

Matrix& Matrix::operator=(Matrix&& other) noexcept {
  data_ = std::move(other.data_);
  dtype_ = other.dtype_;
  rows_ = other.rows_;
  cols_ = other.cols_;
  other.rows_ = other.cols_ = 0;
  return *this;
}

void Matrix::resize_columns(Eigen::Index cols) {
  if (cols < 0 || cols > cols_) {
    throw std::invalid_argument("resize_columns keeps at most the present " +
                                std::to_string(cols_) + " columns, not " + std::to_string(cols));
  }
  cols_ = cols;
}

void Matrix::check_scalar(DType wanted) const {
  if (wanted != dtype_) {
    throw std::invalid_argument(std::string("the matrix holds ") + to_string(dtype_) + ", not " +
                                to_string(wanted));
  }
}

std::size_t Matrix::bytes() const noexcept {
  return static_cast<std::size_t>(rows_) * static_cast<std::size_t>(cols_) * scalar_bytes(dtype_);
}

}  // namespace layerwatch
