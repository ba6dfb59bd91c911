// Multicore training: identical models for every thread count and both backends, the parallel
// step against the single-thread reference step, and a stress run for ThreadSanitizer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <omp.h>

#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "nn/network_impl.hpp"
#include "nn/random.hpp"
#include "train/batch_plan.hpp"
#include "train/parallel.hpp"
#include "train/trainer_core.hpp"
#include "same_bits.hpp"
#include "train/optimizer.hpp"
#include "train_test_util.hpp"

namespace {

using Data = bpnn_test::TrainData;
using bpnn_test::all_parameters;

Data training_data(std::size_t n, std::size_t in, std::size_t out, std::uint64_t seed) {
  return bpnn_test::random_train_data(n, in, out, seed);
}


bpnn::NetworkConfig wide_config(bpnn::Precision precision, std::uint64_t seed) {
  bpnn::NetworkConfig c;
  c.sizes = {64, 256, 128, 10};  // wide enough that a step is cut into several tasks
  c.precision = precision;
  c.seed = seed;
  return c;
}

// One plain SGD step of an f64 network on `rows` rows, on one thread with the whole-layer
// kernels: forward, loss, the whole backward pass, one update — the reference for a parallel step.
void reference_sgd_step(bpnn::Network& net, const Data& data, std::size_t rows, double lr) {
  auto& mlp = std::get<bpnn::Mlp<double>>(bpnn::NetworkAccess::impl(net).mlp);
  bpnn::Workspace<double> ws(mlp, rows);
  std::vector<double> grad(mlp.arena().size(), 0.0);
  mlp.forward(data.x.data(), rows, ws);
  mlp.loss_and_output_delta(data.y.data(), rows, ws);
  mlp.backward(data.x.data(), rows, ws, grad.data());
  mlp.kernels().sgd_update(grad.size(), lr, 0.0, 1.0 / static_cast<double>(rows), grad.data(), nullptr,
                           mlp.arena().data());
}

// An optimizer with its rate and clipping, for the same-bits tests of the tiles.
struct OptimizerCase {
  bpnn::Optimizer optimizer;
  double learning_rate, clip;
};

// One epoch (seed 5) of `c` at batch `batch` on `threads` threads of `backend`, the tiles
// cut for plan_threads (0: the threads used).
bpnn::TrainConfig tiles_config(const OptimizerCase& c, std::size_t batch, int threads, bpnn::Backend backend,
                               int plan_threads = 0) {
  bpnn::TrainConfig t;
  t.optimizer = c.optimizer;
  t.learning_rate = c.learning_rate;
  t.clip = c.clip;
  t.batch = batch;
  t.epochs = 1;
  t.seed = 5;
  t.threads = threads;
  t.plan_threads = plan_threads;
  t.backend = backend;
  return t;
}

// The batch plan the trainer makes for `net` at batch `rows` on `threads` threads, in the
// network's precision
bpnn::BatchPlan plan_for(const bpnn::Network& net, std::size_t rows, std::size_t threads = 1) {
  return std::visit([&](const auto& mlp) { return bpnn::batch_plan_make(mlp, rows, threads); },
                    bpnn::NetworkAccess::impl(net).mlp);
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// `config`'s network (f64) trained one epoch on `data` in unshuffled batches of `batch` rows (the
// last shorter when they do not divide), rate 0.3, on `threads` threads, against
// reference_sgd_step over the same batches in turn. Momentum's first step is plain SGD's, so
// momentum is compared over one batch only.
struct AgainstReference {
  double max_difference;         // the largest difference of any parameter
  std::vector<double> trained;   // the parameters the trainer made
};
AgainstReference trained_against_reference(const bpnn::NetworkConfig& config, const Data& data,
                                           std::size_t batch, int threads = 2,
                                           bpnn::Optimizer optimizer = bpnn::Optimizer::sgd) {
  REQUIRE((optimizer == bpnn::Optimizer::sgd || data.n <= batch));
  bpnn::Network parallel(config);
  bpnn::Network reference = parallel;
  bpnn::TrainConfig t;
  t.optimizer = optimizer;
  t.learning_rate = 0.3;
  t.batch = batch;
  t.epochs = 1;
  t.shuffle = false;
  t.threads = threads;
  bpnn::Trainer(parallel, t, data.x.data(), data.y.data(), data.n).run();
  const std::size_t in = config.sizes.front(), out = config.sizes.back();
  for (std::size_t first = 0; first < data.n; first += batch) {
    const std::size_t rows = std::min(batch, data.n - first);
    const Data step{{data.x.begin() + static_cast<std::ptrdiff_t>(first * in),
                     data.x.begin() + static_cast<std::ptrdiff_t>((first + rows) * in)},
                    {data.y.begin() + static_cast<std::ptrdiff_t>(first * out),
                     data.y.begin() + static_cast<std::ptrdiff_t>((first + rows) * out)},
                    rows};
    reference_sgd_step(reference, step, rows, 0.3);
  }
  return {max_difference(all_parameters(parallel), all_parameters(reference)), all_parameters(parallel)};
}

}  // namespace

TEST_CASE("the batch plan cuts wide steps into several tasks, independent of threads", "[parallel]") {
  bpnn::Network net(wide_config(bpnn::Precision::f32, 1));
  const auto& mlp = std::get<bpnn::Mlp<float>>(bpnn::NetworkAccess::impl(net).mlp);
  const bpnn::BatchPlan plan = bpnn::batch_plan_make(mlp, 257);
  CHECK(plan.chunks(257) > 1);
  CHECK(plan.weight_tasks > plan.layers.size());
  CHECK(plan.weights_in_parallel);

  // a tiny network's step stays on the calling thread: one chunk, phase 2 serial
  bpnn::NetworkConfig tiny;
  tiny.sizes = {4, 8, 3};
  bpnn::Network small(tiny);
  const bpnn::BatchPlan tiny_plan = plan_for(small, 8);
  CHECK(tiny_plan.chunks(8) == 1);
  CHECK_FALSE(tiny_plan.weights_in_parallel);
  for (const auto& layer : plan.layers) {  // tiles start at whole panels of the packed layout
    if (mlp.kernels().out_block > 0 && layer.tiles > 1)
      for (std::size_t t = 0; t < layer.tiles; ++t)
        CHECK(layer.outputs.first(t) % mlp.kernels().out_block == 0);
  }
}

TEST_CASE("trained models are bit for bit the same for 1, 2, 3, 4 and 8 threads and both backends",
          "[parallel]") {
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64})
    for (std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{65}, std::size_t{257}}) {
      const std::uint64_t seed = 100 + batch;
      const Data data = training_data(300, 64, 10, seed);  // 300 % batch leaves a partial batch
      std::vector<double> first;
      for (auto backend : {bpnn::Backend::tbb, bpnn::Backend::omp})
        for (int threads : {1, 2, 3, 4, 8}) {
          bpnn::Network net(wide_config(precision, seed));
          bpnn::TrainConfig t;
          t.learning_rate = 0.05;
          t.momentum = batch == 1 ? 0.0 : 0.9;
          t.batch = batch;
          t.epochs = batch == 1 ? 1 : 2;
          t.seed = seed;
          t.threads = threads;
          t.backend = backend;
          bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
          const auto params = all_parameters(net);
          if (first.empty()) first = params;
          INFO(bpnn::to_string(precision) << " batch " << batch << " threads " << threads
                                          << (backend == bpnn::Backend::tbb ? " tbb" : " omp"));
          CHECK(bpnn_test::same_bits(params, first));
        }
    }
}

TEST_CASE("a parallel step equals the single-thread reference step within tolerance", "[parallel]") {
  const std::size_t rows = 65;
  const Data data = training_data(rows, 64, 10, 5);
  const AgainstReference step = trained_against_reference(wide_config(bpnn::Precision::f64, 9), data, rows);
  CHECK(step.max_difference <= 1e-13);
  CHECK_FALSE(bpnn_test::same_bits(step.trained, all_parameters(bpnn::Network(wide_config(bpnn::Precision::f64, 9)))));
}

TEST_CASE("many short training runs on many threads at once", "[parallel][stress]") {
  // Run under ThreadSanitizer by tools/run-sanitizers.sh; here it also checks that concurrent
  // trainers on distinct networks do not disturb each other.
  const Data data = training_data(96, 64, 10, 77);
  std::vector<std::vector<double>> results(8);
  std::vector<std::thread> pool;
  for (int i = 0; i < 8; ++i)
    pool.emplace_back([&, i] {
      for (int run = 0; run < 3; ++run) {
        bpnn::Network net(wide_config(bpnn::Precision::f32, 3));
        bpnn::TrainConfig t;
        t.batch = 32;
        t.epochs = 1;
        t.threads = 1 + i % 3;
        t.backend = i % 2 ? bpnn::Backend::omp : bpnn::Backend::tbb;
        bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
        results[i] = all_parameters(net);
      }
    });
  for (auto& t : pool) t.join();
  for (int i = 1; i < 8; ++i) CHECK(bpnn_test::same_bits(results[i], results[0]));
}

