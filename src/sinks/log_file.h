#pragma once
// The file handling the file sinks share: create the directory, write whole lines, flush, and
// say which file and what to do when any of it fails; and where a file stands at a checkpoint,
// to continue it after a resume.

#include <cstdint>
#include <cstdio>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace layerwatch::detail {

/// Opens `path` for writing, creating its directory: truncated, or with `resume_bytes`, cut to
/// that many bytes (what a run that died after the checkpoint wrote goes) and appended to. A
/// file shorter than `resume_bytes` is said on stderr and continued as it is. Throws
/// std::runtime_error naming the path, the OS error and the option to change.
std::FILE* open_log_file(const std::string& path, std::optional<uint64_t> resume_bytes = {});
/// Writes `line` and a newline in one call. Throws std::runtime_error naming `path`.
void write_log_line(std::FILE* file, const std::string& line, const std::string& path);
/// Flushes `file` if open. Throws std::runtime_error naming `path`.
void flush_log_file(std::FILE* file, const std::string& path);
/// Closes `*file` if open and sets it to null.
void close_log_file(std::FILE** file);

/// {"path": path, "bytes": size of the flushed file}: where `file` stands, for a checkpoint.
nlohmann::json log_file_position(std::FILE* file, const std::string& path);
/// The bytes to continue `path` from, if `position` (from `log_file_position`) is about it.
std::optional<uint64_t> resume_bytes(const nlohmann::json& position, const std::string& path);

}  // namespace layerwatch::detail
