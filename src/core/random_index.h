#pragma once
// Seeded random indices that are the same on every platform and standard library (the
// std:: distributions are not specified bit for bit): resamples, permutations, splits and
// random labels reproduce from their seed anywhere.

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace layerwatch::detail {

class RandomIndex {
 public:
  explicit RandomIndex(uint64_t seed) : engine_(seed) {}

  /// Uniform in [0, n), n ≥ 1, without modulo bias (Lemire's multiply-and-reject).
  template <typename Int>
  Int below(Int n) {
    const auto bound = static_cast<uint64_t>(n);
    const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      const unsigned __int128 product =
          static_cast<unsigned __int128>(engine_()) * static_cast<unsigned __int128>(bound);
      if (static_cast<uint64_t>(product) >= threshold) {
        return static_cast<Int>(product >> 64);
      }
    }
  }

  /// A uniformly random permutation of `values` (Fisher–Yates).
  template <typename T>
  void shuffle(std::vector<T>& values) {
    for (size_t i = values.size(); i > 1; --i) {
      std::swap(values[i - 1], values[below(i)]);
    }
  }

  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace layerwatch::detail