TEST_CASE("per-sample SGD splits wide layers across threads, with identical results", "[parallel]") {
  bpnn::NetworkConfig c;
  c.sizes = {1024, 4096, 16};  // the first layer is wide enough to cut into several tiles
  c.seed = 21;
  {
    bpnn::Network probe(c);
    const auto& mlp = std::get<bpnn::Mlp<float>>(bpnn::NetworkAccess::impl(probe).mlp);
    const bpnn::BatchPlan plan = bpnn::batch_plan_make(mlp, 1);
    REQUIRE(plan.sample_in_parallel);
    REQUIRE(plan.layers[0].tiles > 1);
  }
  const Data data = training_data(12, 1024, 16, 8);
  std::vector<double> first;
  for (auto backend : {bpnn::Backend::tbb, bpnn::Backend::omp})
    for (int threads : {1, 2, 4}) {
      bpnn::Network net(c);
      bpnn::TrainConfig t;
      t.learning_rate = 0.1;
      t.batch = 1;
      t.epochs = 1;
      t.threads = threads;
      t.backend = backend;
      bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
      const auto params = all_parameters(net);
      if (first.empty()) first = params;
      INFO("threads " << threads << (backend == bpnn::Backend::tbb ? " tbb" : " omp"));
      CHECK(bpnn_test::same_bits(params, first));
    }

  // the same samples through the fused single-thread sweep
  bpnn::Network reference(c);
  auto& mlp = std::get<bpnn::Mlp<float>>(bpnn::NetworkAccess::impl(reference).mlp);
  bpnn::Workspace<float> ws(mlp, 1);
  bpnn::Random order(1);
  std::vector<std::size_t> index(data.n);
  for (std::size_t i = 0; i < data.n; ++i) index[i] = i;
  order.shuffle(index.begin(), data.n);
  std::vector<float> x(1024), y(16);
  for (std::size_t s : index) {
    for (std::size_t i = 0; i < 1024; ++i) x[i] = static_cast<float>(data.x[s * 1024 + i]);
    for (std::size_t i = 0; i < 16; ++i) y[i] = static_cast<float>(data.y[s * 16 + i]);
    mlp.forward(x.data(), 1, ws);
    mlp.loss_and_output_delta(y.data(), 1, ws);
    bpnn::sgd_sample_in_place(mlp, x.data(), ws, 0.1f);
  }
  const auto expected = all_parameters(reference);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) differing += expected[i] != first[i];
  INFO(differing << " of " << expected.size() << " parameters differ");
  CHECK(bpnn_test::same_bits(expected, first));
}

TEST_CASE("phase 1 layer by layer: the same bits for every thread count, the reference step's values",
          "[parallel]") {
  // 256-1024-10 at batch 16: one chunk of rows would leave phase 1 on one thread, so the plan
  // cuts each layer's outputs (forward) and inputs (backward) instead
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
    INFO(bpnn::to_string(precision));
    bpnn::NetworkConfig config;
    config.sizes = {256, 1024, 10};
    config.precision = precision;
    config.seed = 3;
    const std::size_t rows = 16;
    REQUIRE(plan_for(bpnn::Network(config), rows).phase1_by_layers);
    const Data data = training_data(40, 256, 10, 17);  // 40 % 16 leaves a partial batch
    std::vector<double> first;
    for (auto backend : {bpnn::Backend::tbb, bpnn::Backend::omp})
      for (int threads : {1, 2, 3}) {
        bpnn::Network net(config);
        bpnn::TrainConfig t;
        t.learning_rate = 0.1;
        t.momentum = 0.9;
        t.batch = rows;
        t.epochs = 2;
        t.threads = threads;
        t.backend = backend;
        bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
        INFO("threads " << threads << (backend == bpnn::Backend::tbb ? " tbb" : " omp"));
        if (first.empty()) first = all_parameters(net);
        CHECK(bpnn_test::same_bits(all_parameters(net), first));
      }
  }
  // one step against the single-thread whole-layer reference (forward, loss, backward, update)
  bpnn::NetworkConfig config;
  config.sizes = {256, 1024, 10};
  config.precision = bpnn::Precision::f64;
  const std::size_t rows = 16;
  const Data data = training_data(rows, 256, 10, 23);
  const AgainstReference step = trained_against_reference(config, data, rows);
  CHECK(step.max_difference <= 1e-13);
  CHECK_FALSE(bpnn_test::same_bits(step.trained, all_parameters(bpnn::Network(config))));  // it trained
}

