#pragma once
/// @file
/// `read_activation_file`: reads `.npy` directly and `.pt` through a plugin
/// (`liblayerwatch_pt.so`, linked against LibTorch) that is loaded only when a `.pt` file is
/// met. Programs that only read `.npy` files never load LibTorch, which saves ~0.6 s of start-up.

#include <cstddef>
#include <string>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Reads a `.npy` or `.pt` file (recognised by content). Throws `FileError`; for a `.pt` file
/// when the plugin is not installed, the message says so.
Array read_activation_file(const std::string& path);

}  // namespace layerwatch::io
