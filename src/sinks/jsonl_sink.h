#pragma once
/// @file
/// `JsonlSink`: records as JSON Lines (one object per line, see record_json.h) in
/// `<log_dir>/convergence.jsonl`, events in `events.jsonl` and probe records in `probes.jsonl`
/// beside it (created at the first probe record). Lines are written
/// whole; the files are flushed at every epoch end and on close, so an interrupted run leaves
/// complete lines behind.

#include <cstdio>
#include <optional>
#include <string>

#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// JSON Lines sink. The files are truncated at `open()` (one run per log directory), or after
/// `restore_state`, continued from the checkpoint's sizes.
class JsonlSink : public Sink {
 public:
  /// `path`: the records file; its directory is created if missing.
  explicit JsonlSink(std::string path);
  ~JsonlSink() override;

  std::string name() const override { return "jsonl:" + path_; }
  /// Throws `std::runtime_error` naming the path and the OS error if it cannot be written.
  void open() override;
  void write(const ConvergenceRecord& record) override;
  void write_event(const MonitorEvent& event) override;
  void write_probe(const ProbeRecord& record) override;
  void end_epoch(int64_t epoch) override;
  void flush() override;
  void close() override;
  /// The files' paths and sizes.
  nlohmann::json save_state() override;
  void restore_state(const nlohmann::json& state) override;

  const std::string& path() const { return path_; }
  const std::string& events_path() const { return events_path_; }
  const std::string& probes_path() const { return probes_path_; }

 private:
  std::string path_;
  std::string events_path_;
  std::string probes_path_;
  std::FILE* records_ = nullptr;
  std::FILE* events_ = nullptr;
  std::FILE* probes_ = nullptr;  // opened at the first probe record
  std::optional<uint64_t> resume_records_, resume_events_, resume_probes_;
};

}  // namespace layerwatch