TEST_CASE("a shuffled step gathers its rows inside phase 1: the bits of training on the rows in that order",
          "[parallel]") {
  // Both forms of phase 1: chunks of rows (each chunk copies its rows) and layer by layer (the
  // copy cut into pieces of rows); 100 rows leave a partial last batch
  // (32-512-32 at batch 64 stays on 2 chunks of rows; since the plan counts weight reads, most
  // multi-chunk shapes, 512-256-10 at 64 among them, go by layers)
  const std::tuple<std::vector<std::size_t>, std::size_t, bool> shapes[] = {{{32, 512, 32}, 64, false},
                                                                            {{256, 1024, 10}, 16, true}};
  for (const auto& [sizes, batch, by_layers] : shapes) {
    bpnn::NetworkConfig config;
    config.sizes = sizes;
    config.seed = 5;
    {
      bpnn::Network probe(config);
      const auto& mlp = std::get<bpnn::Mlp<float>>(bpnn::NetworkAccess::impl(probe).mlp);
      const bpnn::BatchPlan plan = bpnn::batch_plan_make(mlp, batch);
      INFO("batch " << batch);
      REQUIRE(plan.phase1_by_layers == by_layers);
      REQUIRE((plan.phase1_by_layers ? plan.forward_cut[0].tasks() : plan.chunks(batch)) > 1);
    }
    const std::size_t in = sizes.front(), out = sizes.back();
    const Data data = training_data(100, in, out, 29);
    // the epoch's order, as the trainer draws it from its seed, and the data in that order
    std::vector<std::size_t> index(data.n);
    for (std::size_t i = 0; i < data.n; ++i) index[i] = i;
    bpnn::Random order(1);
    order.shuffle(index.begin(), data.n);
    Data ordered = data;
    for (std::size_t r = 0; r < data.n; ++r) {
      std::copy_n(data.x.data() + index[r] * in, in, ordered.x.data() + r * in);
      std::copy_n(data.y.data() + index[r] * out, out, ordered.y.data() + r * out);
    }
    bpnn::TrainConfig t;
    t.learning_rate = 0.1;
    t.momentum = 0.9;
    t.batch = batch;
    t.epochs = 1;
    t.seed = 1;
    bpnn::Network expected_net(config);
    t.shuffle = false;
    t.threads = 1;
    bpnn::Trainer(expected_net, t, ordered.x.data(), ordered.y.data(), ordered.n).run();
    const auto expected = all_parameters(expected_net);
    t.shuffle = true;
    for (int threads : {1, 2, 3}) {
      bpnn::Network net(config);
      t.threads = threads;
      bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
      INFO("batch " << batch << ", threads " << threads);
      CHECK(bpnn_test::same_bits(all_parameters(net), expected));
    }
  }
}

TEST_CASE("run_pinned runs each task once, a lane's own tasks in order, late lanes' tasks taken by others, errors by index",
          "[parallel]") {
  for (bpnn::Backend backend : {bpnn::Backend::tbb, bpnn::Backend::omp}) {
    bpnn::ParallelFor parallel(backend, 4);
    const std::size_t threads = static_cast<std::size_t>(parallel.threads());
    for (std::size_t count : {1, 2, 3, 5, 17, 64}) {
      INFO("backend " << (backend == bpnn::Backend::tbb ? "tbb" : "omp") << ", " << threads << " threads, "
                      << count << " tasks");
      const auto lane = [&](std::size_t i) { return bpnn::task_lane(i, threads); };
      std::vector<std::thread::id> ran_on(count);
      std::vector<std::size_t> order(count, 0), runs(count, 0);
      std::atomic<std::size_t> clock{1};
      parallel.run_pinned(count, lane, [&](std::size_t i) {
        ran_on[i] = std::this_thread::get_id();
        order[i] = clock++;
        ++runs[i];
      });
      for (std::size_t i = 0; i < count; ++i) CHECK(runs[i] == 1);
      // the calling thread owns lane 0 and runs the lane's tasks it does not lose to another
      // thread in index order
      std::size_t last = 0;
      for (std::size_t i = 0; i < count; i += threads)
        if (ran_on[i] == std::this_thread::get_id()) {
          CHECK(order[i] > last);
          last = order[i];
        }

      // the error of the lowest task index that threw, whichever thread ran it
      if (count >= 5) {
        try {
          parallel.run_pinned(count, lane, [&](std::size_t i) {
            if (i == count - 1 || i == 1) throw bpnn::Error(bpnn::ErrorKind::data, "task " + std::to_string(i));
          });
          FAIL("no exception");
        } catch (const bpnn::Error& e) {
          CHECK(std::string(e.what()) == "task 1");
        }
      }
    }
    if (threads < 2) continue;
    // lane 0's first task waits until every other task of lane 0 has run: only a thread that
    // takes them from lane 0 (the other lanes' threads, done with their own) lets it finish
    const std::size_t count = 8 * threads;
    std::vector<std::atomic<bool>> done(count);
    bool waited_out = false;
    parallel.run_pinned(count, [&](std::size_t i) { return bpnn::task_lane(i, threads); }, [&](std::size_t i) {
      if (i == 0) {
        const auto start = std::chrono::steady_clock::now();
        const auto rest_done = [&] {
          for (std::size_t j = threads; j < count; j += threads)
            if (!done[j]) return false;
          return true;
        };
        while (!rest_done())
          if (std::chrono::steady_clock::now() - start > std::chrono::seconds(10)) {
            waited_out = true;
            break;
          }
      }
      done[i] = true;
    });
    CHECK_FALSE(waited_out);
    for (std::size_t i = 0; i < count; ++i) CHECK(done[i]);
  }
}

