#include "layerwatch/report/run_log.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "sinks/record_json.h"

namespace layerwatch {
namespace {

namespace fs = std::filesystem;

// Past this many, bad lines are counted instead of listed one by one.
constexpr int kListedBadLines = 5;

// Calls `parse_line` on every line of `path`; a line that does not parse is skipped and
// named in `warnings` (a last line without its newline is called truncated).
void parse_jsonl(const std::string& text, const fs::path& path,
                 const std::function<void(const nlohmann::json&)>& parse_line,
                 std::vector<std::string>* warnings) {
  int bad = 0;
  std::size_t begin = 0;
  for (int64_t line_number = 1; begin < text.size(); ++line_number) {
    const std::size_t end = text.find('\n', begin);
    const bool complete = end != std::string::npos;
    const std::string line = text.substr(begin, complete ? end - begin : std::string::npos);
    begin = complete ? end + 1 : text.size();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      parse_line(nlohmann::json::parse(line));
    } catch (const std::exception& e) {
      if (++bad > kListedBadLines) continue;
      const std::string why = nlohmann::json::accept(line) ? e.what() : "not valid JSON";
      warnings->push_back(
          complete ? fmt::format("{} line {}: {}; skipped", path.string(), line_number, why)
                   : fmt::format("{} line {} is truncated (the run was killed or is still "
                                 "writing); skipped",
                                 path.string(), line_number));
    }
  }
  if (bad > kListedBadLines) {
    warnings->push_back(
        fmt::format("{}: {} more bad lines skipped", path.string(), bad - kListedBadLines));
  }
}

void read_jsonl(const fs::path& path, const std::function<void(const nlohmann::json&)>& parse_line,
                std::vector<std::string>* warnings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    warnings->push_back(fmt::format("cannot read {}; skipped", path.string()));
    return;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  parse_jsonl(buffer.str(), path, parse_line, warnings);
}

void add_record(RunLog* log, const nlohmann::json& o) {
  log->records.push_back(record_from_json(o));
}
void add_event(RunLog* log, const nlohmann::json& o) { log->events.push_back(event_from_json(o)); }
void add_probe(RunLog* log, const nlohmann::json& o) {
  log->probes.push_back(probe_record_from_json(o));
}

}  // namespace

RunLog read_run_log(const std::string& run_dir) {
  std::error_code ec;
  if (!fs::exists(run_dir, ec)) {
    throw std::runtime_error(
        fmt::format("run directory '{}' does not exist; pass the log_dir of a run", run_dir));
  }
  if (!fs::is_directory(run_dir, ec)) {
    throw std::runtime_error(
        fmt::format("'{}' is not a directory; pass the log_dir of a run", run_dir));
  }
  RunLog log;
  log.run_dir = run_dir;
  const fs::path dir(run_dir);
  const auto records_path = dir / "convergence.jsonl";
  if (fs::exists(records_path, ec)) {
    read_jsonl(
        records_path, [&](const nlohmann::json& o) { add_record(&log, o); }, &log.warnings);
  } else {
    log.warnings.push_back(
        fmt::format("{} has no convergence.jsonl (was the run's 'jsonl' sink enabled?)", run_dir));
  }
  const auto events_path = dir / "events.jsonl";
  if (fs::exists(events_path, ec)) {
    read_jsonl(
        events_path, [&](const nlohmann::json& o) { add_event(&log, o); }, &log.warnings);
  }
  const auto probes_path = dir / "probes.jsonl";
  if (fs::exists(probes_path, ec)) {
    read_jsonl(
        probes_path, [&](const nlohmann::json& o) { add_probe(&log, o); }, &log.warnings);
  }
  const auto summary_path = dir / "summary.json";
  if (fs::exists(summary_path, ec)) {
    std::ifstream in(summary_path);
    try {
      log.summary = nlohmann::json::parse(in);
      if (!log.summary.is_object()) throw std::invalid_argument("not a JSON object");
    } catch (const std::exception& e) {
      log.summary = nullptr;
      log.warnings.push_back(fmt::format("{}: {}; skipped", summary_path.string(), e.what()));
    }
  }
  return log;
}

void parse_run_log_text(const std::string& records_text, const std::string& events_text,
                        RunLog* log, const std::string& probes_text) {
  const fs::path dir(log->run_dir);
  parse_jsonl(
      records_text, dir / "convergence.jsonl", [&](const nlohmann::json& o) { add_record(log, o); },
      &log->warnings);
  parse_jsonl(
      events_text, dir / "events.jsonl", [&](const nlohmann::json& o) { add_event(log, o); },
      &log->warnings);
  parse_jsonl(
      probes_text, dir / "probes.jsonl", [&](const nlohmann::json& o) { add_probe(log, o); },
      &log->warnings);
}

}  // namespace layerwatch
