#pragma once
/// @file
/// `read_run_log`: reads back what a run's sinks left in its log directory, tolerating the
/// damage a killed or still-running process leaves (a truncated last line, a malformed line):
/// every valid line is kept, every skipped one is named in `warnings`.
///
/// Files read from the run directory:
///   convergence.jsonl  the records (JsonlSink)
///   events.jsonl       freezes, skips, errors (JsonlSink)
///   summary.json       optional: the training program's own summary (one JSON object)

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerwatch/analysis/records.h"

namespace layerwatch {

/// The contents of one run directory.
struct RunLog {
  std::string run_dir;
  std::vector<ConvergenceRecord> records;  ///< In file order.
  std::vector<MonitorEvent> events;        ///< In file order.
  std::vector<ProbeRecord> probes;         ///< probes.jsonl, in file order (may be empty).
  nlohmann::json summary;                  ///< summary.json's object, or null.
  std::vector<std::string> warnings;       ///< What was skipped or missing, and why.
};

/// Reads `run_dir`. Throws `std::runtime_error` naming the path when it does not exist or is
/// not a directory; everything else (missing files, bad lines) becomes a warning.
RunLog read_run_log(const std::string& run_dir);

/// What `read_run_log` does with the JSONL files, for their text in memory: appends the
/// records, events and probe records to `log` and a warning for every line that does not parse
/// (a last line without its newline is called truncated). Never throws for a bad line.
void parse_run_log_text(const std::string& records_text, const std::string& events_text,
                        RunLog* log, const std::string& probes_text = "");

}  // namespace layerwatch
