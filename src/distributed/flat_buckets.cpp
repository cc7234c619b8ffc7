#include "distributed/flat_buckets.h"

namespace layerwatch::detail {
namespace {

int64_t bytes_of(const torch::Tensor& t) {
  return t.numel() * static_cast<int64_t>(t.element_size());
}

// Index ranges [first, last) of `tensors` that share a bucket.
std::vector<std::pair<size_t, size_t>> buckets(const std::vector<torch::Tensor>& tensors,
                                               int64_t bucket_bytes) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t first = 0;
  int64_t filled = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const bool other_dtype = i > first && tensors[i].scalar_type() != tensors[first].scalar_type();
    if (i > first && (other_dtype || filled + bytes_of(tensors[i]) > bucket_bytes)) {
      out.emplace_back(first, i);
      first = i;
      filled = 0;
    }
    filled += bytes_of(tensors[i]);
  }
  if (first < tensors.size()) out.emplace_back(first, tensors.size());
  return out;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& tensors, size_t first, size_t last) {
  std::vector<torch::Tensor> views;
  for (size_t i = first; i < last; ++i) views.push_back(tensors[i].reshape({-1}));
  return torch::cat(views);
}

void unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& tensors, size_t first,
               size_t last) {
  int64_t offset = 0;
  for (size_t i = first; i < last; ++i) {
    const int64_t n = tensors[i].numel();
    tensors[i].copy_(flat.narrow(0, offset, n).view_as(tensors[i]));
    offset += n;
  }
}

}  // namespace

void all_reduce_gradients(Collectives& collectives, const std::vector<torch::Tensor>& parameters,
                          int64_t bucket_bytes) {
  if (parameters.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  const auto ranges = buckets(grads, bucket_bytes);
  std::vector<torch::Tensor> flats;
  for (const auto& [first, last] : ranges) flats.push_back(flatten(grads, first, last));
  collectives.all_reduce_sum(flats, "gradient all-reduce");
  for (size_t b = 0; b < ranges.size(); ++b) {
    flats[b].div_(collectives.size());
    unflatten(flats[b], grads, ranges[b].first, ranges[b].second);
  }
}

void broadcast_tensors(Collectives& collectives, const std::vector<torch::Tensor>& tensors,
                       int root, int64_t bucket_bytes, const char* what) {
  if (tensors.empty()) return;
  torch::NoGradGuard no_grad;
  const auto ranges = buckets(tensors, bucket_bytes);
  std::vector<torch::Tensor> flats;
  for (const auto& [first, last] : ranges) flats.push_back(flatten(tensors, first, last));
  collectives.broadcast(flats, root, what);
  if (collectives.rank() == root) return;
  for (size_t b = 0; b < ranges.size(); ++b) {
    unflatten(flats[b], tensors, ranges[b].first, ranges[b].second);
  }
}

int64_t gradient_bytes(const std::vector<torch::Tensor>& parameters) {
  int64_t total = 0;
  for (const auto& p : parameters) total += bytes_of(p);
  return total;
}

}  // namespace layerwatch::detail
