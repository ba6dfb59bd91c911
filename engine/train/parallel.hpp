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
    if (threads_ <= 1 || count <= 1 || (held_ && !team_free_here())) {
      for (std::size_t i = 0; i < count; ++i) task(i);
      return;
    }
    if (held_) {
      team_run(count, std::function<std::size_t(std::size_t)>([](std::size_t i) { return i; }),
               std::function<void(std::size_t)>(std::ref(task)));
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
    if (threads_ <= 1 || count <= 1 || (held_ && !team_free_here())) {
      for (std::size_t i = 0; i < count; ++i) task(i);
      return;
    }
    std::function<std::size_t(std::size_t)> lanes(std::ref(lane));
    std::function<void(std::size_t)> tasks(std::ref(task));
    if (held_)
      team_run(count, lanes, tasks);
    else
      run_lanes(count, lanes, tasks);
  }

  // Inside hold's body, with the other threads held (not with one thread: body just runs).
  bool held() const { return held_; }

  // Runs body() on the calling thread with the other threads held for it: until it returns, the
  // run and run_pinned calls it makes hand their tasks to threads that are already waiting for
  // them, instead of starting a parallel region each (a few µs on every call: a mini-batch step
  // of a deep network makes eight or more). The tasks, their lanes and every result are the
  // same. A waiting thread spins for about 1 ms, then sleeps until the next call wakes it (which
  // costs that call a futex wake, ~15 µs here), so slow work between the calls costs no core for
  // long. An exception from body is rethrown after the threads are let go. Inside body, a call
  // made by a task runs its tasks in order on the task's thread; a nested hold is body() itself.
  // Body runs inside this object's parallel region (an OpenMP parallel region, or its oneTBB
  // arena with the other threads held): code that runs its own OpenMP or oneTBB work, such as a
  // user's callback, belongs between holds (the trainer calls its progress callback there).
  // One holder at a time: not from a task of this object's run or run_pinned.
  template <class Body>
  void hold(Body&& body) {
    if (threads_ <= 1 || held_) {
      body();
      return;
    }
    hold_run(std::function<void()>(std::ref(body)));
  }

 private:
  void run_parallel(std::size_t count, const std::function<void(std::size_t)>& task);
  void run_lanes(std::size_t count, const std::function<std::size_t(std::size_t)>& lane,
                 const std::function<void(std::size_t)>& task);
  void hold_run(const std::function<void()>& body);
  void team_run(std::size_t count, const std::function<std::size_t(std::size_t)>& lane,
                const std::function<void(std::size_t)>& task);
  // held, and this is the holding thread outside a team_run: a call from a task (on any thread)
  // runs its tasks in order where it is
  bool team_free_here() const;

  struct Arena;
  struct Team;
  Backend backend_;
  int threads_;
  std::unique_ptr<Arena> arena_;
  std::unique_ptr<Team> team_;  // made at the first hold, kept for the next
  bool held_ = false;           // inside hold (read by the holding thread, and by tasks it runs)
};

// The number of cores the process may use.
int hardware_threads();

}  // namespace bpnn
