#pragma once
// The receiver of one probe pass: turns each capture point's output into rows of that layer's
// snapshot matrix, chunk by chunk. Internal to the Monitor.

#include <torch/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "capture/capture_detail.h"
#include "layerwatch/core/snapshot.h"
#include "layerwatch/core/status.h"
#include "layerwatch/similarity/conv_layout.h"

namespace layerwatch::detail {

/// How outputs become (samples × features) rows.
struct ProbeLayout {
  int64_t total_examples = 0;  ///< Size of the probe set.
  int64_t sample_cap = 8192;   ///< Most rows per layer.
  similarity::ConvLayout conv_layout = similarity::ConvLayout::kSpatial;
  uint64_t seed = 0;
  std::size_t byte_limit = 0;       ///< A layer's snapshot larger than this is too large.
  std::size_t bytes_per_value = 4;  ///< 4, or 2 when the store keeps float16.
  /// Keep on each snapshot the rows sample_cap kept (`Snapshot::sampled_rows`), which the
  /// probes need; off otherwise, to spare the 8 bytes a row.
  bool keep_sampled_rows = false;
  /// This process runs only some of the probe set's chunks (one rank's shard): a layer is
  /// complete when it ran in every chunk begun here, and only the rows of those chunks are set.
  bool shard = false;
};

/// Collects one probe pass. Not thread-safe (the probe pass runs on one thread).
class ProbeCapture : public CaptureReceiver {
 public:
  ProbeCapture(ProbeLayout layout, std::set<std::string> disabled);

  /// Call before each chunk's forward pass.
  void begin_chunk(int64_t offset, int64_t size);
  void capture(const std::string& name, const torch::Tensor& value) override;
  void capture_error(const std::string& name, const std::string& message) override;

  /// A layer without a snapshot: `kTooLarge` when it would exceed the whole memory budget,
  /// `kError` when it could not be captured.
  struct Failure {
    std::string layer;
    Status status = Status::kError;
    std::string message;
  };
  /// The complete snapshots, in order of first capture (forward order), and the layers that
  /// have none.
  struct Result {
    std::vector<Snapshot> snapshots;
    std::vector<Failure> failures;
  };
  Result take(int64_t step, int64_t epoch, int64_t probe_index);

 private:
  struct Layer {
    Eigen::MatrixXf matrix;         // selected rows × features
    std::vector<int64_t> selected;  // global row indices kept, ascending
    int64_t rows_per_example = 0;
    int64_t features = 0;
    int64_t filled = 0;  // rows written so far
    int64_t chunks = 0;  // chunks that captured this layer
    std::string error;
    Status status = Status::kError;
  };
  void fail(Layer& layer, std::string message, Status status = Status::kError);

  ProbeLayout layout_;
  std::set<std::string> disabled_;
  std::vector<std::string> order_;
  std::map<std::string, Layer> layers_;
  int64_t chunk_offset_ = 0, chunk_size_ = 0, chunks_ = 0;
};

/// The one conversion from a layer output to rows: (n · rows_per_example, features) float32,
/// row-major, on the CPU, detached. `rows_per_example` is H·W for spatial conv, L for (N, L, C)
/// sequences, 1 otherwise. Throws `std::invalid_argument` naming the problem.
torch::Tensor output_to_rows(const torch::Tensor& value, int64_t examples,
                             similarity::ConvLayout conv_layout, int64_t& rows_per_example);

}  // namespace layerwatch::detail
