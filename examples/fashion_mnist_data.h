#pragma once
// Fashion-MNIST from Debian's dataset-fashion-mnist (gzipped IDX files), as float tensors.

#include <torch/types.h>

#include <stdexcept>
#include <string>

namespace fashion_mnist {

/// A split: images (N, 1, 28, 28) normalised with the training set's mean and std, labels (N).
struct Split {
  torch::Tensor images;
  torch::Tensor labels;
};

/// Where Debian installs the files.
inline const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";

/// Reads `train` or `t10k` from `dir` (`*-idx?-ubyte.gz`, or the uncompressed files). Throws
/// std::runtime_error naming the file and what to do (install the package, pass --data).
/// `first` and `count` (−1: to the end) keep only those examples, e.g. one rank's shard.
Split load(const std::string& dir, const std::string& split, int64_t first = 0, int64_t count = -1);

}  // namespace fashion_mnist
