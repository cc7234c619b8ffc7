#pragma once
/// @file
/// Capture points: where a layer's output is recorded during a probe pass.
///
/// LibTorch's C++ frontend has no forward hooks, so there are three routes, all removable
/// through a `CaptureHandle`:
///
/// 1. `watch(sequential)` (or `Monitor::watch`) instruments a `torch::nn::Sequential` in place:
///    each element is replaced by a capturing wrapper that holds and calls the original.
///    Elements that are themselves Sequentials (subclasses of `SequentialImpl` with a
///    non-templated `forward`, the only way to nest them in libtorch) are instrumented
///    recursively. Names are torch's dotted module names ("features.3", "features.3.0").
///    The child registry, the parameters and their storage stay exactly as they were, so an
///    optimizer built earlier keeps working. While instrumented, `seq[i]` returns the wrapper:
///    `seq[i]->as<Linear>()` is null until the handle is removed (use
///    `seq->named_children()` or the module pointers you kept instead). The wrapper has the
///    element as its child "inner", so `seq[i]->parameters()` and `seq[i]->modules()` reach the
///    element's. A frozen element runs in eval mode without autograd, whatever `train()` set
///    (the Monitor's freeze of a watched layer). Elements must take one
///    `Tensor`; their output may be anything (a non-tensor output is reported, not captured).
/// 2. `Tap`: an identity module to register in your own module and call in `forward`:
///      tap1 = register_module("tap1", layerwatch::Tap("block1"));
///      x = tap1(block1(x));
/// 3. `layerwatch::tap("name", x)`: an explicit call for custom `forward` code; returns `x`.
///
/// Outside a probe pass every capture point only checks one thread-local pointer; during a
/// probe pass it hands the tensor to the Monitor's probe pass. Capture points never change the
/// tensor or its autograd history.

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/core/option.h"

namespace layerwatch {

/// Removes the capture points it was returned for, like PyTorch's `RemovableHandle`.
/// Copies share the same state; destroying a handle does not remove anything.
class CaptureHandle {
 public:
  CaptureHandle() = default;
  CaptureHandle(std::vector<std::string> names, std::function<void()> remover,
                std::vector<std::shared_ptr<torch::nn::Module>> modules = {});
  /// Removes the capture points (restores instrumented modules). Idempotent.
  void remove();
  /// True until `remove()` was called.
  bool active() const;
  /// Names of the capture points this handle covers.
  std::vector<std::string> names() const;
  /// The module behind each name (same order; from `watch`), or empty for Tap and tap().
  std::vector<std::shared_ptr<torch::nn::Module>> modules() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

/// Options of `watch`.
struct WatchOptions {
  LAYERWATCH_OPTIONS(WatchOptions);
  /// Name prefix of the capture points (the Sequential's dotted name in its model, e.g.
  /// "features"). `Monitor::watch` fills it in from the model; empty means none.
  LAYERWATCH_OPTION(std::string, prefix, AnyValue{}) = "";
  /// Instrument the elements of nested Sequentials instead of the nested Sequential as a
  /// whole. Default true.
  LAYERWATCH_OPTION(bool, recurse, AnyValue{}) = true;
  LAYERWATCH_OPTIONS_END();
};

/// Instruments `sequential` in place, one capture point per element (see the file comment).
/// Throws `std::invalid_argument` if it is already instrumented.
CaptureHandle watch(torch::nn::Sequential& sequential, const WatchOptions& options = {});

/// Explicit capture point: records `x` under `name` if a probe pass is running on this thread.
/// Returns `x` itself.
torch::Tensor tap(const std::string& name, const torch::Tensor& x);

/// An identity module that records its input under its name during probe passes.
class TapImpl : public torch::nn::Cloneable<TapImpl> {
 public:
  /// `name`: the capture point name, unique within the model.
  explicit TapImpl(std::string name);
  /// Returns `x`; records it during a probe pass unless removed.
  torch::Tensor forward(torch::Tensor x);
  void reset() override {}
  /// A handle whose `remove()` turns this Tap into a plain identity.
  CaptureHandle handle();
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<std::atomic<bool>> enabled_;
};
/// Module holder of `TapImpl` (use like any torch module: `layerwatch::Tap("block1")`).
TORCH_MODULE(Tap);

}  // namespace layerwatch
