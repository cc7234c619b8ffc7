#include "freeze/freeze_controller.h"

#include <torch/torch.h>
#include <torch/version.h>

#include "capture/capture_detail.h"

#include <algorithm>
#include <type_traits>

namespace layerwatch {
namespace {

// LibTorch keys an optimizer's per-parameter state by the parameter's TensorImpl: 1.13 as the
// pointer's text (c10::guts::to_string), later releases as the pointer itself. The key is made
// here and nowhere else; a key type this file does not know stops the build instead of leaving
// frozen parameters' momentum and Adam moments in place.
using StateMap = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;
using StateKey = typename StateMap::key_type;
static_assert(std::is_same_v<StateKey, std::string> || std::is_pointer_v<StateKey>,
              "this LibTorch keys optimizer state in a way layerwatch does not know: "
              "optimizer_state_key() in src/freeze/freeze_controller.cpp must be taught it");

template <typename Key = StateKey>
Key optimizer_state_key(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    return c10::guts::to_string(parameter.unsafeGetTensorImpl());
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

bool is_batchnorm(const torch::nn::Module& m) {
  return m.as<torch::nn::BatchNorm1dImpl>() || m.as<torch::nn::BatchNorm2dImpl>() ||
         m.as<torch::nn::BatchNorm3dImpl>();
}

}  // namespace

FreezeReport freeze_parameters(const std::vector<torch::Tensor>& parameters,
                               torch::optim::Optimizer* optimizer) {
  FreezeReport report;
  for (const auto& p : parameters) {
    if (!p.defined()) continue;
    auto param = p;  // shares the TensorImpl
    param.requires_grad_(false);
    param.mutable_grad() = torch::Tensor();
    ++report.parameters;
    if (!optimizer) continue;
    for (auto& group : optimizer->param_groups()) {
      auto& params = group.params();
      const auto before = params.size();
      params.erase(std::remove_if(params.begin(), params.end(),
                                  [&](const torch::Tensor& q) { return q.is_same(param); }),
                   params.end());
      report.removed_from_optimizer += static_cast<int64_t>(before - params.size());
    }
    report.optimizer_states_erased +=
        static_cast<int64_t>(optimizer->state().erase(optimizer_state_key(param)));
  }
  return report;
}

FreezeController::FreezeController(torch::optim::Optimizer* optimizer) : optimizer_(optimizer) {}

FreezeReport FreezeController::freeze(
    const std::string& name, const std::vector<std::shared_ptr<torch::nn::Module>>& modules,
    torch::nn::Sequential* watched) {
  FreezeReport report;
  if (modules.empty() || frozen_.count(name)) return report;
  std::vector<torch::Tensor> parameters;
  for (const auto& module : modules) {
    for (const auto& p : module->parameters(/*recurse=*/true)) parameters.push_back(p);
  }
  report = freeze_parameters(parameters, optimizer_);
  auto& batchnorms = frozen_[name];
  for (const auto& module : modules) {
    for (const auto& m : module->modules(/*include_self=*/true)) {
      if (!is_batchnorm(*m)) continue;
      m->eval();
      FrozenBatchNorm bn{m, m->buffers(/*recurse=*/false), {}};
      for (const auto& b : bn.buffers) bn.saved.push_back(b.detach().clone());
      batchnorms.push_back(std::move(bn));
      ++report.batchnorm_modules;
    }
  }
  if (watched && !watched->is_empty()) {
    report.autograd_skipped = detail::set_capture_point_frozen(**watched, name, true);
  }
  order_.push_back(name);
  return report;
}

bool FreezeController::leaves_parameters_to_train(
    const std::vector<std::shared_ptr<torch::nn::Module>>& modules) const {
  if (!optimizer_) return true;
  std::vector<torch::Tensor> unit;
  for (const auto& module : modules) {
    for (const auto& p : module->parameters(/*recurse=*/true)) unit.push_back(p);
  }
  for (const auto& group : optimizer_->param_groups()) {
    for (const auto& p : group.params()) {
      if (!p.requires_grad()) continue;
      const bool in_unit = std::any_of(unit.begin(), unit.end(),
                                       [&](const torch::Tensor& q) { return q.is_same(p); });
      if (!in_unit) return true;
    }
  }
  return false;
}

void FreezeController::enforce_eval() {
  for (auto& [name, batchnorms] : frozen_) {
    for (auto& bn : batchnorms) bn.module->eval();
  }
}

std::vector<std::string> FreezeController::restore_frozen_batchnorm() {
  std::vector<std::string> found;
  torch::NoGradGuard no_grad;
  for (auto& [name, batchnorms] : frozen_) {
    bool in_training = false;
    for (auto& bn : batchnorms) {
      if (!bn.module->is_training()) continue;
      in_training = true;
      bn.module->eval();
      for (size_t i = 0; i < bn.buffers.size(); ++i) bn.buffers[i].copy_(bn.saved[i]);
    }
    if (in_training) found.push_back(name);
  }
  return found;
}

}  // namespace layerwatch
