// bpnn_bench: the training workloads W0–W3 at 1 and all threads, plus every kernel benchmark
// registered in bench/. Google Benchmark flags apply (--benchmark_filter, --benchmark_out=FILE
// --benchmark_out_format=json, ...); `--smoke` runs every benchmark for one short iteration.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fma_peak.hpp"
#include "train/parallel.hpp"
#include "workloads.hpp"

int main(int argc, char** argv) {
  bool smoke = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0)
      smoke = true;
    else
      args.push_back(argv[i]);
  }
  std::string min_time = "--benchmark_min_time=0";
  if (smoke) args.push_back(min_time.data());
  int count = static_cast<int>(args.size());

  const auto peak = std::make_shared<bpnn::bench::PeakTracker>();
  bpnn::bench::workloads_describe(*peak);
  std::vector<int> threads{1};
  if (bpnn::hardware_threads() > 1) threads.push_back(bpnn::hardware_threads());
  auto workloads = bpnn::bench::workloads_standard(threads);
  if (smoke) bpnn::bench::workloads_make_smoke(workloads);
  bpnn::bench::workloads_register(workloads, peak);

  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
