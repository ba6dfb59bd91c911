// ParallelFor over oneTBB or OpenMP; see parallel.hpp. Nothing else in bpnn includes either.
#include "train/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
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

namespace {

// Keeps the first failure by task index, so the error reported never depends on scheduling.
class FirstFailure {
 public:
  void run(std::size_t i, const std::function<void(std::size_t)>& task) {
    try {
      task(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (i < index_) {
        index_ = i;
        failure_ = std::current_exception();
      }
    }
  }
  void rethrow() const {
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  std::mutex mutex_;
  std::size_t index_ = std::numeric_limits<std::size_t>::max();
  std::exception_ptr failure_;
};

}  // namespace

void ParallelFor::run_parallel(std::size_t count, const std::function<void(std::size_t)>& task) {
  FirstFailure failures;
  const auto guarded = [&](std::size_t i) { failures.run(i, task); };
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
  failures.rethrow();
}

void ParallelFor::run_lanes(std::size_t count, const std::function<std::size_t(std::size_t)>& lane,
                            const std::function<void(std::size_t)>& task) {
  FirstFailure failures;
  const std::size_t lanes = static_cast<std::size_t>(threads_);
  std::vector<std::atomic<bool>> owned(lanes), taken(count);
  const auto take = [&](std::size_t i) {
    if (!taken[i].load(std::memory_order_relaxed) && !taken[i].exchange(true)) failures.run(i, task);
  };
  // A thread runs the tasks of its own lane from the first, then helps with whatever no thread
  // has taken yet from the last task back (the end of the lanes whose threads are late or
  // slowed, e.g. by other processes on their cores): affinity when the threads keep pace,
  // balance when they do not.
  const auto lanes_claim = [&](std::size_t own) {
    if (own < lanes && !owned[own].exchange(true))
      for (std::size_t i = 0; i < count; ++i)
        if (lane(i) % lanes == own) take(i);
    for (std::size_t i = count; i-- > 0;) take(i);
  };
#if defined(__SANITIZE_THREAD__)
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < lanes; ++t) workers.emplace_back([&, t] { lanes_claim(t); });
  lanes_claim(0);
  for (std::thread& w : workers) w.join();
#else
  if (backend_ == Backend::tbb) {
    // the calling thread holds arena slot 0 (reserved for it), the workers slots 1 … threads−1
    arena_->arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, lanes, 1),
                        [&](const tbb::blocked_range<std::size_t>& r) {
                          for (std::size_t i = r.begin(); i != r.end(); ++i)
                            lanes_claim(static_cast<std::size_t>(tbb::this_task_arena::current_thread_index()));
                        },
                        tbb::simple_partitioner());
    });
  } else {
#pragma omp parallel num_threads(threads_)
    lanes_claim(static_cast<std::size_t>(omp_get_thread_num()));
  }
#endif
  failures.rethrow();
}

}  // namespace bpnn
