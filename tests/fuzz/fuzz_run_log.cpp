// Fuzz target: the JSONL run-log reader of `layerwatch report`. The input is split at its
// first NUL byte into convergence.jsonl and events.jsonl; bad lines become warnings, never
// exceptions.

#include <cstddef>
#include <cstdint>
#include <string>

#include "layerwatch/report/run_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto split = text.find('\0');
  layerwatch::RunLog log;
  log.run_dir = "fuzz";
  layerwatch::parse_run_log_text(text.substr(0, split),
                                 split == std::string::npos ? "" : text.substr(split + 1), &log);
  return 0;
}
