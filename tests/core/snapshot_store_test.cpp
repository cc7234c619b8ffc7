// SnapshotStore: ring capacity, the byte budget under stress, pinning, refusals.

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "layerwatch/core/snapshot_store.h"

namespace layerwatch {
namespace {

Snapshot make(const std::string& layer, int64_t probe, Eigen::Index rows, Eigen::Index cols) {
  Snapshot s;
  s.layer = layer;
  s.probe_index = probe;
  s.step = probe * 10;
  s.values = Eigen::MatrixXf::Constant(rows, cols, static_cast<float>(probe));
  return s;
}

TEST(SnapshotStore, KeepsTheNewestSnapshotsPerLayerUpToCapacity) {
  SnapshotStore store(SnapshotStoreOptions().history(3));
  for (int64_t i = 0; i < 5; ++i) store.push(make("a", i, 4, 2));
  const auto history = store.history("a");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0]->probe_index, 2);
  EXPECT_EQ(history[2]->probe_index, 4);
  EXPECT_EQ(store.latest("a")->probe_index, 4);
  EXPECT_EQ(store.find("a", 1), nullptr);
  EXPECT_EQ(store.stats().evicted, 2);
}

TEST(SnapshotStore, EvictsTheOldestAcrossLayersToRespectTheBudget) {
  // Each snapshot is 100 floats = 400 bytes; the budget holds three.
  SnapshotStore store(SnapshotStoreOptions().history(10).memory_budget(1200));
  store.push(make("a", 0, 10, 10));
  store.push(make("b", 0, 10, 10));
  store.push(make("a", 1, 10, 10));
  const auto r = store.push(make("b", 1, 10, 10));
  ASSERT_TRUE(r.stored);
  ASSERT_EQ(r.evicted.size(), 1u);
  EXPECT_EQ(r.evicted[0], "a@0");
  EXPECT_EQ(store.stats().live_bytes, 1200u);
}

TEST(SnapshotStore, PinnedSnapshotsSurviveEviction) {
  SnapshotStore store(SnapshotStoreOptions().history(2).memory_budget(1200));
  store.push(make("a", 0, 10, 10), /*pin=*/true);
  for (int64_t i = 1; i < 6; ++i) ASSERT_TRUE(store.push(make("a", i, 10, 10)).stored);
  ASSERT_NE(store.pinned("a"), nullptr);
  EXPECT_EQ(store.pinned("a")->probe_index, 0);
  EXPECT_EQ(store.latest("a")->probe_index, 5);
}

TEST(SnapshotStore, RefusesASnapshotLargerThanTheBudgetAndSaysWhy) {
  SnapshotStore store(SnapshotStoreOptions().memory_budget(1000));
  const auto r = store.push(make("conv1", 0, 100, 10));
  EXPECT_FALSE(r.stored);
  EXPECT_NE(r.refusal.find("conv1"), std::string::npos);
  EXPECT_NE(r.refusal.find("memory budget"), std::string::npos);
  EXPECT_EQ(store.stats().refused, 1);
  EXPECT_EQ(store.stats().live_bytes, 0u);
}

TEST(SnapshotStore, SnapshotsHeldByReadersStillCountAgainstTheBudget) {
  // Each snapshot is 400 bytes; the budget holds two.
  SnapshotStore store(SnapshotStoreOptions().history(2).memory_budget(800));
  const auto held = store.push(make("a", 0, 10, 10)).stored;  // kept alive by a "job"
  store.push(make("a", 1, 10, 10));
  // Evicting a@0 frees nothing while `held` lives, so a@1 must go too to make room for a@2.
  const auto stored = store.push(make("a", 2, 10, 10));
  ASSERT_TRUE(stored.stored);
  EXPECT_EQ(stored.evicted, (std::vector<std::string>{"a@0", "a@1"}));
  EXPECT_EQ(store.stats().live_bytes, 800u);  // held a@0 and a@2
  // With a@2 held as well, nothing evictable frees a byte: a@3 is refused, and says why.
  const auto held_too = store.latest("a");
  const auto refused = store.push(make("a", 3, 10, 10));
  EXPECT_FALSE(refused.stored);
  EXPECT_TRUE(refused.evicted.empty());
  EXPECT_NE(refused.refusal.find("in-analysis"), std::string::npos) << refused.refusal;
  EXPECT_EQ(store.stats().live_bytes, 800u);
  EXPECT_EQ(store.latest("a")->probe_index, 2);
}

TEST(SnapshotStore, NeverExceedsItsBudgetUnderConcurrentStress) {
  const std::size_t budget = 256 * 1024;
  SnapshotStore store(SnapshotStoreOptions().history(8).memory_budget(budget));
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0};
  // Readers hold random snapshots for a while, like analysis jobs.
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      while (!done.load()) {
        const auto layer = "layer" + std::to_string(rng() % 40);
        auto h = store.history(layer);
        if (!h.empty()) {
          auto keep = h[rng() % h.size()];
          reads += keep->values.size() > 0;
          std::this_thread::yield();
        }
        EXPECT_LE(store.stats().live_bytes, budget);
      }
    });
  }
  std::mt19937 rng(42);
  int64_t refused = 0;
  for (int64_t i = 0; i < 4000; ++i) {
    const auto layer = "layer" + std::to_string(rng() % 40);
    const auto rows = static_cast<Eigen::Index>(16 + rng() % 200);
    const auto r = store.push(make(layer, i, rows, 32));
    refused += r.stored ? 0 : 1;
    ASSERT_LE(store.stats().live_bytes, budget);
  }
  done = true;
  for (auto& t : readers) t.join();
  const auto stats = store.stats();
  EXPECT_LE(stats.peak_live_bytes, budget);
  EXPECT_EQ(stats.stored + stats.refused, 4000);
  EXPECT_EQ(stats.refused, refused);
  EXPECT_GT(stats.evicted, 0);
  EXPECT_GT(reads.load(), 0);
}

TEST(SnapshotStore, Float16HalvesTheBytes) {
  auto s = make("a", 0, 10, 10);
  s.values(3, 4) = 0.3333f;
  const auto full = s.bytes();
  s.convert_to_half();
  EXPECT_EQ(s.bytes() * 2, full);
  EXPECT_NEAR(s.to_float()(3, 4), 0.3333f, 1e-3);
  EXPECT_EQ(s.samples(), 10);
}

TEST(SnapshotStore, RejectsBadOptions) {
  EXPECT_THROW(SnapshotStore(SnapshotStoreOptions().history(1)), std::invalid_argument);
  EXPECT_THROW(SnapshotStore(SnapshotStoreOptions().memory_budget(0)), std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch
