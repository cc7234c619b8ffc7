#include "sinks/tensorboard_sink.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "log_file.h"
#include "png.h"
#include "proto/tensorboard_event.pb.h"
#include "report/colormap.h"
#include "tfrecord.h"

namespace layerwatch {
namespace {

namespace tb = layerwatch::tensorboard;

double wall_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return "localhost";
  return buffer;
}

std::string tag_prefix(const ConvergenceRecord& r) {
  switch (r.reference) {
    case Reference::kPrevious:
      return "convergence";
    case Reference::kFirst:
      return "vs_first";
    case Reference::kFinal:
      return "learning_dynamics";
  }
  return "convergence";
}

// Image side per matrix cell, so that a handful of layers is still a visible picture.
constexpr int kCellPixels = 16;

}  // namespace

TensorBoardSink::TensorBoardSink(std::string dir) : dir_(std::move(dir)) {}

TensorBoardSink::~TensorBoardSink() { detail::close_log_file(&file_); }

void TensorBoardSink::open() {
  detail::close_log_file(&file_);
  const auto base = std::filesystem::path(dir_.empty() ? "." : dir_) /
                    fmt::format("events.out.tfevents.{}.{}.{}",
                                static_cast<int64_t>(wall_time_now()), host_name(), getpid());
  path_ = base.string();
  for (int n = 1; std::filesystem::exists(path_); ++n)
    path_ = fmt::format("{}.{}", base.string(), n);
  file_ = detail::open_log_file(path_);
  frozen_.clear();
  matrices_.clear();
  matrix_layer_order_.clear();
  last_step_ = 0;
  if (resume_.is_object()) {
    const auto& previous = resume_.value("file", nlohmann::json());
    const std::string previous_path = previous.value("path", std::string());
    if (const auto bytes = detail::resume_bytes(previous, previous_path)) {
      std::FILE* cut = detail::open_log_file(previous_path, bytes);
      detail::close_log_file(&cut);
    }
    for (const auto& layer : resume_.value("frozen", nlohmann::json::array()))
      if (layer.is_string()) frozen_.insert(layer.get<std::string>());
    last_step_ = resume_.value("last_step", int64_t{0});
    resume_ = nullptr;
  }
  tb::Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(0);
  event.set_file_version("brain.Event:2");
  append(event.SerializeAsString());
}

void TensorBoardSink::append(const std::string& serialized_event) {
  const std::string record = detail::tfrecord_frame(serialized_event);
  if (!file_) throw std::runtime_error(fmt::format("'{}' is not open", path_));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    throw std::runtime_error(fmt::format("writing '{}' failed", path_));
  }
}

void TensorBoardSink::write_scalar(const std::string& tag, int64_t step, double value) {
  tb::Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(step);
  auto* summary_value = event.mutable_summary()->add_value();
  summary_value->set_tag(tag);
  summary_value->set_simple_value(static_cast<float>(value));
  append(event.SerializeAsString());
}

void TensorBoardSink::write(const ConvergenceRecord& r) {
  last_step_ = std::max(last_step_, r.step);
  if (!has_value(r.status) || !std::isfinite(r.value)) return;
  const std::string metric = similarity::to_string(r.metric);
  if (!r.reference_layer.empty()) {
    auto& cell = matrices_[metric][{r.layer, r.reference_layer}];
    if (r.step >= cell.first) cell = {r.step, r.value};
    auto& order = matrix_layer_order_[metric];
    for (const auto* name : {&r.layer, &r.reference_layer}) {
      if (std::find(order.begin(), order.end(), *name) == order.end()) order.push_back(*name);
    }
    return;
  }
  write_scalar(fmt::format("{}/{}/{}", tag_prefix(r), metric, r.layer), r.step, r.value);
}

void TensorBoardSink::write_probe(const ProbeRecord& r) {
  if (!has_value(r.status)) return;
  if (r.kind == ProbeRecord::Kind::kClassLogit) {
    write_scalar(fmt::format("class_logit/{}/class_{}", r.layer, r.class_index), r.step, r.value);
    return;
  }
  write_scalar("probe/accuracy/" + r.layer, r.step, r.accuracy);
  write_scalar("probe/control_accuracy/" + r.layer, r.step, r.control_accuracy);
  write_scalar("probe/selectivity/" + r.layer, r.step, r.selectivity);
}

void TensorBoardSink::write_frozen_count(int64_t step) {
  write_scalar("freeze/frozen_layers", step, static_cast<double>(frozen_.size()));
}

void TensorBoardSink::write_event(const MonitorEvent& event) {
  if (event.kind != MonitorEvent::Kind::kFreeze) return;
  last_step_ = std::max(last_step_, event.step);
  frozen_.insert(event.layer);
  write_frozen_count(event.step);
}

void TensorBoardSink::end_epoch(int64_t /*epoch*/) {
  write_frozen_count(last_step_);
  flush();
}

nlohmann::json TensorBoardSink::save_state() {
  return {{"file", detail::log_file_position(file_, path_)},
          {"frozen", frozen_},
          {"last_step", last_step_}};
}

void TensorBoardSink::restore_state(const nlohmann::json& state) { resume_ = state; }

void TensorBoardSink::flush() { detail::flush_log_file(file_, path_); }

void TensorBoardSink::write_layer_matrices() {
  for (const auto& [metric, cells] : matrices_) {
    const auto& layers = matrix_layer_order_[metric];
    const int n = static_cast<int>(layers.size());
    const int side = n * kCellPixels;
    std::vector<uint8_t> rgb(static_cast<std::size_t>(side) * side * 3);
    for (int row = 0; row < n; ++row) {
      for (int col = 0; col < n; ++col) {
        const auto it = cells.find({layers[row], layers[col]});
        const double value =
            it == cells.end() ? std::numeric_limits<double>::quiet_NaN() : it->second.second;
        const auto colour = detail::viridis(value);
        for (int y = row * kCellPixels; y < (row + 1) * kCellPixels; ++y) {
          for (int x = col * kCellPixels; x < (col + 1) * kCellPixels; ++x) {
            uint8_t* pixel = &rgb[(static_cast<std::size_t>(y) * side + x) * 3];
            pixel[0] = colour.r;
            pixel[1] = colour.g;
            pixel[2] = colour.b;
          }
        }
      }
    }
    tb::Event event;
    event.set_wall_time(wall_time_now());
    event.set_step(last_step_);
    auto* value = event.mutable_summary()->add_value();
    value->set_tag("similarity_matrix/" + metric);
    auto* image = value->mutable_image();
    image->set_height(side);
    image->set_width(side);
    image->set_colorspace(3);
    image->set_encoded_image_string(detail::encode_png_rgb(side, side, rgb));
    append(event.SerializeAsString());
  }
}

void TensorBoardSink::close() {
  if (!file_) return;
  try {
    write_layer_matrices();
    flush();
  } catch (...) {
    detail::close_log_file(&file_);
    throw;
  }
  detail::close_log_file(&file_);
}

}  // namespace layerwatch
