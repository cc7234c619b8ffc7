#pragma once
// Gradient averaging and weight broadcasts in buckets: consecutive tensors of one dtype,
// flattened into one contiguous buffer of at most `bucket_bytes` (a larger tensor gets a bucket
// of its own), so that a model of many small tensors costs a few collectives per step.

#include <torch/torch.h>

#include <vector>

#include "distributed/collectives.h"

namespace layerwatch::detail {

// Averages the gradients of `parameters` over the ranks, in place. A parameter without a
// gradient (unused in this step's forward) takes part as zeros and gets them, so that every
// rank's buckets have the same sizes.
void all_reduce_gradients(Collectives& collectives, const std::vector<torch::Tensor>& parameters,
                          int64_t bucket_bytes);
// Copies rank `root`'s values of `tensors` into every rank's (parameters or buffers).
void broadcast_tensors(Collectives& collectives, const std::vector<torch::Tensor>& tensors,
                       int root, int64_t bucket_bytes, const char* what);
// Bytes the gradients of `parameters` take in one all-reduce.
int64_t gradient_bytes(const std::vector<torch::Tensor>& parameters);

}  // namespace layerwatch::detail
