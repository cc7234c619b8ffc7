#pragma once
// Row copies between a contiguous CPU table (examples × row shape) and a batch, by example
// index, as whole-row memcpy: storing a batch of float16 rows takes 0.56× the time of
// index_copy_ into touched memory and 0.60× into a fresh table, reading 0.95-0.97× that of
// index_select (bench/cache_store_bench.cpp, 1435 MiB table, batches of 128).

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace layerwatch::detail {

/// True when `table` and `batch` are contiguous CPU tensors of one dtype whose rows (all but
/// the first dimension) have the same shape, and `rows` is an int64 CPU vector with one index
/// per batch row: the case the memcpy paths below serve.
inline bool rows_are_plain(const torch::Tensor& table, const torch::Tensor& rows,
                           const torch::Tensor& batch) {
  return table.device().is_cpu() && batch.device().is_cpu() && rows.device().is_cpu() &&
         table.is_contiguous() && batch.is_contiguous() && rows.is_contiguous() &&
         rows.scalar_type() == torch::kLong && rows.dim() == 1 &&
         table.scalar_type() == batch.scalar_type() && table.dim() == batch.dim() &&
         table.dim() >= 1 && batch.size(0) == rows.size(0) &&
         table.sizes().slice(1) == batch.sizes().slice(1);
}

/// Bytes of one row (all but the first dimension) of a contiguous tensor.
inline size_t bytes_per_row(const torch::Tensor& t) {
  return static_cast<size_t>(t.numel() / std::max<int64_t>(t.size(0), 1) *
                             static_cast<int64_t>(t.element_size()));
}

/// table[rows[i]] = batch[i] for every i. Indices must be in [0, table.size(0)).
inline void scatter_rows(torch::Tensor& table, const torch::Tensor& rows,
                         const torch::Tensor& batch) {
  if (!rows_are_plain(table, rows, batch)) {
    table.index_copy_(0, rows, batch);
    return;
  }
  const size_t row_bytes = bytes_per_row(batch);
  auto* to = static_cast<char*>(table.data_ptr());
  const auto* from = static_cast<const char*>(batch.data_ptr());
  const auto* index = rows.data_ptr<int64_t>();
  for (int64_t i = 0; i < rows.size(0); ++i) {
    std::memcpy(to + static_cast<size_t>(index[i]) * row_bytes, from + i * row_bytes, row_bytes);
  }
}

/// The rows `rows` of `table`, as a new tensor (table.index_select(0, rows)).
inline torch::Tensor gather_rows(const torch::Tensor& table, const torch::Tensor& rows) {
  auto shape = table.sizes().vec();
  if (shape.empty() || rows.dim() != 1) return table.index_select(0, rows);
  shape[0] = rows.size(0);
  auto batch = torch::empty(shape, table.options());
  if (!rows_are_plain(table, rows, batch)) return table.index_select(0, rows);
  const size_t row_bytes = bytes_per_row(table);
  const auto* from = static_cast<const char*>(table.data_ptr());
  auto* to = static_cast<char*>(batch.data_ptr());
  const auto* index = rows.data_ptr<int64_t>();
  for (int64_t i = 0; i < rows.size(0); ++i) {
    std::memcpy(to + i * row_bytes, from + static_cast<size_t>(index[i]) * row_bytes, row_bytes);
  }
  return batch;
}

}  // namespace layerwatch::detail
