#include "sinks/jsonl_sink.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "log_file.h"
#include "sinks/record_json.h"

namespace layerwatch {

JsonlSink::JsonlSink(std::string path) : path_(std::move(path)) {
  const std::filesystem::path p(path_);
  events_path_ = (p.parent_path() / "events.jsonl").string();
  if (events_path_ == path_) events_path_ = (p.parent_path() / "events.log.jsonl").string();
}

JsonlSink::~JsonlSink() { close(); }

void JsonlSink::open() {
  close();
  records_ = detail::open_log_file(path_, std::exchange(resume_records_, {}));
  try {
    events_ = detail::open_log_file(events_path_, std::exchange(resume_events_, {}));
  } catch (...) {
    close();
    throw;
  }
}

void JsonlSink::write(const ConvergenceRecord& record) {
  detail::write_log_line(records_, to_json(record).dump(), path_);
}

void JsonlSink::write_event(const MonitorEvent& event) {
  detail::write_log_line(events_, to_json(event).dump(), events_path_);
}

void JsonlSink::end_epoch(int64_t /*epoch*/) { flush(); }

void JsonlSink::flush() {
  detail::flush_log_file(records_, path_);
  detail::flush_log_file(events_, events_path_);
}

nlohmann::json JsonlSink::save_state() {
  return {{"records", detail::log_file_position(records_, path_)},
          {"events", detail::log_file_position(events_, events_path_)}};
}

void JsonlSink::restore_state(const nlohmann::json& state) {
  if (!state.is_object()) return;
  resume_records_ = detail::resume_bytes(state.value("records", nlohmann::json()), path_);
  resume_events_ = detail::resume_bytes(state.value("events", nlohmann::json()), events_path_);
}

void JsonlSink::close() {
  detail::close_log_file(&records_);
  detail::close_log_file(&events_);
}

}  // namespace layerwatch
