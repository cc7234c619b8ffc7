// The `layerwatch` command: offline tools over saved activations and run logs.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.h"
#include "layerwatch/core/version.h"

int main(int argc, char** argv) {
  using namespace layerwatch::cli;
  CLI::App app{"layerwatch: layer convergence analysis for LibTorch training"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("layerwatch ") + layerwatch::kVersion);
  const auto run_compare = add_compare_command(app);
  const auto run_heatmap = add_heatmap_command(app);
  const auto run_report = add_report_command(app);
  const auto run_config = add_config_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "layerwatch: {}\nRun 'layerwatch --help' for usage.\n", e.what());
    return kExitUsage;
  }
  try {
    if (app.got_subcommand("compare")) return run_compare();
    if (app.got_subcommand("heatmap")) return run_heatmap();
    if (app.got_subcommand("report")) return run_report();
    if (app.got_subcommand("config")) return run_config();
  } catch (const std::exception& e) {
    fmt::print(stderr, "layerwatch: {}\n", e.what());
    return kExitFailure;
  }
  return kExitUsage;
}
