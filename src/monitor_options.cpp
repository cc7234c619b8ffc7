#include "layerwatch/monitor_options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "layerwatch/sinks/sink.h"

namespace layerwatch {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& key, const std::string& what) {
  throw ConfigError(fmt::format("key '{}': {}", key, what));
}

int64_t integer_in(const json& v, const std::string& key, int64_t lo, int64_t hi) {
  if (!v.is_number_integer())
    fail(key, fmt::format("must be an integer in [{}, {}], got {}", lo, hi, v.dump()));
  const auto x = v.get<int64_t>();
  if (x < lo || x > hi) fail(key, fmt::format("must be in [{}, {}], got {}", lo, hi, x));
  return x;
}

bool boolean(const json& v, const std::string& key) {
  if (!v.is_boolean()) fail(key, fmt::format("must be true or false, got {}", v.dump()));
  return v.get<bool>();
}

std::string text(const json& v, const std::string& key) {
  if (!v.is_string()) fail(key, fmt::format("must be a string, got {}", v.dump()));
  return v.get<std::string>();
}

double number(const json& v, const std::string& key) {
  if (!v.is_number()) fail(key, fmt::format("must be a number, got {}", v.dump()));
  return v.get<double>();
}

// Parses with `parse` (which throws std::invalid_argument naming the allowed values).
template <typename Parse>
auto choice(const json& v, const std::string& key, Parse&& parse) {
  const auto name = text(v, key);
  try {
    return parse(name);
  } catch (const std::invalid_argument& e) {
    fail(key, e.what());
  }
}

similarity::Precision parse_precision(const std::string& name) {
  if (name == "float64") return similarity::Precision::kFloat64;
  if (name == "float32") return similarity::Precision::kFloat32;
  throw std::invalid_argument(
      fmt::format("unknown precision '{}': allowed are float64, float32", name));
}

using Setter = std::function<void(const json&, MonitorOptions&)>;
using FreezeSetter = std::function<void(const json&, FreezeOptions&)>;

double fraction(const json& v, const std::string& key, bool include_one) {
  const double x = number(v, key);
  if (!(x >= 0 && (include_one ? x <= 1 : x < 1))) {
    fail(key, fmt::format("must be in [0, 1{}, got {}", include_one ? "]" : ")", x));
  }
  return x;
}

const std::map<std::string, FreezeSetter>& freeze_setters() {
  static const std::map<std::string, FreezeSetter> kSetters = {
      {"policy",
       [](const json& v, FreezeOptions& o) {
         o.policy(choice(v, "freeze.policy", parse_freeze_policy));
       }},
      {"threshold",
       [](const json& v, FreezeOptions& o) {
         const double x = number(v, "freeze.threshold");
         if (!(x > 0 && x <= 1))
           fail("freeze.threshold", fmt::format("must be in (0, 1], got {}", x));
         o.threshold(x);
       }},
      {"patience", [](const json& v,
                      FreezeOptions& o) { o.patience(integer_in(v, "freeze.patience", 1, 1000)); }},
      {"min_epochs",
       [](const json& v, FreezeOptions& o) {
         o.min_epochs(integer_in(v, "freeze.min_epochs", 0, 100000));
       }},
      {"max_frozen_fraction",
       [](const json& v, FreezeOptions& o) {
         o.max_frozen_fraction(fraction(v, "freeze.max_frozen_fraction", true));
       }},
      {"planned_epochs",
       [](const json& v, FreezeOptions& o) {
         o.planned_epochs(integer_in(v, "freeze.planned_epochs", 0, 100000));
       }},
      {"linear_start",
       [](const json& v, FreezeOptions& o) {
         o.linear_start(fraction(v, "freeze.linear_start", false));
       }},
      {"wait_for_decisions",
       [](const json& v, FreezeOptions& o) {
         o.wait_for_decisions(boolean(v, "freeze.wait_for_decisions"));
       }},
  };
  return kSetters;
}