TEST_CASE("hold: the jobs of a held team run each task once, errors by index, nested calls in place, the team let go on a throw",
          "[parallel]") {
  for (bpnn::Backend backend : {bpnn::Backend::tbb, bpnn::Backend::omp}) {
    bpnn::ParallelFor parallel(backend, 4);
    const std::size_t threads = static_cast<std::size_t>(parallel.threads());
    const auto lane = [&](std::size_t i) { return bpnn::task_lane(i, threads); };
    for (int hold = 0; hold < 3; ++hold) {
      INFO("backend " << (backend == bpnn::Backend::tbb ? "tbb" : "omp") << ", " << threads << " threads, hold "
                      << hold);
      std::size_t jobs = 0;
      CHECK_FALSE(parallel.held());
      REQUIRE(omp_in_parallel() == 0);
      parallel.hold([&] {
        CHECK(parallel.held() == (threads > 1));
#if !defined(__SANITIZE_THREAD__)  // (ThreadSanitizer builds hold on plain std::threads)
        // on OpenMP body runs inside the held team's parallel region
        if (backend == bpnn::Backend::omp && threads > 1) CHECK(omp_in_parallel() != 0);
#endif
        // jobs back to back, of growing and shrinking counts, some after a pause long enough
        // for the held threads to go to sleep
        const std::size_t counts[] = {1, 2, 3, 5, 17, 64, 130, 7};
        for (int round = 0; round < 120; ++round) {
          const std::size_t count = counts[round % 8];
          if (round % 40 == 39) std::this_thread::sleep_for(std::chrono::milliseconds(2));
          std::vector<std::atomic<int>> runs(count);
          if (round % 2 == 0)
            parallel.run_pinned(count, lane, [&](std::size_t i) { ++runs[i]; });
          else
            parallel.run(count, [&](std::size_t i) { ++runs[i]; });
          for (std::size_t i = 0; i < count; ++i) CHECK(runs[i] == 1);
          ++jobs;
        }
        // the error of the lowest task index that threw; the team goes on
        try {
          parallel.run_pinned(9, lane, [&](std::size_t i) {
            if (i == 8 || i == 1) throw bpnn::Error(bpnn::ErrorKind::data, "task " + std::to_string(i));
          });
          FAIL("no exception");
        } catch (const bpnn::Error& e) {
          CHECK(std::string(e.what()) == "task 1");
        }
        // a task's own call runs its tasks in order on the task's thread
        std::vector<std::atomic<int>> inner(5 * 3);
        std::atomic<int> elsewhere{0};
        parallel.run_pinned(5, lane, [&](std::size_t i) {
          const std::thread::id me = std::this_thread::get_id();
          parallel.run(3, [&](std::size_t j) {
            if (std::this_thread::get_id() != me) ++elsewhere;
            ++inner[i * 3 + j];
          });
        });
        CHECK(elsewhere == 0);
        for (auto& n : inner) CHECK(n == 1);
        // a nested hold is the body itself
        bool nested = false;
        parallel.hold([&] { nested = true; });
        CHECK(nested);
        ++jobs;
      });
      CHECK(jobs == 121);
    }
    // a body that throws: rethrown once the team is let go; the next hold and fork work
    try {
      parallel.hold([&] {
        parallel.run(4, [](std::size_t) {});
        throw bpnn::Error(bpnn::ErrorKind::data, "body");
      });
      FAIL("no exception");
    } catch (const bpnn::Error& e) {
      CHECK(std::string(e.what()) == "body");
    }
    std::vector<std::atomic<int>> runs(33);
    parallel.hold([&] { parallel.run_pinned(33, lane, [&](std::size_t i) { ++runs[i]; }); });
    parallel.run_pinned(33, lane, [&](std::size_t i) { ++runs[i]; });
    for (auto& n : runs) CHECK(n == 2);
    if (threads < 2) continue;
    // a held thread takes part: lane 0's task waits until lane 1's has run, which only another
    // thread can do (also after a pause that lets the held threads sleep)
    for (int pause_ms : {0, 3}) {
      bool waited_out = false;
      std::atomic<bool> second_done{false};
      parallel.hold([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
        parallel.run_pinned(2, lane, [&](std::size_t i) {
          if (i == 1) {
            second_done = true;
            return;
          }
          const auto start = std::chrono::steady_clock::now();
          while (!second_done)
            if (std::chrono::steady_clock::now() - start > std::chrono::seconds(10)) {
              waited_out = true;
              break;
            }
        });
      });
      CHECK_FALSE(waited_out);
    }
  }
}

