// Fuzz target: the .npy reader. Any input is either an array or a FileError naming the problem.

#include <cstddef>
#include <cstdint>

#include "io/formats.h"
#include "layerwatch/io/array.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto array =
        layerwatch::io::parse_npy("fuzz.npy", reinterpret_cast<const char*>(data), size);
    (void)array;
  } catch (const layerwatch::io::FileError&) {
  }
  return 0;
}
