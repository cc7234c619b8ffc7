#include "layerwatch/io/npy.h"

#include "io/formats.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <limits>

namespace layerwatch::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// Value text of `'key': value` inside the header dict, up to the next top-level comma.
std::string dict_value(const std::string& name, const std::string& header, const std::string& key) {
  for (const char quote : {'\'', '"'}) {
    const std::string pattern = std::string(1, quote) + key + std::string(1, quote);
    auto pos = header.find(pattern);
    if (pos == std::string::npos) continue;
    pos = header.find(':', pos + pattern.size());
    if (pos == std::string::npos) break;
    ++pos;
    while (pos < header.size() && header[pos] == ' ') ++pos;
    size_t end = pos;
    int depth = 0;
    while (end < header.size()) {
      const char c = header[end];
      if (c == '(' || c == '[') ++depth;
      if (c == ')' || c == ']') --depth;
      if ((c == ',' && depth == 0) || (c == '}' && depth == 0)) break;
      ++end;
    }
    return header.substr(pos, end - pos);
  }
  throw FileError(name, fmt::format("invalid .npy header: no '{}' entry", key));
}

std::string strip(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\'' || s.back() == '"')) s.pop_back();
  size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\'' || s[start] == '"')) ++start;
  return s.substr(start);
}

std::vector<int64_t> parse_shape(const std::string& name, const std::string& text) {
  std::vector<int64_t> shape;
  if (text.empty() || text.front() != '(' || text.back() != ')') {
    throw FileError(name, fmt::format("invalid .npy header: shape '{}' is not a tuple", text));
  }
  size_t i = 1;
  while (i < text.size() - 1) {
    while (i < text.size() - 1 && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() - 1) break;
    size_t end = i;
    while (end < text.size() - 1 && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == i || end - i > 15) {
      throw FileError(name, fmt::format("invalid .npy header: bad shape '{}'", text));
    }
    shape.push_back(std::stoll(text.substr(i, end - i)));
    i = end;
  }
  return shape;
}

uint32_t little_endian(const unsigned char* p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

template <typename T>
void byteswap_all(std::vector<T>& values) {
  for (auto& v : values) {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(bytes[i], bytes[sizeof(T) - 1 - i]);
    std::memcpy(&v, bytes, sizeof(T));
  }
}

// Fortran order holds the reversed shape in C order; transposing the index order restores it.
template <typename T>
std::vector<T> fortran_to_c(const std::vector<T>& in, const std::vector<int64_t>& shape) {
  const size_t rank = shape.size();
  if (rank < 2) return in;
  std::vector<T> out(in.size());
  std::vector<int64_t> index(rank, 0);
  for (size_t linear_f = 0; linear_f < in.size(); ++linear_f) {
    // index runs fastest over the first axis (Fortran order)
    size_t linear_c = 0;
    for (size_t a = 0; a < rank; ++a) linear_c = linear_c * shape[a] + index[a];
    out[linear_c] = in[linear_f];
    for (size_t a = 0; a < rank; ++a) {
      if (++index[a] < shape[a]) break;
      index[a] = 0;
    }
  }
  return out;
}

template <typename T>
void load_values(const char* data, size_t count, bool swap, bool fortran,
                 const std::vector<int64_t>& shape, std::vector<T>& out) {
  // Copied element by element (the data may sit at any byte offset); no zero-filling first.
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, data + i * sizeof(T), sizeof(T));
    out.push_back(value);
  }
  if (swap) byteswap_all(out);
  if (fortran) out = fortran_to_c(out, shape);
}

}  // namespace

bool looks_like_npy(const char* bytes, size_t size) {
  return size >= kMagicSize && std::memcmp(bytes, kMagic, kMagicSize) == 0;
}

