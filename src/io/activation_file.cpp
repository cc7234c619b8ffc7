#include "layerwatch/io/activation_file.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "io/formats.h"
#include "pt_plugin_abi.h"

namespace layerwatch::io {
namespace {

std::filesystem::path executable_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : exe.parent_path();
}

// The plugin, or why it could not be loaded.
struct Plugin {
  PtReadFunction read = nullptr;
  std::string error;
};

// The plugin sits in ../lib beside bin/ both in the build tree and in an installed prefix.
Plugin load_plugin() {
  Plugin plugin;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("LAYERWATCH_PT_PLUGIN")) candidates.emplace_back(env);
  candidates.push_back((executable_dir() / ".." / "lib" / kPtPluginFile).string());
  candidates.push_back(kPtPluginFile);  // the loader's search path
  for (const auto& candidate : candidates) {
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      plugin.error = dlerror();
      continue;
    }
    plugin.read = reinterpret_cast<PtReadFunction>(dlsym(handle, kPtReadSymbol));
    if (plugin.read) break;
    plugin.error = fmt::format("{} has no symbol {}", candidate, kPtReadSymbol);
  }
  return plugin;
}

// Loaded once per process; a function-local static is initialised exactly once even when
// several threads read .pt files at the same time.
const Plugin& plugin() {
  static const Plugin loaded = load_plugin();
  return loaded;
}

}  // namespace

bool looks_like_torch_save(const char* bytes, size_t size) {
  const bool zip =
      size >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4;
  const bool pickle = size >= 2 && static_cast<unsigned char>(bytes[0]) == 0x80 &&
                      static_cast<unsigned char>(bytes[1]) <= 5;
  return zip || pickle;
}

std::string read_file_bytes(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw FileError(path, "cannot open file (missing or unreadable)");
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw FileError(path, "cannot open file (missing or unreadable)");
  std::string bytes(size, '\0');
  if (size && std::fread(bytes.data(), 1, size, file.get()) != size) {
    throw FileError(path, "read failed");
  }
  return bytes;
}

Array read_activation_file(const std::string& path) {
  if (std::filesystem::is_directory(path)) throw FileError(path, "is a directory, not a file");
  const std::string bytes = read_file_bytes(path);
  if (bytes.empty()) throw FileError(path, "file is empty");
  if (looks_like_npy(bytes.data(), bytes.size()))
    return parse_npy(path, bytes.data(), bytes.size());
  if (!looks_like_torch_save(bytes.data(), bytes.size()))
    throw FileError(path, "not a .npy or .pt file (unrecognised first bytes)");
  const Plugin& pt = plugin();
  if (!pt.read) {
    throw FileError(path, fmt::format("reading .pt files needs {} (built with LibTorch): {}",
                                      kPtPluginFile, pt.error));
  }
  Array array;
  std::string error;
  if (!pt.read(path, bytes, array, error)) throw FileError(path, error);
  return array;
}

}  // namespace layerwatch::io
