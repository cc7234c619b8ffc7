// Attaching layerwatch to an existing LibTorch training loop. The lines marked "layerwatch"
// are all it takes; everything else is an ordinary loop on a synthetic task (labels from a
// random teacher network), so the example runs anywhere in seconds.
//
//   build/bin/attach_to_loop [--epochs 6] [--config configs/default.json] [--log-dir DIR]
//
// Per epoch the console shows each layer's SVCCA against its previous snapshot; at the end,
// each layer against its final snapshot. The records are in DIR/convergence.jsonl.

#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include "layerwatch/core/blas_threads.h"
#include "layerwatch/torch/monitor.h"

struct NetImpl : torch::nn::Module {
  NetImpl()
      : body(register_module("body",
                             torch::nn::Sequential(torch::nn::Linear(20, 64), torch::nn::ReLU(),
                                                   torch::nn::Linear(64, 64), torch::nn::ReLU(),
                                                   torch::nn::Linear(64, 32), torch::nn::ReLU()))),
        head(register_module("head", torch::nn::Linear(32, 5))) {}
  // An explicit capture point for code outside the Sequential.
  torch::Tensor forward(torch::Tensor x) { return layerwatch::tap("head", head(body->forward(x))); }
  torch::nn::Sequential body;
  torch::nn::Linear head;
};
TORCH_MODULE(Net);

int main(int argc, char** argv) {
  CLI::App app{"A training loop with layerwatch attached"};
  int epochs = 6;
  std::string config, log_dir = "layerwatch_logs/attach_to_loop";
  app.add_option("--epochs", epochs, "Training epochs")->check(CLI::Range(1, 1000));
  app.add_option("--config", config, "JSON config (see configs/default.json)")
      ->check(CLI::ExistingFile);
  app.add_option("--log-dir", log_dir, "Where the logs go");
  CLI11_PARSE(app, argc, argv);

  // LibTorch has its own thread pool; OpenBLAS's would compete with it for the cores.
  layerwatch::set_blas_threads(1);  // layerwatch
  torch::manual_seed(0);
  // Synthetic data: inputs from a Gaussian, labels from a random teacher network.
  auto teacher =
      torch::nn::Sequential(torch::nn::Linear(20, 32), torch::nn::Tanh(), torch::nn::Linear(32, 5));
  const auto x = torch::randn({8000, 20});
  const auto y = teacher->forward(x).argmax(1).detach();
  const auto probe = torch::randn({1000, 20});  // fixed probe set, the same every pass

  Net model;
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));

  layerwatch::MonitorOptions options;
  try {
    if (!config.empty()) options = layerwatch::load_monitor_options(config);
  } catch (const layerwatch::ConfigError& e) {
    fmt::print(stderr, "attach_to_loop: {}\n", e.what());
    return 2;
  }
  layerwatch::Monitor monitor(model, probe, options.log_dir(log_dir));  // layerwatch
  monitor.watch(model->body);                                           // layerwatch

  const int64_t batch = 100;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    monitor.train();  // layerwatch: model->train() that keeps frozen layers in eval mode
    double loss_sum = 0;
    for (int64_t b = 0; b < x.size(0); b += batch) {
      optimizer.zero_grad();
      auto loss =
          torch::cross_entropy_loss(model->forward(x.narrow(0, b, batch)), y.narrow(0, b, batch));
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      monitor.step();  // layerwatch
    }
    fmt::print("epoch {}: training loss {:.4f}\n", epoch + 1, loss_sum / (x.size(0) / batch));
    monitor.end_epoch();  // layerwatch
  }
  monitor.finish();  // layerwatch
  fmt::print("records: {}/convergence.jsonl\n", monitor.options().log_dir());
  return 0;
}