TEST_CASE("a trainer holds its threads between progress reports: the callback runs outside the held region, "
          "the same bits with and without one", "[parallel]") {
  // 256-1024-10 at batch 16 on 2 threads: every step's phases run on the held team; 200 rows are
  // 13 steps, each followed by a report (about 100 an epoch, in whole steps), plus the epoch's start
  bpnn::NetworkConfig config;
  config.sizes = {256, 1024, 10};
  config.seed = 9;
  const Data data = training_data(200, 256, 10, 47);
  for (bpnn::Backend backend : {bpnn::Backend::tbb, bpnn::Backend::omp}) {
    INFO((backend == bpnn::Backend::tbb ? "tbb" : "omp"));
    bpnn::TrainConfig t;
    t.learning_rate = 0.1;
    t.batch = 16;
    t.epochs = 2;
    t.threads = 2;
    t.backend = backend;
    bpnn::Network quiet(config);
    bpnn::Trainer(quiet, t, data.x.data(), data.y.data(), data.n).run();
    bpnn::Network reported(config);
    bpnn::Trainer trainer(reported, t, data.x.data(), data.y.data(), data.n);
    std::size_t calls = 0, inside = 0, last_done = 0;
    trainer.set_batch_callback([&](std::size_t, std::size_t done, std::size_t total, double) {
      ++calls;
      if (omp_in_parallel() != 0) ++inside;  // (on OpenMP the held team's region would show)
      CHECK(total == data.n);
      CHECK((done == 0 || done > last_done));
      last_done = done == total ? 0 : done;
    });
    trainer.run();
    CHECK(calls == 2 * 14);
    CHECK(inside == 0);
    CHECK(bpnn_test::same_bits(all_parameters(reported), all_parameters(quiet)));
  }
}

TEST_CASE("phase 1 by layers on mnist- and deep-shaped steps: the same bits for 1 to 4 threads and both backends",
          "[parallel]") {
  // the shapes the weight-read rule moved from chunks of rows to the layer cut: several cut
  // layers in a row, backward cuts of hidden layers (deep), a partial last batch (100 % 64)
  const std::pair<std::vector<std::size_t>, bpnn::Precision> shapes[] = {
      {{784, 256, 10}, bpnn::Precision::f32},
      {{256, 256, 256, 256, 256, 10}, bpnn::Precision::f32},
      {{256, 256, 256, 256, 256, 10}, bpnn::Precision::f64}};
  const std::size_t batch = 64;
  for (const auto& [sizes, precision] : shapes) {
    bpnn::NetworkConfig config;
    config.sizes = sizes;
    config.precision = precision;
    config.seed = 7;
    const bpnn::BatchPlan plan = plan_for(bpnn::Network(config), batch);
    REQUIRE(plan.phase1_by_layers);
    REQUIRE(plan.forward_cut[0].tasks() > 1);
    const Data data = training_data(100, sizes.front(), sizes.back(), 31);
    std::vector<double> first;
    for (auto backend : {bpnn::Backend::tbb, bpnn::Backend::omp})
      for (int threads : {1, 2, 3, 4}) {
        bpnn::Network net(config);
        bpnn::TrainConfig t;
        t.learning_rate = 0.05;
        t.momentum = 0.9;
        t.batch = batch;
        t.epochs = 2;
        t.seed = 3;
        t.threads = threads;
        t.backend = backend;
        bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
        INFO(sizes.size() << " layers, " << bpnn::to_string(precision) << ", threads " << threads
                          << (backend == bpnn::Backend::tbb ? " tbb" : " omp"));
        if (first.empty()) first = all_parameters(net);
        CHECK(bpnn_test::same_bits(all_parameters(net), first));
      }
  }
}

TEST_CASE("2-D tiles (rows x outputs in phase 1, outputs x inputs in phase 2): the same bits for 1, 2 and 3 threads with every optimizer and clipping, the reference step's values",
          "[parallel][tiles]") {
  // 2048-128-10 at batch 128: its first layer's forward pass is cut into panels × chunks of rows
  // and its weight gradient into panels × ranges of inputs (2 × 2 each with 64-output panels);
  // 300 rows leave a partial batch of 44
  bpnn::NetworkConfig config;
  config.sizes = {2048, 128, 10};
  config.seed = 11;
  const std::size_t rows = 128;
  const Data data = training_data(300, 2048, 10, 41);
  const OptimizerCase cases[] = {{bpnn::Optimizer::sgd, 0.1, 0},     {bpnn::Optimizer::momentum, 0.05, 0},
                        {bpnn::Optimizer::momentum, 0.05, 0.05}, {bpnn::Optimizer::adam, 1e-3, 0},
                        {bpnn::Optimizer::adam, 1e-3, 0.05}};
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
    config.precision = precision;
    const bpnn::BatchPlan plan = plan_for(bpnn::Network(config), rows);
    std::visit([&](const auto& mlp) {
      if (mlp.kernels().out_block < 8) return;  // the reference table's one-output blocks cut otherwise
      REQUIRE(plan.phase1_by_layers);
      REQUIRE(plan.forward_cut[0].units.tasks > 1);
      REQUIRE(plan.forward_cut[0].parts.tasks > 1);
      REQUIRE(plan.layers[0].inputs.tasks > 1);
    }, bpnn::NetworkAccess::impl(bpnn::Network(config)).mlp);
    for (const OptimizerCase& c : cases) {
      std::vector<double> first;
      for (auto backend : {bpnn::Backend::tbb, bpnn::Backend::omp})
        for (int threads : {1, 2, 3}) {
          if (backend == bpnn::Backend::omp && threads != 2) continue;
          bpnn::Network net(config);
          bpnn::Trainer(net, tiles_config(c, rows, threads, backend), data.x.data(), data.y.data(), data.n).run();
          INFO(bpnn::to_string(precision) << " " << bpnn::to_string(c.optimizer) << " clip " << c.clip << ", threads "
                                          << threads << (backend == bpnn::Backend::tbb ? " tbb" : " omp"));
          if (first.empty()) first = all_parameters(net);
          CHECK(bpnn_test::same_bits(all_parameters(net), first));
        }
      CHECK_FALSE(bpnn_test::same_bits(first, all_parameters(bpnn::Network(config))));  // it trained
    }
  }
  // one step of plain SGD (the in-place update) and of momentum (the gradient buffer; its first
  // step is plain SGD's) against the single-thread whole-layer reference
  config.precision = bpnn::Precision::f64;
  for (auto optimizer : {bpnn::Optimizer::sgd, bpnn::Optimizer::momentum}) {
    const Data step = training_data(rows, 2048, 10, 43);
    INFO(bpnn::to_string(optimizer));
    CHECK(trained_against_reference(config, step, rows, 2, optimizer).max_difference <= 1e-13);
  }
}

