#pragma once
/// @file
/// The JSON form of records and events, shared by the JSONL sink and by readers of its files.
///
/// A record line: {"schema_version":1,"step":1407,"epoch":3,"probe_index":3,"layer":"features.0",
/// "reference":"previous","reference_step":938,"reference_epoch":2,"metric":"svcca",
/// "value":0.9712,"status":"ok","kept_dims":[12,13],"compute_ms":4.1}
/// plus "message" when there is one and "reference_layer" when the reference snapshot is of
/// another layer (the layers × layers matrix), and "interval":[low,high] when the record has a
/// bootstrap interval. A NaN value is written as null.
/// An event line: {"schema_version":1,"event":"jobs_skipped","step":…,"epoch":…,"layer":…,
/// "message":…,"value":…,"count":…}.

#include <nlohmann/json.hpp>

#include "layerwatch/analysis/records.h"

namespace layerwatch {

nlohmann::json to_json(const ConvergenceRecord& record);
nlohmann::json to_json(const MonitorEvent& event);
/// A probe record line: {"schema_version":1,"probe":"linear_probe","step":…,"epoch":…,
/// "probe_index":…,"layer":…,"accuracy":…,"control_accuracy":…,"selectivity":…,
/// "train_accuracy":…,"status":…} or {…,"probe":"class_logit",…,"class":3,"value":…,…}.
nlohmann::json to_json(const ProbeRecord& record);

/// Parses a record line's object; throws `std::invalid_argument` naming the missing or
/// malformed key.
ConvergenceRecord record_from_json(const nlohmann::json& object);
/// Parses an event line's object; throws `std::invalid_argument` naming the missing or
/// malformed key.
MonitorEvent event_from_json(const nlohmann::json& object);
/// Parses a probe record line's object; throws `std::invalid_argument` naming the missing or
/// malformed key.
ProbeRecord probe_record_from_json(const nlohmann::json& object);

}  // namespace layerwatch
