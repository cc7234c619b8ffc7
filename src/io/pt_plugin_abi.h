#pragma once
// The one function the .pt reader plugin exports. Both sides are built by this project with the
// same compiler, so C++ types cross the boundary; the symbol itself is extern "C" to be found
// with dlsym.

#include <string>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Parses the bytes of a torch.save file; on failure returns false with a one-line `error`
/// (without the path).
using PtReadFunction = bool (*)(const std::string& path, const std::string& bytes, Array& out,
                                std::string& error);
inline constexpr const char* kPtReadSymbol = "layerwatch_read_pt";
inline constexpr const char* kPtPluginFile = "liblayerwatch_pt.so";

}  // namespace layerwatch::io
