// Capture points: watch(Sequential), Tap and tap() record exactly the layer outputs, handles
// remove them, and the model's parameters and optimizer are untouched.

#include "layerwatch/torch/capture.h"

#include "capture/capture_detail.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

namespace layerwatch {
namespace {

using torch::nn::AnyModule;

// Records what capture points hand over.
struct Collector : detail::CaptureReceiver {
  void capture(const std::string& name, const torch::Tensor& value) override {
    order.push_back(name);
    seen[name] = value.clone();
  }
  void capture_error(const std::string& name, const std::string& message) override {
    errors[name] = message;
  }
  std::vector<std::string> order;
  std::map<std::string, torch::Tensor> seen;
  std::map<std::string, std::string> errors;
};

// A nested Sequential: libtorch only nests Sequential subclasses with a concrete forward.
struct BlockImpl : torch::nn::SequentialImpl {
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Block);

TEST(Watch, CapturesEveryElementExactlyAsAManualForward) {
  torch::manual_seed(0);
  torch::nn::Sequential seq(torch::nn::Linear(6, 5), torch::nn::ReLU(),
                            Block(torch::nn::Linear(5, 4), torch::nn::Tanh()),
                            torch::nn::Linear(4, 3));
  const auto x = torch::randn({7, 6});
  // Manual forward through the original modules, before instrumenting.
  auto* l0 = seq[0]->as<torch::nn::Linear>();
  auto block = seq[2]->as<BlockImpl>();
  auto* l3 = seq[3]->as<torch::nn::Linear>();
  const auto h0 = l0->forward(x);
  const auto h1 = torch::relu(h0);
  const auto h20 = (*block)[0]->as<torch::nn::Linear>()->forward(h1);
  const auto h21 = torch::tanh(h20);
  const auto h3 = l3->forward(h21);

  auto handle = watch(seq, WatchOptions().prefix("features"));
  EXPECT_EQ(handle.names(), (std::vector<std::string>{"features.0", "features.1", "features.2.0",
                                                      "features.2.1", "features.3"}));
  Collector collector;
  torch::Tensor y;
  {
    detail::ReceiverScope scope(&collector);
    y = seq->forward(x);
  }
  EXPECT_TRUE(torch::equal(y, h3));
  EXPECT_EQ(collector.order, handle.names());
  EXPECT_TRUE(torch::equal(collector.seen["features.0"], h0));
  EXPECT_TRUE(torch::equal(collector.seen["features.1"], h1));
  EXPECT_TRUE(torch::equal(collector.seen["features.2.0"], h20));
  EXPECT_TRUE(torch::equal(collector.seen["features.2.1"], h21));
  EXPECT_TRUE(torch::equal(collector.seen["features.3"], h3));
}

TEST(Watch, ParametersStayTheSameObjectsAndTheOptimizerKeepsWorking) {
  torch::manual_seed(1);
  torch::nn::Sequential seq(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 1));
  const auto before = seq->named_parameters();
  std::vector<void*> storage;
  for (const auto& p : before) storage.push_back(p.value().data_ptr());
  torch::optim::SGD optimizer(seq->parameters(), torch::optim::SGDOptions(0.1));

  auto handle = watch(seq);
  const auto after = seq->named_parameters();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].key(), before[i].key());
    EXPECT_EQ(after[i].value().data_ptr(), storage[i]);
  }
  // Training through the instrumented Sequential moves the optimizer's parameters.
  const auto w0 = seq->named_parameters()["0.weight"].clone();
  const auto x = torch::randn({16, 4}), target = torch::randn({16, 1});
  for (int i = 0; i < 3; ++i) {
    optimizer.zero_grad();
    torch::mse_loss(seq->forward(x), target).backward();
    optimizer.step();
  }
  EXPECT_FALSE(torch::equal(seq->named_parameters()["0.weight"], w0));
  // Capture happens only while a receiver is active on this thread: a forward inside the
  // scope records the three layers, one after it records nothing more.
  Collector collector;
  {
    detail::ReceiverScope scope(&collector);
    seq->forward(x);
  }
  EXPECT_EQ(collector.order.size(), 3u);
  EXPECT_EQ(detail::active_receiver(), nullptr);
  seq->forward(x);
  EXPECT_EQ(collector.order.size(), 3u);
}

TEST(Watch, RemovingTheHandleRestoresTheOriginalElements) {
  torch::nn::Sequential seq(torch::nn::Linear(3, 3), torch::nn::ReLU());
  auto original = seq[0];
  auto handle = watch(seq);
  EXPECT_EQ(seq[0]->as<torch::nn::Linear>(), nullptr);  // the wrapper, as documented
  EXPECT_THROW(watch(seq), std::invalid_argument);      // no double instrumentation
  handle.remove();
  handle.remove();  // idempotent
  EXPECT_FALSE(handle.active());
  ASSERT_NE(seq[0]->as<torch::nn::Linear>(), nullptr);
  EXPECT_EQ(seq[0].get(), original.get());
  Collector collector;
  {
    detail::ReceiverScope scope(&collector);
    seq->forward(torch::randn({2, 3}));
  }
  EXPECT_TRUE(collector.seen.empty());
  EXPECT_NO_THROW(watch(seq).remove());  // can be watched again
}

