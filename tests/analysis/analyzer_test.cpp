// Analyzer: values equal direct similarity-core calls, reference policies, queue policies,
// ordering with epoch marks, errors as records, failing sinks, shutdown.

#include "layerwatch/analysis/analyzer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "layerwatch/similarity/similarity.h"
#include "sinks/recording_sink.h"
#include "test_util.h"

namespace layerwatch {
namespace {

using testing::RecordingSink;

// These tests queue snapshots far faster than any training loop would; "queue all" keeps every
// comparison so that the expected records are exact (skipping has its own tests).
AnalyzerOptions queue_all() {
  return AnalyzerOptions().queue_policy(QueuePolicy::kDropNewest).final_pass(false);
}

// A layer "learning": snapshots drift from a random start toward a fixed end point.
Snapshot snapshot_at(const std::string& layer, int64_t probe, uint64_t seed = 1) {
  const Eigen::MatrixXd start = layerwatch::testing::gaussian(400, 12, seed);
  const Eigen::MatrixXd end = layerwatch::testing::related(start, 12, 0.5, seed + 7);
  const double t = std::min(1.0, probe / 5.0);
  Snapshot s;
  s.layer = layer;
  s.probe_index = probe;
  s.step = probe * 100;
  s.epoch = probe;
  s.values = ((1 - t) * start + t * end +
              0.05 * layerwatch::testing::gaussian(400, 12, seed + 100 + probe))
                 .cast<float>();
  return s;
}

TEST(Analyzer, PreviousReferenceValuesEqualDirectSimilarityCalls) {
  auto sink = std::make_shared<RecordingSink>();
  std::vector<Snapshot> kept;
  {
    Analyzer analyzer(queue_all(), {sink});
    for (int64_t p = 0; p < 4; ++p) {
      for (const auto* layer : {"conv1", "fc"}) {
        auto s = snapshot_at(layer, p, layer[0] == 'c' ? 1 : 2);
        kept.push_back(s);
        analyzer.add_snapshot(std::move(s));
      }
    }
    analyzer.finish();
  }
  const auto records = sink->with_reference(Reference::kPrevious);
  ASSERT_EQ(records.size(), 6u);  // 3 comparisons per layer (the first snapshot has none)
  for (const auto& r : records) {
    const auto find = [&](int64_t probe) {
      for (const auto& s : kept) {
        if (s.layer == r.layer && s.probe_index == probe) return s.values;
      }
      return Eigen::MatrixXf();
    };
    const auto direct = similarity::svcca(find(r.probe_index - 1), find(r.probe_index));
    EXPECT_EQ(r.status, Status::kOk) << r.message;
    EXPECT_NEAR(r.value, direct.value, 1e-12) << r.layer << " @" << r.probe_index;
    EXPECT_EQ(r.kept_dims, (std::vector<int64_t>{direct.kept_x, direct.kept_y}));
    EXPECT_EQ(r.reference_step, (r.probe_index - 1) * 100);
    EXPECT_GE(r.compute_ms, 0.0);
  }
  EXPECT_EQ(sink->closed, 1);
}

TEST(Analyzer, ABootstrapIntervalAroundEachOnlineValueWhenAskedFor) {
  auto sink = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(queue_all().bootstrap(40).final_pass(true), {sink});
    for (int64_t p = 0; p < 3; ++p) analyzer.add_snapshot(snapshot_at("conv1", p));
    analyzer.finish();
  }
  const auto online = sink->with_reference(Reference::kPrevious);
  ASSERT_EQ(online.size(), 2u);
  for (const auto& r : online) {
    EXPECT_LT(r.low, r.value);
    EXPECT_GT(r.high, r.value);
    EXPECT_LT(r.high - r.low, 0.2);
  }
  // The same snapshots give the same interval (a seed per layer and probe pass).
  auto again = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(queue_all().bootstrap(40), {again});
    for (int64_t p = 0; p < 3; ++p) analyzer.add_snapshot(snapshot_at("conv1", p));
    analyzer.finish();
  }
  EXPECT_EQ(again->with_reference(Reference::kPrevious)[1].low, online[1].low);
  // Final-pass records, and runs without the option, carry none.
  for (const auto& r : sink->with_reference(Reference::kFinal)) EXPECT_TRUE(std::isnan(r.low));
  EXPECT_THROW(Analyzer(AnalyzerOptions().bootstrap(-1), {}), std::invalid_argument);
}

