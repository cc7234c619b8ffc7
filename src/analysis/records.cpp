#include "layerwatch/analysis/records.h"

#include "core/parse_name.h"

#include <fmt/format.h>

#include <stdexcept>

namespace layerwatch {

const char* to_string(Reference reference) noexcept {
  switch (reference) {
    case Reference::kPrevious:
      return "previous";
    case Reference::kFirst:
      return "first";
    case Reference::kFinal:
      return "final";
  }
  return "unknown";
}

Reference parse_reference(const std::string& name) {
  return detail::parse_name(
      name,
      std::initializer_list<Reference>{Reference::kPrevious, Reference::kFirst, Reference::kFinal},
      "reference");
}

const char* to_string(ProbeRecord::Kind kind) noexcept {
  return kind == ProbeRecord::Kind::kLinearProbe ? "linear_probe" : "class_logit";
}

const char* to_string(MonitorEvent::Kind kind) noexcept {
  using Kind = MonitorEvent::Kind;
  switch (kind) {
    case Kind::kSnapshotEvicted:
      return "snapshot_evicted";
    case Kind::kSnapshotRefused:
      return "snapshot_refused";
    case Kind::kJobsSkipped:
      return "jobs_skipped";
    case Kind::kCaptureError:
      return "capture_error";
    case Kind::kSinkError:
      return "sink_error";
    case Kind::kFreeze:
      return "freeze";
    case Kind::kNote:
      return "note";
  }
  return "unknown";
}

}  // namespace layerwatch
