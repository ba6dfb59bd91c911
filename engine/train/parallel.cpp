// ParallelFor over oneTBB or OpenMP; see parallel.hpp. Nothing else in bpnn includes either.
#include "train/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <omp.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace bpnn {

struct ParallelFor::Arena {
  explicit Arena(int threads) : arena(threads) {}
  tbb::task_arena arena;
};

int hardware_threads() { return tbb::info::default_concurrency(); }

// More threads than cores would only oversubscribe them (and oneTBB refuses the extra workers).
ParallelFor::ParallelFor(Backend backend, int threads)
    : backend_(backend),
      threads_(threads > 0 ? std::min(threads, hardware_threads()) : hardware_threads()) {
  if (backend_ == Backend::tbb && threads_ > 1) arena_ = std::make_unique<Arena>(threads_);
}

ParallelFor::~ParallelFor() = default;

void ParallelFor::run_parallel(std::size_t count, const std::function<void(std::size_t)>& task) {
  // Keep the first failure by task index so the error reported never depends on scheduling.
  std::mutex mutex;
  std::size_t failed_index = count;
  std::exception_ptr failure;
  const auto guarded = [&](std::size_t i) {
    try {
      task(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (i < failed_index) {
        failed_index = i;
        failure = std::current_exception();
      }
    }
  };
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer cannot see the synchronisation inside the uninstrumented oneTBB and libgomp,
  // so a TSan build runs the same tasks on plain std::threads (which it does see): it checks
  // bpnn's own task decomposition for races, the part that is ours.
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> workers;
  const std::size_t n = std::min<std::size_t>(count, static_cast<std::size_t>(threads_));
  for (std::size_t t = 0; t < n; ++t)
    workers.emplace_back([&] {
      for (std::size_t i = next++; i < count; i = next++) guarded(i);
    });
  for (std::thread& w : workers) w.join();
#else
  if (backend_ == Backend::tbb) {
    arena_->arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, count, 1),
                        [&](const tbb::blocked_range<std::size_t>& r) {
                          for (std::size_t i = r.begin(); i != r.end(); ++i) guarded(i);
                        },
                        tbb::simple_partitioner());
    });
  } else {
    const long n = static_cast<long>(count);
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
    for (long i = 0; i < n; ++i) guarded(static_cast<std::size_t>(i));
  }
#endif
  if (failure) std::rethrow_exception(failure);
}

}  // namespace bpnn
