#include "sinks/record_json.h"

#include "core/json_integer.h"
#include "core/parse_name.h"

#include <fmt/format.h>

#include <limits>
#include <type_traits>

#include <cmath>
#include <stdexcept>

namespace layerwatch {
namespace {

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

Status parse_status(const std::string& name) {
  return detail::parse_name(
      name,
      std::initializer_list<Status>{Status::kOk, Status::kRankDeficient, Status::kTooFewSamples,
                                    Status::kNonFinite, Status::kEmptyInput, Status::kZeroVariance,
                                    Status::kTooLarge, Status::kError},
      "status");
}

// An integer field: a JSON integer within int64_t. nlohmann converts a float such as 6e27 to an
// integer without a check, which is undefined behaviour; such a value is the wrong type here.
int64_t integer(const nlohmann::json& value, const char* key) {
  if (const auto v = detail::json_int64(value)) return *v;
  if (value.is_number_integer()) {
    throw std::invalid_argument(fmt::format("key '{}' is out of range ({})", key, value.dump()));
  }
  throw std::invalid_argument(
      fmt::format("key '{}' must be an integer, got {}", key, value.type_name()));
}

int64_t optional_integer(const nlohmann::json& o, const char* key, int64_t fallback) {
  return o.contains(key) ? integer(o.at(key), key) : fallback;
}

template <typename T>
T required(const nlohmann::json& o, const char* key) {
  if (!o.contains(key)) throw std::invalid_argument(fmt::format("missing key '{}'", key));
  if constexpr (std::is_integral_v<T>) {
    const int64_t value = integer(o.at(key), key);
    if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max()) {
      throw std::invalid_argument(fmt::format("key '{}' is out of range ({})", key, value));
    }
    return static_cast<T>(value);
  } else {
    try {
      return o.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument(
          fmt::format("key '{}' has the wrong type ({})", key, o.at(key).type_name()));
    }
  }
}

// A number, or null for NaN; read back as NaN.
double number_from(const nlohmann::json& o, const char* key) {
  if (!o.contains(key) || o.at(key).is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!o.at(key).is_number()) {
    throw std::invalid_argument(fmt::format("key '{}' must be a number or null", key));
  }
  return o.at(key).get<double>();
}

MonitorEvent::Kind parse_event_kind(const std::string& name) {
  using Kind = MonitorEvent::Kind;
  return detail::parse_name(name,
                            std::initializer_list<Kind>{
                                Kind::kSnapshotEvicted, Kind::kSnapshotRefused, Kind::kJobsSkipped,
                                Kind::kCaptureError, Kind::kSinkError, Kind::kFreeze, Kind::kNote},
                            "event");
}

void check_schema(const nlohmann::json& o, const char* what) {
  if (!o.is_object()) throw std::invalid_argument(fmt::format("{} must be a JSON object", what));
  const int version = required<int>(o, "schema_version");
  if (version != ConvergenceRecord::kSchemaVersion) {
    throw std::invalid_argument(
        fmt::format("schema_version {} is not supported (this build reads {})", version,
                    ConvergenceRecord::kSchemaVersion));
  }
}

}  // namespace

nlohmann::json to_json(const ConvergenceRecord& r) {
  nlohmann::json o;
  o["schema_version"] = ConvergenceRecord::kSchemaVersion;
  o["step"] = r.step;
  o["epoch"] = r.epoch;
  o["probe_index"] = r.probe_index;
  o["layer"] = r.layer;
  o["reference"] = to_string(r.reference);
  if (!r.reference_layer.empty()) o["reference_layer"] = r.reference_layer;
  o["reference_step"] = r.reference_step;
  o["reference_epoch"] = r.reference_epoch;
  o["metric"] = similarity::to_string(r.metric);
  o["value"] = number_or_null(r.value);
  o["status"] = to_string(r.status);
  o["kept_dims"] = r.kept_dims;
  if (std::isfinite(r.low) && std::isfinite(r.high)) o["interval"] = {r.low, r.high};
  o["compute_ms"] = std::round(r.compute_ms * 1000) / 1000;
  if (!r.message.empty()) o["message"] = r.message;
  return o;
}

nlohmann::json to_json(const MonitorEvent& e) {
  nlohmann::json o;
  o["schema_version"] = ConvergenceRecord::kSchemaVersion;
  o["event"] = to_string(e.kind);
  o["step"] = e.step;
  o["epoch"] = e.epoch;
  if (!e.layer.empty()) o["layer"] = e.layer;
  o["message"] = e.message;
  if (std::isfinite(e.value)) o["value"] = e.value;
  if (e.count != 0) o["count"] = e.count;
  return o;
}

