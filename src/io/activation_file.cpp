#include "layerwatch/io/activation_file.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

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

namespace {

struct OpenFile {
  std::unique_ptr<FILE, int (*)(FILE*)> file;
  std::uintmax_t size;
};

// `path` opened for reading, with its size; a FileError naming it when either fails.
OpenFile open_for_reading(const std::string& path) {
  OpenFile open{{std::fopen(path.c_str(), "rb"), &std::fclose}, 0};
  std::error_code ec;
  open.size = std::filesystem::file_size(path, ec);
  if (!open.file || ec) throw FileError(path, "cannot open file (missing or unreadable)");
  return open;
}

}  // namespace

std::string read_file_bytes(const std::string& path) {
  const auto [file, size] = open_for_reading(path);
  std::string bytes;
  // Read into reserved space without zero-filling it first.
  bytes.reserve(size);
  std::vector<char> chunk(std::min<std::uintmax_t>(size, 1 << 20));
  for (size_t got; (got = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0;) {
    bytes.append(chunk.data(), got);
  }
  if (bytes.size() != size) throw FileError(path, "read failed");
  return bytes;
}

namespace {

// The rows of a 2-D, C-order, native-endian `.npy` file read in chunks straight into a
// column-major matrix: no copy of the whole file and no intermediate array.
Matrix stream_npy_rows(const std::string& path, std::FILE* file, const NpyHeader& header) {
  const Eigen::Index n = header.shape[0], p = header.shape[1];
  Matrix matrix(header.dtype, n, p);
  if (std::fseek(file, static_cast<long>(header.data_offset), SEEK_SET) != 0) {
    throw FileError(path, "read failed");
  }
  matrix.visit([&](auto& out) {
    using Scalar = typename std::decay_t<decltype(out)>::Scalar;
    using RowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Index chunk_rows = std::max<Eigen::Index>(
        1, (Eigen::Index{1} << 20) / std::max<Eigen::Index>(1, p * Eigen::Index{sizeof(Scalar)}));
    RowMajor chunk(std::min(chunk_rows, n), p);
    for (Eigen::Index row = 0; row < n; row += chunk_rows) {
      const Eigen::Index rows = std::min(chunk_rows, n - row);
      const size_t bytes = static_cast<size_t>(rows * p) * sizeof(Scalar);
      if (std::fread(chunk.data(), 1, bytes, file) != bytes) throw FileError(path, "read failed");
      out.middleRows(row, rows) = chunk.topRows(rows);
    }
  });
  return matrix;
}

}  // namespace

Matrix read_sample_matrix(const std::string& path, const similarity::ConvLayoutOptions& conv,
                          std::vector<int64_t>* shape) {
  if (std::filesystem::is_directory(path)) throw FileError(path, "is a directory, not a file");
  auto [file, size] = open_for_reading(path);
  // The first kilobytes say what the file is; a plain 2-D .npy is streamed from there.
  std::vector<char> head(std::min<std::uintmax_t>(size, 1 << 16));
  if (!head.empty() && std::fread(head.data(), 1, head.size(), file.get()) != head.size()) {
    throw FileError(path, "read failed");
  }
  if (looks_like_npy(head.data(), head.size())) {
    const NpyHeader header = parse_npy_header(path, head.data(), head.size(), size);
    if (header.complete && header.shape.size() == 2 && !header.fortran && !header.swap) {
      if (shape) *shape = header.shape;
      return stream_npy_rows(path, file.get(), header);
    }
  }
  file.reset();
  const Array array = read_activation_file(path);
  if (shape) *shape = array.shape;
  try {
    return to_sample_matrix(array, conv);
  } catch (const std::invalid_argument& e) {
    throw FileError(path, e.what());
  }
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
