#include "freeze/freeze_policy.h"

#include "core/parse_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

namespace layerwatch {

const char* to_string(FreezePolicyKind kind) noexcept {
  switch (kind) {
    case FreezePolicyKind::kNone:
      return "none";
    case FreezePolicyKind::kLinear:
      return "linear";
    case FreezePolicyKind::kAdaptive:
      return "adaptive";
    case FreezePolicyKind::kDrift:
      return "drift";
    case FreezePolicyKind::kForecast:
      return "forecast";
  }
  return "unknown";
}

FreezePolicyKind parse_freeze_policy(const std::string& name) {
  return detail::parse_name(
      name,
      std::initializer_list<FreezePolicyKind>{FreezePolicyKind::kNone, FreezePolicyKind::kLinear,
                                              FreezePolicyKind::kAdaptive, FreezePolicyKind::kDrift,
                                              FreezePolicyKind::kForecast},
      "freeze policy");
}

void FreezeOptions::check_relations() const {
  if (policy_ == FreezePolicyKind::kLinear && planned_epochs_ < 1) {
    throw std::invalid_argument(
        "FreezeOptions: the linear freeze policy needs the planned training length: set "
        "planned_epochs (config key freeze.planned_epochs) to at least 1");
  }
}

FreezePolicy::FreezePolicy(FreezeOptions options) : options_(std::move(options)) {
  validate_options(options_);
}

void FreezePolicy::set_layers(std::vector<std::string> layers) {
  std::lock_guard<std::mutex> lock(mutex_);
  layers_ = std::move(layers);
}

std::vector<FreezeDecision> FreezePolicy::take_decisions() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(pending_, {});
}

std::map<std::string, int64_t> FreezePolicy::decided() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return decided_;
}

size_t FreezePolicy::max_frozen_locked() const {
  return static_cast<size_t>(
      std::floor(options_.max_frozen_fraction() * static_cast<double>(layers_.size()) + 1e-9));
}

void FreezePolicy::freeze_locked(const std::string& layer, int64_t step, int64_t epoch,
                                 std::string reason, double value) {
  decided_[layer] = epoch;
  pending_.push_back(FreezeDecision{layer, step, epoch, std::move(reason), value});
}

void FreezePolicy::write(const ConvergenceRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (record.reference != Reference::kFinal) last_step_ = std::max(last_step_, record.step);
  if (options_.policy() != FreezePolicyKind::kAdaptive) return;
  // Only the online signal of the same layer counts (not final/matrix records).
  if (record.reference != Reference::kPrevious || !record.reference_layer.empty()) return;
  metric_ = record.metric;
  const bool converged = has_value(record.status) && record.value >= options_.threshold();
  streak_[record.layer] = converged ? streak_[record.layer] + 1 : 0;
  last_value_[record.layer] = record.value;
  decide_adaptive_locked(record.step, record.epoch);
}

void FreezePolicy::decide_adaptive_locked(int64_t step, int64_t epoch) {
  if (epoch < options_.min_epochs()) return;
  // Bottom-up: only the first unfrozen layer may freeze; a freeze may let the next one follow.
  for (const auto& layer : layers_) {
    if (decided_.count(layer)) continue;
    if (decided_.size() >= max_frozen_locked()) return;
    const auto streak = streak_.find(layer);
    if (streak == streak_.end() || streak->second < options_.patience()) return;
    freeze_locked(
        layer, step, epoch,
        fmt::format("{} {:.4f} >= {} for {} probe pass(es)", similarity::to_string(metric_),
                    last_value_[layer], options_.threshold(), streak->second),
        last_value_[layer]);
  }
}

void FreezePolicy::observe_drift(int64_t step, int64_t epoch,
                                 const std::map<std::string, double>& drift,
                                 double learning_rate_to_come) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_step_ = std::max(last_step_, step);
  if (options_.policy() == FreezePolicyKind::kDrift) decide_drift_locked(step, epoch, drift);
  if (options_.policy() == FreezePolicyKind::kForecast)
    decide_forecast_locked(step, epoch, drift, learning_rate_to_come);
}

double forecast_similarity(double drift, double learning_rate_to_come) {
  if (!std::isfinite(drift) || !std::isfinite(learning_rate_to_come))
    return std::numeric_limits<double>::quiet_NaN();
  return std::max(0.0, 1.0 - drift * std::max(0.0, learning_rate_to_come));
}

void FreezePolicy::decide_forecast_locked(int64_t step, int64_t epoch,
                                          const std::map<std::string, double>& drift,
                                          double learning_rate_to_come) {
  for (const auto& [layer, value] : drift)
    last_value_[layer] = forecast_similarity(value, learning_rate_to_come);
  // Bottom-up: the first unit not yet decided is the candidate; its freeze lets the next follow.
  for (const auto& layer : layers_) {
    if (decided_.count(layer)) continue;
    const auto value = drift.find(layer);
    if (value == drift.end()) return;  // not measured this pass: the streak waits
    const double forecast = forecast_similarity(value->second, learning_rate_to_come);
    const bool reached = std::isfinite(forecast) && forecast >= options_.forecast_similarity();
    streak_[layer] = reached ? streak_[layer] + 1 : 0;
    if (epoch < options_.min_epochs() || decided_.size() >= max_frozen_locked() ||
        streak_[layer] < options_.patience())
      return;
    freeze_locked(layer, step, epoch,
                  fmt::format("forecast similarity to the final output {:.4f} >= {} (drift per "
                              "unit of learning rate {:.4g} × {:.4g} still to come) for {} probe "
                              "pass(es)",
                              forecast, options_.forecast_similarity(), value->second,
                              learning_rate_to_come, streak_[layer]),
                  forecast);
  }
}

