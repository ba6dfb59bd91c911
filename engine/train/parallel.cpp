// ParallelFor over oneTBB or OpenMP; see parallel.hpp. Nothing else in bpnn includes either.
#include "train/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include <omp.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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

// One step of a wait loop that spins: the pause hint where there is one.
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Waits until done() by spinning, yielding the core after the first few thousand rounds: what
// the holder waits for (a task another thread is running, a thread leaving a job) takes µs
// unless that thread has lost its core, and then the core is better given back.
template <class Done>
void spin_until(Done&& done) {
  for (unsigned spins = 0; !done(); ++spins) {
    if (spins < 4096)
      spin_pause();
    else
      std::this_thread::yield();
  }
}

// Runs the tasks of lane `own`, in index order, then those no thread has taken yet, from the last
// back: affinity when the threads keep pace, balance when they do not (a thread that arrives late
// or is slowed by other processes on its core loses some of its tasks to the others).
template <class Run>
void lanes_claim(std::size_t own, std::size_t count, std::size_t lanes, std::atomic<bool>* owned,
                 std::atomic<bool>* taken, const std::function<std::size_t(std::size_t)>& lane, Run&& run) {
  const auto take = [&](std::size_t i) {
    if (!taken[i].load(std::memory_order_relaxed) && !taken[i].exchange(true)) run(i);
  };
  if (own < lanes && !owned[own].exchange(true))
    for (std::size_t i = 0; i < count; ++i)
      if (lane(i) % lanes == own) take(i);
  for (std::size_t i = count; i-- > 0;) take(i);
}

}  // namespace

// The held threads' shared state (ParallelFor::hold). The holding thread posts one job at a time:
// `epoch` is odd while no job is posted (the job's fields may then be written, once no thread is
// `active`) and even while one is. A thread joins a job by counting itself active and then seeing
// the epoch still even (the holder makes it odd and then waits for no one active: one of the two
// sees the other), so a job's fields never change under a thread that reads them.
struct ParallelFor::Team {
  explicit Team(std::size_t lane_count) : lanes(lane_count), owned(new std::atomic<bool>[lane_count]) {}

  // the job (written by the holder alone, as above)
  std::size_t lanes;
  std::size_t count = 0;
  const std::function<std::size_t(std::size_t)>* lane = nullptr;
  const std::function<void(std::size_t)>* task = nullptr;
  FirstFailure* failures = nullptr;
  bool exit = false;  // the job that ends the hold
  std::unique_ptr<std::atomic<bool>[]> owned;
  std::unique_ptr<std::atomic<bool>[]> taken;
  std::size_t taken_capacity = 0;

  std::atomic<std::uint32_t> epoch{1};
  std::atomic<int> active{0};
  std::atomic<int> sleepers{0};
  std::atomic<std::size_t> finished{0};
  std::thread::id holder;
  bool in_job = false;  // the holder is inside team_run (a task's own call then runs in place)

  // holder: post a job (the epoch is odd and no thread active here)
  void post(std::size_t n, const std::function<std::size_t(std::size_t)>* lane_of,
            const std::function<void(std::size_t)>* run, FirstFailure* failure_of, bool ends) {
    if (n > taken_capacity) {
      taken.reset(new std::atomic<bool>[n]);
      taken_capacity = n;
    }
    for (std::size_t i = 0; i < n; ++i) taken[i].store(false, std::memory_order_relaxed);
    for (std::size_t i = 0; i < lanes; ++i) owned[i].store(false, std::memory_order_relaxed);
    count = n;
    lane = lane_of;
    task = run;
    failures = failure_of;
    exit = ends;
    finished.store(0, std::memory_order_relaxed);
    epoch.fetch_add(1);  // even: posted
    if (sleepers.load() > 0) epoch.notify_all();
  }

  // holder: take the job back once its tasks are done; returns when no thread reads it any more
  void retire() {
    epoch.fetch_add(1);  // odd
    spin_until([&] { return active.load() == 0; });
  }

  // a held thread: waits for a job posted after `seen`, spinning for about 1 ms and then
  // sleeping; returns its epoch with this thread counted active. Waking a sleeping thread costs
  // the holder a futex call on its own path: 12–17 µs on this 2-vCPU machine when the holder has
  // been busy (1.3 µs after it slept), so a thread sleeps only after a gap 60 times that long.
  std::uint32_t join(std::uint32_t seen) {
    using Clock = std::chrono::steady_clock;
    constexpr auto spin_for = std::chrono::milliseconds(1);
    Clock::time_point spin_start{};
    for (unsigned spins = 0;; ++spins) {
      std::uint32_t e = epoch.load(std::memory_order_acquire);
      if (e != seen && e % 2 == 0) {
        active.fetch_add(1);
        if (epoch.load() == e) return e;
        active.fetch_sub(1);
        continue;
      }
      if (spins % 64 == 0) {
        const Clock::time_point now = Clock::now();
        if (spins == 0) {
          spin_start = now;
        } else if (now - spin_start > spin_for) {
          sleepers.fetch_add(1);
          epoch.wait(e);
          sleepers.fetch_sub(1);
          spins = std::numeric_limits<unsigned>::max();  // the next round starts a new spin
          continue;
        }
      }
      spin_pause();
    }
  }

