#pragma once
/// @file
/// `Sink`: where records go. One small interface with a fixed lifecycle, in the manner of
/// google/benchmark's reporters:
///
///   open()                      once, before anything else; throws std::runtime_error with a
///                               message naming the problem if the sink cannot work
///   write(record) / write_event(event)   any number of times, in order
///   end_epoch(epoch)            after every record of that epoch: flush point
///   flush()                     when the user asks for everything to be written
///   close()                     once, at the end (after the final-reference records)
///
/// All calls come from the analyzer, one at a time (never concurrently). A sink that throws
/// from any call is counted as failing and reported once; training never stops for it.
///
/// Sinks are chosen by a string with `make_sink`: "console", "jsonl", "jsonl:PATH", "csv",
/// "csv:PATH", "tb" or "tb:DIR" (TensorBoard).

#include <cstdint>
#include <memory>
#include <string>

#include "layerwatch/analysis/records.h"

namespace layerwatch {

/// Receives convergence records and events. See the file comment for the lifecycle.
class Sink {
 public:
  virtual ~Sink() = default;
  /// A short description for messages, e.g. "jsonl:runs/a/convergence.jsonl".
  virtual std::string name() const = 0;
  virtual void open() {}
  virtual void write(const ConvergenceRecord& record) = 0;
  virtual void write_event(const MonitorEvent& /*event*/) {}
  virtual void end_epoch(int64_t /*epoch*/) {}
  /// Pushes buffered output out (called by `Analyzer::flush`).
  virtual void flush() {}
  virtual void close() {}
};

/// Builds a sink from its spec. Relative paths are resolved against `log_dir`; a bare "jsonl"
/// means `<log_dir>/convergence.jsonl`, a bare "csv" `<log_dir>/convergence.csv`, a bare "tb"
/// an event file in `<log_dir>` itself (so `tensorboard --logdir runs/` lists each run). Throws
/// `std::invalid_argument` for an unknown spec, naming the allowed forms.
std::shared_ptr<Sink> make_sink(const std::string& spec, const std::string& log_dir);

}  // namespace layerwatch
