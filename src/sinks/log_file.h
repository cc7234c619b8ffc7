#pragma once
// The file handling the text sinks share: create the directory, write whole lines, flush, and
// say which file and what to do when any of it fails.

#include <cstdio>
#include <string>

namespace layerwatch::detail {

/// Opens `path` for writing (truncating), creating its directory. Throws std::runtime_error
/// naming the path, the OS error and the option to change.
std::FILE* open_log_file(const std::string& path);
/// Writes `line` and a newline in one call. Throws std::runtime_error naming `path`.
void write_log_line(std::FILE* file, const std::string& line, const std::string& path);
/// Flushes `file` if open. Throws std::runtime_error naming `path`.
void flush_log_file(std::FILE* file, const std::string& path);
/// Closes `*file` if open and sets it to null.
void close_log_file(std::FILE** file);

}  // namespace layerwatch::detail
