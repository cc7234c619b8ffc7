#include "layerwatch/monitor_options.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/option_json.h"
#include "layerwatch/sinks/sink.h"

namespace layerwatch {

std::string MonitorOptions::sink_specs_problem(const std::vector<std::string>& specs) {
  for (const auto& spec : specs) {
    try {
      make_sink(spec, "");  // checks the spec only; nothing is opened
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  }
  return "";
}

void MonitorOptions::validate() const { validate_options(*this); }

void MonitorOptions::check_relations() const {
  if (freeze_.policy() == FreezePolicyKind::kAdaptive &&
      analysis_.reference() == Reference::kFirst) {
    throw std::invalid_argument(
        "MonitorOptions: freeze.policy adaptive needs analysis.reference previous: it freezes a "
        "layer once its similarity to its previous snapshot stays high, and with reference "
        "first there is none, so it would never freeze; set the reference to previous or "
        "choose another freeze policy");
  }
}

std::vector<std::string> monitor_option_keys() {
  std::vector<std::string> keys;
  detail::option_keys<MonitorOptions>(keys);
  return keys;
}

MonitorOptions monitor_options_from_json(const nlohmann::json& config, MonitorOptions base) {
  detail::options_from_json<ConfigError>(config, base);
  return base;
}

nlohmann::json to_json(const MonitorOptions& options) { return detail::options_to_json(options); }

MonitorOptions parse_monitor_options(const std::string& text, const std::string& source,
                                     MonitorOptions base) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number too large for a double is an out_of_range.
    throw ConfigError(fmt::format("config {}: not valid JSON ({})", source, e.what()));
  }
  try {
    return monitor_options_from_json(config, std::move(base));
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("config {}: {}", source, e.what()));
  }
}

MonitorOptions load_monitor_options(const std::string& path, MonitorOptions base) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("config '{}': cannot be read", path));
  std::stringstream text;
  text << in.rdbuf();
  return parse_monitor_options(text.str(), fmt::format("'{}'", path), std::move(base));
}

}  // namespace layerwatch
