#pragma once
// The CNN and the training loop of the two reproduced findings (docs/findings.md): a small
// Fashion-MNIST CNN trained with Adam from a seed, every layer recorded on a probe set and kept
// as one `.npy` per layer (what `layerwatch heatmap` reads) and as prepared activations.

#include <torch/torch.h>

#include <chrono>
#include <string>
#include <vector>

#include "layerwatch/report/layer_heatmap.h"

namespace findings {

/// The data of a finding: the first `train_subset` training images, the first `probe_size`
/// test images as the probe set, and the other test images for the test accuracy.
struct Data {
  torch::Tensor train_images, train_labels, probe, test_images, test_labels;
};

/// Reads Fashion-MNIST from `dir`; throws std::runtime_error naming the file and what to do.
Data load_data(const std::string& dir, int64_t train_subset, int64_t probe_size);

/// Four conv layers (pooled after the first and the third) and two dense ones.
torch::nn::Sequential make_cnn();

/// The names of the layers `record_layers` returns, in forward order: every ReLU's output
/// (conv1 … conv4, dense1) and the logits.
const std::vector<std::string>& layer_names();

/// How a network is trained.
struct TrainSettings {
  int64_t seed = 0;    ///< Initialisation and data order.
  int max_epochs = 1;  ///< Epochs, or the most epochs when `stop_at_train_accuracy` is set.
  double stop_at_train_accuracy =
      0;  ///< Stop after the epoch whose training accuracy (%) reaches it; 0: never.
  int64_t batch = 128;
  double learning_rate = 1e-3;  ///< Adam.
};

/// A trained network and what its training measured.
struct TrainedNetwork {
  torch::nn::Sequential model;
  int epochs = 0;             ///< Epochs run.
  double train_accuracy = 0;  ///< On its training set, in eval mode, after the last epoch (%).
};

/// Trains a fresh `make_cnn()` from `settings.seed` on (images, labels).
TrainedNetwork train_cnn(const torch::Tensor& images, const torch::Tensor& labels,
                         const TrainSettings& settings);

/// Accuracy (%) of `model` in eval mode.
double accuracy_percent(torch::nn::Sequential& model, const torch::Tensor& images,
                        const torch::Tensor& labels);

/// Records every layer of `model` on `probe` (eval mode): writes `dir/<layer>.npy` with the
/// activations as they are (4-D for conv layers) and returns them prepared with `options`'
/// layout and precision, as `read_heatmap_layers(dir, options)` would.
std::vector<layerwatch::HeatmapLayer> record_layers(torch::nn::Sequential& model,
                                                    const torch::Tensor& probe,
                                                    const std::string& dir,
                                                    const layerwatch::LayerHeatmapOptions& options);

/// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace findings
