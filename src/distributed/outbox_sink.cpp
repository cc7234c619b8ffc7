#include "distributed/outbox_sink.h"

#include <fmt/format.h>

#include "sinks/record_json.h"

namespace layerwatch::detail {

void OutboxSink::write(const ConvergenceRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back({{"record", to_json(record)}});
}

void OutboxSink::write_event(const MonitorEvent& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back({{"event", to_json(event)}});
}

void OutboxSink::write_probe(const ProbeRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back({{"probe", to_json(record)}});
}

std::string OutboxSink::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (items_.empty()) return "";
  std::string text = items_.dump();
  items_ = nlohmann::json::array();
  return text;
}

void deliver_outbox(const std::string& text, int rank, Analyzer& analyzer) {
  if (text.empty()) return;
  const auto items = nlohmann::json::parse(text);
  for (const auto& item : items) {
    if (item.contains("record")) {
      analyzer.add_record(record_from_json(item["record"]));
    } else if (item.contains("probe")) {
      analyzer.add_probe_records({probe_record_from_json(item["probe"])});
    } else if (item.contains("event")) {
      auto event = event_from_json(item["event"]);
      event.message = fmt::format("rank {}: {}", rank, event.message);
      analyzer.add_event(std::move(event));
    }
  }
}

}  // namespace layerwatch::detail
