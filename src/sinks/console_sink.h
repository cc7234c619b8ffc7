#pragma once
/// @file
/// `ConsoleSink`: a short human summary. At each epoch end, one line per layer with its latest
/// value, the change since the previous epoch (the trend) and the kept dimensions; warnings
/// (drops, skips, errors) as they happen; at close, the learning-dynamics table (each layer
/// against its final snapshot, per epoch).
///
///   epoch 3 · svcca vs previous
///     features.0     0.9712  ▲ +0.0123   dims 12/13
///     features.3     0.8810  ▼ -0.0040   dims 40/41

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// Console summary sink. Writes to `stream` (stdout by default), which it does not own.
class ConsoleSink : public Sink {
 public:
  explicit ConsoleSink(std::FILE* stream = stdout);

  std::string name() const override { return "console"; }
  void write(const ConvergenceRecord& record) override;
  void write_event(const MonitorEvent& event) override;
  void layer_order(const std::vector<std::string>& layers) override;
  void end_epoch(int64_t epoch) override;
  void close() override;
  /// The layer order and the values shown at the last summary, so the trend arrows continue.
  nlohmann::json save_state() override;
  void restore_state(const nlohmann::json& state) override;

 private:
  std::FILE* stream_;
  std::vector<std::string> layer_order_;
  std::map<std::string, ConvergenceRecord> pending_;  // latest online record per layer
  std::map<std::string, double> last_value_;          // value shown at the previous summary
  std::map<std::string, std::vector<ConvergenceRecord>> final_;  // learning dynamics
  bool closed_ = false;
};

}  // namespace layerwatch
