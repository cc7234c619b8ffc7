#pragma once
// TFRecord framing, the container of TensorBoard event files: each record is
//   uint64 length (little endian) | uint32 masked CRC-32C of the length bytes |
//   payload | uint32 masked CRC-32C of the payload.

#include <cstddef>
#include <cstdint>
#include <string>

namespace layerwatch::detail {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `size` bytes, continuing `crc`.
uint32_t crc32c(const void* data, std::size_t size, uint32_t crc = 0) noexcept;

/// Appends the low `bytes` bytes of `value` to `out`, least significant first (the byte order
/// of TFRecord and of layerwatch's checkpoints, whatever the machine's).
void append_le(std::string* out, uint64_t value, int bytes);
/// TFRecord's masking of a CRC: rotate right by 15 bits, add 0xa282ead8.
uint32_t mask_crc(uint32_t crc) noexcept;
/// `payload` framed as one TFRecord.
std::string tfrecord_frame(const std::string& payload);

}  // namespace layerwatch::detail
