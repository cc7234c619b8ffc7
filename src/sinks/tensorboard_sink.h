#pragma once
/// @file
/// `TensorBoardSink`: writes an event file that TensorBoard reads, so convergence curves appear
/// beside the training loss in `tensorboard --logdir <log_dir>`.
///
/// The file is `<dir>/events.out.tfevents.<unix time>.<host>.<pid>` (a `.N` suffix is added if
/// that name exists), TFRecord-framed with masked CRC-32C. It holds:
///   - the file-version event `brain.Event:2`, first;
///   - per record with a value, one scalar at the snapshot's step, tagged by reference:
///       `convergence/<metric>/<layer>`       against the previous snapshot (the online signal),
///       `vs_first/<metric>/<layer>`          against the layer's first snapshot,
///       `learning_dynamics/<metric>/<layer>` against the layer's final snapshot (at finish);
///   - `freeze/frozen_layers`: the number of frozen layers, at every freeze and every epoch end;
///   - at close, when the layers × layers matrix was computed, an image summary
///     `similarity_matrix/<metric>` (rows: layers, columns: reference layers, bright = similar).
/// Wall times are fractional seconds. The file is flushed at every epoch end.

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// TensorBoard event-file sink. `dir` is created if missing.
class TensorBoardSink : public Sink {
 public:
  explicit TensorBoardSink(std::string dir);
  ~TensorBoardSink() override;

  std::string name() const override { return "tb:" + dir_; }
  /// Creates the event file and writes the file-version event. Throws `std::runtime_error`
  /// naming the directory and the OS error if it cannot be written.
  void open() override;
  void write(const ConvergenceRecord& record) override;
  void write_event(const MonitorEvent& event) override;
  /// Scalars "probe/accuracy/<layer>", "probe/control_accuracy/<layer>",
  /// "probe/selectivity/<layer>", and "class_logit/<layer>/class_<c>".
  void write_probe(const ProbeRecord& record) override;
  void end_epoch(int64_t epoch) override;
  void flush() override;
  /// Writes the layers × layers image (if any) and closes the file.
  void close() override;
  /// The event file's path and size, the frozen layers and the last step.
  nlohmann::json save_state() override;
  /// At `open()`, the checkpoint's event file is cut back to its size then (TensorBoard reads
  /// every file of the directory), and the new file's steps continue from it.
  void restore_state(const nlohmann::json& state) override;

  /// Path of the event file (empty before `open()`).
  const std::string& path() const { return path_; }

 private:
  void write_scalar(const std::string& tag, int64_t step, double value);
  void write_frozen_count(int64_t step);
  void write_layer_matrices();
  void append(const std::string& serialized_event);

  std::string dir_;
  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t last_step_ = 0;
  std::set<std::string> frozen_;
  nlohmann::json resume_;  // restore_state's, used by the next open()
  /// Layers × layers values by metric: (layer, reference layer) → (step, value); the newest
  /// step wins, so the image shows each layer's last snapshot against the final ones.
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::pair<int64_t, double>>>
      matrices_;
  std::map<std::string, std::vector<std::string>> matrix_layer_order_;
};

}  // namespace layerwatch
