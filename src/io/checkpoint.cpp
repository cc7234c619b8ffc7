#include "layerwatch/io/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/json_integer.h"
#include "sinks/tfrecord.h"

namespace layerwatch {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the checkpoint format stores little-endian integers and floats as they are");

constexpr std::string_view kMagic = "LWMONCKP";
constexpr std::string_view kEndMarker = "LWMONEND";
constexpr uint32_t kVersion = 1;
constexpr size_t kPrefixBytes = 8 + 4 + 8;  // magic, version, header size
constexpr size_t kSuffixBytes = 4 + 8;      // crc, end marker

template <typename T>
T read_le(std::string_view bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// A field of a snapshot entry, of the JSON type `check` accepts; a CheckpointError otherwise.
template <typename T>
T field(const nlohmann::json& entry, const char* key, size_t index, const std::string& source) {
  const auto it = entry.find(key);
  if (it != entry.end()) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (it->is_string()) return it->get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (it->is_boolean()) return it->get<bool>();
    } else if (const auto v = detail::json_int64(*it)) {
      return *v;
    }
  }
  throw CheckpointError(fmt::format("checkpoint {} is corrupt: snapshot {} has no valid '{}' field",
                                    source, index, key));
}

Snapshot decode_snapshot(const nlohmann::json& entry, size_t index, std::string_view data,
                         size_t* offset, const std::string& source) {
  if (!entry.is_object()) {
    throw CheckpointError(
        fmt::format("checkpoint {} is corrupt: snapshot {} is not an object", source, index));
  }
  Snapshot s;
  s.layer = field<std::string>(entry, "layer", index, source);
  s.step = field<int64_t>(entry, "step", index, source);
  s.epoch = field<int64_t>(entry, "epoch", index, source);
  s.probe_index = field<int64_t>(entry, "probe_index", index, source);
  s.rows_per_example = field<int64_t>(entry, "rows_per_example", index, source);
  const auto rows = field<int64_t>(entry, "rows", index, source);
  const auto cols = field<int64_t>(entry, "cols", index, source);
  const auto type = field<std::string>(entry, "type", index, source);
  if (type != "f32" && type != "f16") {
    throw CheckpointError(
        fmt::format("checkpoint {} is corrupt: snapshot {} has element type '{}' (f32 or f16)",
                    source, index, type));
  }
  const size_t element = type == "f32" ? 4 : 2;
  constexpr auto kMaxDim = int64_t{1} << 31;
  const size_t left = data.size() - *offset;
  if (rows < 0 || cols < 0 || rows > kMaxDim || cols > kMaxDim ||
      (cols > 0 && static_cast<uint64_t>(rows) > left / element / static_cast<uint64_t>(cols))) {
    throw CheckpointError(fmt::format(
        "checkpoint {} is corrupt: snapshot {} of '{}' claims {} x {} values, more than the {} "
        "bytes of data left",
        source, index, s.layer, rows, cols, left));
  }
  const size_t bytes = static_cast<size_t>(rows) * static_cast<size_t>(cols) * element;
  const char* begin = data.data() + *offset;
  if (element == 4) {
    s.values.resize(rows, cols);
    if (bytes > 0) std::memcpy(s.values.data(), begin, bytes);
  } else {
    s.half_values.resize(rows, cols);
    if (bytes > 0) std::memcpy(static_cast<void*>(s.half_values.data()), begin, bytes);
  }
  *offset += bytes;
  return s;
}

void check_io(bool ok, const char* what, const std::string& path) {
  if (!ok)
    throw std::runtime_error(fmt::format("{} '{}' failed: {}", what, path, std::strerror(errno)));
}

// Flushes a directory entry (the rename) to the disk; best effort where it is not supported.
void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string encode_checkpoint(const CheckpointContents& contents) {
  nlohmann::json header;
  header["state"] = contents.state;
  header["snapshots"] = nlohmann::json::array();
  size_t data_bytes = 0;
  for (const auto& item : contents.snapshots) {
    const Snapshot& s = *item.snapshot;
    header["snapshots"].push_back({{"layer", s.layer},
                                   {"step", s.step},
                                   {"epoch", s.epoch},
                                   {"probe_index", s.probe_index},
                                   {"rows_per_example", s.rows_per_example},
                                   {"rows", s.samples()},
                                   {"cols", s.features()},
                                   {"type", s.is_half() ? "f16" : "f32"},
                                   {"pinned", item.pinned}});
    data_bytes += s.bytes();
  }
  const std::string text = header.dump();
  std::string out;
  out.reserve(kPrefixBytes + text.size() + data_bytes + kSuffixBytes);
  out.append(kMagic);
  detail::append_le(&out, kVersion, 4);
  detail::append_le(&out, text.size(), 8);
  out.append(text);
  for (const auto& item : contents.snapshots) {
    const Snapshot& s = *item.snapshot;
    const char* data = s.is_half() ? reinterpret_cast<const char*>(s.half_values.data())
                                   : reinterpret_cast<const char*>(s.values.data());
    out.append(data, s.bytes());
  }
  detail::append_le(&out, detail::crc32c(out.data(), out.size()), 4);
  out.append(kEndMarker);
  return out;
}

CheckpointContents decode_checkpoint(std::string_view bytes, const std::string& source) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    throw CheckpointError(fmt::format(
        "{} is not a layerwatch monitor checkpoint (it does not start with \"{}\"); pass the "
        "file Monitor::save wrote",
        source, kMagic));
  }
  if (bytes.size() < kPrefixBytes + kSuffixBytes) {
    throw CheckpointError(fmt::format(
        "checkpoint {} is truncated: {} bytes, less than any checkpoint; it was cut off while "
        "being written, use an earlier one",
        source, bytes.size()));
  }
  const auto version = read_le<uint32_t>(bytes, 8);
  if (version != kVersion) {
    throw CheckpointError(
        fmt::format("checkpoint {} has format version {}; this layerwatch reads version {}", source,
                    version, kVersion));
  }
  if (bytes.substr(bytes.size() - kEndMarker.size()) != kEndMarker) {
    throw CheckpointError(fmt::format(
        "checkpoint {} is truncated ({} bytes, no end marker): it was cut off while being "
        "written; use an earlier checkpoint",
        source, bytes.size()));
  }
  const size_t crc_at = bytes.size() - kSuffixBytes;
  if (read_le<uint32_t>(bytes, crc_at) != detail::crc32c(bytes.data(), crc_at)) {
    throw CheckpointError(fmt::format(
        "checkpoint {} is corrupt: its checksum does not match its contents; use an earlier "
        "checkpoint",
        source));
  }
  const auto header_size = read_le<uint64_t>(bytes, 12);
  if (header_size > crc_at - kPrefixBytes) {
    throw CheckpointError(fmt::format(
        "checkpoint {} is corrupt: its header claims {} bytes, more than the file holds", source,
        header_size));
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(kPrefixBytes, header_size));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(
        fmt::format("checkpoint {} is corrupt: its header is not JSON ({})", source, e.what()));
  }
  if (!header.is_object() || !header.contains("state") || !header["state"].is_object() ||
      !header.contains("snapshots") || !header["snapshots"].is_array()) {
    throw CheckpointError(fmt::format(
        "checkpoint {} is corrupt: its header lacks the 'state' object or the 'snapshots' list",
        source));
  }
  CheckpointContents contents;
  contents.state = std::move(header["state"]);
  const std::string_view data = bytes.substr(0, crc_at);
  size_t offset = kPrefixBytes + header_size;
  const auto& entries = header["snapshots"];
  for (size_t i = 0; i < entries.size(); ++i) {
    const bool pinned = field<bool>(entries[i], "pinned", i, source);
    auto snapshot = decode_snapshot(entries[i], i, data, &offset, source);
    contents.snapshots.push_back({std::make_shared<const Snapshot>(std::move(snapshot)), pinned});
  }
  if (offset != data.size()) {
    throw CheckpointError(
        fmt::format("checkpoint {} is corrupt: {} bytes after the last snapshot's data", source,
                    data.size() - offset));
  }
  return contents;
}

void write_file_atomically(const std::string& path,
                           const std::function<void(const std::string& temporary)>& write) {
  const std::filesystem::path target(path);
  const std::string temporary =
      (target.parent_path() / fmt::format(".{}.tmp-{}", target.filename().string(), getpid()))
          .string();
  try {
    if (!target.parent_path().empty()) std::filesystem::create_directories(target.parent_path());
    write(temporary);
    // The data reach the disk before the rename makes them the file.
    const int fd = ::open(temporary.c_str(), O_RDONLY);
    check_io(fd >= 0, "opening", temporary);
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    check_io(synced, "syncing", temporary);
    check_io(std::rename(temporary.c_str(), path.c_str()) == 0, "renaming into", path);
  } catch (const std::exception& e) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw CheckpointError(
        fmt::format("cannot write '{}': {}; an earlier file of that name, if any, is untouched",
                    path, e.what()));
  }
  sync_directory(target.parent_path());
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_file_atomically(path, [&](const std::string& temporary) {
    std::FILE* file = std::fopen(temporary.c_str(), "wb");
    check_io(file != nullptr, "creating", temporary);
    const bool written =
        std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size() && std::fflush(file) == 0;
    const int saved_errno = errno;
    const bool closed = std::fclose(file) == 0;
    errno = written ? errno : saved_errno;
    check_io(written && closed, "writing", temporary);
  });
}

}  // namespace layerwatch
