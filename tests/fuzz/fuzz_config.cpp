// Fuzz target: the JSON config loader. Any input is either options that validate or a
// ConfigError naming the key.

#include <cstddef>
#include <cstdint>
#include <string>

#include "layerwatch/monitor_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    layerwatch::parse_monitor_options(text, "fuzz.json").validate();
  } catch (const layerwatch::ConfigError&) {
  }
  return 0;
}
