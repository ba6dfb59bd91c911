// The cost of one fork/join of ParallelFor (engine/train/parallel.hpp): two empty tasks on two
// threads, per backend. This is the task overhead that engine/train/batch_plan.hpp weighs a split
// against (task_overhead_seconds); read the minimum, a shared machine adds noise on top.
#include <benchmark/benchmark.h>

#include <cstddef>

#include "train/parallel.hpp"

namespace {

void fork_join(benchmark::State& state, bpnn::Backend backend) {
  bpnn::ParallelFor parallel(backend, 2);
  std::size_t slot[2] = {};  // one per task: the tasks share nothing
  for (auto _ : state) {
    parallel.run(2, [&](std::size_t i) { benchmark::DoNotOptimize(slot[i] += i); });
  }
  state.counters["threads"] = parallel.threads();
}

BENCHMARK_CAPTURE(fork_join, tbb, bpnn::Backend::tbb)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(fork_join, omp, bpnn::Backend::omp)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
