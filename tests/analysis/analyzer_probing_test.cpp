// The analyzer's probes: linear probes with the control task and class-logit CCA on the
// layers of a probe pass, with their records in every sink and clear statuses when a layer or
// the labels do not fit.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/probing/control_task.h"
#include "layerwatch/probing/linear_probe.h"
#include "sinks/recording_sink.h"
#include "test_util.h"

namespace layerwatch {
namespace {

using layerwatch::testing::gaussian;
using testing::RecordingSink;

constexpr int64_t kExamples = 240, kClasses = 4;

std::vector<int64_t> labels() {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < kExamples; ++i) out.push_back((i * 7) % kClasses);
  return out;
}

// Rows: `per` rows per example; `signal` scales a one-hot code of the class.
Snapshot layer(const std::string& name, double signal, uint64_t seed, int64_t per = 1,
               int64_t probe = 0) {
  const auto y = labels();
  Eigen::MatrixXd m = gaussian(kExamples * per, 8, seed);
  for (int64_t i = 0; i < kExamples * per; ++i) m(i, y[i / per]) += signal;
  Snapshot s;
  s.layer = name;
  s.probe_index = probe;
  s.step = 10 * probe;
  s.epoch = probe;
  s.rows_per_example = per;
  s.values = m.cast<float>();
  return s;
}

AnalyzerOptions probing_options() {
  AnalyzerOptions options;
  options.final_pass(false).queue_policy(QueuePolicy::kDropNewest);
  options.probing().linear_probe(true).class_logits("logits");
  return options;
}

std::vector<ProbeRecord> of(const RecordingSink& sink, ProbeRecord::Kind kind,
                            const std::string& name) {
  std::vector<ProbeRecord> out;
  for (const auto& r : sink.probes) {
    if (r.kind == kind && r.layer == name) out.push_back(r);
  }
  return out;
}

TEST(AnalyzerProbing, ProbesEveryLayerOfAPassAndSeparatesSignalFromNoise) {
  auto sink = std::make_shared<RecordingSink>();
  const auto options = probing_options();
  {
    Analyzer analyzer(options, {sink});
    analyzer.set_probe_labels(labels(),
                              Matrix(Eigen::MatrixXf(gaussian(kExamples, 20, 9).cast<float>())));
    std::vector<Snapshot> pass = {layer("good", 3.0, 1), layer("noise", 0.0, 2),
                                  layer("conv", 3.0, 3, 4), layer("logits", 4.0, 4)};
    analyzer.add_probe_pass(std::move(pass));
    analyzer.finish();
  }
  using Kind = ProbeRecord::Kind;
  const auto good = of(*sink, Kind::kLinearProbe, "good");
  const auto noise = of(*sink, Kind::kLinearProbe, "noise");
  const auto conv = of(*sink, Kind::kLinearProbe, "conv");
  ASSERT_EQ(good.size(), 1u);
  ASSERT_EQ(noise.size(), 1u);
  ASSERT_EQ(conv.size(), 1u);
  EXPECT_TRUE(of(*sink, Kind::kLinearProbe, "logits").empty());  // the logits layer is the target
  EXPECT_GT(good[0].accuracy, 0.9);
  EXPECT_LT(noise[0].accuracy, 0.5);
  EXPECT_GT(conv[0].accuracy, 0.9);  // 4 rows per example, averaged
  EXPECT_NEAR(good[0].selectivity, good[0].accuracy - good[0].control_accuracy, 1e-12);
  EXPECT_GT(good[0].selectivity, noise[0].selectivity);

  // The probe in the analyzer is the library's probe with the options' split and λ.
  const Snapshot again = layer("good", 3.0, 1);
  const auto direct = probing::probe_with_control(
      again.values, labels(),
      probing::control_task(Eigen::MatrixXf(gaussian(kExamples, 20, 9).cast<float>()), labels())
          .labels,
      options.probing().probe());
  EXPECT_DOUBLE_EQ(good[0].accuracy, direct.probe.accuracy);
  EXPECT_DOUBLE_EQ(good[0].control_accuracy, direct.control.accuracy);

  const auto good_logit = of(*sink, Kind::kClassLogit, "good");
  const auto noise_logit = of(*sink, Kind::kClassLogit, "noise");
  ASSERT_EQ(good_logit.size(), static_cast<size_t>(8));  // one per logits column
  for (size_t c = 0; c < good_logit.size(); ++c) {
    EXPECT_EQ(good_logit[c].class_index, static_cast<int64_t>(c));
    EXPECT_TRUE(has_value(good_logit[c].status)) << good_logit[c].message;
  }
  // The class columns (0-3) are learned by "good", not by "noise".
  for (int c = 0; c < kClasses; ++c) EXPECT_GT(good_logit[c].value, noise_logit[c].value + 0.3);
}

// sample_cap kept some positions of each image of a conv layer (and none of a few images):
// each example averages the positions it kept, and the probe runs on the examples present.
TEST(AnalyzerProbing, ASubsampledConvLayerIsProbedOnTheRowsEachExampleKept) {
  auto sink = std::make_shared<RecordingSink>();
  auto options = probing_options();
  options.probing().class_logits("");
  Snapshot conv = layer("conv", 3.0, 3, 4);
  std::vector<int64_t> kept;
  for (int64_t row = 0; row < kExamples * 4; ++row) {
    if (row % 3 == 0 && row / 4 >= 10) kept.push_back(row);  // examples 0-9 keep nothing
  }
  Eigen::MatrixXf rows(static_cast<Eigen::Index>(kept.size()), conv.values.cols());
  for (size_t i = 0; i < kept.size(); ++i) rows.row(i) = conv.values.row(kept[i]);
  conv.values = rows;
  conv.sampled_rows = kept;
  {
    Analyzer analyzer(options, {sink});
    analyzer.set_probe_labels(labels(),
                              Matrix(Eigen::MatrixXf(gaussian(kExamples, 5, 1).cast<float>())));
    analyzer.add_probe_pass({std::move(conv)});
    analyzer.finish();
  }
  ASSERT_EQ(sink->probes.size(), 1u);
  const auto& r = sink->probes[0];
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_GT(r.accuracy, 0.9);
  EXPECT_NE(r.message.find("230 of 240 probe examples"), std::string::npos) << r.message;
}

TEST(AnalyzerProbing, MissingLabelsSubsampledLayersAndSkippedPassesAreSaid) {
  auto sink = std::make_shared<RecordingSink>();
  auto options = probing_options();
  options.probing().class_logits("").every(2);
  {
    Analyzer analyzer(options, {sink});
    analyzer.add_probe_pass({layer("good", 3.0, 1, 1, 0)});  // no labels yet
    analyzer.flush();
    analyzer.set_probe_labels(labels(),
                              Matrix(Eigen::MatrixXf(gaussian(kExamples, 5, 1).cast<float>())));
    analyzer.add_probe_pass({layer("good", 3.0, 1, 1, 1)});  // not probed: every 2nd pass
    Snapshot cut = layer("good", 3.0, 1, 1, 2);
    cut.values = cut.values.topRows(100).eval();  // 100 rows and nothing says which
    analyzer.add_probe_pass({std::move(cut)});
    analyzer.finish();
  }
  ASSERT_EQ(sink->probes.size(), 2u);
  EXPECT_EQ(sink->probes[0].status, Status::kError);
  EXPECT_NE(sink->probes[0].message.find("set_probe_labels"), std::string::npos);
  EXPECT_EQ(sink->probes[1].probe_index, 2);
  EXPECT_EQ(sink->probes[1].status, Status::kError);
  EXPECT_NE(sink->probes[1].message.find("100 probe examples but 240 labels"), std::string::npos)
      << sink->probes[1].message;

  Analyzer analyzer(AnalyzerOptions(), {});
  EXPECT_THROW(analyzer.set_probe_labels({0, 1}, Matrix(Eigen::MatrixXf(3, 2))),
               std::invalid_argument);
  EXPECT_THROW(analyzer.set_probe_labels({0, -1}, Matrix(Eigen::MatrixXf(2, 2))),
               std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch
