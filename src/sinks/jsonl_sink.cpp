#include "layerwatch/sinks/jsonl_sink.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "layerwatch/sinks/record_json.h"

namespace layerwatch {
namespace {

std::FILE* open_for_writing(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw std::runtime_error(
          fmt::format("cannot create log directory '{}': {}; choose a writable log_dir",
                      parent.string(), ec.message()));
    }
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    throw std::runtime_error(fmt::format(
        "cannot write log file '{}': {}; choose a writable log_dir", path, std::strerror(errno)));
  }
  return f;
}

}  // namespace

JsonlSink::JsonlSink(std::string path) : path_(std::move(path)) {
  const std::filesystem::path p(path_);
  events_path_ = (p.parent_path() / "events.jsonl").string();
  if (events_path_ == path_) events_path_ = (p.parent_path() / "events.log.jsonl").string();
}

JsonlSink::~JsonlSink() { close(); }

void JsonlSink::open() {
  close();
  records_ = open_for_writing(path_);
  try {
    events_ = open_for_writing(events_path_);
  } catch (...) {
    close();
    throw;
  }
}

void JsonlSink::write_line(std::FILE* file, const std::string& line, const std::string& path) {
  if (!file) throw std::runtime_error(fmt::format("'{}' is not open", path));
  const std::string text = line + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file) != text.size()) {
    throw std::runtime_error(fmt::format("writing '{}' failed: {}", path, std::strerror(errno)));
  }
}

void JsonlSink::write(const ConvergenceRecord& record) {
  write_line(records_, to_json(record).dump(), path_);
}

void JsonlSink::write_event(const MonitorEvent& event) {
  write_line(events_, to_json(event).dump(), events_path_);
}

void JsonlSink::end_epoch(int64_t /*epoch*/) { flush(); }

void JsonlSink::flush() {
  for (auto* f : {records_, events_}) {
    if (f && std::fflush(f) != 0) {
      throw std::runtime_error(
          fmt::format("flushing '{}' failed: {}", path_, std::strerror(errno)));
    }
  }
}

void JsonlSink::close() {
  for (auto** f : {&records_, &events_}) {
    if (*f) std::fclose(*f);
    *f = nullptr;
  }
}

}  // namespace layerwatch
