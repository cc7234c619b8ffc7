// What filling and reading the frozen-prefix cache costs per batch, by the way rows are copied:
// LibTorch's index ops (index_copy_ into the table, index_select out of it) against whole-row
// memcpy (src/torch/row_copy.h, what the cache uses).
//
// One round per arm: a fresh table of examples × row (float16, on the huge-page allocator as
// in the example; freed between rounds), then an epoch of batches in a shuffled order stored
// into it (the first touch of its memory included), a second epoch stored into the now touched
// table (the copy alone), and an epoch read back as float32. The arms alternate which goes
// first; the medians over the rounds and their ratios are printed, with the spread.
//
//   build/bin/cache_store_bench [--examples 60000] [--row 12544] [--batch 128] [--rounds 4]
//
// The defaults are the CNN example's features.2 output (64 × 14 × 14) for Fashion-MNIST.

#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "layerwatch/torch/huge_page_allocator.h"
#include "torch/row_copy.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const std::function<void()>& work) {
  const auto start = Clock::now();
  work();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Arm {
  std::string name;
  std::function<void(torch::Tensor&, const torch::Tensor&, const torch::Tensor&)> store;
  std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)> read;
};

struct Times {
  std::vector<double> fresh, touched, read;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Frozen-prefix cache: storing and reading rows, index ops against row copies"};
  int64_t examples = 60000, row = 12544, batch = 128;
  int rounds = 4;
  bool huge_pages = true;
  app.add_option("--examples", examples, "Rows of the table")->check(CLI::Range(256, 1000000));
  app.add_option("--row", row, "Elements per row")->check(CLI::Range(1, 1000000));
  app.add_option("--batch", batch, "Rows per batch")->check(CLI::Range(1, 4096));
  app.add_option("--rounds", rounds, "Rounds per arm (alternating)")->check(CLI::Range(1, 100));
  app.add_flag("--huge-pages,!--no-huge-pages", huge_pages,
               "Tensors on layerwatch's huge-page allocator (default on, as in the example)");
  CLI11_PARSE(app, argc, argv);
  if (huge_pages) fmt::print("{}\n", layerwatch::use_huge_page_allocator().message);
  torch::manual_seed(0);

  const auto order = torch::randperm(examples, torch::kLong);
  const auto values = torch::randn({batch, row});
  const int64_t batches = examples / batch;
  const std::vector<Arm> arms{
      {"index ops",
       [](torch::Tensor& table, const torch::Tensor& rows, const torch::Tensor& batch_values) {
         table.index_copy_(0, rows, batch_values.to(torch::kHalf));
       },
       [](const torch::Tensor& table, const torch::Tensor& rows) {
         return table.index_select(0, rows).to(torch::kFloat);
       }},
      {"row copies",
       [](torch::Tensor& table, const torch::Tensor& rows, const torch::Tensor& batch_values) {
         layerwatch::detail::scatter_rows(table, rows, batch_values.to(torch::kHalf));
       },
       [](const torch::Tensor& table, const torch::Tensor& rows) {
         return layerwatch::detail::gather_rows(table, rows).to(torch::kFloat);
       }},
  };
  std::map<std::string, Times> times;
  double checksum = 0;
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < arms.size(); ++k) {
      const auto& arm = arms[(k + static_cast<size_t>(r)) % arms.size()];
      auto& t = times[arm.name];
      auto table = torch::empty({examples, row}, torch::kHalf);
      const auto epoch = [&](const std::function<void(const torch::Tensor&)>& each) {
        for (int64_t b = 0; b < batches; ++b) each(order.narrow(0, b * batch, batch));
      };
      t.fresh.push_back(seconds_of(
          [&] { epoch([&](const torch::Tensor& rows) { arm.store(table, rows, values); }); }));
      t.touched.push_back(seconds_of(
          [&] { epoch([&](const torch::Tensor& rows) { arm.store(table, rows, values); }); }));
      t.read.push_back(seconds_of([&] {
        epoch([&](const torch::Tensor& rows) {
          checksum += arm.read(table, rows)[0][0].item<double>();
        });
      }));
    }
  }
  const auto per_batch_ms = [&](const std::vector<double>& v) {
    return 1e3 * median(v) / static_cast<double>(batches);
  };
  const auto spread = [&](const std::vector<double>& v) {
    return fmt::format("{:.2f}-{:.2f}", 1e3 * *std::min_element(v.begin(), v.end()) / batches,
                       1e3 * *std::max_element(v.begin(), v.end()) / batches);
  };
  fmt::print("table {} x {} float16 ({:.1f} MiB), batches of {}, {} rounds per arm\n", examples,
             row, 2.0 * static_cast<double>(examples * row) / (1 << 20), batch, rounds);
  fmt::print("ms per batch, median (min-max)   store, fresh table   store, touched   read\n");
  for (const auto& arm : arms) {
    const auto& t = times[arm.name];
    fmt::print("{:<12} {:>21.2f} ({}) {:>8.2f} ({}) {:>8.2f} ({})\n", arm.name,
               per_batch_ms(t.fresh), spread(t.fresh), per_batch_ms(t.touched), spread(t.touched),
               per_batch_ms(t.read), spread(t.read));
  }
  const auto& old_times = times[arms[0].name];
  const auto& new_times = times[arms[1].name];
  fmt::print(
      "ratio row copies / index ops: store fresh {:.3f}, store touched {:.3f}, read {:.3f}\n",
      median(new_times.fresh) / median(old_times.fresh),
      median(new_times.touched) / median(old_times.touched),
      median(new_times.read) / median(old_times.read));
  fmt::print("(checksum {:.3f})\n", checksum);
  return 0;
}
