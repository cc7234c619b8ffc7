#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "layerwatch/sinks/sink.h"
#include "sinks/console_sink.h"
#include "sinks/csv_sink.h"
#include "sinks/jsonl_sink.h"
#include "sinks/tensorboard_sink.h"

namespace layerwatch {
namespace {

std::string resolve(const std::string& path, const std::string& log_dir) {
  const std::filesystem::path p(path);
  return p.is_absolute() || log_dir.empty() ? path : (std::filesystem::path(log_dir) / p).string();
}

}  // namespace

nlohmann::json Sink::save_state() { return nullptr; }

void Sink::restore_state(const nlohmann::json& /*state*/) {}

std::shared_ptr<Sink> make_sink(const std::string& spec, const std::string& log_dir) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "console" && arg.empty()) return std::make_shared<ConsoleSink>();
  if (kind == "jsonl") {
    return std::make_shared<JsonlSink>(resolve(arg.empty() ? "convergence.jsonl" : arg, log_dir));
  }
  if (kind == "csv") {
    return std::make_shared<CsvSink>(resolve(arg.empty() ? "convergence.csv" : arg, log_dir));
  }
  if (kind == "tb") {
    return std::make_shared<TensorBoardSink>(arg.empty() ? log_dir : resolve(arg, log_dir));
  }
  throw std::invalid_argument(fmt::format(
      "unknown sink '{}': allowed are console, jsonl, jsonl:PATH, csv, csv:PATH, tb, tb:DIR",
      spec));
}

}  // namespace layerwatch