TEST(Analyzer, ReferenceLagAndFirstReferenceChooseTheRightSnapshots) {
  auto lagged = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(queue_all().reference_lag(2), {lagged});
    for (int64_t p = 0; p < 5; ++p) analyzer.add_snapshot(snapshot_at("a", p));
    analyzer.finish();
  }
  ASSERT_EQ(lagged->records.size(), 3u);
  for (const auto& r : lagged->records) EXPECT_EQ(r.reference_step, r.step - 200);

  auto first = std::make_shared<RecordingSink>();
  std::vector<Snapshot> kept;
  {
    // A tiny history forces evictions: the pinned first snapshot must stay.
    Analyzer analyzer(
        queue_all().reference(Reference::kFirst).store(SnapshotStoreOptions().history(2)), {first});
    for (int64_t p = 0; p < 6; ++p) {
      kept.push_back(snapshot_at("a", p));
      analyzer.add_snapshot(kept.back());
    }
    analyzer.finish();
  }
  ASSERT_EQ(first->records.size(), 5u);
  for (const auto& r : first->records) {
    EXPECT_EQ(r.reference, Reference::kFirst);
    EXPECT_EQ(r.reference_step, 0);
    const auto direct = similarity::svcca(kept[0].values, kept[r.probe_index].values);
    EXPECT_NEAR(r.value, direct.value, 1e-12);
  }
}

TEST(Analyzer, FinalPassComparesEveryStoredSnapshotWithTheLast) {
  auto sink = std::make_shared<RecordingSink>();
  std::vector<Snapshot> kept;
  {
    Analyzer analyzer(AnalyzerOptions().metric(similarity::Metric::kCka), {sink});
    for (int64_t p = 0; p < 6; ++p) {
      kept.push_back(snapshot_at("a", p));
      analyzer.add_snapshot(kept.back());
    }
    analyzer.finish();
    analyzer.finish();  // idempotent
  }
  const auto final = sink->with_reference(Reference::kFinal);
  ASSERT_EQ(final.size(), 5u);
  double previous = -1;
  for (const auto& r : final) {
    EXPECT_EQ(r.reference_step, 500);
    const auto direct = similarity::linear_cka(kept[r.probe_index].values, kept[5].values);
    EXPECT_NEAR(r.value, direct.value, 1e-12);
    // The snapshots drift toward the last one, so similarity to it rises.
    EXPECT_GT(r.value, previous);
    previous = r.value;
  }
  EXPECT_EQ(sink->closed, 1);
}

TEST(Analyzer, EpochMarksComeAfterEveryRecordQueuedBeforeThem) {
  auto sink = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(queue_all().threads(3), {sink});
    for (int64_t p = 0; p < 4; ++p) {
      for (const auto* layer : {"a", "b", "c", "d"}) analyzer.add_snapshot(snapshot_at(layer, p));
      analyzer.end_epoch(p + 1, p * 100);
    }
    analyzer.finish();
  }
  // Between consecutive epoch marks: exactly the 4 records of that probe pass.
  std::vector<int> per_epoch;
  int count = 0;
  for (const auto& entry : sink->log) {
    if (entry.rfind("epoch:", 0) == 0) {
      per_epoch.push_back(count);
      count = 0;
    } else {
      ++count;
    }
  }
  EXPECT_EQ(per_epoch, (std::vector<int>{0, 4, 4, 4}));
}

