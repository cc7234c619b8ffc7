#pragma once
/// @file
/// `FreezeController`: applies a freeze decision to LibTorch objects so that a frozen layer
/// really never moves again and really costs no backward pass.
///
/// `requires_grad_(false)` alone is not enough in libtorch: `zero_grad()` leaves defined zero
/// gradients, so SGD with momentum or weight decay and Adam keep moving such a weight. Freezing
/// a layer here therefore
/// - turns `requires_grad` off and makes every gradient undefined,
/// - removes the parameters from every param group of the optimizer and erases their optimizer
///   state (momentum buffers, Adam moments),
/// - keeps its BatchNorm modules in eval mode (running statistics stop), also after later
///   `model->train()` calls, and
/// - for capture points made by `watch()`, runs the layer under `NoGradGuard`, so autograd
///   records nothing for it. When every layer up to a point is frozen (a frozen prefix), the
///   whole backward pass of that prefix is skipped. Freezing a middle layer saves only its
///   weight gradients, which is why the policies freeze bottom-up.
///
///   layerwatch::FreezeController controller(&optimizer);
///   controller.freeze("features.0", {features_0}, &model->features);

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/freeze/freeze.h"

namespace layerwatch {

/// Freezes `parameters`: requires_grad off, gradients undefined, removed from `optimizer`'s
/// param groups (if given) with their state erased.
FreezeReport freeze_parameters(const std::vector<torch::Tensor>& parameters,
                               torch::optim::Optimizer* optimizer);

/// Applies and remembers freeze decisions. Used on the training thread only.
class FreezeController {
 public:
  /// `optimizer` may be null (nothing to remove then); it must outlive the controller.
  explicit FreezeController(torch::optim::Optimizer* optimizer = nullptr);

  /// Freezes `modules` (all their parameters and BatchNorm submodules) as one unit `name`.
  /// If `watched` is the Sequential that `watch()` instrumented and holds a capture point named
  /// `name`, that layer also runs without autograd from now on. Freezing twice is a no-op.
  FreezeReport freeze(const std::string& name,
                      const std::vector<std::shared_ptr<torch::nn::Module>>& modules,
                      torch::nn::Sequential* watched = nullptr);

  /// Puts frozen BatchNorm modules back in eval mode (after `model->train()`). Capture points
  /// of frozen layers do this themselves on every call.
  void enforce_eval();
  /// Finds frozen BatchNorm modules in training mode, restores their running statistics to
  /// their values at the freeze and puts them back in eval mode. Returns the names of the
  /// units they belong to (empty when all were in eval mode).
  std::vector<std::string> restore_frozen_batchnorm();

  /// True when the optimizer would still train some parameter after `modules` were frozen (or
  /// there is no optimizer). Freezing the last trained parameters would make the next
  /// `loss.backward()` throw ("element 0 of tensors does not require grad"), so the monitor
  /// refuses such a freeze.
  bool leaves_parameters_to_train(
      const std::vector<std::shared_ptr<torch::nn::Module>>& modules) const;

  bool is_frozen(const std::string& name) const { return frozen_.count(name) > 0; }
  /// Names of the frozen layers, in the order they were frozen.
  const std::vector<std::string>& frozen() const { return order_; }

 private:
  // A frozen BatchNorm module and its running statistics at the freeze.
  struct FrozenBatchNorm {
    std::shared_ptr<torch::nn::Module> module;
    std::vector<torch::Tensor> buffers, saved;
  };
  torch::optim::Optimizer* optimizer_;
  std::map<std::string, std::vector<FrozenBatchNorm>> frozen_;
  std::vector<std::string> order_;
};

}  // namespace layerwatch
