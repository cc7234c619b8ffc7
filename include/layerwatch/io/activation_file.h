#pragma once
/// @file
/// `read_activation_file`: reads `.npy` directly and `.pt` through a plugin
/// (`liblayerwatch_pt.so`, linked against LibTorch) that is loaded only when a `.pt` file is
/// met. Programs that only read `.npy` files never load LibTorch, which saves ~0.6 s of start-up.

#include <cstddef>
#include <string>
#include <vector>

#include "layerwatch/io/array.h"

namespace layerwatch::io {

/// Reads a `.npy` or `.pt` file (recognised by content). Throws `FileError`; for a `.pt` file
/// when the plugin is not installed, the message says so.
Array read_activation_file(const std::string& path);

/// The (samples × features) matrix of an activation file: a 2-D (samples, features) array, or a
/// 4-D (N, C, H, W) array laid out per `conv`, in its own dtype. A 2-D `.npy` file in C order
/// is read in chunks straight into the matrix (no copy of the whole file). `shape`, when given,
/// receives the file's array shape. Throws `FileError` naming the file for an unreadable file
/// or an array of another rank.
Matrix read_sample_matrix(const std::string& path, const similarity::ConvLayoutOptions& conv = {},
                          std::vector<int64_t>* shape = nullptr);

}  // namespace layerwatch::io
