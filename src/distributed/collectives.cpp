#include "distributed/collectives.h"

#include "sinks/tfrecord.h"
#include "torch/error_text.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

namespace layerwatch::detail {
namespace {

// A process of this host that is gone: no such process, or a zombie its parent (the launcher)
// has not reaped yet, which a loaded machine can leave for a while after the kill.
bool process_has_exited(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto name_end = text.rfind(')');  // the state follows the command name in parentheses
  if (name_end == std::string::npos || name_end + 2 >= text.size()) return false;
  const char state = text[name_end + 2];
  return state == 'Z' || state == 'X';
}

// A killed process closes its sockets before it becomes a zombie, so a peer can see the
// connection reset while the process still looks alive: wait for it until `until`.
bool process_exits_by(pid_t pid, std::chrono::steady_clock::time_point until) {
  while (!process_has_exited(pid)) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
std::string string_of(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

std::string key(const char* kind, int rank) { return fmt::format("layerwatch/{}/{}", kind, rank); }

}  // namespace

Collectives::Collectives(c10::intrusive_ptr<c10d::ProcessGroup> group,
                         c10::intrusive_ptr<c10d::Store> store)
    : group_(std::move(group)), store_(std::move(store)) {
  rank_ = group_->getRank();
  size_ = group_->getSize();
  if (!store_) return;
  try {
    store_->set(key("identity", rank_), bytes_of(fmt::format("{} {}", host_name(), getpid())));
    store_->set(key("progress", rank_), bytes_of("0"));
  } catch (const std::exception& e) {
    throw DistributedError(
        fmt::format("rank {}: cannot write to the store given in DistributedOptions: {}", rank_,
                    error_text(e)));
  }
}

void Collectives::begin(const char* what) {
  if (!failure_.empty()) throw DistributedError(failure_);
  ++sequence_;
  if (store_) {
    try {
      store_->set(key("progress", rank_), bytes_of(std::to_string(sequence_)));
    } catch (const std::exception& e) {
      fail(what, error_text(e));
    }
  }
  // Every collective starts with the same 16 bytes on every rank: which collective and its
  // number. Ranks whose loops went apart (one at a probe pass, another at the gradient
  // all-reduce) find out here, instead of meeting in operations of different sizes, which Gloo
  // answers by aborting the process.
  const int64_t id = crc32c(what, std::strlen(what));
  names_[id] = what;
  std::vector<torch::Tensor> tag{torch::tensor({id, sequence_})};
  std::vector<std::vector<torch::Tensor>> tags(1);
  for (int r = 0; r < size_; ++r) tags[0].push_back(torch::empty({2}, torch::kLong));
  wait(group_->allgather(tags, tag), what);
  bool alike = true;
  for (const auto& t : tags[0]) alike = alike && t.equal(tags[0][0]);
  if (alike) return;
  std::vector<std::string> where;
  for (int r = 0; r < size_; ++r) {
    const auto other = tags[0][static_cast<size_t>(r)];
    const auto name = names_.find(other[0].item<int64_t>());
    where.push_back(fmt::format("rank {} at its collective {} ({})", r, other[1].item<int64_t>(),
                                name == names_.end() ? "another collective" : name->second));
  }
  failure_ = fmt::format(
      "rank {} of {}: the ranks' loops went apart: {}. Every rank must call the monitor at the "
      "same points and take the same number of steps (shards of the same size)",
      rank_, size_, fmt::join(where, ", "));
  throw DistributedError(failure_);
}

void Collectives::wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    fail(what, error_text(e));
  }
}

void Collectives::fail(const char* what, const std::string& error) {
  const std::string diagnosis = diagnose();
  failure_ = fmt::format("rank {} of {}: the {} collective failed: {}. The process group said: {}",
                         rank_, size_, what,
                         diagnosis.empty() ? "a peer failed (give DistributedOptions the store "
                                             "to have it named)"
                                           : diagnosis,
                         error);
  if (store_) {
    try {
      store_->set(key("failed", rank_), bytes_of(error));
    } catch (const std::exception&) {
      // The store is gone with rank 0; the diagnosis said so.
    }
  }
  throw DistributedError(failure_);
}

std::string Collectives::diagnose() {
  if (!store_) return "";
  const std::string here = host_name();
  std::vector<std::string> exited, stopped, gave_up;
  try {
    store_->setTimeout(std::chrono::seconds(5));
    const auto patience = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      const bool noted = store_->check({key("failed", r)});
      if (noted) {
        gave_up.push_back(std::to_string(r));
        continue;
      }
      std::istringstream identity(string_of(store_->get(key("identity", r))));
      std::string host;
      pid_t pid = 0;
      identity >> host >> pid;
      const int64_t at = std::stoll(string_of(store_->get(key("progress", r))));
      // Only a peer behind this rank can be the one that failed; one that is mid-exit gets up
      // to a second (shared by all peers) to finish.
      const bool here_and_known = host == here && pid > 0;
      if (here_and_known &&
          (at < sequence_ ? process_exits_by(pid, patience) : process_has_exited(pid))) {
        exited.push_back(fmt::format("rank {} (pid {}) has exited", r, pid));
        continue;
      }
      if (at < sequence_) {
        stopped.push_back(fmt::format(
            "rank {} stopped answering (it is at collective {}, this rank at {}): it hangs or "
            "died on another host",
            r, at, sequence_));
      }
    }
  } catch (const std::exception& e) {
    if (rank_ != 0) {
      return fmt::format(
          "rank 0 (which serves the store) does not answer: it has exited or hangs ({})",
          error_text(e));
    }
    return "";
  }
  if (!exited.empty()) return fmt::to_string(fmt::join(exited, "; "));
  if (!stopped.empty()) return fmt::to_string(fmt::join(stopped, "; "));
  if (!gave_up.empty()) {
    return fmt::format("rank {} gave up after a failure of its own", fmt::join(gave_up, ", rank "));
  }
  return "";
}

