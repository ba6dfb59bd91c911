// The cost of one fork/join of ParallelFor (engine/train/parallel.hpp): two empty tasks on two
// threads, per backend, back to back ("hot": the workers still spin from the last fork) and after
// 2 ms on the calling thread alone ("cold": the workers have gone to sleep, as between the forks
// of a step whose serial parts are long). This is the task overhead that
// engine/train/batch_plan.hpp weighs a split against (task_overhead_seconds). Read the minimum:
// on a machine with more runnable threads than cores, waking a worker waits for the scheduler.
// "cold_busy" is the cold case as a step meets it: the calling thread computes (spins) for the
// 2 ms instead of sleeping. On a virtual machine, waking a sleeping worker from a busy core can
// cost the caller far more than from one that has just woken itself (a futex wake that must
// kick a halted vCPU: 12–17 µs against 1.3 µs measured on the 2-vCPU Xeon of issue 11).
// The "held" rows time the same two tasks handed to a held team (ParallelFor::hold, as the
// trainer runs an epoch): back to back, after 50 and 500 µs alone (the held thread still spins,
// as between a step's phases) and after 2 ms (it has gone to sleep and is woken: the futex wake
// is on the calling thread's path).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <thread>

#include "train/parallel.hpp"

namespace {

enum class Before { nothing, sleep, work };

void fork_join(benchmark::State& state, bpnn::Backend backend, Before before) {
  bpnn::ParallelFor parallel(backend, 2);
  std::size_t slot[2] = {};  // one per task: the tasks share nothing
  for (auto _ : state) {
    if (before != Before::nothing) {
      state.PauseTiming();
      if (before == Before::sleep) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      } else {
        const auto start = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2)) {
        }
      }
      state.ResumeTiming();
    }
    parallel.run(2, [&](std::size_t i) { benchmark::DoNotOptimize(slot[i] += i); });
  }
  state.counters["threads"] = parallel.threads();
}

void held_job(benchmark::State& state, bpnn::Backend backend, int alone_us) {
  bpnn::ParallelFor parallel(backend, 2);
  std::size_t slot[2] = {};
  parallel.hold([&] {
    for (auto _ : state) {
      if (alone_us > 0) {
        state.PauseTiming();
        const auto start = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - start < std::chrono::microseconds(alone_us)) {
        }
        state.ResumeTiming();
      }
      parallel.run(2, [&](std::size_t i) { benchmark::DoNotOptimize(slot[i] += i); });
    }
  });
  state.counters["threads"] = parallel.threads();
}

BENCHMARK_CAPTURE(held_job, tbb_hot, bpnn::Backend::tbb, 0)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(held_job, tbb_after_50us, bpnn::Backend::tbb, 50)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(2000);
BENCHMARK_CAPTURE(held_job, tbb_after_500us, bpnn::Backend::tbb, 500)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(1000);
BENCHMARK_CAPTURE(held_job, tbb_cold, bpnn::Backend::tbb, 2000)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK_CAPTURE(held_job, omp_hot, bpnn::Backend::omp, 0)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_CAPTURE(fork_join, tbb_hot, bpnn::Backend::tbb, Before::nothing)
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(fork_join, tbb_cold, bpnn::Backend::tbb, Before::sleep)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK_CAPTURE(fork_join, tbb_cold_busy, bpnn::Backend::tbb, Before::work)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK_CAPTURE(fork_join, omp_hot, bpnn::Backend::omp, Before::nothing)
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(fork_join, omp_cold, bpnn::Backend::omp, Before::sleep)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK_CAPTURE(fork_join, omp_cold_busy, bpnn::Backend::omp, Before::work)
    ->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(200);

}  // namespace
