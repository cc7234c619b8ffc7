#include "layerwatch/core/snapshot_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

namespace layerwatch {
namespace {

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

SnapshotStore::SnapshotStore(SnapshotStoreOptions options)
    : options_(std::move(options)), accounting_(std::make_shared<Accounting>()) {
  validate_options(options_);
}

void SnapshotStore::evict_locked(const std::string& layer, std::deque<Entry>::iterator it,
                                 std::vector<std::string>& evicted) {
  evicted.push_back(fmt::format("{}@{}", layer, it->snapshot->probe_index));
  rings_[layer].erase(it);
  ++evicted_;
}

SnapshotStore::PushResult SnapshotStore::push(Snapshot snapshot, bool pin) {
  if (options_.float16()) snapshot.convert_to_half();
  PushResult result;
  const std::size_t size = snapshot.bytes();
  const std::size_t budget = options_.memory_budget();
  std::lock_guard<std::mutex> lock(mutex_);
  if (size > budget) {
    ++refused_;
    result.refusal = fmt::format(
        "snapshot of layer '{}' ({} x {}, {:.1f} MiB) is larger than the whole memory budget "
        "({:.1f} MiB): raise memory_budget, lower sample_cap or store float16",
        snapshot.layer, snapshot.samples(), snapshot.features(), mib(size), mib(budget));
    return result;
  }
  auto& ring = rings_[snapshot.layer];
  if (ring.empty() && std::find(order_.begin(), order_.end(), snapshot.layer) == order_.end()) {
    order_.push_back(snapshot.layer);
  }

  // Plan the evictions first, so that a refusal evicts nothing. Snapshots still held by an
  // analysis job free their bytes only when the job drops them, so they do not count as freed.
  std::set<uint64_t> planned;
  std::size_t freeable = 0;
  const auto plan = [&](const Entry& e) {
    planned.insert(e.sequence);
    if (e.snapshot.use_count() == 1) freeable += e.snapshot->bytes();
  };
  if (static_cast<int64_t>(ring.size()) >= options_.history()) {
    const auto oldest =
        std::find_if(ring.begin(), ring.end(), [](const Entry& e) { return !e.pinned; });
    if (oldest != ring.end()) plan(*oldest);
  }
  while (accounting_->live.load() + size > budget + freeable) {
    const Entry* candidate = nullptr;
    for (const auto& [name, entries] : rings_) {
      for (const auto& e : entries) {
        if (e.pinned || planned.count(e.sequence)) continue;
        if (!candidate || e.sequence < candidate->sequence) candidate = &e;
        break;  // entries are in sequence order: the first eligible one is this ring's oldest
      }
    }
    if (!candidate) {
      ++refused_;
      result.refusal = fmt::format(
          "no room for a snapshot of layer '{}' ({:.1f} MiB) within the memory budget "
          "({:.1f} MiB, {:.1f} MiB in use by pinned or in-analysis snapshots): raise "
          "memory_budget, lower sample_cap or store float16",
          snapshot.layer, mib(size), mib(budget), mib(accounting_->live.load()));
      return result;
    }
    plan(*candidate);
  }
  for (auto& [name, entries] : rings_) {
    for (auto it = entries.begin(); it != entries.end();) {
      if (planned.count(it->sequence)) {
        evict_locked(name, it, result.evicted);
        it = entries.begin();  // erase invalidated the iterators of this deque
        continue;
      }
      ++it;
    }
  }
  if (pin) {
    for (auto& e : ring) e.pinned = false;
  }

  auto accounting = accounting_;
  const auto* raw = new Snapshot(std::move(snapshot));
  Ptr stored(raw, [accounting, size](const Snapshot* s) {
    accounting->live.fetch_sub(size);
    delete s;
  });
  const std::size_t live = accounting_->live.fetch_add(size) + size;
  std::size_t peak = accounting_->peak.load();
  while (live > peak && !accounting_->peak.compare_exchange_weak(peak, live)) {
  }
  ring.push_back(Entry{stored, next_sequence_++, pin});
  ++stored_;
  result.stored = std::move(stored);
  return result;
}

SnapshotStore::Ptr SnapshotStore::find(const std::string& layer, int64_t probe_index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto ring = rings_.find(layer);
  if (ring == rings_.end()) return nullptr;
  for (const auto& e : ring->second) {
    if (e.snapshot->probe_index == probe_index) return e.snapshot;
  }
  return nullptr;
}

SnapshotStore::Ptr SnapshotStore::latest(const std::string& layer) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto ring = rings_.find(layer);
  if (ring == rings_.end() || ring->second.empty()) return nullptr;
  return ring->second.back().snapshot;
}

SnapshotStore::Ptr SnapshotStore::pinned(const std::string& layer) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto ring = rings_.find(layer);
  if (ring == rings_.end()) return nullptr;
  for (const auto& e : ring->second) {
    if (e.pinned) return e.snapshot;
  }
  return nullptr;
}

std::vector<SnapshotStore::Ptr> SnapshotStore::history(const std::string& layer) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Ptr> out;
  const auto ring = rings_.find(layer);
  if (ring == rings_.end()) return out;
  for (const auto& e : ring->second) out.push_back(e.snapshot);
  return out;
}

std::vector<std::string> SnapshotStore::layers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return order_;
}

SnapshotStore::Stats SnapshotStore::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return Stats{stored_, evicted_, refused_, accounting_->live.load(), accounting_->peak.load()};
}

std::vector<SnapshotStore::Item> SnapshotStore::contents() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::pair<uint64_t, Item>> all;
  for (const auto& [layer, ring] : rings_) {
    for (const auto& e : ring) all.push_back({e.sequence, Item{e.snapshot, e.pinned}});
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Item> items;
  items.reserve(all.size());
  for (auto& [sequence, item] : all) items.push_back(std::move(item));
  return items;
}

}  // namespace layerwatch