Collectives::Padded Collectives::pad_to_longest(const std::string& mine, const char* what) {
  std::vector<torch::Tensor> length{torch::tensor({static_cast<int64_t>(mine.size())})};
  std::vector<std::vector<torch::Tensor>> lengths(1);
  for (int r = 0; r < size_; ++r) lengths[0].push_back(torch::empty({1}, torch::kLong));
  wait(group_->allgather(lengths, length), what);
  Padded out;
  int64_t longest = 1;
  for (const auto& l : lengths[0]) {
    out.lengths.push_back(l.item<int64_t>());
    longest = std::max(longest, out.lengths.back());
  }
  out.bytes = torch::zeros({longest}, torch::kByte);
  std::copy(mine.begin(), mine.end(), out.bytes.data_ptr<uint8_t>());
  return out;
}

std::vector<std::string> Collectives::strings_of(const Padded& padded,
                                                 const std::vector<torch::Tensor>& blocks) {
  std::vector<std::string> out;
  for (size_t r = 0; r < blocks.size(); ++r) {
    const auto* data = reinterpret_cast<const char*>(blocks[r].data_ptr<uint8_t>());
    out.emplace_back(data, static_cast<size_t>(padded.lengths[r]));
  }
  return out;
}

std::vector<std::string> Collectives::all_gather_strings(const std::string& mine,
                                                         const char* what) {
  begin(what);
  const auto padded = pad_to_longest(mine, what);
  std::vector<torch::Tensor> input{padded.bytes};
  std::vector<std::vector<torch::Tensor>> all(1);
  for (int r = 0; r < size_; ++r) all[0].push_back(torch::empty_like(padded.bytes));
  wait(group_->allgather(all, input), what);
  return strings_of(padded, all[0]);
}

std::vector<std::string> Collectives::gather_strings(const std::string& mine, int root,
                                                     const char* what) {
  begin(what);
  const auto padded = pad_to_longest(mine, what);
  return strings_of(padded, gather(padded.bytes, root, what));
}

std::string Collectives::broadcast_string(const std::string& mine, int root, const char* what) {
  begin(what);
  c10d::BroadcastOptions options;
  options.rootRank = root;
  std::vector<torch::Tensor> length{torch::tensor({static_cast<int64_t>(mine.size())})};
  wait(group_->broadcast(length, options), what);
  const int64_t n = length[0].item<int64_t>();
  std::vector<torch::Tensor> data{torch::zeros({std::max<int64_t>(n, 1)}, torch::kByte)};
  if (rank_ == root) std::copy(mine.begin(), mine.end(), data[0].data_ptr<uint8_t>());
  wait(group_->broadcast(data, options), what);
  return std::string(reinterpret_cast<const char*>(data[0].data_ptr<uint8_t>()),
                     static_cast<size_t>(n));
}

std::vector<torch::Tensor> Collectives::gather(const torch::Tensor& block, int root,
                                               const char* what) {
  begin(what);
  c10d::GatherOptions options;
  options.rootRank = root;
  std::vector<torch::Tensor> input{block.contiguous()};
  std::vector<std::vector<torch::Tensor>> outputs;
  if (rank_ == root) {
    outputs.resize(1);
    for (int r = 0; r < size_; ++r) outputs[0].push_back(torch::empty_like(input[0]));
  }
  wait(group_->gather(outputs, input, options), what);
  return rank_ == root ? outputs[0] : std::vector<torch::Tensor>{};
}

void Collectives::all_reduce_sum(std::vector<torch::Tensor>& flats, const char* what) {
  begin(what);
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& flat : flats) {
    std::vector<torch::Tensor> one{flat};
    works.push_back(group_->allreduce(one));
  }
  for (const auto& work : works) wait(work, what);
}

void Collectives::broadcast(std::vector<torch::Tensor>& flats, int root, const char* what) {
  begin(what);
  c10d::BroadcastOptions options;
  options.rootRank = root;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& flat : flats) {
    std::vector<torch::Tensor> one{flat};
    works.push_back(group_->broadcast(one, options));
  }
  for (const auto& work : works) wait(work, what);
}

}  // namespace layerwatch::detail
