// `bpnn bench` as a regression tester uses it: repetitions give compare.py its aggregates, the
// JSON context defines every counter (and stays strict JSON: no NaN), a fixed peak is honoured
// and a fraction above 1 is flagged in the label, never clamped.
#include <catch2/catch.hpp>

#ifdef BPNN_CLI_HAS_BENCH  // the CLI has `bench` only when Google Benchmark is built (not in sanitizer builds)

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>
#include <oneapi/tbb/global_control.h>

#include "../bench/fma_peak.hpp"

#include "cli_run.hpp"

using bpnn_test::cli_run;
using bpnn_test::ScratchDir;

namespace {

nlohmann::json bench_json(const ScratchDir& dir, const std::string& args) {
  const auto r = cli_run(dir.path, "bench --workload seed --smoke --json out.json " + args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(bpnn_test::file_text(dir.path / "out.json"));
}

}  // namespace

TEST_CASE("bench --repetitions writes mean, median, stddev and cv aggregates", "[cli][bench]") {
  ScratchDir dir;
  const nlohmann::json j = bench_json(dir, "--repetitions 3");
  std::size_t runs = 0;
  std::set<std::string> aggregates;
  for (const auto& b : j["benchmarks"]) {
    if (b["run_name"] != "train/seed/threads:1/real_time") continue;
    if (b["run_type"] == "iteration") ++runs;
    if (b["run_type"] == "aggregate") aggregates.insert(b["aggregate_name"].get<std::string>());
  }
  CHECK(runs == 3);
  CHECK(aggregates == std::set<std::string>{"mean", "median", "stddev", "cv"});
  const auto& context = j["context"];
  CHECK_THAT(context["peak_fraction"].get<std::string>(), Catch::Contains("GFLOPS / (peak"));
  CHECK_THAT(context["rss_ratio"].get<std::string>(), Catch::Contains("peak resident set"));
  CHECK_THAT(context["fma_peak_source"].get<std::string>(), Catch::Contains("best of 5"));
}

TEST_CASE("bench --peak fixes the peak, a fraction above 1 is flagged, not clamped", "[cli][bench]") {
  ScratchDir dir;
  const nlohmann::json j = bench_json(dir, "--peak 1e-12");  // below any speed: a smoke epoch does 1 sample
  CHECK(j["context"]["fma_peak_source"] == "fixed by --peak");
  bool seen = false;
  for (const auto& b : j["benchmarks"]) {
    if (b["run_type"] != "iteration") continue;
    seen = true;
    CHECK(b["peak_gflops_per_core"].get<double>() == Approx(1e-12));
    CHECK(b["peak_fraction"].get<double>() > 1.0);
    CHECK_THAT(b["label"].get<std::string>(), Catch::EndsWith(" peak_suspect=true"));
  }
  CHECK(seen);
  const nlohmann::json measured = bench_json(dir, "");
  for (const auto& b : measured["benchmarks"])
    CHECK_THAT(b["label"].get<std::string>(), !Catch::Contains("peak_suspect"));
}

TEST_CASE("bench measures the cores' FMA peak together before a benchmark of several threads", "[cli][bench]") {
  ScratchDir dir;
  const nlohmann::json j = bench_json(dir, "--threads 1,2");
  CHECK_THAT(j["context"]["cores_peak_ratio"].get<std::string>(), Catch::Contains("at the same time"));
  std::set<std::string> seen;
  for (const auto& b : j["benchmarks"]) {
    const std::string name = b["run_name"].get<std::string>();
    INFO(name);
    seen.insert(name);
    if (name == "train/seed/threads:2/real_time") {
      CHECK(b["cores_peak_gflops"].get<double>() > 0);
      CHECK(b["cores_peak_ratio"].get<double>() > 0);
      CHECK(b["cores_peak_ratio"].get<double>() ==
            Approx(b["cores_peak_gflops"].get<double>() / (2 * b["peak_gflops_per_core"].get<double>())));
    } else {
      CHECK_FALSE(b.contains("cores_peak_ratio"));  // one thread: nothing to measure together
    }
  }
  CHECK(seen.count("train/seed/threads:2/real_time") == 1);
  // a fixed peak is not measured, together or alone
  for (const auto& b : bench_json(dir, "--threads 2 --peak 100")["benchmarks"]) CHECK_FALSE(b.contains("cores_peak_ratio"));
}

TEST_CASE("the cores' FMA peak together is not reported when the threads did not run together", "[cli][bench]") {
  if (bpnn::hardware_threads() < 2) {
    WARN("SKIPPED: one core: there is nothing to run together");
    return;
  }
  // no worker may join: the calling thread waits for the other task in vain, then would run both
  // in turn — adding their rates would report twice one core (the defect this guards against)
  const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
  CHECK(std::isnan(bpnn::bench::fma_peak_together_f32(2)));
}

TEST_CASE("bench refuses repetitions, peaks and times out of range", "[cli][bench]") {
  ScratchDir dir;
  for (const char* args : {"--repetitions 0", "--repetitions 5000", "--peak -3", "--min-time -1"}) {
    INFO(args);
    const auto r = cli_run(dir.path, std::string("bench --workload seed --smoke ") + args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("bpnn: ", 0) == 0);
  }
}

TEST_CASE("bench --workload scaling runs the five thread-scaling shapes", "[cli][bench]") {
  ScratchDir dir;
  const auto r = cli_run(dir.path, "bench --workload scaling,mnist --smoke --threads 1 --peak 100 --json out.json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(bpnn_test::file_text(dir.path / "out.json"));
  std::set<std::string> names;
  for (const auto& b : j["benchmarks"]) names.insert(b["run_name"].get<std::string>());
  CHECK(names == std::set<std::string>{"train/deep/threads:1/real_time", "train/shallow/threads:1/real_time",
                                       "train/small_batch/threads:1/real_time",
                                       "train/large_input/threads:1/real_time",
                                       "train/mlp512/threads:1/real_time", "train/mnist/threads:1/real_time"});
  const auto bad = cli_run(dir.path, "bench --workload scale --smoke");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("small_batch"));
}

#endif  // BPNN_CLI_HAS_BENCH
