// bpnn_plan: how the batch plan cuts a mini-batch step into tasks, and what that cut allows on
// many cores. For each shape it prints the tasks per phase, the tasks per core at 2, 8, 16 and 64
// cores, and a simulated schedule: every task timed alone on one core (median of repeats), then
// the tasks of each phase on the cores the trainer gives them (BatchPlan::tile_lane: a layer's
// tile on the same core in both phases; a core done with its own takes the others' last tasks),
// plus one fork/join per parallel phase: measured here (oneTBB, 2 threads, inside a
// step), and, in the last column, batch_plan.hpp's worst case task_overhead_seconds.
// Phase 1 is one parallel phase over chunks of rows, or, when the plan goes by layers, one per
// cut layer and direction.
// The expected speed-up at P cores is the one-core step time over the simulated one.
//
//   bpnn_plan                                  the named workloads and a few more shapes
//   bpnn_plan 784,512,512,10:128 ...           shapes as WIDTHS:BATCH
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "nn/aligned.hpp"
#include "nn/mlp.hpp"
#include "train/batch_plan.hpp"
#include "train/parallel.hpp"

namespace {

using bpnn::Mlp;
using bpnn::Workspace;

struct Shape {
  std::vector<std::size_t> sizes;
  std::size_t batch;
};

double seconds_of(auto&& work) {
  std::vector<double> times;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    work();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// One fork/join of the trainer's ParallelFor (oneTBB, 2 threads) as it happens inside a step:
// after 100 µs of work on the calling thread (a phase's serial part), median of 1000. The
// planning figure (batch_plan.hpp's task_overhead_seconds) is the worst case — workers asleep,
// or a machine with more runnable threads than cores — and this is the usual one.
double fork_join_seconds() {
  if (bpnn::hardware_threads() < 2) return bpnn::task_overhead_seconds;
  bpnn::ParallelFor parallel(bpnn::Backend::tbb, 2);
  volatile double sink = 0;
  std::size_t slot[2] = {};
  std::vector<double> times;
  for (int r = 0; r < 1000; ++r) {
    const auto busy = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - busy < std::chrono::microseconds(100)) sink = sink + 1;
    const auto t0 = std::chrono::steady_clock::now();
    parallel.run(2, [&](std::size_t i) { slot[i] += i; });
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// A task's time (seconds) and its place: tile `index` of `of` of layer `layer`'s outputs
// (BatchPlan::tile_lane), or chunk `index` of rows (layer = none: task_lane).
constexpr std::size_t none = ~std::size_t{0};
struct TimedTask {
  double seconds;
  std::size_t index, of, layer = none;
};

// The makespan of `tasks` on `cores` cores as the trainer runs them (ParallelFor::run_pinned):
// each core runs its own lane's tasks in order, then takes the tasks no core has started from
// the last one back; whichever core is free first moves next.
double makespan(const bpnn::BatchPlan& plan, const std::vector<TimedTask>& tasks, std::size_t cores) {
  const auto lane = [&](const TimedTask& t) {
    return t.layer == none ? bpnn::task_lane(t.index, cores) : plan.tile_lane(t.layer, t.index, cores);
  };
  std::vector<double> free_at(cores, 0.0);
  std::vector<bool> taken(tasks.size(), false);
  for (std::size_t left = tasks.size(); left > 0; --left) {
    const std::size_t core = static_cast<std::size_t>(std::min_element(free_at.begin(), free_at.end()) - free_at.begin());
    std::size_t next = tasks.size();
    for (std::size_t i = 0; i < tasks.size() && next == tasks.size(); ++i)
      if (!taken[i] && lane(tasks[i]) == core) next = i;
    for (std::size_t i = tasks.size(); next == tasks.size() && i-- > 0;)
      if (!taken[i]) next = i;
    taken[next] = true;
    free_at[core] += tasks[next].seconds;
  }
  return *std::max_element(free_at.begin(), free_at.end());
}

void simulate(const Shape& shape, double fork_seconds) {
  bpnn::NetworkConfig config;
  config.sizes = shape.sizes;
  const auto& kernels = bpnn::kernels::kernels_select<float>();
  Mlp<float> mlp(config, kernels);
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  for (float& w : mlp.arena()) w = u(gen);
  const std::size_t batch = shape.batch, in = mlp.n_inputs(), k = mlp.n_outputs();
  bpnn::AlignedVector<float> x(batch * in), y(batch * k, 0.0f), grad(mlp.arena().size());
  for (float& v : x) v = u(gen);
  for (std::size_t r = 0; r < batch; ++r) y[r * k + r % k] = 1;
  Workspace<float> ws(mlp, batch);
  const bpnn::BatchPlan plan = bpnn::batch_plan_make(mlp, batch);

  // phase 1: forward, loss and δ of each chunk of rows — or, when the plan goes by layers, one
  // parallel phase per cut layer and direction, with the loss on one core between them
  std::vector<std::vector<TimedTask>> phase1;
  if (!plan.phase1_by_layers) {
    phase1.emplace_back();
    const std::size_t chunks = plan.chunks(batch);
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t first = plan.row_cut.first(c), n = plan.row_cut.size(c);
      phase1.back().push_back({seconds_of([&] {
        mlp.forward(x.data(), first, n, ws);
        mlp.loss_and_output_delta(y.data(), first, n, ws);
        mlp.backward_data(first, n, ws);
      }), c, chunks});
    }
  } else {
    const std::size_t last = mlp.layers().size() - 1;
    const auto tiles = [&](const bpnn::UnitCut& cut, std::size_t owner, auto&& body) {
      phase1.emplace_back();
      for (std::size_t t = 0; t < cut.tasks; ++t)
        phase1.back().push_back({seconds_of([&] { body(cut.first(t), cut.size(t)); }), t, cut.tasks, owner});
    };
    for (std::size_t l = 0; l <= last; ++l) {
      if (plan.forward_cut[l].tasks == 1)
        phase1.push_back({{seconds_of([&] { mlp.forward_layer(l, x.data(), 0, batch, ws); }), 0, 1}});
      else
        tiles(plan.forward_cut[l], l, [&](std::size_t o0, std::size_t m) {
          mlp.forward_layer_outputs(l, x.data(), batch, o0, m, ws);
        });
    }
    phase1.push_back({{seconds_of([&] { mlp.loss_and_output_delta(y.data(), 0, batch, ws); }), 0, 1}});
    for (std::size_t l = last; l > 0; --l)
      tiles(plan.backward_cut[l], l - 1, [&](std::size_t i0, std::size_t m) {
        mlp.backward_data_inputs(l, batch, i0, m, ws);
      });
  }
  // phase 2: the weight gradient of each tile over all rows (its update is a few % more)
  std::vector<TimedTask> phase2;
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const bpnn::UnitCut& cut = plan.layers[l].outputs;
    const std::size_t out = mlp.layers()[l].out;
    bpnn::AlignedVector<float> block(batch * cut.largest());
    for (std::size_t t = 0; t < cut.tasks; ++t) {
      const std::size_t o0 = cut.first(t), m = cut.size(t);
      phase2.push_back({seconds_of([&] {
        const float* delta = ws.deltas[l].data();
        for (std::size_t r = 0; r < batch; ++r)
          std::copy_n(delta + r * out + o0, m, block.data() + r * m);
        mlp.backward_weights_outputs(l, x.data(), ws, batch, block.data(), o0, m, grad.data());
      }), t, cut.tasks, l});
    }
  }

  std::string name;
  for (std::size_t s : shape.sizes) name += (name.empty() ? "" : "-") + std::to_string(s);
  name += " b" + std::to_string(batch);
  double sum1 = 0, sum2 = 0;
  std::size_t tasks1 = 0;
  for (const auto& phase : phase1) {
    tasks1 += phase.size();
    for (const TimedTask& t : phase) sum1 += t.seconds;
  }
  for (const TimedTask& t : phase2) sum2 += t.seconds;
  const double one = sum1 + sum2;
  if (plan.phase1_by_layers)
    std::printf("%-28s phase 1: %zu tasks in %zu layer phases (%.1f µs mean)", name.c_str(), tasks1,
                phase1.size(), 1e6 * sum1 / static_cast<double>(tasks1));
  else
    std::printf("%-28s phase 1: %zu tasks of up to %zu rows (%.1f µs the first)", name.c_str(), tasks1,
                plan.chunk_rows, 1e6 * phase1.front().front().seconds);
  std::printf("  phase 2: %zu tasks (%.1f µs mean)%s\n", phase2.size(),
              1e6 * sum2 / static_cast<double>(phase2.size()),
              plan.weights_in_parallel ? "" : "  (phase 2 on one thread)");
  std::printf("%-28s %6s %16s %16s %12s %10s %12s\n", "", "cores", "tasks/core ph.1", "tasks/core ph.2",
              "step µs", "speed-up", "at 20 µs/fork");
  for (std::size_t cores : {1, 2, 8, 16, 64}) {
    // the step with every fork/join costing `fork` seconds: each parallel phase's makespan, plus
    // its fork; single-task phases (the loss, an uncut layer) run on one core
    const auto step_seconds = [&](double fork) {
      double step = 0;
      for (const auto& phase : phase1) {
        const bool forks = cores > 1 && phase.size() > 1;
        step += makespan(plan, phase, forks ? cores : 1) + (forks ? fork : 0);
      }
      const bool forks2 = cores > 1 && plan.weights_in_parallel;
      return step + makespan(plan, phase2, forks2 ? cores : 1) + (forks2 ? fork : 0);
    };
    const double step = step_seconds(fork_seconds);
    std::printf("%-28s %6zu %16.2f %16.2f %12.1f %9.2fx %11.2fx\n", "", cores,
                static_cast<double>(tasks1) / static_cast<double>(cores),
                static_cast<double>(phase2.size()) / static_cast<double>(cores), 1e6 * step, one / step,
                one / step_seconds(bpnn::task_overhead_seconds));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Shape> shapes;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const auto colon = arg.find(':');
    Shape s{{}, colon == std::string::npos ? 64 : std::stoul(arg.substr(colon + 1))};
    for (std::size_t p = 0, q; p < colon && p < arg.size(); p = q + 1) {
      q = std::min(arg.find(',', p), colon);
      s.sizes.push_back(std::stoul(arg.substr(p, q - p)));
      if (q == std::string::npos || q >= colon) break;
    }
    if (s.sizes.size() < 2 || s.batch == 0) {
      std::fprintf(stderr, "bpnn_plan: %s: expected WIDTHS:BATCH, e.g. 784,256,10:64\n", arg.c_str());
      return 2;
    }
    shapes.push_back(s);
  }
  if (shapes.empty())
    shapes = {{{784, 256, 10}, 64},           {{1024, 4096, 4096, 1024}, 256}, {{784, 512, 512, 10}, 128},
              {{256, 256, 256, 256, 256, 10}, 64}, {{2048, 4096, 10}, 32},       {{784, 1024, 10}, 16},
              {{8192, 512, 10}, 64}};
  const double fork = fork_join_seconds();
  std::printf("# bpnn_plan: kernels %s, fork/join %.2f µs per parallel phase (measured: oneTBB, 2 threads,\n"
              "# median after 100 µs of serial work); last column: the plan's worst case, %.0f µs\n",
              bpnn::kernels::kernels_select<float>().arch, 1e6 * fork, 1e6 * bpnn::task_overhead_seconds);
  for (const Shape& s : shapes) simulate(s, fork);
  return 0;
}
