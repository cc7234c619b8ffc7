#pragma once
// Progress of long work on stderr: one line per tenth done, for the commands that take a while.

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <string>

namespace layerwatch::cli {

/// A (done, total) callback printing "<before> done/total<after>" on stderr at each tenth and at
/// the end; silent when `total` is below `min_total`.
inline std::function<void(int64_t done, int64_t total)> progress_lines(std::string before,
                                                                       std::string after = "",
                                                                       int64_t min_total = 0) {
  return [before = std::move(before), after = std::move(after), min_total, shown = int64_t{0}](
             int64_t done, int64_t total) mutable {
    if (total < min_total || total <= 0) return;
    const int64_t tenth = done * 10 / total;
    if (tenth > shown || done == total) {
      shown = tenth;
      fmt::print(stderr, "{} {}/{}{}\n", before, done, total, after);
    }
  };
}

}  // namespace layerwatch::cli
