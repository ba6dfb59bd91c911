// ParallelFor over oneTBB or OpenMP; see parallel.hpp. Nothing else in bpnn includes either.
#include "train/parallel.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
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

void ParallelFor::run(std::size_t count, const std::function<void(std::size_t)>& task) {
  if (threads_ <= 1 || count <= 1) {
    for (std::size_t i = 0; i < count; ++i) task(i);
    return;
  }
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
  if (failure) std::rethrow_exception(failure);
}

}  // namespace bpnn
