#pragma once
/// @file
/// Reading activation files of either kind layerwatch accepts: NumPy `.npy` and PyTorch `.pt`
/// (one tensor written by Python's `torch.save`, zip or legacy format). The kind is recognised
/// from the file's first bytes, not its name.

#include <string>
#include <vector>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Reads a `.npy` or `.pt` file into an `Array` (float32 or float64; float16/bfloat16 tensors
/// are widened to float32). Throws `FileError` naming the file and the problem for a missing,
/// truncated or corrupt file, a `.pt` that holds something other than one tensor, or a
/// non-float dtype.
Array read_tensor_file(const std::string& path);

}  // namespace layerwatch::io
