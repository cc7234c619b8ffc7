#pragma once
/// @file
/// Data-parallel training on c10d process groups (Gloo on CPUs; NCCL where LibTorch was built
/// with it). LibTorch has no C++ DistributedDataParallel, so a training loop broadcasts the
/// initial weights and all-reduces the gradients itself; the Monitor does both for it and keeps
/// one consistent freeze across the ranks:
///
/// @code
///   auto env = layerwatch::DistributedEnvironment::from_environment();  // RANK, WORLD_SIZE, …
///   auto group = layerwatch::make_gloo_group(env, std::chrono::seconds(60));
///   layerwatch::Monitor monitor(model, probe_images, options);  // the same on every rank
///   monitor.watch(model->features);
///   monitor.attach_optimizer(optimizer);
///   monitor.distribute(group.process_group, layerwatch::DistributedOptions().store(group.store));
///   for (…) {                                // each rank reads its own shard of the data
///     loss.backward();
///     monitor.all_reduce_gradients();        // averaged over the ranks, frozen layers left out
///     optimizer.step();
///     monitor.step();
///   }
/// @endcode
///
/// What `distribute` changes: each rank runs its slice of the probe set; each layer's
/// activations are gathered, in probe-set order, on the one rank that analyses that layer;
/// every record reaches rank 0, whose sinks alone write (one set of logs, one report); freeze
/// decisions are made on rank 0 and applied on every rank at the same step, before the next
/// gradient all-reduce. The collectives run on the training thread at the same calls on every
/// rank, so the analyzer threads never talk to the process group.

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace layerwatch {

/// Thrown on every rank when the ranks cannot go on together: a configuration that differs
/// between them (at `Monitor::distribute`), or a rank that died or stopped answering (at the
/// collective that noticed it). The message names the rank and what happened; the logs are
/// flushed before it is thrown.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How the Monitor uses the process group. Chained setters, like LibTorch's options.
class DistributedOptions {
 public:
  /// The store the process group was made with. Optional: with it, a rank that dies or hangs is
  /// named in the error (each rank leaves its host, pid and progress there); without it the
  /// error quotes the process group's.
  DistributedOptions& store(c10::intrusive_ptr<c10d::Store> store) {
    store_ = std::move(store);
    return *this;
  }
  const c10::intrusive_ptr<c10d::Store>& store() const { return store_; }

  /// Largest gradient bucket of `all_reduce_gradients`, in bytes (default 25 MiB): small
  /// enough to bound the copy, large enough that per-call latency does not dominate.
  DistributedOptions& bucket_bytes(int64_t bytes) {
    if (bytes < 1024) {
      throw std::invalid_argument("DistributedOptions::bucket_bytes must be at least 1024, got " +
                                  std::to_string(bytes));
    }
    bucket_bytes_ = bytes;
    return *this;
  }
  int64_t bucket_bytes() const { return bucket_bytes_; }

  /// With `all_reduce_gradients`, also copy rank 0's buffers (BatchNorm running statistics)
  /// to every rank, as DistributedDataParallel does (default true). Without it each rank's
  /// statistics follow its own shard and the models drift apart.
  DistributedOptions& broadcast_buffers(bool on) {
    broadcast_buffers_ = on;
    return *this;
  }
  bool broadcast_buffers() const { return broadcast_buffers_; }

  /// Broadcast rank 0's parameters and buffers at `distribute` (default true), so every rank
  /// starts from the same weights whatever its seed.
  DistributedOptions& broadcast_initial_weights(bool on) {
    broadcast_initial_weights_ = on;
    return *this;
  }
  bool broadcast_initial_weights() const { return broadcast_initial_weights_; }

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  int64_t bucket_bytes_ = int64_t{25} << 20;
  bool broadcast_buffers_ = true;
  bool broadcast_initial_weights_ = true;
};

/// Where this process sits in the job, from the conventional environment variables.
struct DistributedEnvironment {
  int rank = 0;                           ///< RANK (default 0).
  int world_size = 1;                     ///< WORLD_SIZE (default 1).
  int local_rank = 0;                     ///< LOCAL_RANK (default: RANK).
  std::string master_addr = "127.0.0.1";  ///< MASTER_ADDR.
  int master_port = 29500;                ///< MASTER_PORT.

  /// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Throws
  /// `std::invalid_argument` naming the variable when one is malformed or out of range
  /// (e.g. RANK ≥ WORLD_SIZE).
  static DistributedEnvironment from_environment();
  /// True when WORLD_SIZE is set (a launcher started this process as one rank of several).
  static bool launched();
};

/// A Gloo process group and the TCP store it rendezvoused through (rank 0 serves it).
struct GlooGroup {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> process_group;
};

/// Rendezvous at `env.master_addr:master_port` and make a Gloo process group over this host's
/// interface for `master_addr` (loopback for 127.0.0.1). `timeout` bounds every collective: a
/// rank that stops answering is noticed after it. Throws `DistributedError` naming the address
/// when the rendezvous fails.
GlooGroup make_gloo_group(const DistributedEnvironment& env, std::chrono::milliseconds timeout);

/// Runs this program as `nproc` local ranks: starts `nproc` copies of `/proc/self/exe` with
/// `argv` and RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT set,
/// and LibTorch's intra-op threads split between them (LAYERWATCH_THREADS_PER_RANK). Waits for
/// them; when one fails the others get `grace` to end on their own (they notice the dead peer
/// at their next collective), then are killed. Children die with the launcher (no orphans).
/// SIGINT or SIGTERM to the launcher is passed on to every rank as SIGINT.
/// Returns the exit code to use: 0 when every rank succeeded, else the first failure's.
int run_local_ranks(int nproc, int argc, char** argv, std::chrono::milliseconds grace);

/// The intra-op threads a rank started by `run_local_ranks` should use (its share of the
/// cores), or 0 when not started that way.
int threads_per_local_rank();

}  // namespace layerwatch
