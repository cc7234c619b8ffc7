#include "sinks/csv_sink.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "log_file.h"

namespace layerwatch {
namespace {

// RFC 4180 quoting, only where needed (layer names are usually plain).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// A value with 6 significant digits, or an empty field when there is none.
std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string(); }

}  // namespace

CsvSink::CsvSink(std::string path) : path_(std::move(path)) {}

CsvSink::~CsvSink() { close(); }

void CsvSink::open() {
  close();
  const auto resume = std::exchange(resume_, {});
  file_ = detail::open_log_file(path_, resume);
  if (!resume)
    detail::write_log_line(file_, "step,epoch,layer,reference,metric,value,status,low,high", path_);
}

void CsvSink::write(const ConvergenceRecord& r) {
  std::string reference = to_string(r.reference);
  if (!r.reference_layer.empty()) reference += ":" + r.reference_layer;
  detail::write_log_line(
      file_,
      fmt::format("{},{},{},{},{},{},{},{},{}", r.step, r.epoch, csv_field(r.layer),
                  csv_field(reference), similarity::to_string(r.metric), number(r.value),
                  to_string(r.status), number(r.low), number(r.high)),
      path_);
}

void CsvSink::end_epoch(int64_t /*epoch*/) { flush(); }

void CsvSink::flush() { detail::flush_log_file(file_, path_); }

nlohmann::json CsvSink::save_state() { return detail::log_file_position(file_, path_); }

void CsvSink::restore_state(const nlohmann::json& state) {
  resume_ = detail::resume_bytes(state, path_);
}

void CsvSink::close() { detail::close_log_file(&file_); }

}  // namespace layerwatch
