// `layerwatch config [FILE]`: the monitor's whole configuration as JSON: the defaults, or FILE
// read on top of them and checked.

#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "layerwatch/monitor_options.h"

namespace layerwatch::cli {
namespace {

struct ConfigArgs {
  std::string file;
  bool keys = false;
};

int run_config(const ConfigArgs& args) {
  if (args.keys) {
    for (const auto& key : monitor_option_keys()) fmt::print("{}\n", key);
    return kExitOk;
  }
  MonitorOptions options;
  if (!args.file.empty()) {
    try {
      options = load_monitor_options(args.file);
      options.validate();
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "layerwatch config: {}\n", e.what());
      return kExitBadData;
    }
  }
  fmt::print("{}\n", to_json(options).dump(2));
  return kExitOk;
}

}  // namespace

std::function<int()> add_config_command(CLI::App& app) {
  auto args = std::make_shared<ConfigArgs>();
  auto* cmd = app.add_subcommand(
      "config",
      "Print the monitor's configuration as JSON: every key with its default, or FILE read on "
      "top of the defaults and checked (exit 3 naming the key when it is invalid)");
  cmd->add_option("FILE", args->file, "A JSON config to check and complete");
  cmd->add_flag("--keys", args->keys, "List every key instead, nested ones dotted");
  return [args] { return run_config(*args); };
}

}  // namespace layerwatch::cli
