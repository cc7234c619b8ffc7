#include "layerwatch/torch/tensor_file.h"

#include <fmt/format.h>
#include <torch/serialize.h>

#include "io/formats.h"

namespace layerwatch::io {
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

Array tensor_to_array(const std::string& path, torch::Tensor tensor) {
  const auto type = tensor.scalar_type();
  if (type == torch::kHalf || type == torch::kBFloat16) {
    tensor = tensor.to(torch::kFloat32);
  } else if (type != torch::kFloat32 && type != torch::kFloat64) {
    throw FileError(path, fmt::format("tensor dtype {} is not supported: save a float32 or "
                                      "float64 tensor (e.g. t.float())",
                                      std::string(c10::toString(type))));
  }
  tensor = tensor.detach().to(torch::kCPU).contiguous();
  Array array;
  array.shape.assign(tensor.sizes().begin(), tensor.sizes().end());
  const auto count = static_cast<size_t>(tensor.numel());
  if (tensor.scalar_type() == torch::kFloat32) {
    array.values = std::vector<float>(tensor.data_ptr<float>(), tensor.data_ptr<float>() + count);
  } else {
    array.values =
        std::vector<double>(tensor.data_ptr<double>(), tensor.data_ptr<double>() + count);
  }
  return array;
}

}  // namespace

Array read_tensor_file(const std::string& path) {
  const std::string data = read_file_bytes(path);
  return parse_tensor_bytes(path, std::vector<char>(data.begin(), data.end()));
}

Array parse_tensor_bytes(const std::string& path, const std::vector<char>& bytes) {
  if (bytes.empty()) throw FileError(path, "file is empty");
  if (looks_like_npy(bytes.data(), bytes.size()))
    return parse_npy(path, bytes.data(), bytes.size());
  if (!looks_like_torch_save(bytes.data(), bytes.size())) {
    throw FileError(path, "not a .npy or .pt file (unrecognised first bytes)");
  }
  torch::IValue value;
  const auto unreadable = [&](const std::string& detail) {
    return FileError(path, fmt::format("cannot read as a torch.save file of one tensor (truncated, "
                                       "corrupt, or a container such as a dict: save the tensor "
                                       "itself): {}",
                                       first_line(detail)));
  };
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    throw unreadable(e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw unreadable(e.what());
  }
  if (!value.isTensor()) {
    throw FileError(
        path, fmt::format("holds a {}, not a tensor: torch.save one tensor", value.tagKind()));
  }
  return tensor_to_array(path, value.toTensor());
}

}  // namespace layerwatch::io
