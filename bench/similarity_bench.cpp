// Speed of the similarity core against the floor set by the matrix products each index must do
// (XᵀX, YᵀY, XᵀY), timed at this machine's GEMM rate in the same run.
//
// The floor of a size is the time of one dgemm (sgemm for float32) computing XᵀY with the same
// shapes, scaled by flops: the indices need n·p² (XᵀX, symmetric) + n·q² + 2·n·p·q flops, i.e.
// 2× a p×q GEMM when p = q. Each index is reported as time / floor.
//
//   build/bin/similarity_bench                 # all sizes, prints the ratio table at the end
//   build/bin/similarity_bench --benchmark_filter=10000

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <fmt/format.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "layerwatch/similarity/similarity.h"

namespace sim = layerwatch::similarity;

namespace {

const std::vector<std::pair<int, int>> kSizes = {
    {2000, 64}, {5000, 256}, {5000, 512}, {10000, 1024}};

// Correlated activations: y = x·A + noise, float32 as captured activations are.
struct Data {
  Eigen::MatrixXf x, y;
};

const Data& data(int n, int p) {
  static std::map<std::pair<int, int>, Data> cache;
  auto it = cache.find({n, p});
  if (it != cache.end()) return it->second;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  Data d;
  d.x.resize(n, p);
  for (Eigen::Index i = 0; i < d.x.size(); ++i) d.x.data()[i] = normal(rng);
  Eigen::MatrixXf a(p, p), noise(n, p);
  for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = normal(rng) / std::sqrt(float(p));
  for (Eigen::Index i = 0; i < noise.size(); ++i) noise.data()[i] = normal(rng);
  d.y = (d.x * a + noise).eval();
  return cache.emplace(std::make_pair(n, p), std::move(d)).first->second;
}

template <typename T>
void gemm_floor(benchmark::State& state, int n, int p, int /*bits*/) {
  const auto& d = data(n, p);
  const Eigen::Matrix<T, -1, -1> x = d.x.cast<T>(), y = d.y.cast<T>();
  Eigen::Matrix<T, -1, -1> c(p, p);
  for (auto _ : state) {
    if constexpr (std::is_same_v<T, double>) {
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, n, 1.0, x.data(), n, y.data(), n,
                  0.0, c.data(), p);
    } else {
      cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, n, 1.0f, x.data(), n, y.data(), n,
                  0.0f, c.data(), p);
    }
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(
      2.0 * n * p * p, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

sim::Precision precision_of(int64_t code) {
  return code == 32 ? sim::Precision::kFloat32 : sim::Precision::kFloat64;
}

void bm_cca(benchmark::State& state, int n, int p, int bits) {
  const auto& d = data(n, p);
  const auto precision = precision_of(bits);
  for (auto _ : state) benchmark::DoNotOptimize(sim::cca(d.x, d.y, {}, precision).value);
}

void bm_svcca(benchmark::State& state, int n, int p, int bits) {
  const auto& d = data(n, p);
  const auto precision = precision_of(bits);
  for (auto _ : state) benchmark::DoNotOptimize(sim::svcca(d.x, d.y, {}, precision).value);
}

void bm_linear_cka(benchmark::State& state, int n, int p, int bits) {
  const auto& d = data(n, p);
  const auto precision = precision_of(bits);
  for (auto _ : state) benchmark::DoNotOptimize(sim::linear_cka(d.x, d.y, {}, precision).value);
}

// SVCCA between two snapshots whose factorizations are already cached (the training-time case:
// every snapshot is compared with its predecessor and with the final one).
void bm_svcca_factorized(benchmark::State& state, int n, int p, int bits) {
  const auto& d = data(n, p);
  const auto precision = precision_of(bits);
  sim::Activations x(d.x, precision), y(d.y, precision);
  x.factorize();
  y.factorize();
  for (auto _ : state) benchmark::DoNotOptimize(sim::ActivationPair(x, y).svcca().value);
}

void register_all() {
  for (const auto& [n, p] : kSizes) {
    for (const int bits : {64, 32}) {
      const std::string suffix = fmt::format("/{}/{}/{}", n, p, bits);
      const std::string floor_name = "floor_gemm" + suffix;
      auto* floor =
          bits == 64
              ? benchmark::RegisterBenchmark(floor_name.c_str(), gemm_floor<double>, n, p, bits)
              : benchmark::RegisterBenchmark(floor_name.c_str(), gemm_floor<float>, n, p, bits);
      floor->Unit(benchmark::kMillisecond)->UseRealTime();
      for (const auto& [name, fn] :
           std::vector<std::pair<std::string, void (*)(benchmark::State&, int, int, int)>>{
               {"cca", bm_cca},
               {"svcca", bm_svcca},
               {"linear_cka", bm_linear_cka},
               {"svcca_factorized", bm_svcca_factorized}}) {
        benchmark::RegisterBenchmark((name + suffix).c_str(), fn, n, p, bits)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

// Prints the usual console table, then the ratios of every index to its floor of the same run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      times_[run.run_name.function_name] = run.GetAdjustedRealTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    fmt::print(
        "\nRatios to the floor (time of the covariance products XᵀX, YᵀY, XᵀY at the GEMM "
        "rate of this run; n·p²+n·q²+2·n·p·q flops):\n");
    fmt::print("{:<18} {:>6} {:>5} {:>5} {:>10} {:>10} {:>7}\n", "index", "n", "p", "bits",
               "time_ms", "floor_ms", "ratio");
    for (const auto& [n, p] : kSizes) {
      for (const int bits : {64, 32}) {
        const std::string suffix = fmt::format("/{}/{}/{}", n, p, bits);
        const auto floor_it = times_.find("floor_gemm" + suffix);
        if (floor_it == times_.end()) continue;
        const double floor = floor_it->second * 2.0;  // two p×q GEMM-equivalents
        for (const char* name : {"cca", "svcca", "linear_cka", "svcca_factorized"}) {
          const auto it = times_.find(name + suffix);
          if (it == times_.end()) continue;
          fmt::print("{:<18} {:>6} {:>5} {:>5} {:>10.1f} {:>10.1f} {:>7.2f}\n", name, n, p, bits,
                     it->second, floor, it->second / floor);
        }
        const auto fresh = times_.find("svcca" + suffix);
        const auto reused = times_.find("svcca_factorized" + suffix);
        if (fresh != times_.end() && reused != times_.end()) {
          fmt::print("{:<18} {:>6} {:>5} {:>5}   factorized / fresh SVCCA = {:.2f}\n", "reuse", n,
                     p, bits, reused->second / fresh->second);
        }
      }
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
