// Linear probes and their control task, checked against a logistic regression fitted
// independently (Newton's method in numpy, tests/make_probe_data.py) and against what the
// control task is for: memorisable by a representation that keeps its input's identity, not
// by one that keeps only the class.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "layerwatch/io/activation_file.h"
#include "layerwatch/probing/control_task.h"
#include "layerwatch/probing/linear_probe.h"
#include "test_util.h"

namespace layerwatch::probing {
namespace {

using layerwatch::testing::gaussian;
using layerwatch::testing::test_data_path;

class ProbeReference : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = test_data_path("probe");
    if (!std::filesystem::exists(dir + "/expected.json")) {
      GTEST_SKIP() << dir << " is missing: run ctest, whose make_test_data test writes it";
    }
    std::ifstream in(dir + "/expected.json");
    expected = nlohmann::json::parse(in);
    features = io::read_sample_matrix(dir + "/features.npy");
    labels = expected["labels"].get<std::vector<int64_t>>();
    split.train = expected["train"].get<std::vector<int64_t>>();
    split.held_out = expected["held_out"].get<std::vector<int64_t>>();
  }
  nlohmann::json expected;
  Matrix features;
  std::vector<int64_t> labels;
  ProbeSplit split;
};

TEST_F(ProbeReference, MatchesALogisticRegressionFittedByNewtonsMethod) {
  for (const double l2 : {0.01, 0.2}) {
    const auto& e = expected[l2 == 0.01 ? "l2_0.01" : "l2_0.2"];
    SCOPED_TRACE(l2);
    const auto r =
        fit_linear_probe(features, labels, split, LinearProbeOptions().l2(l2).tolerance(1e-9));
    std::cout << "l2 " << l2 << ": " << r.iterations << " iterations\n";
    ASSERT_EQ(r.status, Status::kOk) << r.message;
    EXPECT_TRUE(r.converged) << r.message;
    EXPECT_EQ(r.classes, 3);
    EXPECT_NEAR(r.loss, e["loss"].get<double>(), 1e-10);
    EXPECT_DOUBLE_EQ(r.accuracy, e["accuracy"].get<double>());
    EXPECT_DOUBLE_EQ(r.train_accuracy, e["train_accuracy"].get<double>());
    const auto w = e["weights"];
    for (Eigen::Index j = 0; j < r.weights.rows(); ++j) {
      for (Eigen::Index c = 0; c < r.weights.cols(); ++c) {
        EXPECT_NEAR(r.weights(j, c), w[j][c].get<double>(), 1e-7) << j << "," << c;
      }
    }
    const Eigen::VectorXd centred = r.bias.array() - r.bias.mean();
    for (Eigen::Index c = 0; c < centred.size(); ++c) {
      EXPECT_NEAR(centred(c), e["bias_centred"][c].get<double>(), 1e-7);
    }
  }
}

TEST_F(ProbeReference, Float32FeaturesGiveTheSameProbe) {
  const Eigen::MatrixXf narrow = features.get<double>().cast<float>();
  const auto a = fit_linear_probe(features, labels, split);
  const auto b = fit_linear_probe(narrow, labels, split);
  EXPECT_NEAR(a.loss, b.loss, 1e-5);
  EXPECT_DOUBLE_EQ(a.accuracy, b.accuracy);
}

TEST(ProbeSplit, HoldsOutTheAskedShareOnceEachAndDependsOnTheSeed) {
  const auto s = split_examples(100, 0.3, 4);
  EXPECT_EQ(s.held_out.size(), 30u);
  EXPECT_EQ(s.train.size(), 70u);
  std::vector<int> seen(100, 0);
  for (const auto i : s.train) ++seen[i];
  for (const auto i : s.held_out) ++seen[i];
  for (const int count : seen) EXPECT_EQ(count, 1);
  EXPECT_EQ(split_examples(100, 0.3, 4).held_out, s.held_out);
  EXPECT_NE(split_examples(100, 0.3, 5).held_out, s.held_out);
  EXPECT_EQ(split_examples(2, 0.01, 0).held_out.size(), 1u);  // at least one on each side
  EXPECT_THROW(split_examples(1, 0.3, 0), std::invalid_argument);
}