void FreezePolicy::decide_drift_locked(int64_t step, int64_t epoch,
                                       const std::map<std::string, double>& drift) {
  // The median over the units still training that have a value this pass.
  std::vector<double> training;
  for (const auto& layer : layers_) {
    const auto it = drift.find(layer);
    if (!decided_.count(layer) && it != drift.end() && std::isfinite(it->second))
      training.push_back(it->second);
  }
  for (const auto& [layer, value] : drift) last_value_[layer] = value;
  if (training.size() < 2) return;
  std::sort(training.begin(), training.end());
  const size_t n = training.size();
  const double median = n % 2 ? training[n / 2] : 0.5 * (training[n / 2 - 1] + training[n / 2]);
  const double limit = options_.drift_fraction() * median;
  // Bottom-up: the first unit not yet decided is the only candidate.
  const auto first = std::find_if(layers_.begin(), layers_.end(),
                                  [&](const std::string& l) { return !decided_.count(l); });
  if (first == layers_.end()) return;
  const auto value = drift.find(*first);
  const bool below = value != drift.end() && std::isfinite(value->second) && value->second < limit;
  streak_[*first] = below ? streak_[*first] + 1 : 0;
  if (epoch < options_.min_epochs() || decided_.size() >= max_frozen_locked() ||
      streak_[*first] < options_.patience())
    return;
  freeze_locked(*first, step, epoch,
                fmt::format("drift per unit of learning rate {:.4g} < {} × {:.4g} (the median of "
                            "the {} units still training) for {} probe pass(es)",
                            value->second, options_.drift_fraction(), median, n, streak_[*first]),
                value->second);
}

void FreezePolicy::end_epoch(int64_t epoch) {
  if (options_.policy() != FreezePolicyKind::kLinear) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const double planned = static_cast<double>(options_.planned_epochs());
  const double start = options_.linear_start() * planned;
  const double count = static_cast<double>(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    const auto& layer = layers_[i];
    if (decided_.count(layer)) continue;
    const double fraction =
        std::min(1.0, options_.linear_pace() * static_cast<double>(i + 1) / count);
    const double due = start + (planned - start) * fraction;
    if (static_cast<double>(epoch) + 1e-9 < due) break;
    freeze_locked(
        layer, last_step_, epoch,
        fmt::format("linear schedule (pace {}): layer {} of {} due after epoch {:.2f} of {}",
                    options_.linear_pace(), i + 1, layers_.size(), due, options_.planned_epochs()),
        std::nan(""));
  }
}

namespace {

// NaN (the linear schedule's "no signal") as JSON null and back.
nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}
double number_or_nan(const nlohmann::json& value) {
  return value.is_number() ? value.get<double>() : std::nan("");
}

}  // namespace

nlohmann::json to_json(const FreezeDecision& d) {
  return {{"layer", d.layer},
          {"step", d.step},
          {"epoch", d.epoch},
          {"reason", d.reason},
          {"value", number_or_null(d.value)}};
}

FreezeDecision decision_from_json(const nlohmann::json& d) {
  return FreezeDecision{d.at("layer").get<std::string>(), d.at("step").get<int64_t>(),
                        d.at("epoch").get<int64_t>(), d.at("reason").get<std::string>(),
                        number_or_nan(d.at("value"))};
}

nlohmann::json FreezePolicy::save_state() {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json last_value = nlohmann::json::object();
  for (const auto& [layer, value] : last_value_) last_value[layer] = number_or_null(value);
  nlohmann::json pending = nlohmann::json::array();
  for (const auto& d : pending_) pending.push_back(to_json(d));
  return {{"streak", streak_},
          {"last_value", last_value},
          {"decided", decided_},
          {"pending", pending},
          {"metric", similarity::to_string(metric_)},
          {"last_step", last_step_}};
}

void FreezePolicy::restore_state(const nlohmann::json& state) {
  if (!state.is_object()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  streak_ = state.value("streak", std::map<std::string, int64_t>{});
  decided_ = state.value("decided", std::map<std::string, int64_t>{});
  last_value_.clear();
  const auto last_values = state.value("last_value", nlohmann::json::object());
  for (const auto& [layer, value] : last_values.items()) last_value_[layer] = number_or_nan(value);
  pending_.clear();
  const auto pending = state.value("pending", nlohmann::json::array());
  for (const auto& d : pending) pending_.push_back(decision_from_json(d));
  metric_ = similarity::parse_metric(state.value("metric", std::string("svcca")));
  last_step_ = state.value("last_step", int64_t{0});
}

}  // namespace layerwatch
