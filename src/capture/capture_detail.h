#pragma once
// What the capture points share with the Monitor's probe pass and the FreezeController: the
// receiver of the probe pass running on this thread, and freezing a watched capture point.

#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include <string>

namespace layerwatch {
namespace detail {

/// Receives captured outputs during a probe pass. Implemented by the Monitor's probe pass.
class CaptureReceiver {
 public:
  virtual ~CaptureReceiver() = default;
  /// `value` is the layer's output for the current probe chunk.
  virtual void capture(const std::string& name, const torch::Tensor& value) = 0;
  /// The layer produced something that cannot be captured (e.g. not a tensor).
  virtual void capture_error(const std::string& name, const std::string& message) = 0;
};

/// The receiver of the probe pass running on this thread, or null.
CaptureReceiver* active_receiver() noexcept;

/// Makes `receiver` active on this thread for the scope's lifetime.
class ReceiverScope {
 public:
  explicit ReceiverScope(CaptureReceiver* receiver) noexcept;
  ~ReceiverScope();
  ReceiverScope(const ReceiverScope&) = delete;
  ReceiverScope& operator=(const ReceiverScope&) = delete;

 private:
  CaptureReceiver* previous_;
};

/// Sets the frozen mode of the capture point `name` inside an instrumented Sequential
/// (recursively): a frozen point runs its layer in eval mode without autograd. Returns false
/// if there is none of that name.
bool set_capture_point_frozen(torch::nn::SequentialImpl& sequential, const std::string& name,
                              bool frozen);

/// Whether `module` is a frozen capture point: it runs its layer in eval mode without autograd
/// whatever the modes of the modules inside it.
bool is_frozen_capture_point(const torch::nn::Module& module);

}  // namespace detail

}  // namespace layerwatch