TEST_CASE("tiles cut for 1 to 64 threads (TrainConfig::plan_threads): the same bits on 1 and 2 threads, both "
          "backends, every optimizer and clipping", "[parallel][tiles]") {
  // mnist's shape (784-256-10, batch 64; 150 rows leave a last step of 22) keeps its 4 panels
  // on 1 and 2 threads and is cut into 4 × 16 tiles of 4 rows forward and 4 × 16 ranges of
  // inputs in phase 2 for 16; 256-256-1024-10 at batch 48 (200 rows: a last step of 8) also cuts
  // the backward pass to its 256-wide layer into parts of rows — of 24 rows for 16 threads, where
  // parts of 3 (under the kernels' floor of 4: with AVX-512 f32's 64-output panels a plan without
  // batch_plan.hpp's backward floor makes them; tests/test_batch_plan.cpp guards the floor on
  // every table) would take the backward pass's matrix-vector form and change bits. The clipping
  // norm is summed over the finest grid whatever the cut, so every plan gives every parameter
  // the same bits, and the norm itself the same bits (a norm summed per task can differ in its
  // last bits and still round to the same clipping factor in T: checked on the norm directly).
  const OptimizerCase cases[] = {{bpnn::Optimizer::sgd, 0.1, 0}, {bpnn::Optimizer::momentum, 0.05, 0.05},
                        {bpnn::Optimizer::adam, 1e-3, 0.05}};
  struct Shape {
    std::vector<std::size_t> sizes;
    std::size_t batch, n;
  };
  for (const Shape& shape : {Shape{{784, 256, 10}, 64, 150}, Shape{{256, 256, 1024, 10}, 48, 200}}) {
    bpnn::NetworkConfig config;
    config.sizes = shape.sizes;
    config.seed = 17;
    const Data data = training_data(shape.n, shape.sizes.front(), shape.sizes.back(), 53);
    for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
      config.precision = precision;
      const bpnn::Network fresh(config);
      const bpnn::BatchPlan one = plan_for(fresh, shape.batch, 1), many = plan_for(fresh, shape.batch, 16),
                            most = plan_for(fresh, shape.batch, 64);
      REQUIRE(one.phase1_by_layers);
      REQUIRE(one.norm_tiles == most.norm_tiles);
      std::visit([&](const auto& mlp) {
        if (mlp.kernels().out_block < 8) return;  // the reference table's one-output blocks cut otherwise
        REQUIRE(many.forward_cut[0].tasks() > one.forward_cut[0].tasks());
        REQUIRE(most.weight_tasks > one.weight_tasks);  // phase 2 (one phase) once its tiles leave threads idle
      }, bpnn::NetworkAccess::impl(fresh).mlp);
      for (const OptimizerCase& c : cases) {
        std::vector<double> first;
        for (auto backend : {bpnn::Backend::tbb, bpnn::Backend::omp})
          for (int threads : {1, 2})
            for (int plan_threads : {1, 2, 4, 8, 16, 64}) {
              if (backend == bpnn::Backend::omp && threads != 2) continue;
              bpnn::Network net(config);
              bpnn::Trainer(net, tiles_config(c, shape.batch, threads, backend, plan_threads), data.x.data(),
                            data.y.data(), data.n)
                  .run();
              INFO(shape.sizes.size() << " layers, " << bpnn::to_string(precision) << " " << bpnn::to_string(c.optimizer)
                                      << " clip " << c.clip << ", " << threads << " threads, cut for " << plan_threads
                                      << (backend == bpnn::Backend::tbb ? " tbb" : " omp"));
              if (first.empty()) first = all_parameters(net);
              CHECK(bpnn_test::same_bits(all_parameters(net), first));
            }
        CHECK_FALSE(bpnn_test::same_bits(first, all_parameters(fresh)));  // it trained
      }
      // the norm of the last step's gradient, whatever the plan
      std::visit([&]<class T>(const bpnn::Mlp<T>&) {
        std::vector<double> norms;
        for (int plan_threads : {1, 2, 4, 8, 16, 64}) {
          bpnn::Network net(config);
          auto& mlp = std::get<bpnn::Mlp<T>>(bpnn::NetworkAccess::impl(net).mlp);
          const bpnn::TrainConfig t =
              tiles_config({bpnn::Optimizer::adam, 1e-3, 0.05}, shape.batch, 0, bpnn::Backend::tbb, plan_threads);
          bpnn::TrainerCore<T> core(mlp, t, data.x.data(), data.y.data(), data.n);
          core.run_epoch();
          norms.push_back(core.last_square_norm());
          INFO(bpnn::to_string(precision) << ", cut for " << plan_threads << " threads");
          CHECK(norms.back() > 0);
          CHECK(bpnn_test::same_bits(norms, std::vector<double>(norms.size(), norms.front())));
        }
      }, bpnn::NetworkAccess::impl(fresh).mlp);
    }
  }
}

