#include "sinks/console_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace layerwatch {
namespace {

std::string trend(double now, double before) {
  if (!std::isfinite(now) || !std::isfinite(before)) return "";
  const double delta = now - before;
  if (std::abs(delta) < 5e-5) return "=  0.0000";
  return fmt::format("{} {:+.4f}", delta > 0 ? "▲" : "▼", delta);
}

std::string dims(const ConvergenceRecord& r) {
  if (r.kept_dims.size() != 2) return "";
  return fmt::format("dims {}/{}", r.kept_dims[0], r.kept_dims[1]);
}

}  // namespace

ConsoleSink::ConsoleSink(std::FILE* stream) : stream_(stream) {}

void ConsoleSink::write(const ConvergenceRecord& record) {
  if (!record.reference_layer.empty()) return;  // the layers × layers matrix is for the report
  if (std::find(layer_order_.begin(), layer_order_.end(), record.layer) == layer_order_.end()) {
    layer_order_.push_back(record.layer);
  }
  if (record.reference == Reference::kFinal) {
    final_[record.layer].push_back(record);
  } else {
    pending_[record.layer] = record;
  }
}

void ConsoleSink::layer_order(const std::vector<std::string>& layers) {
  for (const auto& layer : layers) {
    if (std::find(layer_order_.begin(), layer_order_.end(), layer) == layer_order_.end()) {
      layer_order_.push_back(layer);
    }
  }
}

void ConsoleSink::write_event(const MonitorEvent& event) {
  if (event.kind == MonitorEvent::Kind::kFreeze) {
    fmt::print(stream_, "  froze {} at epoch {} (step {}): {}\n", event.layer, event.epoch,
               event.step, event.message);
  } else if (event.kind != MonitorEvent::Kind::kNote) {
    fmt::print(stream_, "  layerwatch warning ({}): {}\n", to_string(event.kind), event.message);
  } else {
    fmt::print(stream_, "  layerwatch: {}\n", event.message);
  }
  std::fflush(stream_);
}

void ConsoleSink::end_epoch(int64_t epoch) {
  if (pending_.empty()) return;
  const auto& any = pending_.begin()->second;
  fmt::print(stream_, "epoch {} · {} vs {}\n", epoch, similarity::to_string(any.metric),
             to_string(any.reference));
  for (const auto& layer : layer_order_) {
    const auto it = pending_.find(layer);
    if (it == pending_.end()) continue;
    const auto& r = it->second;
    if (has_value(r.status)) {
      const auto last = last_value_.find(layer);
      fmt::print(stream_, "  {:<16} {:>7.4f}  {:<10} {}\n", layer, r.value,
                 last == last_value_.end() ? "" : trend(r.value, last->second), dims(r));
      last_value_[layer] = r.value;
    } else {
      fmt::print(stream_, "  {:<16} {:>7}  {}: {}\n", layer, "-", to_string(r.status), r.message);
    }
  }
  pending_.clear();
  std::fflush(stream_);
}

void ConsoleSink::close() {
  if (closed_) return;
  closed_ = true;
  if (final_.empty()) return;
  // Columns: the epochs of the stored snapshots (at most the last 12, to fit a terminal).
  std::vector<int64_t> epochs;
  for (const auto& [layer, records] : final_) {
    for (const auto& r : records) epochs.push_back(r.epoch);
  }
  std::sort(epochs.begin(), epochs.end());
  epochs.erase(std::unique(epochs.begin(), epochs.end()), epochs.end());
  if (epochs.size() > 12) epochs.erase(epochs.begin(), epochs.end() - 12);
  const auto metric = final_.begin()->second.front().metric;
  fmt::print(stream_, "learning dynamics · {} of each layer vs its final snapshot, by epoch\n",
             similarity::to_string(metric));
  fmt::print(stream_, "  {:<16}", "layer \\ epoch");
  for (const auto e : epochs) fmt::print(stream_, " {:>6}", e);
  fmt::print(stream_, "\n");
  for (const auto& layer : layer_order_) {
    const auto it = final_.find(layer);
    if (it == final_.end()) continue;
    fmt::print(stream_, "  {:<16}", layer);
    for (const auto e : epochs) {
      // The last snapshot of that epoch (several probe passes may share an epoch).
      const ConvergenceRecord* shown = nullptr;
      for (const auto& r : it->second) {
        if (r.epoch == e) shown = &r;
      }
      if (shown && has_value(shown->status)) {
        fmt::print(stream_, " {:>6.3f}", shown->value);
      } else {
        fmt::print(stream_, " {:>6}", "-");
      }
    }
    fmt::print(stream_, "\n");
  }
  std::fflush(stream_);
}

nlohmann::json ConsoleSink::save_state() {
  nlohmann::json shown = nlohmann::json::object();
  for (const auto& [layer, value] : last_value_) {
    if (std::isfinite(value)) shown[layer] = value;
  }
  return {{"layer_order", layer_order_}, {"last_value", shown}};
}

void ConsoleSink::restore_state(const nlohmann::json& state) {
  if (!state.is_object()) return;
  layer_order_ = state.value("layer_order", std::vector<std::string>{});
  last_value_ = state.value("last_value", std::map<std::string, double>{});
}

}  // namespace layerwatch