TEST(Analyzer, SkipsAreCountedWhenAnalysisFallsBehind) {
  auto sink = std::make_shared<RecordingSink>();
  sink->delay = std::chrono::milliseconds(40);  // slows the analyzer thread down
  AnalyzerStats stats;
  {
    Analyzer analyzer(AnalyzerOptions().final_pass(false), {sink});
    for (int64_t p = 0; p < 12; ++p) analyzer.add_snapshot(snapshot_at("a", p));
    analyzer.end_epoch(1, 1200);
    analyzer.flush();
    stats = analyzer.stats();
  }
  EXPECT_GT(stats.skipped, 0);
  EXPECT_EQ(stats.records + stats.skipped, 11);
  bool logged = false;
  for (const auto& e : sink->events) {
    if (e.kind == MonitorEvent::Kind::kJobsSkipped) {
      logged = true;
      EXPECT_EQ(e.count, stats.skipped);
    }
  }
  EXPECT_TRUE(logged);
  // Skip-to-newest: the newest snapshot is always analysed.
  EXPECT_EQ(sink->records.back().probe_index, 11);
}

TEST(Analyzer, DropNewestPolicyKeepsTheQueuedJobsAndDropsBeyondCapacity) {
  auto sink = std::make_shared<RecordingSink>();
  sink->delay = std::chrono::milliseconds(40);
  AnalyzerStats stats;
  {
    Analyzer analyzer(AnalyzerOptions()
                          .final_pass(false)
                          .queue_policy(QueuePolicy::kDropNewest)
                          .queue_capacity(2),
                      {sink});
    for (int64_t p = 0; p < 10; ++p) analyzer.add_snapshot(snapshot_at("a", p));
    analyzer.flush();
    stats = analyzer.stats();
  }
  EXPECT_GT(stats.skipped, 0);
  EXPECT_EQ(stats.records + stats.skipped, 9);
  EXPECT_EQ(sink->records.front().probe_index, 1);
}

TEST(Analyzer, NonFiniteSnapshotsGiveAStatusNotACrash) {
  auto sink = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(queue_all(), {sink});
    analyzer.add_snapshot(snapshot_at("a", 0));
    auto bad = snapshot_at("a", 1);
    bad.values(5, 3) = std::nanf("");
    analyzer.add_snapshot(std::move(bad));
    analyzer.add_snapshot(snapshot_at("a", 2));
    analyzer.finish();
  }
  ASSERT_EQ(sink->records.size(), 2u);
  EXPECT_EQ(sink->records[0].status, Status::kNonFinite);
  EXPECT_TRUE(std::isnan(sink->records[0].value));
  EXPECT_FALSE(sink->records[0].message.empty());
  EXPECT_EQ(sink->records[1].status, Status::kNonFinite);  // compared with the NaN snapshot
}

TEST(Analyzer, MismatchedSampleCountsBecomeAnErrorRecord) {
  auto sink = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(AnalyzerOptions().final_pass(false), {sink});
    analyzer.add_snapshot(snapshot_at("a", 0));
    auto other = snapshot_at("a", 1);
    other.values = other.values.topRows(100).eval();
    analyzer.add_snapshot(std::move(other));
    analyzer.finish();
  }
  ASSERT_EQ(sink->records.size(), 1u);
  EXPECT_EQ(sink->records[0].status, Status::kError);
  EXPECT_NE(sink->records[0].message.find("400"), std::string::npos) << sink->records[0].message;
}

TEST(Analyzer, AFailingSinkIsDisabledAndTheOthersKeepWorking) {
  auto broken = std::make_shared<RecordingSink>();
  broken->throw_on_write = true;
  auto good = std::make_shared<RecordingSink>();
  AnalyzerStats stats;
  {
    Analyzer analyzer(queue_all(), {broken, good});
    for (int64_t p = 0; p < 4; ++p) analyzer.add_snapshot(snapshot_at("a", p));
    analyzer.flush();
    stats = analyzer.stats();
  }
  EXPECT_EQ(good->records.size(), 3u);
  // Disabled at its first failure: the two later records never reach it.
  EXPECT_EQ(stats.sink_errors, 1);
  EXPECT_EQ(broken->write_calls, 1);
}