FreezeOptions freeze_options_from_json(const json& config, FreezeOptions base) {
  if (!config.is_object()) fail("freeze", fmt::format("must be an object, got {}", config.dump()));
  for (const auto& [key, value] : config.items()) {
    const auto it = freeze_setters().find(key);
    if (it == freeze_setters().end()) {
      std::vector<std::string> keys;
      for (const auto& [k, setter] : freeze_setters()) keys.push_back(k);
      fail("freeze." + key, fmt::format("unknown key; allowed keys are {}", fmt::join(keys, ", ")));
    }
    it->second(value, base);
  }
  return base;
}

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> kSetters = {
      {"metric",
       [](const json& v, MonitorOptions& o) {
         o.metric(choice(v, "metric", similarity::parse_metric));
       }},
      {"reference",
       [](const json& v, MonitorOptions& o) {
         const auto r = choice(v, "reference", parse_reference);
         if (r == Reference::kFinal) {
           fail("reference",
                "must be previous or first (final is always computed at finish; "
                "see final_pass)");
         }
         o.reference(r);
       }},
      {"reference_lag",
       [](const json& v, MonitorOptions& o) {
         o.reference_lag(integer_in(v, "reference_lag", 1, 1000));
       }},
      {"final_pass",
       [](const json& v, MonitorOptions& o) { o.final_pass(boolean(v, "final_pass")); }},
      {"report", [](const json& v, MonitorOptions& o) { o.report(boolean(v, "report")); }},
      {"layer_matrix",
       [](const json& v, MonitorOptions& o) { o.layer_matrix(boolean(v, "layer_matrix")); }},
      {"probe_every_n_steps",
       [](const json& v, MonitorOptions& o) {
         o.probe_every_n_steps(integer_in(v, "probe_every_n_steps", 0, int64_t{1} << 40));
       }},
      {"probes_per_epoch",
       [](const json& v, MonitorOptions& o) {
         o.probes_per_epoch(integer_in(v, "probes_per_epoch", 1, 1000));
       }},
      {"steps_per_epoch",
       [](const json& v, MonitorOptions& o) {
         o.steps_per_epoch(integer_in(v, "steps_per_epoch", 0, int64_t{1} << 40));
       }},
      {"probe_each_epoch",
       [](const json& v, MonitorOptions& o) {
         o.probe_each_epoch(boolean(v, "probe_each_epoch"));
       }},
      {"probe_at_start",
       [](const json& v, MonitorOptions& o) { o.probe_at_start(boolean(v, "probe_at_start")); }},
      {"probe_batch_size",
       [](const json& v, MonitorOptions& o) {
         o.probe_batch_size(integer_in(v, "probe_batch_size", 1, int64_t{1} << 20));
       }},
      {"sample_cap",
       [](const json& v, MonitorOptions& o) {
         o.sample_cap(integer_in(v, "sample_cap", 16, int64_t{1} << 26));
       }},
      {"conv_layout",
       [](const json& v, MonitorOptions& o) {
         o.conv_layout(choice(v, "conv_layout", similarity::parse_conv_layout));
       }},
      {"seed",
       [](const json& v, MonitorOptions& o) {
         o.seed(static_cast<uint64_t>(integer_in(v, "seed", 0, int64_t{1} << 62)));
       }},
      {"store_float16",
       [](const json& v, MonitorOptions& o) { o.store_float16(boolean(v, "store_float16")); }},
      {"history",
       [](const json& v, MonitorOptions& o) { o.history(integer_in(v, "history", 2, 100000)); }},
      {"memory_budget_mib",
       [](const json& v, MonitorOptions& o) {
         o.memory_budget(static_cast<std::size_t>(integer_in(v, "memory_budget_mib", 1, 1 << 20))
                         << 20);
       }},
      {"threads",
       [](const json& v, MonitorOptions& o) { o.threads(integer_in(v, "threads", 1, 64)); }},
      {"queue_policy",
       [](const json& v, MonitorOptions& o) {
         o.queue_policy(choice(v, "queue_policy", parse_queue_policy));
       }},
      {"queue_capacity",
       [](const json& v, MonitorOptions& o) {
         o.queue_capacity(integer_in(v, "queue_capacity", 1, 1 << 20));
       }},
      {"precision",
       [](const json& v, MonitorOptions& o) {
         o.precision(choice(v, "precision", parse_precision));
       }},
      {"svcca_keep",
       [](const json& v, MonitorOptions& o) {
         const double x = number(v, "svcca_keep");
         if (!(x > 0 && x <= 1)) fail("svcca_keep", fmt::format("must be in (0, 1], got {}", x));
         o.svcca_keep(x);
       }},
      {"rbf_threshold",
       [](const json& v, MonitorOptions& o) {
         const double x = number(v, "rbf_threshold");
         if (!(x > 0)) fail("rbf_threshold", fmt::format("must be > 0, got {}", x));
         o.rbf_threshold(x);
       }},
      {"log_dir",
       [](const json& v, MonitorOptions& o) {
         const auto dir = text(v, "log_dir");
         if (dir.empty()) fail("log_dir", "must not be empty");
         o.log_dir(dir);
       }},
      {"freeze",
       [](const json& v, MonitorOptions& o) { o.freeze(freeze_options_from_json(v, o.freeze())); }},
      {"sinks",
       [](const json& v, MonitorOptions& o) {
         if (!v.is_array())
           fail("sinks", fmt::format("must be an array of strings, got {}", v.dump()));
         std::vector<std::string> specs;
         for (const auto& s : v) {
           const auto spec = text(s, "sinks");
           try {
             make_sink(spec, "");  // checks the spec only; nothing is opened
           } catch (const std::invalid_argument& e) {
             fail("sinks", e.what());
           }
           specs.push_back(spec);
         }
         o.sinks(specs);
       }},
  };
  return kSetters;
}

}  // namespace

