#include "probe_capture.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>

namespace layerwatch::detail {

torch::Tensor output_to_rows(const torch::Tensor& value, int64_t examples,
                             similarity::ConvLayout conv_layout, int64_t& rows_per_example) {
  if (!value.defined()) throw std::invalid_argument("the output is an undefined tensor");
  if (!value.is_floating_point()) {
    throw std::invalid_argument(
        fmt::format("the output has dtype {}; only floating-point outputs can be compared",
                    c10::toString(value.scalar_type())));
  }
  if (value.dim() == 0 || value.size(0) != examples) {
    throw std::invalid_argument(fmt::format(
        "the output has shape {} but the probe chunk has {} examples: the first dimension must "
        "be the batch",
        fmt::to_string(fmt::join(value.sizes(), "x")), examples));
  }
  // A blocking copy: the rows are read right after, and a non-blocking copy from a GPU would
  // let them be read before the transfer completed.
  torch::Tensor t = value.detach().to(torch::kCPU, torch::kFloat, /*non_blocking=*/false);
  rows_per_example = 1;
  switch (t.dim()) {
    case 1:
      return t.reshape({examples, 1}).contiguous();
    case 2:
      return t.contiguous();
    case 3:  // (N, L, C): every position of the sequence is a sample
      rows_per_example = t.size(1);
      return t.reshape({examples * t.size(1), t.size(2)}).contiguous();
    case 4:
      if (conv_layout == similarity::ConvLayout::kSpatial) {
        rows_per_example = t.size(2) * t.size(3);
        return t.permute({0, 2, 3, 1})
            .reshape({examples * rows_per_example, t.size(1)})
            .contiguous();
      }
      if (conv_layout == similarity::ConvLayout::kPool) {
        return torch::adaptive_avg_pool2d(t, {1, 1}).reshape({examples, t.size(1)}).contiguous();
      }
      return t.reshape({examples, -1}).contiguous();
    default:
      return t.reshape({examples, -1}).contiguous();
  }
}

ProbeCapture::ProbeCapture(ProbeLayout layout, std::set<std::string> disabled)
    : layout_(layout), disabled_(std::move(disabled)) {}

void ProbeCapture::begin_chunk(int64_t offset, int64_t size) {
  chunk_offset_ = offset;
  chunk_size_ = size;
  ++chunks_;
}

void ProbeCapture::fail(Layer& layer, std::string message, Status status) {
  if (layer.error.empty()) {
    layer.error = std::move(message);
    layer.status = status;
  }
  layer.matrix = Eigen::MatrixXf();
}

void ProbeCapture::capture_error(const std::string& name, const std::string& message) {
  if (disabled_.count(name)) return;
  if (!layers_.count(name)) order_.push_back(name);
  fail(layers_[name], message);
}

void ProbeCapture::capture(const std::string& name, const torch::Tensor& value) {
  if (disabled_.count(name)) return;
  if (!layers_.count(name)) order_.push_back(name);
  Layer& layer = layers_[name];
  if (!layer.error.empty()) return;
  ++layer.chunks;
  if (layer.chunks > chunks_) {
    return fail(layer, fmt::format("capture point '{}' was called more than once per forward "
                                   "pass; give each call its own name",
                                   name));
  }
  torch::Tensor rows;
  int64_t per_example = 1;
  try {
    rows = output_to_rows(value, chunk_size_, layout_.conv_layout, per_example);
  } catch (const std::exception& e) {
    return fail(layer, fmt::format("cannot capture '{}': {}", name, e.what()));
  }
  const int64_t features = rows.size(1);
  if (layer.features == 0) {
    layer.rows_per_example = per_example;
    layer.features = features;
    const int64_t total_rows = layout_.total_examples * per_example;
    layer.selected = similarity::spatial_sample_rows(total_rows, layout_.sample_cap, layout_.seed);
    const auto bytes = static_cast<std::size_t>(layer.selected.size()) *
                       static_cast<std::size_t>(features) * layout_.bytes_per_value;
    if (layout_.byte_limit > 0 && bytes > layout_.byte_limit) {
      return fail(
          layer,
          fmt::format("layer '{}' would need a {} x {} snapshot ({:.1f} MiB), more than the whole "
                      "memory budget ({:.1f} MiB): lower sample_cap or raise memory_budget",
                      name, layer.selected.size(), features, bytes / 1048576.0,
                      layout_.byte_limit / 1048576.0),
          Status::kTooLarge);
    }
    layer.matrix.resize(static_cast<Eigen::Index>(layer.selected.size()), features);
  } else if (features != layer.features || per_example != layer.rows_per_example) {
    return fail(layer, fmt::format("layer '{}' changed shape between probe chunks ({} -> {} "
                                   "features): probe inputs must all have the same shape",
                                   name, layer.features, features));
  }
  // Rows of this chunk: the selected global rows in [offset·P, (offset+size)·P).
  const int64_t begin = chunk_offset_ * per_example;
  const int64_t end = (chunk_offset_ + chunk_size_) * per_example;
  const auto first = std::lower_bound(layer.selected.begin(), layer.selected.end(), begin);
  const auto last = std::lower_bound(first, layer.selected.end(), end);
  const float* data = rows.data_ptr<float>();
  Eigen::Index out = static_cast<Eigen::Index>(first - layer.selected.begin());
  for (auto it = first; it != last; ++it, ++out) {
    layer.matrix.row(out) =
        Eigen::Map<const Eigen::RowVectorXf>(data + (*it - begin) * features, features);
  }
  layer.filled += last - first;
}

ProbeCapture::Result ProbeCapture::take(int64_t step, int64_t epoch, int64_t probe_index) {
  Result result;
  for (const auto& name : order_) {
    Layer& layer = layers_[name];
    const bool incomplete = layout_.shard
                                ? layer.chunks != chunks_
                                : layer.filled != static_cast<int64_t>(layer.selected.size());
    if (layer.error.empty() && incomplete) {
      layer.error = fmt::format(
          "capture point '{}' ran in {} of {} probe chunks; it must run on every example", name,
          layer.chunks, chunks_);
    }
    if (!layer.error.empty()) {
      result.failures.push_back(Failure{name, layer.status, layer.error});
      continue;
    }
    Snapshot s;
    s.layer = name;
    s.step = step;
    s.epoch = epoch;
    s.probe_index = probe_index;
    s.rows_per_example = layer.rows_per_example;
    if (layout_.keep_sampled_rows && static_cast<int64_t>(layer.selected.size()) !=
                                         layout_.total_examples * layer.rows_per_example) {
      s.sampled_rows = layer.selected;
    }
    s.values = std::move(layer.matrix);
    result.snapshots.push_back(std::move(s));
  }
  layers_.clear();
  order_.clear();
  return result;
}

}  // namespace layerwatch::detail
