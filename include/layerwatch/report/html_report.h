#pragma once
/// @file
/// The HTML report of a run: one self-contained file (inline SVG and CSS, a few lines of
/// script, no network fetches) with
///   - the run summary (summary.json) and counts of records and problems;
///   - per metric, the convergence curve of every layer against its previous snapshot, per
///     epoch (fractional epochs when probing more often), and against its first snapshot;
///   - the freeze timeline: when each layer was frozen and the value that triggered it;
///   - the learning-dynamics heatmap: layers × training time, similarity to the final snapshot;
///   - the layers × layers matrix, when the run computed it (`layer_matrix`);
///   - the records that carry no value (non-finite activations, too few samples…), grouped.
/// Written by `layerwatch report RUN_DIR` and by `Monitor::finish()` (option `report`).

#include <cstddef>
#include <string>
#include <vector>

#include "layerwatch/core/option.h"
#include "layerwatch/report/run_log.h"

namespace layerwatch {

/// Options of the HTML report.
struct ReportOptions {
  LAYERWATCH_OPTIONS(ReportOptions);
  /// Page title; empty means "layerwatch report: <run directory name>".
  LAYERWATCH_OPTION(std::string, title, AnyValue{}) = "";
  LAYERWATCH_OPTIONS_END();
};

/// The report page for `log`.
std::string render_report_html(const RunLog& log, const ReportOptions& options = {});

/// What `write_report` did.
struct ReportResult {
  std::string path;                   ///< The file written.
  std::size_t records = 0;            ///< Records shown.
  std::size_t events = 0;             ///< Events read.
  std::vector<std::string> warnings;  ///< From `read_run_log`, plus "no records" if empty.
};

/// Reads `run_dir` and writes its report to `output_path` (empty: `<run_dir>/report.html`),
/// atomically (a temporary file renamed into place). Throws `std::runtime_error` naming the
/// path when the run directory is missing or the output cannot be written. A run without
/// records still gets a page, which says so.
ReportResult write_report(const std::string& run_dir, const std::string& output_path = "",
                          const ReportOptions& options = {});

}  // namespace layerwatch
