#pragma once
// Recognising and parsing file formats from bytes in memory, shared by the readers.

#include <cstddef>
#include <string>
#include <vector>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Reads a whole file into memory; throws `FileError` when it cannot be opened or read.
std::string read_file_bytes(const std::string& path);

/// True when the bytes start with the `.npy` magic string.
bool looks_like_npy(const char* bytes, size_t size);

/// Parses `.npy` bytes already in memory; `name` is used in error messages.
Array parse_npy(const std::string& name, const char* bytes, size_t size);

/// True when the bytes start like a file written by `torch.save` (zip archive, or the legacy
/// pickle format).
bool looks_like_torch_save(const char* bytes, size_t size);

/// `read_tensor_file` for bytes already in memory; `path` names them in errors. Defined in the
/// LibTorch part (tensor_file.cpp).
Array parse_tensor_bytes(const std::string& path, const std::vector<char>& bytes);

}  // namespace layerwatch::io
