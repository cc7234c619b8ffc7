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
  probes_path_ = (p.parent_path() / "probes.jsonl").string();
  if (probes_path_ == path_) probes_path_ = (p.parent_path() / "probes.log.jsonl").string();
}

JsonlSink::~JsonlSink() { close(); }

void JsonlSink::open() {
  close();
  records_ = detail::open_log_file(path_, std::exchange(resume_records_, {}));
  try {
    events_ = detail::open_log_file(events_path_, std::exchange(resume_events_, {}));
    // The probe file is created at the first probe record; one left by an earlier run in this
    // directory goes now, and a resumed one is cut back to the checkpoint at once.
    if (resume_probes_) {
      probes_ = detail::open_log_file(probes_path_, std::exchange(resume_probes_, {}));
    } else {
      std::error_code ec;
      std::filesystem::remove(probes_path_, ec);
    }
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

void JsonlSink::write_probe(const ProbeRecord& record) {
  if (!probes_) probes_ = detail::open_log_file(probes_path_, {});
  detail::write_log_line(probes_, to_json(record).dump(), probes_path_);
}

void JsonlSink::end_epoch(int64_t /*epoch*/) { flush(); }

void JsonlSink::flush() {
  detail::flush_log_file(records_, path_);
  detail::flush_log_file(events_, events_path_);
  if (probes_) detail::flush_log_file(probes_, probes_path_);
}

nlohmann::json JsonlSink::save_state() {
  nlohmann::json state = {{"records", detail::log_file_position(records_, path_)},
                          {"events", detail::log_file_position(events_, events_path_)}};
  if (probes_) state["probes"] = detail::log_file_position(probes_, probes_path_);
  return state;
}

void JsonlSink::restore_state(const nlohmann::json& state) {
  if (!state.is_object()) return;
  resume_records_ = detail::resume_bytes(state.value("records", nlohmann::json()), path_);
  resume_events_ = detail::resume_bytes(state.value("events", nlohmann::json()), events_path_);
  if (state.contains("probes")) {
    resume_probes_ = detail::resume_bytes(state.at("probes"), probes_path_);
  }
}

void JsonlSink::close() {
  detail::close_log_file(&records_);
  detail::close_log_file(&events_);
  detail::close_log_file(&probes_);
}

}  // namespace layerwatch
