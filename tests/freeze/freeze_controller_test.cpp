// FreezeController: frozen parameters never move again (SGD with momentum and weight decay,
// Adam), unfrozen ones keep learning, BatchNorm stays in eval mode, and a frozen prefix runs
// without autograd.

#include "freeze/freeze_controller.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "capture/capture_detail.h"
#include "layerwatch/torch/capture.h"

namespace layerwatch {
namespace {

torch::nn::Sequential mlp() {
  torch::manual_seed(0);
  return torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::BatchNorm1d(16),
                               torch::nn::ReLU(), torch::nn::Linear(16, 16), torch::nn::ReLU(),
                               torch::nn::Linear(16, 2));
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

void train(torch::nn::Sequential& model, torch::optim::Optimizer& optimizer, int steps) {
  torch::manual_seed(steps);
  for (int i = 0; i < steps; ++i) {
    model->train();
    const auto x = torch::randn({32, 8});
    const auto y = (x.sum(1) > 0).to(torch::kLong);
    optimizer.zero_grad();
    torch::cross_entropy_loss(model->forward(x), y).backward();
    optimizer.step();
  }
}

// Trains, freezes the first Linear (and its BatchNorm), trains on; returns whether the frozen
// parameters stayed bit-identical and whether the last layer still moved.
std::pair<bool, bool> frozen_stays_put(torch::optim::Optimizer& optimizer,
                                       torch::nn::Sequential& model, bool use_controller) {
  train(model, optimizer, 5);  // creates momentum buffers / Adam moments
  auto frozen_params = model[0]->parameters();
  for (const auto& p : model[1]->parameters()) frozen_params.push_back(p);
  if (use_controller) {
    FreezeController controller(&optimizer);
    controller.freeze("0", {model[0]});
    controller.freeze("1", {model[1]});
  } else {
    for (auto& p : frozen_params) p.requires_grad_(false);  // the naive way
  }
  const auto at_freeze = copies(frozen_params);
  const auto last_before = copies(model[5]->parameters());
  train(model, optimizer, 50);
  return {all_equal(copies(frozen_params), at_freeze),
          !all_equal(copies(model[5]->parameters()), last_before)};
}

TEST(FreezeController, FrozenParametersStayBitIdenticalUnderSgdWithMomentumAndWeightDecay) {
  auto model = mlp();
  torch::optim::SGD sgd(model->parameters(),
                        torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-3));
  const size_t states_before_freeze = 8;  // momentum of the 8 parameters (4 layers × 2)
  const auto [frozen_same, rest_moved] = frozen_stays_put(sgd, model, true);
  EXPECT_TRUE(frozen_same);
  EXPECT_TRUE(rest_moved);
  // Their optimizer state is gone too: 4 of the 8 momentum buffers (Linear 0 and BatchNorm 1).
  EXPECT_EQ(sgd.state().size(), states_before_freeze - 4);
  for (const auto& p : model[0]->parameters()) {
    EXPECT_FALSE(p.grad().defined());
    EXPECT_FALSE(p.requires_grad());
  }
}

TEST(FreezeController, ReportsWhatItRemovedFromTheOptimizer) {
  auto model = mlp();
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
  train(model, adam, 2);
  ASSERT_EQ(adam.state().size(), 8u);
  FreezeController controller(&adam);
  const auto report = controller.freeze("first", {model[0], model[1]});
  EXPECT_EQ(report.parameters, 4);
  EXPECT_EQ(report.removed_from_optimizer, 4);
  EXPECT_EQ(report.optimizer_states_erased, 4);
  EXPECT_EQ(report.batchnorm_modules, 1);
  EXPECT_EQ(adam.state().size(), 4u);
  size_t in_groups = 0;
  for (const auto& group : adam.param_groups()) in_groups += group.params().size();
  EXPECT_EQ(in_groups, 4u);
  EXPECT_EQ(controller.freeze("first", {model[0]}).parameters, 0);  // already frozen
}

TEST(FreezeController, FrozenParametersStayBitIdenticalUnderAdam) {
  auto model = mlp();
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-4));
  const auto [frozen_same, rest_moved] = frozen_stays_put(adam, model, true);
  EXPECT_TRUE(frozen_same);
  EXPECT_TRUE(rest_moved);
}

TEST(FreezeController, RequiresGradOffAloneLetsMomentumMoveTheWeights) {
  // The fact the controller exists for: without it, a "frozen" weight keeps moving.
  auto model = mlp();
  torch::optim::SGD sgd(model->parameters(),
                        torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-3));
  const auto [frozen_same, rest_moved] = frozen_stays_put(sgd, model, false);
  EXPECT_FALSE(frozen_same);
  EXPECT_TRUE(rest_moved);
}

struct Seen : detail::CaptureReceiver {
  void capture(const std::string& name, const torch::Tensor& value) override {
    requires_grad[name] = value.requires_grad();
  }
  void capture_error(const std::string&, const std::string&) override {}
  std::map<std::string, bool> requires_grad;
};

TEST(FreezeController, FrozenPrefixOfAWatchedSequentialKeepsBatchNormStillAndSkipsAutograd) {
  auto model = mlp();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  train(model, sgd, 3);
  const auto linear = model[0], batchnorm = model[1];
  auto* bn = batchnorm->as<torch::nn::BatchNorm1dImpl>();
  auto handle = watch(model);
  FreezeController controller(&sgd);
  EXPECT_TRUE(controller.freeze("0", {linear}, &model).autograd_skipped);
  const auto report = controller.freeze("1", {batchnorm}, &model);
  EXPECT_TRUE(report.autograd_skipped);
  EXPECT_EQ(report.batchnorm_modules, 1);
  EXPECT_EQ(controller.frozen(), (std::vector<std::string>{"0", "1"}));
  const auto mean = bn->running_mean.clone(), var = bn->running_var.clone();
  train(model, sgd, 10);  // calls model->train() before every step
  EXPECT_TRUE(torch::equal(bn->running_mean, mean));
  EXPECT_TRUE(torch::equal(bn->running_var, var));
  // Autograd records nothing for the frozen prefix: its outputs need no gradient, the first
  // unfrozen layer's output does.
  Seen seen;
  {
    detail::ReceiverScope scope(&seen);
    model->train();
    model->forward(torch::randn({4, 8}));
  }
  EXPECT_FALSE(seen.requires_grad.at("0"));
  EXPECT_FALSE(seen.requires_grad.at("1"));
  EXPECT_FALSE(seen.requires_grad.at("2"));
  EXPECT_TRUE(seen.requires_grad.at("3"));
}

}  // namespace
}  // namespace layerwatch
