#include "findings_cnn.h"

#include <filesystem>

#include "fashion_mnist_data.h"
#include "layerwatch/io/array.h"
#include "layerwatch/io/npy.h"

namespace findings {

Data load_data(const std::string& dir, int64_t train_subset, int64_t probe_size) {
  const auto train = fashion_mnist::load(dir, "train");
  const auto test = fashion_mnist::load(dir, "t10k");
  const int64_t rest = test.images.size(0) - probe_size;
  return {train.images.narrow(0, 0, train_subset), train.labels.narrow(0, 0, train_subset),
          test.images.narrow(0, 0, probe_size), test.images.narrow(0, probe_size, rest),
          test.labels.narrow(0, probe_size, rest)};
}

torch::nn::Sequential make_cnn() {
  using namespace torch::nn;
  const auto conv = [](int64_t in, int64_t out) {
    return Conv2d(Conv2dOptions(in, out, 3).padding(1));
  };
  return Sequential(conv(1, 16), ReLU(), MaxPool2d(2), conv(16, 32), ReLU(), conv(32, 32), ReLU(),
                    MaxPool2d(2), conv(32, 64), ReLU(), Flatten(), Linear(64 * 7 * 7, 128), ReLU(),
                    Linear(128, 10));
}

const std::vector<std::string>& layer_names() {
  static const std::vector<std::string> names = {"conv1", "conv2",  "conv3",
                                                 "conv4", "dense1", "logits"};
  return names;
}

double accuracy_percent(torch::nn::Sequential& model, const torch::Tensor& images,
                        const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t right = 0;
  for (int64_t start = 0; start < images.size(0); start += 1000) {
    const int64_t n = std::min<int64_t>(1000, images.size(0) - start);
    right += model->forward(images.narrow(0, start, n))
                 .argmax(1)
                 .eq(labels.narrow(0, start, n))
                 .sum()
                 .item<int64_t>();
  }
  return 100.0 * static_cast<double>(right) / static_cast<double>(images.size(0));
}

TrainedNetwork train_cnn(const torch::Tensor& images, const torch::Tensor& labels,
                         const TrainSettings& settings) {
  torch::manual_seed(settings.seed);
  TrainedNetwork out{make_cnn()};
  torch::optim::Adam optimizer(out.model->parameters(),
                               torch::optim::AdamOptions(settings.learning_rate));
  const int64_t n = images.size(0);
  while (out.epochs < settings.max_epochs) {
    out.model->train();
    const auto order = torch::randperm(n);
    for (int64_t start = 0; start < n; start += settings.batch) {
      const auto idx = order.narrow(0, start, std::min(settings.batch, n - start));
      optimizer.zero_grad();
      torch::nn::functional::cross_entropy(out.model->forward(images.index_select(0, idx)),
                                           labels.index_select(0, idx))
          .backward();
      optimizer.step();
    }
    ++out.epochs;
    if (settings.stop_at_train_accuracy > 0 || out.epochs == settings.max_epochs) {
      out.train_accuracy = accuracy_percent(out.model, images, labels);
      if (settings.stop_at_train_accuracy > 0 &&
          out.train_accuracy >= settings.stop_at_train_accuracy) {
        break;
      }
    }
  }
  return out;
}

std::vector<layerwatch::HeatmapLayer> record_layers(
    torch::nn::Sequential& model, const torch::Tensor& probe, const std::string& dir,
    const layerwatch::LayerHeatmapOptions& options) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::filesystem::create_directories(dir);
  std::vector<layerwatch::HeatmapLayer> out;
  auto x = probe;
  for (size_t i = 0; i < model->size(); ++i) {
    auto& module = *(model->begin() + static_cast<std::ptrdiff_t>(i));
    x = module.forward(x);
    if (!module.ptr()->as<torch::nn::ReLU>() && i + 1 != model->size()) continue;
    const auto c = x.contiguous().to(torch::kFloat);
    layerwatch::io::Array array;
    array.shape.assign(c.sizes().begin(), c.sizes().end());
    array.values = std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    const std::string& name = layer_names().at(out.size());
    const std::string path = (std::filesystem::path(dir) / (name + ".npy")).string();
    layerwatch::io::write_npy(path, array);
    out.push_back(
        {name, path,
         layerwatch::similarity::Activations(
             layerwatch::io::to_sample_matrix(array, options.conv()), options.precision())});
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace findings
