#pragma once
// The one place bpnn runs work on several threads: a parallel loop over a fixed number of
// independent tasks, on oneTBB (inside the trainer's own task arena, so an embedding program's
// threads are never oversubscribed) or on OpenMP. Which thread runs a task never changes a
// result: tasks own disjoint outputs, and their number is fixed by the caller, never by the
// thread count.
#include <cstddef>
#include <functional>
#include <memory>

#include "bpnn/train.hpp"

namespace bpnn {

class ParallelFor {
 public:
  // threads = 0: all cores; more threads than cores are capped to the number of cores
  ParallelFor(Backend backend, int threads);
  ~ParallelFor();
  ParallelFor(const ParallelFor&) = delete;
  ParallelFor& operator=(const ParallelFor&) = delete;

  int threads() const { return threads_; }

  // Calls task(i) once for every i in [0, count) and returns when all are done. With one thread
  // or one task it runs them in order on the calling thread. An exception thrown by a task is
  // rethrown here (the one of the lowest task index among those that threw).
  void run(std::size_t count, const std::function<void(std::size_t)>& task);

 private:
  struct Arena;
  Backend backend_;
  int threads_;
  std::unique_ptr<Arena> arena_;
};

// The number of cores the process may use.
int hardware_threads();

}  // namespace bpnn