void MonitorOptions::validate() const {
  const auto range = [](const char* field, int64_t value, int64_t lo, int64_t hi) {
    if (value < lo || value > hi) {
      throw std::invalid_argument(
          fmt::format("MonitorOptions::{} must be in [{}, {}], got {}", field, lo, hi, value));
    }
  };
  if (reference_ == Reference::kFinal) {
    throw std::invalid_argument(
        "MonitorOptions::reference must be previous or first (final is computed at finish())");
  }
  range("reference_lag", reference_lag_, 1, 1000);
  range("probe_every_n_steps", probe_every_n_steps_, 0, int64_t{1} << 40);
  range("probes_per_epoch", probes_per_epoch_, 1, 1000);
  range("steps_per_epoch", steps_per_epoch_, 0, int64_t{1} << 40);
  range("probe_batch_size", probe_batch_size_, 1, int64_t{1} << 20);
  range("sample_cap", sample_cap_, 16, int64_t{1} << 26);
  range("history", history_, 2, 100000);
  range("threads", threads_, 1, 64);
  range("queue_capacity", queue_capacity_, 1, 1 << 20);
  if (memory_budget_ < (std::size_t{1} << 20)) {
    throw std::invalid_argument(fmt::format(
        "MonitorOptions::memory_budget must be at least 1 MiB, got {} bytes", memory_budget_));
  }
  if (!(svcca_keep_ > 0 && svcca_keep_ <= 1)) {
    throw std::invalid_argument(
        fmt::format("MonitorOptions::svcca_keep must be in (0, 1], got {}", svcca_keep_));
  }
  if (!(rbf_threshold_ > 0)) {
    throw std::invalid_argument(
        fmt::format("MonitorOptions::rbf_threshold must be > 0, got {}", rbf_threshold_));
  }
  if (log_dir_.empty()) throw std::invalid_argument("MonitorOptions::log_dir must not be empty");
  for (const auto& spec : sinks_) make_sink(spec, "");
  freeze_.validate();
  if (reference_lag_ > history_) {
    throw std::invalid_argument(fmt::format(
        "MonitorOptions::reference_lag ({}) must be at most history ({}), the snapshots kept "
        "per layer: the snapshot that many probe passes back must still be stored",
        reference_lag_, history_));
  }
  if (freeze_.policy() == FreezePolicyKind::kAdaptive && reference_ == Reference::kFirst) {
    throw std::invalid_argument(
        "MonitorOptions: freeze.policy adaptive needs reference previous: it freezes a layer "
        "once its similarity to its previous snapshot stays high, and with reference first "
        "there is none, so it would never freeze; set reference to previous or choose another "
        "freeze policy");
  }
}

AnalyzerOptions MonitorOptions::analyzer_options() const {
  similarity::MetricOptions metric_options;
  metric_options.svcca(similarity::SvccaOptions().keep(svcca_keep_));
  metric_options.rbf(similarity::RbfCkaOptions().threshold(rbf_threshold_));
  return AnalyzerOptions()
      .metric(metric_)
      .metric_options(metric_options)
      .precision(precision_)
      .reference(reference_)
      .reference_lag(reference_lag_)
      .final_pass(final_pass_)
      .layer_matrix(layer_matrix_)
      .threads(threads_)
      .queue_policy(queue_policy_)
      .queue_capacity(queue_capacity_)
      .store(SnapshotStoreOptions().capacity(history_).memory_budget(memory_budget_));
}

const std::vector<std::string>& monitor_option_keys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> keys;
    for (const auto& [key, setter] : setters()) keys.push_back(key);
    return keys;
  }();
  return kKeys;
}

MonitorOptions monitor_options_from_json(const json& config, MonitorOptions base) {
  if (!config.is_object()) {
    throw ConfigError(fmt::format("a config must be a JSON object, got {}", config.type_name()));
  }
  for (const auto& [key, value] : config.items()) {
    const auto it = setters().find(key);
    if (it == setters().end()) {
      throw ConfigError(fmt::format("unknown key '{}': allowed keys are {}", key,
                                    fmt::join(monitor_option_keys(), ", ")));
    }
    it->second(value, base);
  }
  return base;
}

MonitorOptions load_monitor_options(const std::string& path, MonitorOptions base) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("config '{}': cannot be read", path));
  std::stringstream text;
  text << in.rdbuf();
  json config;
  try {
    config = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw ConfigError(fmt::format("config '{}': not valid JSON ({})", path, e.what()));
  }
  try {
    return monitor_options_from_json(config, std::move(base));
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("config '{}': {}", path, e.what()));
  }
}

}  // namespace layerwatch
