#include "layerwatch/freeze/freeze_controller.h"

#include <torch/torch.h>

#include <algorithm>

namespace layerwatch {
namespace {

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
    report.optimizer_states_erased += static_cast<int64_t>(
        optimizer->state().erase(c10::guts::to_string(param.unsafeGetTensorImpl())));
  }
  return report;
}

FreezeController::FreezeController(torch::optim::Optimizer* optimizer) : optimizer_(optimizer) {}

FreezeReport FreezeController::freeze(const std::string& name,
                                      const std::shared_ptr<torch::nn::Module>& module,
                                      torch::nn::Sequential* watched) {
  FreezeReport report;
  if (!module || frozen_.count(name)) return report;
  report = freeze_parameters(module->parameters(/*recurse=*/true), optimizer_);
  auto& modules = frozen_[name];
  for (const auto& m : module->modules(/*include_self=*/true)) {
    if (is_batchnorm(*m)) {
      m->eval();
      modules.push_back(m);
      ++report.batchnorm_modules;
    }
  }
  if (watched && !watched->is_empty()) {
    report.autograd_skipped = detail::set_capture_point_frozen(**watched, name, true);
  }
  order_.push_back(name);
  return report;
}

void FreezeController::enforce_eval() {
  for (auto& [name, modules] : frozen_) {
    for (auto& m : modules) m->eval();
  }
}

}  // namespace layerwatch