TEST_CASE("weight tiles of input ranges on the rows path: phase 1's chunks copy the inputs they read, the same bits for 1, 2 and 3 threads, the reference step's values",
          "[parallel][tiles]") {
  // 2048-16-2 at batch 256: no layer is cut by outputs, so phase 1 goes by chunks of rows, while
  // the first layer's weight gradient (one panel, 2048 inputs) is cut into ranges of inputs,
  // whose blocks each chunk fills with its rows
  bpnn::NetworkConfig config;
  config.sizes = {2048, 16, 2};
  config.seed = 13;
  const std::size_t rows = 256;
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
    config.precision = precision;
    const bpnn::BatchPlan plan = plan_for(bpnn::Network(config), rows);
    REQUIRE_FALSE(plan.phase1_by_layers);
    REQUIRE(plan.chunks(rows) > 1);
    REQUIRE(plan.layers[0].inputs.tasks > 1);
    const Data data = training_data(300, 2048, 2, 47);  // and a partial batch of 44
    for (auto optimizer : {bpnn::Optimizer::sgd, bpnn::Optimizer::adam}) {
      std::vector<double> first;
      for (int threads : {1, 2, 3}) {
        bpnn::Network net(config);
        bpnn::TrainConfig t;
        t.optimizer = optimizer;
        t.clip = optimizer == bpnn::Optimizer::adam ? 0.05 : 0.0;
        t.batch = rows;
        t.epochs = 1;
        t.threads = threads;
        bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
        INFO(bpnn::to_string(precision) << " " << bpnn::to_string(optimizer) << ", threads " << threads);
        if (first.empty()) first = all_parameters(net);
        CHECK(bpnn_test::same_bits(all_parameters(net), first));
      }
    }
  }
  config.precision = bpnn::Precision::f64;
  const Data step = training_data(rows, 2048, 2, 53);
  CHECK(trained_against_reference(config, step, rows).max_difference <= 1e-13);
}

TEST_CASE("weight tiles of input ranges on the last, shorter batch of an epoch match two reference steps",
          "[parallel][tiles]") {
  // the epoch's last step has fewer rows than the batch: its input blocks are laid out for those
  // rows (a block at rows·i0), which the thread-count comparisons above cannot see
  // both phase-1 forms: 2048-128-10 at 128 (by layers), 2048-16-2 at 256 (by rows); batch + 44 rows
  const std::pair<std::vector<std::size_t>, std::size_t> shapes[] = {{{2048, 128, 10}, 128}, {{2048, 16, 2}, 256}};
  for (const auto& [sizes, rows] : shapes) {
    bpnn::NetworkConfig config;
    config.sizes = sizes;
    config.seed = 17;
    config.precision = bpnn::Precision::f64;
    const bpnn::BatchPlan plan = plan_for(bpnn::Network(config), rows);
    REQUIRE(plan.layers[0].inputs.tasks > 1);
    const std::size_t n = rows + 44;
    const Data data = training_data(n, sizes.front(), sizes.back(), 59);
    for (int threads : {1, 3}) {
      INFO(sizes[1] << " at " << rows << ", threads " << threads << (plan.phase1_by_layers ? " by layers" : " by rows"));
      CHECK(trained_against_reference(config, data, rows, threads).max_difference <= 1e-12);
    }
  }
}
