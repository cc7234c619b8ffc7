#pragma once
// The freeze example's two networks for Fashion-MNIST, each with what the monitor and the
// frozen-prefix cache need to know about it:
//
// - cnn: four conv+BN+ReLU blocks (32-32-64-64, two max-pools), then 3136→256→10; two
//   Sequentials, watched element by element (units features.0–3, classifier.0–1).
// - resnet: a stem and three residual blocks (32 at 14×14, 64 at 14×14, 64 at 7×7, each two
//   3×3 convolutions with BatchNorm and a projection where the shape changes), then global
//   average pooling and 64→10; a custom module whose forward calls layerwatch::tap() at each
//   unit's output, its units registered as freeze targets (stem, block1–3, head).
//
// The two cost about the same per image (19 million multiply-adds).

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/torch/frozen_prefix_cache.h"
#include "layerwatch/torch/monitor.h"

namespace freeze_models {

// A Sequential that can sit inside another one (libtorch needs a concrete forward for that).
struct BlockImpl : torch::nn::SequentialImpl {
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Block);

inline Block conv_block(int64_t in, int64_t out, bool pool) {
  Block b(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)),
          torch::nn::BatchNorm2d(out), torch::nn::ReLU());
  if (pool) b->push_back(torch::nn::MaxPool2d(2));
  return b;
}

struct CnnImpl : torch::nn::Module {
  CnnImpl()
      : features(register_module(
            "features",
            torch::nn::Sequential(conv_block(1, 32, false), conv_block(32, 32, true),
                                  conv_block(32, 64, false), conv_block(64, 64, true)))),
        classifier(register_module(
            "classifier",
            torch::nn::Sequential(
                Block(torch::nn::Flatten(), torch::nn::Linear(64 * 7 * 7, 256), torch::nn::ReLU()),
                torch::nn::Linear(256, 10)))) {}
  torch::Tensor forward(torch::Tensor x) { return classifier->forward(features->forward(x)); }
  torch::nn::Sequential features, classifier;
};
TORCH_MODULE(Cnn);

// Two 3×3 convolutions with BatchNorm, added to the input (through a 1×1 projection where the
// shape changes).
struct ResidualBlockImpl : torch::nn::Module {
  ResidualBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(register_module(
            "conv1",
            torch::nn::Conv2d(
                torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(out))),
        conv2(register_module(
            "conv2",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      projection = register_module(
          "projection",
          torch::nn::Sequential(
              torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
              torch::nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (projection ? projection->forward(x) : x));
  }
  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::Conv2d conv2;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Sequential projection{nullptr};
};
TORCH_MODULE(ResidualBlock);

struct ResNetImpl : torch::nn::Module {
  ResNetImpl()
      : stem(register_module(
            "stem",
            Block(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).padding(1).bias(false)),
                  torch::nn::BatchNorm2d(32), torch::nn::ReLU()))),
        block1(register_module("block1", ResidualBlock(32, 32, 2))),
        block2(register_module("block2", ResidualBlock(32, 64, 1))),
        block3(register_module("block3", ResidualBlock(64, 64, 2))),
        head(register_module("head", Block(torch::nn::AdaptiveAvgPool2d(1), torch::nn::Flatten(),
                                           torch::nn::Linear(64, 10)))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = layerwatch::tap("stem", stem(x));
    x = layerwatch::tap("block1", block1(x));
    x = layerwatch::tap("block2", block2(x));
    x = layerwatch::tap("block3", block3(x));
    return layerwatch::tap("head", head(x));
  }
  Block stem;
  ResidualBlock block1, block2, block3;
  Block head;
};
TORCH_MODULE(ResNet);

// One of the networks, as the example uses it.
struct Model {
  std::shared_ptr<torch::nn::Module> module;  // parameters, train/eval, save/load
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  // Registers the capture points and freeze units with the monitor.
  std::function<void(layerwatch::Monitor&)> instrument;
  // The freeze units in forward order, for the frozen-prefix cache (after `instrument`).
  std::function<std::vector<layerwatch::FrozenPrefixCache::Unit>()> units;
  std::string class_logits;  // the unit whose output is the class scores
};

inline Model make_model(const std::string& name) {
  Model model;
  if (name == "resnet") {
    ResNet net;
    model.module = net.ptr();
    model.forward = [net = net.ptr()](const torch::Tensor& x) { return net->forward(x); };
    model.instrument = [net = net.ptr()](layerwatch::Monitor& monitor) {
      monitor.add_freeze_target("stem", net->stem.ptr());
      monitor.add_freeze_target("block1", net->block1.ptr());
      monitor.add_freeze_target("block2", net->block2.ptr());
      monitor.add_freeze_target("block3", net->block3.ptr());
      monitor.add_freeze_target("head", net->head.ptr());
    };
    model.units = [net = net.ptr()] {
      return std::vector<layerwatch::FrozenPrefixCache::Unit>{
          {"stem", torch::nn::AnyModule(net->stem)},
          {"block1", torch::nn::AnyModule(net->block1)},
          {"block2", torch::nn::AnyModule(net->block2)},
          {"block3", torch::nn::AnyModule(net->block3)},
          {"head", torch::nn::AnyModule(net->head)}};
    };
    model.class_logits = "head";
    return model;
  }
  Cnn net;
  model.module = net.ptr();
  model.forward = [net = net.ptr()](const torch::Tensor& x) { return net->forward(x); };
  model.instrument = [net = net.ptr()](layerwatch::Monitor& monitor) {
    monitor.watch(net->features, layerwatch::WatchOptions().recurse(false));
    monitor.watch(net->classifier, layerwatch::WatchOptions().recurse(false));
  };
  model.units = [net = net.ptr()] {
    auto units = layerwatch::FrozenPrefixCache::units_of(net->features, "features");
    for (auto& unit : layerwatch::FrozenPrefixCache::units_of(net->classifier, "classifier"))
      units.push_back(std::move(unit));
    return units;
  };
  model.class_logits = "classifier.1";
  return model;
}

}  // namespace freeze_models