ConvergenceRecord record_from_json(const nlohmann::json& o) {
  check_schema(o, "a record");
  ConvergenceRecord r;
  r.step = required<int64_t>(o, "step");
  r.epoch = required<int64_t>(o, "epoch");
  r.probe_index = optional_integer(o, "probe_index", 0);
  r.layer = required<std::string>(o, "layer");
  r.reference = parse_reference(required<std::string>(o, "reference"));
  r.reference_layer = o.value("reference_layer", std::string());
  r.reference_step = optional_integer(o, "reference_step", -1);
  r.reference_epoch = optional_integer(o, "reference_epoch", -1);
  r.metric = similarity::parse_metric(required<std::string>(o, "metric"));
  if (!o.contains("value")) throw std::invalid_argument("missing key 'value'");
  r.value = o.at("value").is_number() ? o.at("value").get<double>()
                                      : std::numeric_limits<double>::quiet_NaN();
  r.status = parse_status(required<std::string>(o, "status"));
  if (o.contains("kept_dims")) {
    if (!o.at("kept_dims").is_array())
      throw std::invalid_argument("key 'kept_dims' must be a list");
    for (const auto& dims : o.at("kept_dims")) r.kept_dims.push_back(integer(dims, "kept_dims"));
  }
  if (o.contains("interval")) {
    const auto& interval = o.at("interval");
    if (!interval.is_array() || interval.size() != 2 || !interval[0].is_number() ||
        !interval[1].is_number()) {
      throw std::invalid_argument("key 'interval' must be a list of two numbers");
    }
    r.low = interval[0].get<double>();
    r.high = interval[1].get<double>();
  }
  r.compute_ms = o.value("compute_ms", 0.0);
  r.message = o.value("message", std::string());
  return r;
}

MonitorEvent event_from_json(const nlohmann::json& o) {
  check_schema(o, "an event");
  MonitorEvent e;
  e.kind = parse_event_kind(required<std::string>(o, "event"));
  e.step = required<int64_t>(o, "step");
  e.epoch = required<int64_t>(o, "epoch");
  e.layer = o.value("layer", std::string());
  e.message = o.value("message", std::string());
  if (o.contains("value") && o.at("value").is_number()) e.value = o.at("value").get<double>();
  e.count = optional_integer(o, "count", 0);
  return e;
}

nlohmann::json to_json(const ProbeRecord& r) {
  nlohmann::json o;
  o["schema_version"] = ConvergenceRecord::kSchemaVersion;
  o["probe"] = to_string(r.kind);
  o["step"] = r.step;
  o["epoch"] = r.epoch;
  o["probe_index"] = r.probe_index;
  o["layer"] = r.layer;
  if (r.kind == ProbeRecord::Kind::kLinearProbe) {
    o["accuracy"] = number_or_null(r.accuracy);
    o["control_accuracy"] = number_or_null(r.control_accuracy);
    o["selectivity"] = number_or_null(r.selectivity);
    o["train_accuracy"] = number_or_null(r.train_accuracy);
  } else {
    o["class"] = r.class_index;
    o["value"] = number_or_null(r.value);
  }
  o["status"] = to_string(r.status);
  o["compute_ms"] = std::round(r.compute_ms * 1000) / 1000;
  if (!r.message.empty()) o["message"] = r.message;
  return o;
}

ProbeRecord probe_record_from_json(const nlohmann::json& o) {
  check_schema(o, "a probe record");
  ProbeRecord r;
  r.kind = detail::parse_name(required<std::string>(o, "probe"),
                              std::initializer_list<ProbeRecord::Kind>{
                                  ProbeRecord::Kind::kLinearProbe, ProbeRecord::Kind::kClassLogit},
                              "probe");
  r.step = required<int64_t>(o, "step");
  r.epoch = required<int64_t>(o, "epoch");
  r.probe_index = optional_integer(o, "probe_index", 0);
  r.layer = required<std::string>(o, "layer");
  if (r.kind == ProbeRecord::Kind::kLinearProbe) {
    r.accuracy = number_from(o, "accuracy");
    r.control_accuracy = number_from(o, "control_accuracy");
    r.selectivity = number_from(o, "selectivity");
    r.train_accuracy = number_from(o, "train_accuracy");
  } else {
    r.class_index = required<int64_t>(o, "class");
    r.value = number_from(o, "value");
  }
  r.status = parse_status(required<std::string>(o, "status"));
  r.compute_ms = number_from(o, "compute_ms");
  if (!std::isfinite(r.compute_ms)) r.compute_ms = 0;
  r.message = o.value("message", std::string());
  return r;
}

}  // namespace layerwatch