  // the posted job's tasks of lane `own`, then any left (lanes_claim), each counted finished
  void claim(std::size_t own) {
    lanes_claim(own, count, lanes, owned.get(), taken.get(), *lane, [&](std::size_t i) {
      failures->run(i, *task);
      finished.fetch_add(1, std::memory_order_release);
    });
  }

  // a held thread's life: the jobs' tasks of lane `own` (and any left) until the ending job
  void work(std::size_t own, std::uint32_t seen) {
    for (;;) {
      seen = join(seen);
      if (exit) {
        active.fetch_sub(1);
        return;
      }
      // (a thread that joins after the last task has finished leaves at once: the holder waits
      // for it to leave before it takes the job back)
      if (finished.load(std::memory_order_relaxed) != count) claim(own);
      active.fetch_sub(1);
    }
  }
};

bool ParallelFor::team_free_here() const {
  return std::this_thread::get_id() == team_->holder && !team_->in_job;
}

void ParallelFor::team_run(std::size_t count, const std::function<std::size_t(std::size_t)>& lane,
                           const std::function<void(std::size_t)>& task) {
  Team& team = *team_;
  FirstFailure failures;
  team.post(count, &lane, &task, &failures, false);
  team.in_job = true;
  team.claim(0);
  spin_until([&] { return team.finished.load(std::memory_order_acquire) == count; });
  team.in_job = false;
  team.retire();
  failures.rethrow();
}

void ParallelFor::hold_run(const std::function<void()>& body) {
  if (!team_) team_ = std::make_unique<Team>(static_cast<std::size_t>(threads_));
  Team& team = *team_;
  const std::uint32_t seen = team.epoch.load();
  struct HeldFlag {  // held_ for the region, false again however it ends
    bool& held;
    ~HeldFlag() { held = false; }
  } held_flag{held_};
  held_ = true;
  std::exception_ptr failure;
  // the holder's part, on the thread that runs it: body, then the job that lets the others go
  // (also when body throws)
  const auto lead = [&](auto&& call) {
    team.holder = std::this_thread::get_id();
    try {
      call();
    } catch (...) {
      failure = std::current_exception();
    }
    team.post(0, nullptr, nullptr, nullptr, true);
  };
#if defined(__SANITIZE_THREAD__)
  // on plain std::threads, which ThreadSanitizer sees (as run_parallel)
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < team.lanes; ++t) workers.emplace_back([&, t] { team.work(t, seen); });
  lead(body);
  for (std::thread& w : workers) w.join();
#else
  if (backend_ == Backend::tbb) {
    // the holder keeps arena slot 0; a worker's lane is its slot. A task no worker took by the
    // end is run by the holder in g.wait(), and finds the ending job at once. Body and each held
    // thread run isolated: a oneTBB wait inside them (in a task, or in code body calls) runs
    // only tasks of its own, never another held thread's loop, which would then wait for a job
    // that only the thread it blocks could post.
    arena_->arena.execute([&] {
      tbb::task_group group;
      for (std::size_t t = 1; t < team.lanes; ++t)
        group.run([&] {
          tbb::this_task_arena::isolate([&] {
            team.work(static_cast<std::size_t>(tbb::this_task_arena::current_thread_index()), seen);
          });
        });
      lead([&] { tbb::this_task_arena::isolate(body); });
      group.wait();
    });
  } else {
#pragma omp parallel num_threads(threads_)
    {
      if (omp_get_thread_num() == 0)
        lead(body);
      else
        team.work(static_cast<std::size_t>(omp_get_thread_num()), seen);
    }
  }
#endif
  team.retire();
  if (failure) std::rethrow_exception(failure);
}

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
  const auto claim = [&](std::size_t own) {
    lanes_claim(own, count, lanes, owned.data(), taken.data(), lane, [&](std::size_t i) { failures.run(i, task); });
  };
#if defined(__SANITIZE_THREAD__)
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < lanes; ++t) workers.emplace_back([&, t] { claim(t); });
  claim(0);
  for (std::thread& w : workers) w.join();
#else
  if (backend_ == Backend::tbb) {
    // the calling thread holds arena slot 0 (reserved for it), the workers slots 1 … threads−1
    arena_->arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, lanes, 1),
                        [&](const tbb::blocked_range<std::size_t>& r) {
                          for (std::size_t i = r.begin(); i != r.end(); ++i)
                            claim(static_cast<std::size_t>(tbb::this_task_arena::current_thread_index()));
                        },
                        tbb::simple_partitioner());
    });
  } else {
#pragma omp parallel num_threads(threads_)
    claim(static_cast<std::size_t>(omp_get_thread_num()));
  }
#endif
  failures.rethrow();
}

}  // namespace bpnn
