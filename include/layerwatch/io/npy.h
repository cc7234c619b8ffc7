#pragma once
/// @file
/// Reader of NumPy `.npy` files: format versions 1.0, 2.0 and 3.0, dtypes float32/float64 in
/// either byte order, C or Fortran order, any rank. No torch needed.
///
/// @code
///   layerwatch::io::Array a = layerwatch::io::read_npy("acts.npy");
/// @endcode

#include <string>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Reads a whole `.npy` file. Throws `FileError` (naming the file) when it is missing,
/// truncated, not a `.npy` file, or holds an unsupported dtype.
Array read_npy(const std::string& path);

/// Writes a float32 or float64 array as a version 1.0 `.npy` file (C order). Throws `FileError`.
void write_npy(const std::string& path, const Array& array);

}  // namespace layerwatch::io
