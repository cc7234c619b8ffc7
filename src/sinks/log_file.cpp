#include "log_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace layerwatch::detail {

std::FILE* open_log_file(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw std::runtime_error(
          fmt::format("cannot create log directory '{}': {}; choose a writable log_dir",
                      parent.string(), ec.message()));
    }
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    throw std::runtime_error(fmt::format(
        "cannot write log file '{}': {}; choose a writable log_dir", path, std::strerror(errno)));
  }
  return f;
}

void write_log_line(std::FILE* file, const std::string& line, const std::string& path) {
  if (!file) throw std::runtime_error(fmt::format("'{}' is not open", path));
  const std::string text = line + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file) != text.size()) {
    throw std::runtime_error(fmt::format("writing '{}' failed: {}", path, std::strerror(errno)));
  }
}

void flush_log_file(std::FILE* file, const std::string& path) {
  if (file && std::fflush(file) != 0) {
    throw std::runtime_error(fmt::format("flushing '{}' failed: {}", path, std::strerror(errno)));
  }
}

void close_log_file(std::FILE** file) {
  if (*file) std::fclose(*file);
  *file = nullptr;
}

}  // namespace layerwatch::detail
