// The cost of one fork/join of ParallelFor (engine/train/parallel.hpp): two empty tasks on two
// threads, per backend, back to back ("hot": the workers still spin from the last fork) and after
// 2 ms on the calling thread alone ("cold": the workers have gone to sleep, as between the forks
// of a step whose serial parts are long). This is the task overhead that
// engine/train/batch_plan.hpp weighs a split against (task_overhead_seconds). Read the minimum:
// on a machine with more runnable threads than cores, waking a worker waits for the scheduler.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <thread>

#include "train/parallel.hpp"

namespace {

void fork_join(benchmark::State& state, bpnn::Backend backend, bool cold) {
  bpnn::ParallelFor parallel(backend, 2);
  std::size_t slot[2] = {};  // one per task: the tasks share nothing
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      state.ResumeTiming();
    }
    parallel.run(2, [&](std::size_t i) { benchmark::DoNotOptimize(slot[i] += i); });
  }
  state.counters["threads"] = parallel.threads();
}

BENCHMARK_CAPTURE(fork_join, tbb_hot, bpnn::Backend::tbb, false)
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(fork_join, tbb_cold, bpnn::Backend::tbb, true)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK_CAPTURE(fork_join, omp_hot, bpnn::Backend::omp, false)
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(fork_join, omp_cold, bpnn::Backend::omp, true)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(200);

}  // namespace
