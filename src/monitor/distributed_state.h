#pragma once
// What a Monitor keeps once `distribute()` gave it a process group (monitor_distributed.cpp).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "distributed/collectives.h"
#include "distributed/outbox_sink.h"
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

  int rank() const { return collectives->rank(); }
  int size() const { return collectives->size(); }
  bool failed() const { return !collectives->failure().empty(); }
};

}  // namespace layerwatch