TEST(Analyzer, RefusedSnapshotsBecomeRecordsAndEvents) {
  auto sink = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(
        AnalyzerOptions().final_pass(false).store(SnapshotStoreOptions().memory_budget(1000)),
        {sink});
    analyzer.add_snapshot(snapshot_at("big", 0));
    analyzer.finish();
  }
  ASSERT_EQ(sink->records.size(), 1u);
  EXPECT_EQ(sink->records[0].status, Status::kTooLarge);
  ASSERT_FALSE(sink->events.empty());
  EXPECT_EQ(sink->events[0].kind, MonitorEvent::Kind::kSnapshotRefused);
}

TEST(Analyzer, DestructionWithPendingJobsStopsCleanly) {
  auto sink = std::make_shared<RecordingSink>();
  sink->delay = std::chrono::milliseconds(30);
  {
    Analyzer analyzer(AnalyzerOptions().threads(2).queue_policy(QueuePolicy::kDropNewest), {sink});
    for (int64_t p = 0; p < 40; ++p) {
      analyzer.add_snapshot(snapshot_at("l" + std::to_string(p % 8), p / 8));
    }
    // No finish(): the destructor must not wait for all 32 jobs.
  }
  EXPECT_LT(sink->records.size(), 32u);  // waiting jobs were discarded, not run
  EXPECT_EQ(sink->closed, 1);
}

