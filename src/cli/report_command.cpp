// `layerwatch report RUN_DIR [-o FILE]`: the HTML report of a run's log directory.

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "layerwatch/report/html_report.h"

namespace layerwatch::cli {
namespace {

struct ReportArgs {
  std::string run_dir;
  std::string output;
  std::string title;
};

int run_report(const ReportArgs& args) {
  ReportResult result;
  try {
    result = write_report(args.run_dir, args.output, ReportOptions().title(args.title));
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "layerwatch report: {}\n", e.what());
    // A run directory that is not there is bad input; otherwise the output could not be written.
    std::error_code ec;
    return std::filesystem::is_directory(args.run_dir, ec) ? kExitFailure : kExitBadData;
  }
  for (const auto& warning : result.warnings) {
    fmt::print(stderr, "layerwatch report: warning: {}\n", warning);
  }
  fmt::print("layerwatch report: wrote {} ({} records, {} events)\n", result.path, result.records,
             result.events);
  return kExitOk;
}

}  // namespace

std::function<int()> add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report", "Self-contained HTML report (curves, freeze timeline, heatmaps) of a run's logs");
  cmd->add_option("RUN_DIR", args->run_dir, "The run's log directory (holds convergence.jsonl)")
      ->required();
  cmd->add_option("-o,--output", args->output, "Output file (default RUN_DIR/report.html)");
  cmd->add_option("--title", args->title, "Page title (default: from the directory name)");
  return [args] { return run_report(*args); };
}

}  // namespace layerwatch::cli
