#pragma once
/// @file
/// The monitor's checkpoint format, and writing files so that a crash never leaves half of one.
/// Torch-free: `Monitor::save` / `Monitor::load` (torch/monitor.h) put the bytes in a file of
/// their own or inside a `torch::serialize::OutputArchive`.
///
/// Layout, all integers little endian:
///
///   "LWMONCKP"            8 bytes, the magic
///   uint32 version        1
///   uint64 header_size    then header_size bytes of JSON (UTF-8): the state, and per snapshot
///                         its layer, step, epoch, probe index, rows, columns, element type
///                         ("f32" or "f16") and whether the store pinned it
///   snapshot data         each snapshot's column-major matrix, in the header's order
///   uint32 crc            CRC-32C of every byte before it
///   "LWMONEND"            8 bytes, so that a truncated file is told from a corrupt one
///
/// `decode_checkpoint` checks every size against the bytes it has before reading, so a
/// truncated, corrupt or hostile file is a `CheckpointError` naming the file and the problem,
/// never a crash.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "layerwatch/core/snapshot.h"

namespace layerwatch {

/// A checkpoint that cannot be written, read or used; the message names the file and what is
/// wrong with it.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A snapshot as a checkpoint holds it.
struct CheckpointSnapshot {
  std::shared_ptr<const Snapshot> snapshot;
  bool pinned = false;  ///< Kept as the layer's `first` reference.
};

/// What a checkpoint holds: the state as JSON, and the stored snapshots in store order.
struct CheckpointContents {
  nlohmann::json state;
  std::vector<CheckpointSnapshot> snapshots;
};

/// The checkpoint bytes of `contents` (layout in the file comment).
std::string encode_checkpoint(const CheckpointContents& contents);

/// Parses checkpoint bytes; `source` names them in messages (a path, or "archive key …").
/// Throws `CheckpointError` for anything that is not a complete, intact checkpoint.
CheckpointContents decode_checkpoint(std::string_view bytes, const std::string& source);

/// Writes `path` so that it is either its old self or completely new, also after a crash or a
/// full disk: `write` fills a temporary file beside it (given its path), which is flushed to
/// the disk and renamed over `path`. On failure the temporary file is removed, `path` is
/// untouched, and `CheckpointError` names `path` and the error.
void write_file_atomically(const std::string& path,
                           const std::function<void(const std::string& temporary)>& write);
/// `write_file_atomically` for bytes in memory.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace layerwatch
