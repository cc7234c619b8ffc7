// Fuzz target: the monitor's checkpoint reader. The checksum is set right before decoding, so
// the fuzzer reaches the header and snapshot parsing behind it; any input is either contents
// or a CheckpointError.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "layerwatch/io/checkpoint.h"
#include "sinks/tfrecord.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() >= 12) {
    const size_t crc_at = bytes.size() - 12;
    const uint32_t crc = layerwatch::detail::crc32c(bytes.data(), crc_at);
    std::memcpy(&bytes[crc_at], &crc, sizeof(crc));
  }
  try {
    const auto contents = layerwatch::decode_checkpoint(bytes, "fuzz.ckpt");
    (void)contents;
  } catch (const layerwatch::CheckpointError&) {
  }
  return 0;
}
