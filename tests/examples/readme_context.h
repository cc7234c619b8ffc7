#pragma once
// What the README's C++ examples assume exists around them: a model with a stem, `features` and
// `body` Sequentials, a probe set, a data loader, an optimizer and a number of epochs. Each
// example runs in its own function with a fresh context (see readme_examples.cmake).

#include <fmt/format.h>
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace readme {

struct NetImpl : torch::nn::Module {
  NetImpl()
      : stem_conv(register_module("stem_conv",
                                  torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)))),
        stem_bn(register_module("stem_bn", torch::nn::BatchNorm2d(4))),
        features(register_module(
            "features",
            torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 4, 3).padding(1)),
                                  torch::nn::ReLU()))),
        body(register_module(
            "body", torch::nn::Sequential(torch::nn::Linear(4 * 8 * 8, 16), torch::nn::ReLU(),
                                          torch::nn::Linear(16, 3)))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(stem_bn(stem_conv(x)));
    return body->forward(features->forward(x).flatten(1));
  }
  torch::nn::Conv2d stem_conv;
  torch::nn::BatchNorm2d stem_bn;
  torch::nn::Sequential features, body;
};
TORCH_MODULE(Net);

struct Batch {
  torch::Tensor data, target;
};

struct Context {
  Net model;
  torch::Tensor probe_images = torch::randn({64, 1, 8, 8});
  std::unique_ptr<std::vector<Batch>> loader = [] {
    auto batches = std::make_unique<std::vector<Batch>>();
    for (int i = 0; i < 4; ++i) {
      batches->push_back({torch::randn({16, 1, 8, 8}), torch::randint(0, 3, {16})});
    }
    return batches;
  }();
  torch::optim::SGD optimizer{model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9)};
  int epochs = 2;
};

}  // namespace readme
