#include "layerwatch/torch/capture.h"

#include "capture/capture_detail.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <c10/util/Exception.h>
#include <mutex>
#include <stdexcept>

namespace layerwatch {
namespace detail {
namespace {
thread_local CaptureReceiver* t_receiver = nullptr;
}  // namespace

CaptureReceiver* active_receiver() noexcept { return t_receiver; }

ReceiverScope::ReceiverScope(CaptureReceiver* receiver) noexcept : previous_(t_receiver) {
  t_receiver = receiver;
}

ReceiverScope::~ReceiverScope() { t_receiver = previous_; }

}  // namespace detail

struct CaptureHandle::State {
  std::mutex mutex;
  std::vector<std::string> names;
  std::vector<std::shared_ptr<torch::nn::Module>> modules;
  std::function<void()> remover;
  bool active = true;
};

CaptureHandle::CaptureHandle(std::vector<std::string> names, std::function<void()> remover,
                             std::vector<std::shared_ptr<torch::nn::Module>> modules)
    : state_(std::make_shared<State>()) {
  state_->names = std::move(names);
  state_->modules = std::move(modules);
  state_->remover = std::move(remover);
}

void CaptureHandle::remove() {
  if (!state_) return;
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!state_->active) return;
  state_->active = false;
  if (state_->remover) state_->remover();
  state_->remover = nullptr;
}

std::vector<std::shared_ptr<torch::nn::Module>> CaptureHandle::modules() const {
  if (!state_) return {};
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->modules;
}

bool CaptureHandle::active() const {
  if (!state_) return false;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->active;
}

std::vector<std::string> CaptureHandle::names() const {
  if (!state_) return {};
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->names;
}

torch::Tensor tap(const std::string& name, const torch::Tensor& x) {
  if (auto* receiver = detail::active_receiver()) receiver->capture(name, x);
  return x;
}

TapImpl::TapImpl(std::string name)
    : name_(std::move(name)), enabled_(std::make_shared<std::atomic<bool>>(true)) {
  if (name_.empty()) throw std::invalid_argument("a Tap needs a non-empty name");
}

torch::Tensor TapImpl::forward(torch::Tensor x) {
  if (auto* receiver = detail::active_receiver()) {
    if (enabled_->load(std::memory_order_relaxed)) receiver->capture(name_, x);
  }
  return x;
}

CaptureHandle TapImpl::handle() {
  auto enabled = enabled_;
  return CaptureHandle({name_}, [enabled] { enabled->store(false); });
}

namespace {

// The capturing wrapper `watch` puts in place of a Sequential element. It returns the
// element's output as an AnyValue, so outputs of any type pass through unchanged.
class CapturePointImpl : public torch::nn::Cloneable<CapturePointImpl> {
 public:
  // The element is this module's child, so its parameters, buffers and modules are reachable
  // through the wrapper too (a unit from FrozenPrefixCache::units_of, say).
  CapturePointImpl(torch::nn::AnyModule inner, std::string name)
      : inner_(std::move(inner)), name_(std::move(name)) {
    register_module("inner", inner_.ptr());
  }

  torch::nn::AnyValue forward(torch::Tensor x) {
    torch::nn::AnyValue out =
        frozen_ ? frozen_forward(std::move(x)) : inner_.any_forward(std::move(x));
    if (auto* receiver = detail::active_receiver()) {
      if (const auto* tensor = out.try_get<torch::Tensor>()) {
        receiver->capture(name_, *tensor);
      } else {
        receiver->capture_error(
            name_, fmt::format("the output of '{}' is not a tensor (it is {}); wrap the tensor "
                               "you want in layerwatch::tap() inside the module instead",
                               name_, c10::demangle(out.type_info().name())));
      }
    }
    return out;
  }
  // Cloning an instrumented Sequential clones the wrapped element too.
  void reset() override {
    inner_ = inner_.clone();
    register_module("inner", inner_.ptr());
  }

  const torch::nn::AnyModule& inner() const { return inner_; }
  const std::string& name() const { return name_; }
  void set_frozen(bool frozen) { frozen_ = frozen; }
  bool frozen() const { return frozen_; }

 private:
  // A frozen layer: eval mode (BatchNorm statistics stay put, whatever train() did) and no
  // autograd recording, so nothing before it needs a backward pass either.
  torch::nn::AnyValue frozen_forward(torch::Tensor x) {
    inner_.ptr()->eval();
    torch::NoGradGuard no_grad;
    return inner_.any_forward(std::move(x));
  }

  torch::nn::AnyModule inner_;
  std::string name_;
  bool frozen_ = false;
};
TORCH_MODULE(CapturePoint);

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

void instrument(torch::nn::SequentialImpl& seq, const std::string& prefix, bool recurse,
                std::vector<std::string>& names,
                std::vector<std::shared_ptr<torch::nn::Module>>& modules,
                std::vector<std::pair<torch::nn::SequentialImpl*, size_t>>& sites) {
  size_t index = 0;
  for (auto it = seq.begin(); it != seq.end(); ++it, ++index) {
    const std::string name = join_name(prefix, std::to_string(index));
    if (it->ptr()->as<CapturePointImpl>()) {
      throw std::invalid_argument(fmt::format(
          "'{}' is already watched: remove the first handle before watching again", name));
    }
    if (recurse) {
      if (auto nested = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(it->ptr())) {
        instrument(*nested, name, recurse, names, modules, sites);
        continue;
      }
    }
    modules.push_back(it->ptr());
    *it = torch::nn::AnyModule(CapturePoint(std::move(*it), name));
    names.push_back(name);
    sites.emplace_back(&seq, index);
  }
}

}  // namespace

namespace detail {
bool set_capture_point_frozen(torch::nn::SequentialImpl& sequential, const std::string& name,
                              bool frozen) {
  for (auto it = sequential.begin(); it != sequential.end(); ++it) {
    if (auto* point = it->ptr()->as<CapturePointImpl>()) {
      if (point->name() == name) {
        point->set_frozen(frozen);
        return true;
      }
    } else if (auto nested = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(it->ptr())) {
      if (set_capture_point_frozen(*nested, name, frozen)) return true;
    }
  }
  return false;
}

bool is_frozen_capture_point(const torch::nn::Module& module) {
  const auto* point = dynamic_cast<const CapturePointImpl*>(&module);
  return point != nullptr && point->frozen();
}
}  // namespace detail

CaptureHandle watch(torch::nn::Sequential& sequential, const WatchOptions& options) {
  std::vector<std::string> names;
  std::vector<std::shared_ptr<torch::nn::Module>> modules;
  std::vector<std::pair<torch::nn::SequentialImpl*, size_t>> sites;
  // Keep the instrumented Sequentials alive as long as the handle can restore them.
  std::vector<std::shared_ptr<torch::nn::Module>> keep_alive{sequential.ptr()};
  for (const auto& module : sequential->modules(/*include_self=*/false)) {
    keep_alive.push_back(module);
  }
  instrument(*sequential, options.prefix(), options.recurse(), names, modules, sites);
  return CaptureHandle(
      names,
      [sites, keep_alive] {
        for (const auto& [seq, index] : sites) {
          auto it = seq->begin() + static_cast<std::ptrdiff_t>(index);
          if (auto* point = it->ptr()->as<CapturePointImpl>()) *it = point->inner();
        }
      },
      modules);
}

}  // namespace layerwatch
