#pragma once
// Recognising and parsing file formats from bytes in memory, shared by the readers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Reads a whole file into memory; throws `FileError` when it cannot be opened or read.
std::string read_file_bytes(const std::string& path);

/// True when the bytes start with the `.npy` magic string.
bool looks_like_npy(const char* bytes, size_t size);

/// What a `.npy` header says.
struct NpyHeader {
  bool complete = false;   ///< False when `size` ended before the header did.
  size_t data_offset = 0;  ///< Where the data start (known even when incomplete).
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;
  bool fortran = false;  ///< Fortran (column-major) order.
  bool swap = false;     ///< The data's byte order is not the host's.
  uint64_t count = 0;    ///< Elements.
};

/// Parses the header at the start of `bytes` (`size` of them) of a `.npy` file of `file_size`
/// bytes, checking that the file holds all the data the shape needs. Throws `FileError`.
NpyHeader parse_npy_header(const std::string& name, const char* bytes, size_t size,
                           size_t file_size);

/// Parses `.npy` bytes already in memory; `name` is used in error messages.
Array parse_npy(const std::string& name, const char* bytes, size_t size);

/// True when the bytes start like a file written by `torch.save` (zip archive, or the legacy
/// pickle format).
bool looks_like_torch_save(const char* bytes, size_t size);

/// `read_tensor_file` for bytes already in memory; `path` names them in errors. Defined in the
/// LibTorch part (tensor_file.cpp).
Array parse_tensor_bytes(const std::string& path, const std::vector<char>& bytes);

}  // namespace layerwatch::io
