#pragma once
// What a Monitor keeps once `distribute()` gave it a process group (monitor_distributed.cpp).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "distributed/collectives.h"
#include "distributed/outbox_sink.h"
#include "layerwatch/similarity/conv_layout.h"
#include "layerwatch/torch/distributed.h"

namespace layerwatch {

struct DistributedState {
  std::unique_ptr<detail::Collectives> collectives;
  DistributedOptions options;
  std::shared_ptr<detail::OutboxSink> outbox;  // ranks other than 0: records for rank 0
  std::map<std::string, int> owner;            // layer → the rank that analyses it
  std::vector<double> load;                    // analysis cost assigned to each rank
  bool spread = true;         // false: rank 0 analyses every layer (analyses across layers)
  int64_t reduce_bytes = -1;  // gradient bytes of the last all-reduce (−1: none yet)

  // The rows sample_cap keeps of `total` rows (the same every probe pass), computed once.
  const std::vector<int64_t>& sampled_rows(int64_t total, int64_t cap, uint64_t seed) {
    auto& rows = sampled[total];
    if (rows.empty()) rows = similarity::spatial_sample_rows(total, cap, seed);
    return rows;
  }
  std::map<int64_t, std::vector<int64_t>> sampled;

  int rank() const { return collectives->rank(); }
  int size() const { return collectives->size(); }
  bool failed() const { return !collectives->failure().empty(); }
};

}  // namespace layerwatch