// Inputs in 20 tight groups of 10; the class is a coarse function of the group. A
// representation that keeps the inputs lets the probe memorise group → control label; one that
// keeps only the class cannot (its control accuracy is what the label distribution gives).
TEST(ControlTask, IsMemorisableFromTheInputsButNotFromTheClassAlone) {
  const int groups = 20, per_group = 10, dims = 30;
  const Eigen::MatrixXd group_centres = 4.0 * gaussian(groups, dims, 1);
  const Eigen::MatrixXd noise = 0.3 * gaussian(groups * per_group, dims, 2);
  Eigen::MatrixXd inputs(groups * per_group, dims);
  std::vector<int64_t> labels, group;
  for (int i = 0; i < groups * per_group; ++i) {
    group.push_back(i / per_group);
    labels.push_back((i / per_group) % 4);
    inputs.row(i) = group_centres.row(i / per_group) + noise.row(i);
  }
  const auto control = control_task(inputs, labels, ControlTaskOptions().clusters(groups));
  ASSERT_EQ(control.labels.size(), labels.size());
  // k-means finds the groups: every group lies in one cluster.
  for (int g = 0; g < groups; ++g) {
    for (int i = 1; i < per_group; ++i) {
      EXPECT_EQ(control.cluster[g * per_group + i], control.cluster[g * per_group]);
    }
  }
  // The control labels have the real labels' values (here each class is 25 %).
  for (const auto label : control.labels) EXPECT_TRUE(label >= 0 && label < 4);

  // The class alone: one-hot of the class plus a little noise.
  Eigen::MatrixXd class_only = 0.05 * gaussian(labels.size(), 4, 3);
  for (size_t i = 0; i < labels.size(); ++i) class_only(i, labels[i]) += 1.0;

  const auto keeps_inputs = probe_with_control(inputs, labels, control.labels);
  const auto keeps_class = probe_with_control(class_only, labels, control.labels);
  std::cout << "inputs: accuracy " << keeps_inputs.probe.accuracy << ", control "
            << keeps_inputs.control.accuracy << "; class only: accuracy "
            << keeps_class.probe.accuracy << ", control " << keeps_class.control.accuracy << "\n";
  EXPECT_GT(keeps_inputs.probe.accuracy, 0.95);
  EXPECT_GT(keeps_inputs.control.accuracy, 0.9);  // memorised: the groups recur across the split
  EXPECT_GT(keeps_class.probe.accuracy, 0.95);
  EXPECT_LT(keeps_class.control.accuracy, 0.6);  // cannot be memorised from the class alone
  EXPECT_GT(keeps_class.selectivity, keeps_inputs.selectivity + 0.3);
  EXPECT_DOUBLE_EQ(keeps_class.selectivity,
                   keeps_class.probe.accuracy - keeps_class.control.accuracy);
}

TEST(ControlTask, IsDeterministicForASeedAndKeepsTheLabelDistributionOnAverage) {
  const Eigen::MatrixXd inputs = gaussian(400, 5, 7);
  std::vector<int64_t> labels(400);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i < 300 ? 0 : 1;  // 75 % / 25 %
  const auto a = control_task(inputs, labels, ControlTaskOptions().seed(3));
  EXPECT_EQ(a.clusters, 40);  // one per 10 examples by default
  EXPECT_EQ(control_task(inputs, labels, ControlTaskOptions().seed(3)).labels, a.labels);
  double ones = 0;
  int draws = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (const auto label : control_task(inputs, labels, ControlTaskOptions().seed(seed)).labels) {
      ones += label;
      ++draws;
    }
  }
  EXPECT_NEAR(ones / draws, 0.25, 0.05);
}

TEST(LinearProbe, BadInputIsAStatusOrANamedError) {
  Eigen::MatrixXd x = gaussian(20, 3, 1);
  std::vector<int64_t> labels(20, 0);
  labels[3] = 1;
  const auto split = split_examples(20, 0.3, 0);
  x(2, 2) = std::nan("");
  EXPECT_EQ(fit_linear_probe(x, labels, split).status, Status::kNonFinite);
  EXPECT_EQ(fit_linear_probe(Eigen::MatrixXd(20, 0), labels, split).status, Status::kEmptyInput);
  EXPECT_EQ(fit_linear_probe(gaussian(20, 3, 1), labels, ProbeSplit{{1}, {2}}).status,
            Status::kTooFewSamples);
  EXPECT_THROW(fit_linear_probe(gaussian(19, 3, 1), labels, split), std::invalid_argument);
  labels[0] = -1;
  EXPECT_THROW(fit_linear_probe(gaussian(20, 3, 1), labels, split), std::invalid_argument);
  EXPECT_THROW(control_task(gaussian(20, 3, 1), std::vector<int64_t>(19, 0)),
               std::invalid_argument);
  EXPECT_THROW(validate_options(LinearProbeOptions().held_out(1.0)), std::invalid_argument);
}

TEST(LinearProbe, SaysWhenItStoppedBeforeConverging) {
  const Eigen::MatrixXd x = gaussian(60, 4, 1);
  std::vector<int64_t> labels(60);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = x(i, 0) > 0;
  const auto r = fit_linear_probe(x, labels, split_examples(60, 0.3, 0),
                                  LinearProbeOptions().max_iterations(2));
  EXPECT_FALSE(r.converged);
  EXPECT_NE(r.message.find("not converged"), std::string::npos) << r.message;
  EXPECT_TRUE(std::isfinite(r.accuracy));
}

}  // namespace
}  // namespace layerwatch::probing
