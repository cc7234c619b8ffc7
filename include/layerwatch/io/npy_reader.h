#pragma once
/// @file
/// Reader of NumPy `.npy` files: format versions 1.0, 2.0 and 3.0, dtypes float32/float64 in
/// either byte order, C or Fortran order, any rank. No torch needed.
///
///   layerwatch::io::Array a = layerwatch::io::read_npy("acts.npy");

#include <string>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Reads a whole `.npy` file. Throws `FileError` (naming the file) when it is missing,
/// truncated, not a `.npy` file, or holds an unsupported dtype.
Array read_npy(const std::string& path);

/// Parses `.npy` bytes already in memory; `name` is used in error messages.
Array parse_npy(const std::string& name, const char* bytes, size_t size);

/// True when the bytes start with the `.npy` magic string.
bool looks_like_npy(const char* bytes, size_t size);

/// Writes a float32 or float64 array as a version 1.0 `.npy` file (C order). Throws `FileError`.
void write_npy(const std::string& path, const Array& array);

}  // namespace layerwatch::io
