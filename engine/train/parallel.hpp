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
  // or one task it runs them in order on the calling thread, with no type erasure or allocation
  // (the per-sample path of tiny networks goes through here millions of times a second). An
  // exception thrown by a task is rethrown here (the one of the lowest task index that threw).
  template <class Task>
  void run(std::size_t count, Task&& task) {
    if (threads_ <= 1 || count <= 1) {
      for (std::size_t i = 0; i < count; ++i) task(i);
      return;
    }
    run_parallel(count, std::function<void(std::size_t)>(std::ref(task)));
  }

  // The same, with task i run by thread lane(i) in [0, threads()): lane 0 is the calling thread,
  // and a lane is the same worker thread on every call (oneTBB: its arena slot; OpenMP: its
  // thread number) — so tasks that touch the same data on successive calls (a tile of weights
  // written by the update and read by the next step's forward pass) find it in that core's
  // cache. Each thread runs its lane's tasks in index order, then takes tasks no thread has
  // started from the last one back, so a thread that arrives late or is slowed down (another
  // process on its core) loses some of its tasks to the others rather than holding up the loop:
  // only the cache affinity is lost then, never a task. Which thread runs a task never changes
  // a result. `lane` must not throw (it is called outside the tasks' error handling; under
  // OpenMP an exception from it would end the process); a task may throw, as with run.
  template <class Lane, class Task>
  void run_pinned(std::size_t count, Lane&& lane, Task&& task) {
    if (threads_ <= 1 || count <= 1) {
      for (std::size_t i = 0; i < count; ++i) task(i);
      return;
    }
    run_lanes(count, std::function<std::size_t(std::size_t)>(std::ref(lane)),
              std::function<void(std::size_t)>(std::ref(task)));
  }

 private:
  void run_parallel(std::size_t count, const std::function<void(std::size_t)>& task);
  void run_lanes(std::size_t count, const std::function<std::size_t(std::size_t)>& lane,
                 const std::function<void(std::size_t)>& task);

  struct Arena;
  Backend backend_;
  int threads_;
  std::unique_ptr<Arena> arena_;
};

// The number of cores the process may use.
int hardware_threads();

}  // namespace bpnn
