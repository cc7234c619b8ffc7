#pragma once
// Subcommands of the `layerwatch` command. Each registers its options on the CLI11 app and
// returns the process exit code when run.

#include <CLI/CLI.hpp>
#include <functional>

namespace layerwatch::cli {

/// Exit codes shared by every subcommand.
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitBadData = 3 };

/// Registers `compare`; the returned function runs it after parsing.
std::function<int()> add_compare_command(CLI::App& app);
/// Registers `heatmap`; the returned function runs it after parsing.
std::function<int()> add_heatmap_command(CLI::App& app);
/// Registers `report`; the returned function runs it after parsing.
std::function<int()> add_report_command(CLI::App& app);
/// Registers `config`; the returned function runs it after parsing.
std::function<int()> add_config_command(CLI::App& app);

}  // namespace layerwatch::cli