TEST(Analyzer, RejectsOutOfRangeOptions) {
  EXPECT_THROW(Analyzer(AnalyzerOptions().threads(0), {}), std::invalid_argument);
  EXPECT_THROW(Analyzer(AnalyzerOptions().reference_lag(0), {}), std::invalid_argument);
  EXPECT_THROW(Analyzer(AnalyzerOptions().reference(Reference::kFinal), {}), std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch

namespace layerwatch {
namespace {

TEST(Analyzer, LayerMatrixComparesEveryLayerWithEveryOtherFinalSnapshot) {
  auto sink = std::make_shared<RecordingSink>();
  std::vector<Snapshot> kept;
  {
    Analyzer analyzer(queue_all().final_pass(true).layer_matrix(true), {sink});
    for (int64_t p = 0; p < 3; ++p) {
      for (const auto* layer : {"a", "b"}) {
        kept.push_back(snapshot_at(layer, p, layer[0] == 'a' ? 1 : 2));
        analyzer.add_snapshot(kept.back());
      }
      auto conv = snapshot_at("conv", p, 3);
      conv.rows_per_example = 4;  // rows are positions, not examples: not comparable with a/b
      analyzer.add_snapshot(conv);
    }
    analyzer.finish();
  }
  const auto find = [&](const std::string& layer, int64_t probe) {
    for (const auto& s : kept) {
      if (s.layer == layer && s.probe_index == probe) return s.values;
    }
    return Eigen::MatrixXf();
  };
  int compared = 0, refused = 0;
  for (const auto& r : sink->with_reference(Reference::kFinal)) {
    if (r.reference_layer.empty()) continue;
    if (r.layer == "conv" || r.reference_layer == "conv") {
      EXPECT_EQ(r.status, Status::kError);
      EXPECT_NE(r.message.find("conv_layout"), std::string::npos) << r.message;
      ++refused;
      continue;
    }
    EXPECT_NE(r.layer, r.reference_layer);
    EXPECT_EQ(r.reference_step, 200);
    const auto direct = similarity::svcca(find(r.layer, r.probe_index), find(r.reference_layer, 2));
    EXPECT_NEAR(r.value, direct.value, 1e-12);
    ++compared;
  }
  EXPECT_EQ(compared, 6);  // a's 3 snapshots vs b's final, b's 3 vs a's final
  EXPECT_EQ(refused, 12);  // conv vs a and b (3 each), a and b vs conv (3 each)
}

// A wide snapshot whose comparison takes milliseconds, or, with a NaN, returns at once.
Snapshot timed_snapshot(const std::string& layer, int64_t probe, bool with_nan) {
  Snapshot s;
  s.layer = layer;
  s.probe_index = probe;
  s.step = probe * 10;
  s.values =
      layerwatch::testing::gaussian(4000, 96, 40 + static_cast<uint64_t>(probe)).cast<float>();
  if (with_nan) s.values(7, 3) = std::nanf("");
  return s;
}

TEST(Analyzer, RecordsOfOneLayerReachTheSinksInProbeOrderWithTwoThreads) {
  // Every third snapshot holds a NaN, so the comparisons with it return at once while the
  // others take milliseconds: with two workers, a later comparison of the layer often finishes
  // before an earlier one. The sinks (and the freeze policy, which is one) must still see the
  // layer's records in probe order.
  auto sink = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(queue_all().threads(2), {sink});
    for (int64_t p = 0; p < 45; ++p) {
      analyzer.add_snapshot(timed_snapshot("a", p, p % 3 == 2));
      analyzer.add_snapshot(timed_snapshot("b", p, p % 3 == 0));
    }
    analyzer.finish();
  }
  std::map<std::string, std::vector<int64_t>> order;
  for (const auto& r : sink->records) order[r.layer].push_back(r.probe_index);
  for (const auto& [layer, probes] : order) {
    ASSERT_EQ(probes.size(), 44u) << layer;
    EXPECT_TRUE(std::is_sorted(probes.begin(), probes.end()))
        << layer << ": " << ::testing::PrintToString(probes);
  }
}

TEST(Analyzer, AReferenceLagUpToTheHistoryWorksAndBeyondItIsRefused) {
  auto sink = std::make_shared<RecordingSink>();
  {
    Analyzer analyzer(queue_all().reference_lag(3).store(SnapshotStoreOptions().history(3)),
                      {sink});
    for (int64_t p = 0; p < 6; ++p) analyzer.add_snapshot(snapshot_at("a", p));
    analyzer.finish();
  }
  ASSERT_EQ(sink->records.size(), 3u);
  for (const auto& r : sink->records) EXPECT_EQ(r.reference_step, r.step - 300);
  try {
    Analyzer(queue_all().reference_lag(4).store(SnapshotStoreOptions().history(3)), {});
    FAIL() << "a reference lag beyond the history must be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("reference_lag"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("history"), std::string::npos) << e.what();
  }
}

TEST(Analyzer, SaysOnceWhenTheBudgetCannotHoldTwoSnapshotsOfEveryLayer) {
  // Two layers of 400 × 12 floats: 19200 bytes each, so the previous reference needs 76800
  // bytes in float32 and 38400 in float16, against a budget of 50000.
  const auto needs = [](bool float16) {
    auto sink = std::make_shared<RecordingSink>();
    {
      Analyzer analyzer(
          queue_all().store(SnapshotStoreOptions().memory_budget(50000).float16(float16)), {sink});
      for (int64_t p = 0; p < 3; ++p) {
        analyzer.add_probe_pass({snapshot_at("a", p, 1), snapshot_at("b", p, 2)});
      }
      analyzer.finish();
    }
    std::vector<std::string> messages;
    for (const auto& e : sink->events) {
      if (e.message.find("needs at least") != std::string::npos) messages.push_back(e.message);
    }
    return messages;
  };
  const auto f32 = needs(false);
  ASSERT_EQ(f32.size(), 1u);
  EXPECT_NE(f32[0].find("needs at least 0.1 MiB"), std::string::npos) << f32[0];
  EXPECT_TRUE(needs(true).empty());
}

// A sink that throws something that is not a std::exception.
class ThrowsIntSink : public Sink {
 public:
  std::string name() const override { return "throws-int"; }
  void write(const ConvergenceRecord&) override { throw 7; }
};

TEST(Analyzer, ASinkThrowingANonStandardExceptionIsCountedNotFatal) {
  auto good = std::make_shared<RecordingSink>();
  AnalyzerStats stats;
  {
    Analyzer analyzer(queue_all(), {std::make_shared<ThrowsIntSink>(), good});
    for (int64_t p = 0; p < 3; ++p) analyzer.add_snapshot(snapshot_at("a", p));
    analyzer.flush();
    stats = analyzer.stats();
  }
  EXPECT_EQ(good->records.size(), 2u);
  EXPECT_EQ(stats.sink_errors, 1);
}

}  // namespace
}  // namespace layerwatch
