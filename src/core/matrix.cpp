#include "layerwatch/core/matrix.h"

namespace layerwatch {

const char* to_string(DType dtype) noexcept {
  return dtype == DType::kFloat32 ? "float32" : "float64";
}

}  // namespace layerwatch
