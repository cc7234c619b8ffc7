// Fuzz target: the JSONL run-log reader of `layerwatch report`. The input is split at its
// first two NUL bytes into convergence.jsonl, events.jsonl and probes.jsonl; bad lines become
// warnings, never exceptions.

#include <cstddef>
#include <cstdint>
#include <string>

#include "layerwatch/report/run_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string parts[3];
  size_t from = 0;
  for (int i = 0; i < 3 && from <= text.size(); ++i) {
    const auto end = i < 2 ? text.find('\0', from) : std::string::npos;
    parts[i] = text.substr(from, end == std::string::npos ? std::string::npos : end - from);
    if (end == std::string::npos) break;
    from = end + 1;
  }
  layerwatch::RunLog log;
  log.run_dir = "fuzz";
  layerwatch::parse_run_log_text(parts[0], parts[1], &log, parts[2]);
  return 0;
}
