// `layerwatch compare` end to end: the binary, its output, and its exit codes.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "test_util.h"

namespace {

using layerwatch::testing::test_data_path;

// The command's result, as the tests below name it.
using Run = layerwatch::testing::CommandResult;
Run run(const std::string& args) { return layerwatch::testing::run_layerwatch(args); }

// The reference sets the command is checked against: the project's own, and the shared
// fixtures when they are beside the checkout (skipped with the reason otherwise).
class CompareReference : public layerwatch::testing::ReferenceSetTest {
 protected:
  std::string files(const nlohmann::json& entry) const {
    return set_.path(entry["x"]) + " " + set_.path(entry["y"]);
  }
};

TEST_P(CompareReference, AllMetricsMatchTheReferenceValues) {
  for (const auto& [key, e] : expected_.items()) {
    SCOPED_TRACE(key);
    const auto r = run("compare " + files(e) + " --metric all --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto out = nlohmann::json::parse(r.out);
    const auto& m = out["metrics"];
    EXPECT_NEAR(m["cca"]["value"].get<double>(), e["mean_cca"].get<double>(), 1e-6);
    EXPECT_NEAR(m["cca"]["r2_cca"].get<double>(), e["r2_cca"].get<double>(), 1e-6);
    EXPECT_NEAR(m["pwcca"]["value"].get<double>(), e["pwcca"].get<double>(), 1e-9);
    EXPECT_NEAR(m["cka"]["value"].get<double>(), e["linear_cka"].get<double>(), 1e-6);
    EXPECT_NEAR(m["cka-debiased"]["value"].get<double>(), e["linear_cka_debiased"].get<double>(),
                1e-6);
    EXPECT_NEAR(m["procrustes"]["value"].get<double>(), e["procrustes"].get<double>(), 1e-6);
    EXPECT_EQ(m["cka-rbf"]["status"], "ok");
    for (const auto& [name, fields] : m.items()) {
      EXPECT_TRUE(fields.contains("value")) << name;
      EXPECT_TRUE(fields.contains("status")) << name;
    }
    if (e.contains("svcca_singular_0.99")) {
      EXPECT_NEAR(m["svcca"]["value"].get<double>(), e["svcca_singular_0.99"].get<double>(), 1e-6);
      EXPECT_EQ(m["svcca"]["kept_dims"], e["svcca_kept_dims"]);
    }
    if (e.contains("rbf_cka_threshold_0.5")) {
      const auto rbf = run("compare " + files(e) + " --metric cka-rbf --rbf-threshold 0.5 --json");
      ASSERT_EQ(rbf.code, 0) << rbf.err;
      EXPECT_NEAR(nlohmann::json::parse(rbf.out)["metrics"]["cka-rbf"]["value"].get<double>(),
                  e["rbf_cka_threshold_0.5"].get<double>(), 1e-6);
    }
  }
}

TEST_P(CompareReference, Float32PrecisionAgreesWithFloat64) {
  for (const auto& [key, e] : expected_.items()) {
    SCOPED_TRACE(key);
    const auto a = run("compare " + files(e) + " --metric cca,svcca --json --precision float32");
    ASSERT_EQ(a.code, 0) << a.err;
    const auto m = nlohmann::json::parse(a.out)["metrics"];
    EXPECT_NEAR(m["cca"]["value"].get<double>(), e["mean_cca"].get<double>(), 1e-4);
    if (e.contains("svcca_singular_0.99")) {
      EXPECT_NEAR(m["svcca"]["value"].get<double>(), e["svcca_singular_0.99"].get<double>(), 1e-4);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cli, CompareReference, ::testing::Values("project", "shared"));

TEST(CompareCommand, ShapesAndSampleCountsAreReported) {
  const auto set = layerwatch::testing::reference_set("project");
  const auto r = run("compare " + set.path("relu_a.npy") + " " + set.path("tanh_b.npy") +
                     " --metric cka --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["n_samples"], 2000);
  EXPECT_EQ(out["features"], nlohmann::json({48, 80}));
  EXPECT_EQ(out["precision"], "float64");
}

TEST(CompareCommand, DefaultOutputIsATable) {
  const auto r = run("compare " + test_data_path("a.pt") + " " + test_data_path("b_f32.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("svcca"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("300 samples"), std::string::npos) << r.out;
}

TEST(CompareCommand, ConvLayoutsShapeTheSamples) {
  const std::string files = test_data_path("conv_a.npy") + " " + test_data_path("conv_b.npy");
  const auto spatial = nlohmann::json::parse(run("compare " + files + " --metric cka --json").out);
  EXPECT_EQ(spatial["n_samples"], 20 * 5 * 5);
  EXPECT_EQ(spatial["features"], nlohmann::json({3, 3}));
  const auto capped = nlohmann::json::parse(
      run("compare " + files + " --metric cka --json --conv-max-samples 100").out);
  EXPECT_EQ(capped["n_samples"], 100);
  const auto flat =
      nlohmann::json::parse(run("compare " + files + " --metric cka --json --conv flatten").out);
  EXPECT_EQ(flat["n_samples"], 20);
  EXPECT_EQ(flat["features"], nlohmann::json({75, 75}));
  const auto pooled = nlohmann::json::parse(
      run("compare " + files + " --metric cka --json --conv pool --pool-size 2").out);
  EXPECT_EQ(pooled["features"], nlohmann::json({12, 12}));
}

TEST(CompareCommand, TooFewSamplesIsAStatusNotAFailure) {
  // 20 examples × 75 features flattened: CCA is meaningless and says so.
  const auto r = run("compare " + test_data_path("conv_a.npy") + " " +
                     test_data_path("conv_b.npy") + " --metric cca --conv flatten --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto cca = nlohmann::json::parse(r.out)["metrics"]["cca"];
  EXPECT_EQ(cca["status"], "too_few_samples");
  EXPECT_TRUE(cca["value"].is_null());
}

TEST(CompareCommand, BadDataExitsThreeWithOneLineNamingTheFile) {
  const std::string good = test_data_path("a_f32.npy");
  const std::vector<std::pair<std::string, std::string>> cases = {{"truncated.npy", "truncated"},
                                                                  {"truncated.pt", "truncated"},
                                                                  {"a_nan.npy", "non-finite"},
                                                                  {"garbage.npy", "not a .npy"},
                                                                  {"missing.npy", "cannot open"},
                                                                  {"ints.npy", "not supported"},
                                                                  {"b_short.npy", "same examples"},
                                                                  {"one_d.npy", "dimensions"},
                                                                  {"dict.pt", "tensor"}};
  for (const auto& [name, needle] : cases) {
    const auto r = run("compare " + good + " " + test_data_path(name));
    EXPECT_EQ(r.code, 3) << name << ": " << r.err;
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CompareCommand, BootstrapAndPermutationsAddAnIntervalAndAPValuePerMetric) {
  // b = a·M + noise: related, so no permutation reaches the observed value.
  const std::string files = test_data_path("a_f32.npy") + " " + test_data_path("b_f32.npy");
  const std::string flags = " --metric cka,svcca --bootstrap 200 --permutations 99 --seed 3";
  const auto r = run("compare " + files + flags + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = nlohmann::json::parse(r.out)["metrics"];
  for (const std::string name : {"cka", "svcca"}) {
    SCOPED_TRACE(name);
    const auto& f = m[name];
    const double value = f["value"].get<double>();
    EXPECT_LE(f["bootstrap"]["low"].get<double>(), value);
    EXPECT_GE(f["bootstrap"]["high"].get<double>(), value);
    EXPECT_GT(f["bootstrap"]["high"].get<double>(), f["bootstrap"]["low"].get<double>());
    EXPECT_EQ(f["bootstrap"]["resamples"], 200);
    EXPECT_EQ(f["bootstrap"]["confidence"], 0.95);
    EXPECT_DOUBLE_EQ(f["permutation"]["p_value"].get<double>(), 0.01);
    EXPECT_EQ(f["seed"], 3);
  }
  // The same seed gives the same numbers; progress goes to stderr.
  EXPECT_EQ(run("compare " + files + flags + " --json").out, r.out);
  EXPECT_NE(r.err.find("resamples 299/299"), std::string::npos) << r.err;
  const auto table = run("compare " + files + flags);
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("95% interval"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("0.01"), std::string::npos) << table.out;
  EXPECT_EQ(run("compare " + files + " --bootstrap -1").code, 2);
}

TEST(CompareCommand, ResamplingAConvLayerResamplesWholeImages) {
  const std::string files = test_data_path("conv_a.npy") + " " + test_data_path("conv_b.npy");
  const auto r = run("compare " + files + " --metric cka --bootstrap 50 --permutations 19 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto cka = nlohmann::json::parse(r.out)["metrics"]["cka"];
  EXPECT_EQ(cka["bootstrap"]["resamples"], 50);
  // Only some positions of each image kept: whole images cannot be resampled, and it says so.
  const auto capped = run("compare " + files + " --bootstrap 50 --conv-max-samples 100");
  EXPECT_EQ(capped.code, 2) << capped.err;
  EXPECT_NE(capped.err.find("--conv-max-samples 0"), std::string::npos) << capped.err;
}

TEST(CompareCommand, UsageErrorsExitTwo) {
  const std::string good = test_data_path("a_f32.npy");
  for (const std::string& args : std::vector<std::string>{
           "compare " + good, "compare " + good + " " + good + " --metric foo",
           "compare " + good + " " + good + " --svcca-keep 2",
           "compare " + good + " " + good + " --conv tiles", "frobnicate", ""}) {
    const auto r = run(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_FALSE(r.err.empty()) << args;
  }
  EXPECT_EQ(run("--help").code, 0);
}

}  // namespace