NpyHeader parse_npy_header(const std::string& name, const char* bytes, size_t size,
                           size_t file_size) {
  if (!looks_like_npy(bytes, size)) {
    throw FileError(name, "not a .npy file (missing the \\x93NUMPY magic string)");
  }
  if (size < 10) throw FileError(name, "truncated .npy file: header is incomplete");
  const auto* u = reinterpret_cast<const unsigned char*>(bytes);
  const int major = u[6];
  if (major < 1 || major > 3) {
    throw FileError(name, fmt::format(".npy format version {}.{} is not supported (1.0-3.0 are)",
                                      major, static_cast<int>(u[7])));
  }
  const int length_bytes = major == 1 ? 2 : 4;
  const size_t prefix = 8 + length_bytes;
  if (size < prefix) throw FileError(name, "truncated .npy file: header is incomplete");
  const size_t header_length = little_endian(u + 8, length_bytes);
  if (file_size < prefix + header_length) {
    throw FileError(name, fmt::format("truncated .npy file: header needs {} bytes, file has {}",
                                      prefix + header_length, file_size));
  }
  NpyHeader h;
  h.data_offset = prefix + header_length;
  if (size < h.data_offset) return h;  // the caller reads more and asks again
  h.complete = true;
  const std::string header(bytes + prefix, header_length);
  const std::string descr = strip(dict_value(name, header, "descr"));
  const std::string fortran = strip(dict_value(name, header, "fortran_order"));
  h.shape = parse_shape(name, strip(dict_value(name, header, "shape")));
  if (fortran != "True" && fortran != "False") {
    throw FileError(name, fmt::format("invalid .npy header: fortran_order is '{}'", fortran));
  }
  h.fortran = fortran == "True";
  if (descr.size() != 3 || (descr[1] != 'f') || (descr[2] != '4' && descr[2] != '8') ||
      (descr[0] != '<' && descr[0] != '>' && descr[0] != '=')) {
    throw FileError(name, fmt::format("dtype '{}' is not supported: save float32 or float64 "
                                      "(e.g. numpy: a.astype(np.float32))",
                                      descr));
  }
  h.dtype = descr[2] == '4' ? DType::kFloat32 : DType::kFloat64;
  const size_t item = descr[2] == '4' ? 4 : 8;
  uint64_t count = 1;
  for (const int64_t d : h.shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / static_cast<uint64_t>(d)) {
      throw FileError(name, "invalid .npy header: shape is too large");
    }
    count *= static_cast<uint64_t>(d);
  }
  h.count = count;
  const size_t data_bytes = count * item;
  const size_t available = file_size - h.data_offset;
  if (available < data_bytes) {
    throw FileError(name, fmt::format("truncated .npy file: shape {} needs {} bytes of data, "
                                      "found {}",
                                      shape_string(h.shape), data_bytes, available));
  }
  const bool little = descr[0] == '<' || (descr[0] == '=' && host_is_little_endian());
  h.swap = little != host_is_little_endian();
  return h;
}

Array parse_npy(const std::string& name, const char* bytes, size_t size) {
  const NpyHeader h = parse_npy_header(name, bytes, size, size);
  Array array;
  array.shape = h.shape;
  if (h.dtype == DType::kFloat32) {
    array.values = std::vector<float>();
  } else {
    array.values = std::vector<double>();
  }
  const char* data = bytes + h.data_offset;
  std::visit([&](auto& values) { load_values(data, h.count, h.swap, h.fortran, h.shape, values); },
             array.values);
  return array;
}

Array read_npy(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  return parse_npy(path, bytes.data(), bytes.size());
}

void write_npy(const std::string& path, const Array& array) {
  std::string shape = "(";
  for (const int64_t d : array.shape) shape += fmt::format("{}, ", d);
  if (array.shape.size() > 1) shape.resize(shape.size() - 2);
  if (array.shape.size() == 1) shape.pop_back();
  shape += ")";
  std::string header = fmt::format("{{'descr': '<f{}', 'fortran_order': False, 'shape': {}, }}",
                                   array.dtype() == DType::kFloat32 ? 4 : 8, shape);
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) throw FileError(path, "cannot open for writing");
  out.write(kMagic, kMagicSize);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const unsigned char length[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                   static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(length), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  std::visit(
      [&](const auto& values) {
        out.write(reinterpret_cast<const char*>(values.data()),
                  static_cast<std::streamsize>(values.size() * sizeof(values[0])));
      },
      array.values);
  if (!out) throw FileError(path, "write failed (disk full or not writable?)");
}

int64_t Array::size() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format(i ? ", {}" : "{}", shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string Array::shape_string() const { return io::shape_string(shape); }

Matrix to_sample_matrix(const Array& array, const similarity::ConvLayoutOptions& conv) {
  if (array.shape.size() != 2 && array.shape.size() != 4) {
    throw std::invalid_argument(fmt::format(
        "array of shape {} has {} dimensions: need 2 (samples, features) or 4 (N, C, H, W)",
        array.shape_string(), array.shape.size()));
  }
  return std::visit(
      [&](const auto& values) -> Matrix {
        using Scalar = typename std::decay_t<decltype(values)>::value_type;
        if (array.shape.size() == 4) {
          return similarity::conv_to_matrix(
              values.data(), {array.shape[0], array.shape[1], array.shape[2], array.shape[3]},
              conv);
        }
        using RowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        Matrix m(array.dtype(), array.shape[0], array.shape[1]);
        m.visit([&](auto& out) {
          if constexpr (std::is_same_v<typename std::decay_t<decltype(out)>::Scalar, Scalar>) {
            out = Eigen::Map<const RowMajor>(values.data(), array.shape[0], array.shape[1]);
          }
        });
        return m;
      },
      array.values);
}

}  // namespace layerwatch::io
