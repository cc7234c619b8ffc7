#pragma once
// The Monitor's collectives over the user's process group. Every call is a collective: every
// rank makes the same calls in the same order, from the training thread. A failed or timed-out
// collective becomes a DistributedError that names the rank at fault when the store can tell.

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "layerwatch/torch/distributed.h"

namespace layerwatch::detail {

class Collectives {
 public:
  // Leaves this rank's host and pid in the store (when there is one), for the diagnosis.
  Collectives(c10::intrusive_ptr<c10d::ProcessGroup> group, c10::intrusive_ptr<c10d::Store> store);

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Every rank's string, in rank order.
  std::vector<std::string> all_gather_strings(const std::string& mine, const char* what);
  // Every rank's string on `root`, in rank order; empty elsewhere. Moves each string once
  // (a checkpoint's snapshots, say), unlike all_gather_strings.
  std::vector<std::string> gather_strings(const std::string& mine, int root, const char* what);
  // `root`'s string on every rank (`mine` is read on the root only).
  std::string broadcast_string(const std::string& mine, int root, const char* what);
  // Every rank's `block` (same shape and dtype on every rank) on `root`, in rank order; empty
  // elsewhere.
  std::vector<torch::Tensor> gather(const torch::Tensor& block, int root, const char* what);
  // Sums contiguous tensors element-wise over the ranks, in place, all at once.
  void all_reduce_sum(std::vector<torch::Tensor>& flats, const char* what);
  // `root`'s contiguous tensors copied into every rank's, in place.
  void broadcast(std::vector<torch::Tensor>& flats, int root, const char* what);

  // The error that ended the group, or empty. After one, every collective throws it again
  // without touching the group.
  const std::string& failure() const { return failure_; }

 private:
  // Every rank's string length (an all-gather), and this rank's bytes padded to the longest.
  struct Padded {
    std::vector<int64_t> lengths;
    torch::Tensor bytes;
  };
  Padded pad_to_longest(const std::string& mine, const char* what);
  // The strings in `blocks` (one per rank, padded), cut to their lengths.
  static std::vector<std::string> strings_of(const Padded& padded,
                                             const std::vector<torch::Tensor>& blocks);
  void begin(const char* what);
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what);
  [[noreturn]] void fail(const char* what, const std::string& error);
  // Which ranks died or stopped, from the store; empty when it cannot tell.
  std::string diagnose();

  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  c10::intrusive_ptr<c10d::Store> store_;
  int rank_ = 0, size_ = 1;
  int64_t sequence_ = 0;                  // collectives begun
  std::map<int64_t, std::string> names_;  // collectives by the id begin() sends
  std::string failure_;
};

}  // namespace layerwatch::detail