TEST(Watch, TheWrapperReachesItsElementsParametersAndModules) {
  torch::nn::Sequential seq(torch::nn::Linear(3, 4), torch::nn::BatchNorm1d(4), torch::nn::ReLU());
  const auto weight = seq[0]->as<torch::nn::Linear>()->weight;
  auto handle = watch(seq);
  // Through the wrapper, as a unit of FrozenPrefixCache::units_of sees it.
  const auto wrapped = seq[0]->parameters();
  ASSERT_EQ(wrapped.size(), 2u);
  EXPECT_EQ(wrapped[0].data_ptr(), weight.data_ptr());
  EXPECT_EQ(seq[1]->buffers().size(), 3u);  // running mean, variance, batches seen
  bool batch_norm_inside = false;
  for (const auto& m : seq[1]->modules())
    batch_norm_inside |= m->name() == "torch::nn::BatchNorm1dImpl";
  EXPECT_TRUE(batch_norm_inside);
  EXPECT_EQ(seq->parameters().size(), 4u);  // the Sequential's own view: no duplicates
  // A clone of the instrumented Sequential has its own copies of every parameter.
  const auto copy = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(seq->clone());
  ASSERT_NE(copy, nullptr);
  const auto copied = copy->parameters();
  ASSERT_EQ(copied.size(), 4u);
  EXPECT_NE(copied[0].data_ptr(), weight.data_ptr());
  EXPECT_TRUE(torch::equal(copied[0], weight));
  const auto x = torch::randn({5, 3});
  seq->eval();
  copy->eval();
  EXPECT_TRUE(torch::equal(copy->forward(x), seq->forward(x)));
}

TEST(Watch, NonTensorOutputsAreReportedNotCaptured) {
  torch::nn::Sequential seq(torch::nn::LSTM(3, 2));
  auto handle = watch(seq, WatchOptions().prefix("rnn"));
  Collector collector;
  {
    detail::ReceiverScope scope(&collector);
    using Out = std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>>;
    const auto out = seq->forward<Out>(torch::randn({4, 2, 3}));
    EXPECT_EQ(std::get<0>(out).size(2), 2);  // the output still flows through unchanged
  }
  EXPECT_TRUE(collector.seen.empty());
  ASSERT_EQ(collector.errors.count("rnn.0"), 1u);
  EXPECT_NE(collector.errors["rnn.0"].find("not a tensor"), std::string::npos);
  EXPECT_NE(collector.errors["rnn.0"].find("tap()"), std::string::npos);
}

struct TappedNetImpl : torch::nn::Module {
  TappedNetImpl()
      : fc1(register_module("fc1", torch::nn::Linear(5, 4))),
        fc2(register_module("fc2", torch::nn::Linear(4, 2))),
        tap1(register_module("tap1", Tap("hidden"))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = tap1(torch::relu(fc1(x)));
    return tap("logits", fc2(x));
  }
  torch::nn::Linear fc1, fc2;
  Tap tap1;
};
TORCH_MODULE(TappedNet);

TEST(Tap, ModuleAndExplicitCallCaptureTheRightTensors) {
  torch::manual_seed(3);
  TappedNet net;
  const auto x = torch::randn({6, 5});
  const auto hidden = torch::relu(net->fc1(x));
  const auto logits = net->fc2(hidden);
  Collector collector;
  torch::Tensor y;
  {
    detail::ReceiverScope scope(&collector);
    y = net->forward(x);
  }
  EXPECT_TRUE(torch::equal(y, logits));
  EXPECT_EQ(collector.order, (std::vector<std::string>{"hidden", "logits"}));
  EXPECT_TRUE(torch::equal(collector.seen["hidden"], hidden));
  EXPECT_TRUE(torch::equal(collector.seen["logits"], logits));
  // The Tap keeps autograd intact.
  net->forward(x).sum().backward();
  EXPECT_TRUE(net->fc1->weight.grad().defined());

  auto handle = net->tap1->handle();
  handle.remove();
  Collector after;
  {
    detail::ReceiverScope scope(&after);
    net->forward(x);
  }
  EXPECT_EQ(after.order, (std::vector<std::string>{"logits"}));
}

TEST(Tap, NeedsAName) { EXPECT_THROW(Tap(""), std::invalid_argument); }

}  // namespace
}  // namespace layerwatch
