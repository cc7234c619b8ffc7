#pragma once
/// @file
/// `Sink`: where records go. One small interface with a fixed lifecycle, in the manner of
/// google/benchmark's reporters:
///
///   open()                      once, before anything else; throws std::runtime_error with a
///                               message naming the problem if the sink cannot work
///   write(record) / write_event(event) / write_probe(record)   any number of times, in order
///   end_epoch(epoch)            after every record of that epoch: flush point
///   flush()                     when the user asks for everything to be written
///   close()                     once, at the end (after the final-reference records)
///
/// Runs that stop and resume (`Monitor::save` / `Monitor::load`): `save_state()` is called
/// after a flush, when everything before the checkpoint has been written; what it returns is
/// stored in the checkpoint under the sink's `name()`. When a run resumes from that checkpoint,
/// `restore_state(state)` is called before `open()`, so that a file sink continues its file
/// from where the checkpoint left it (dropping what a run that died later wrote after it) and a
/// sink with a memory carries it on.
///
/// All calls come from the analyzer, one at a time (never concurrently). A sink that throws
/// from any call is reported once (naming the sink and the error) and disabled: it gets no
/// further calls but `close()`. Training and the other sinks never stop for it.
///
/// Sinks are chosen by a string with `make_sink`: "console", "jsonl", "jsonl:PATH", "csv",
/// "csv:PATH", "tb" or "tb:DIR" (TensorBoard).

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

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
  /// A linear-probe or class-logit record (`AnalyzerOptions::probing`). Default: ignored.
  virtual void write_probe(const ProbeRecord& /*record*/) {}
  /// The layers in forward order, when they are known before their records arrive in it (a
  /// data-parallel run, whose records come from several ranks). A sink that lists layers may
  /// list them in this order. Default: ignored.
  virtual void layer_order(const std::vector<std::string>& /*layers*/) {}
  virtual void end_epoch(int64_t /*epoch*/) {}
  /// Pushes buffered output out (called by `Analyzer::flush`).
  virtual void flush() {}
  virtual void close() {}
  /// What the sink needs to continue after a resume (e.g. its files and their sizes); null
  /// (the default) for a sink without such state.
  virtual nlohmann::json save_state();
  /// Called before `open()` with what `save_state()` returned at the checkpoint the run resumes
  /// from. The default ignores it.
  virtual void restore_state(const nlohmann::json& state);
};

/// Builds a sink from its spec. Relative paths are resolved against `log_dir`; a bare "jsonl"
/// means `<log_dir>/convergence.jsonl`, a bare "csv" `<log_dir>/convergence.csv`, a bare "tb"
/// an event file in `<log_dir>` itself (so `tensorboard --logdir runs/` lists each run). Throws
/// `std::invalid_argument` for an unknown spec, naming the allowed forms.
std::shared_ptr<Sink> make_sink(const std::string& spec, const std::string& log_dir);

}  // namespace layerwatch
