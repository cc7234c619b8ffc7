#include "log_file.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

namespace layerwatch::detail {
namespace {

// Cuts `path` to `bytes` for a resume; says so when it holds less than that.
void cut_for_resume(const std::string& path, uint64_t bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size < bytes) {
    fmt::print(stderr,
               "layerwatch: resuming '{}': the checkpoint expected {} bytes but the file holds "
               "{}; the log continues after what is there\n",
               path, bytes, ec ? std::string("none (missing)") : std::to_string(size));
    return;
  }
  if (size > bytes) std::filesystem::resize_file(path, bytes, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot cut '{}' back to the checkpoint's {} bytes: {}",
                                         path, bytes, ec.message()));
  }
}

}  // namespace

std::FILE* open_log_file(const std::string& path, std::optional<uint64_t> resume_bytes) {
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
  if (resume_bytes) cut_for_resume(path, *resume_bytes);
  std::FILE* f = std::fopen(path.c_str(), resume_bytes ? "a" : "w");
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

nlohmann::json log_file_position(std::FILE* file, const std::string& path) {
  if (!file) return nullptr;
  flush_log_file(file, path);
  struct stat info {};
  if (fstat(fileno(file), &info) != 0) {
    throw std::runtime_error(
        fmt::format("cannot tell the size of '{}': {}", path, std::strerror(errno)));
  }
  return {{"path", path}, {"bytes", static_cast<uint64_t>(info.st_size)}};
}

std::optional<uint64_t> resume_bytes(const nlohmann::json& position, const std::string& path) {
  if (!position.is_object() || position.value("path", std::string()) != path) return {};
  const auto bytes = position.find("bytes");
  if (bytes == position.end() || !bytes->is_number_unsigned()) return {};
  return bytes->get<uint64_t>();
}

}  // namespace layerwatch::detail
