#pragma once
/// @file
/// `SnapshotStore`: one bounded ring buffer of snapshots per layer, under one global memory
/// budget.
///
/// The budget counts every live snapshot the store handed in, including ones already evicted
/// from a ring but still being analysed, so the bytes of snapshot data never exceed it. To make
/// room for a new snapshot the store evicts the oldest unpinned snapshots (across all layers);
/// if that cannot free enough, the new snapshot is refused. Evictions and refusals are counted
/// and returned, never silent. All members are thread-safe; locks are held only for
/// bookkeeping, never during analysis.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "layerwatch/core/option.h"
#include "layerwatch/core/snapshot.h"

namespace layerwatch {

/// Options of `SnapshotStore` (JSON: the "store" object of a config's "analysis").
struct SnapshotStoreOptions {
  LAYERWATCH_OPTIONS(SnapshotStoreOptions);
  /// Snapshots kept per layer (ring capacity); the oldest unpinned one goes first. Default 64,
  /// range [2, 100000].
  LAYERWATCH_OPTION(int64_t, history, range(2, 100000)) = 64;
  /// Global budget for snapshot data, never exceeded. Default 256 MiB, range ≥ 1 byte. JSON: an
  /// integer number of bytes or a string with a unit, e.g. "256 MiB".
  LAYERWATCH_OPTION(Bytes, memory_budget, at_least(1)) = Bytes{std::size_t{256} << 20};
  /// Store snapshots as float16: half the memory, values rounded to ~3 significant digits.
  /// Default false.
  LAYERWATCH_OPTION(bool, float16, AnyValue{}) = false;
  LAYERWATCH_OPTIONS_END();
};

/// Per-layer ring buffers with a global byte budget.
class SnapshotStore {
 public:
  using Ptr = std::shared_ptr<const Snapshot>;

  /// What `push` did.
  struct PushResult {
    Ptr stored;                        ///< The stored snapshot, or null if refused.
    std::vector<std::string> evicted;  ///< "layer@probe_index" of snapshots evicted for room.
    std::string refusal;               ///< Why the snapshot was refused (empty when stored).
  };

  /// Counters since construction.
  struct Stats {
    int64_t stored = 0;               ///< Snapshots accepted.
    int64_t evicted = 0;              ///< Snapshots evicted (ring full or budget).
    int64_t refused = 0;              ///< Snapshots refused because no room could be made.
    std::size_t live_bytes = 0;       ///< Bytes of all live snapshots now.
    std::size_t peak_live_bytes = 0;  ///< Highest `live_bytes` seen.
  };

  /// Throws `std::invalid_argument` for options out of range (a history below 2, a zero budget).
  explicit SnapshotStore(SnapshotStoreOptions options = {});

  /// Stores `snapshot` at the head of its layer's ring (as float16 when the options say so).
  /// `pin` keeps it from eviction (used for a `first` reference); at most one pinned snapshot
  /// per layer, a new pin replaces the old.
  PushResult push(Snapshot snapshot, bool pin = false);

  /// The stored snapshot of `layer` from probe pass `probe_index`, or null.
  Ptr find(const std::string& layer, int64_t probe_index) const;
  /// The newest stored snapshot of `layer`, or null.
  Ptr latest(const std::string& layer) const;
  /// The pinned snapshot of `layer`, or null.
  Ptr pinned(const std::string& layer) const;
  /// All stored snapshots of `layer`, oldest first.
  std::vector<Ptr> history(const std::string& layer) const;
  /// Layers in order of their first snapshot.
  std::vector<std::string> layers() const;
  /// A stored snapshot and whether it is pinned.
  struct Item {
    Ptr snapshot;
    bool pinned = false;
  };
  /// Every stored snapshot in the order it was stored (pushing them again in this order into
  /// an empty store rebuilds this one, as a resume does).
  std::vector<Item> contents() const;

  Stats stats() const;
  const SnapshotStoreOptions& options() const { return options_; }

 private:
  struct Entry {
    Ptr snapshot;
    uint64_t sequence;
    bool pinned;
  };
  struct Accounting {
    std::atomic<std::size_t> live{0};
    std::atomic<std::size_t> peak{0};
  };
  void evict_locked(const std::string& layer, std::deque<Entry>::iterator it,
                    std::vector<std::string>& evicted);

  SnapshotStoreOptions options_;
  std::shared_ptr<Accounting> accounting_;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<Entry>> rings_;
  std::vector<std::string> order_;
  uint64_t next_sequence_ = 0;
  int64_t stored_ = 0, evicted_ = 0, refused_ = 0;
};

}  // namespace layerwatch
