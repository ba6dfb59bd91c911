// bpnn_plan: how the batch plan cuts a mini-batch step into tasks, and what that cut allows on
// many cores. For each shape and core count (1, 2, 8, 16, 64) it takes the plan the trainer makes
// for that many threads and prints its tasks per parallel phase, the tasks per core (phase 1: of
// its smallest parallel phase), and a simulated schedule: every task timed alone on one core (median of repeats), then
// the tasks of each phase on the cores the trainer gives them (BatchPlan::tile_lane and
// phase1_lanes: a slice of a layer's weights on the same core in both phases; a core done with
// its own takes the others' last tasks),
// plus one start and end per parallel phase: measured here (oneTBB, 2 threads, a held team as
// inside a step), and, in the last column, batch_plan.hpp's worst case task_overhead_seconds.
// Phase 1 is one parallel phase over chunks of rows, or, when the plan goes by layers, one per
// cut layer and direction.
// The expected speed-up at P cores is the one-core step time over the simulated one.
//
//   bpnn_plan                                  the named workloads and a few more shapes
//   bpnn_plan 784,512,512,10:128 ...           shapes as WIDTHS:BATCH
//   bpnn_plan --floor                          the kernels' rate on tiles (least_task_flops)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
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

// One parallel phase's start and end as the trainer runs it (oneTBB, 2 threads, the team held
// for the epoch: ParallelFor::hold): after 20 µs of work on the calling thread (a step's serial
// part), median of 1000. The planning figure (batch_plan.hpp's task_overhead_seconds) is the
// worst case — workers asleep, or a machine with more runnable threads than cores — and this is
// the usual one.
double fork_join_seconds() {
  if (bpnn::hardware_threads() < 2) return bpnn::task_overhead_seconds;
  bpnn::ParallelFor parallel(bpnn::Backend::tbb, 2);
  volatile double sink = 0;
  std::size_t slot[2] = {};
  std::vector<double> times;
  parallel.hold([&] {
    for (int r = 0; r < 1000; ++r) {
      const auto busy = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - busy < std::chrono::microseconds(20)) sink = sink + 1;
      const auto t0 = std::chrono::steady_clock::now();
      parallel.run(2, [&](std::size_t i) { slot[i] += i; });
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  });
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// A task's time (seconds) and its place: tile `index` of `of` of layer `layer`'s outputs
// (BatchPlan::tile_lane, or phase1_lanes of its cut), or chunk `index` of rows (layer = none:
// task_lane).
constexpr std::size_t none = ~std::size_t{0};
struct TimedTask {
  double seconds;
  std::size_t index, of, layer = none;
  const bpnn::TileCut* cut = nullptr;  // a phase-1 tile's cut (BatchPlan::phase1_lanes): one of the plan's own
};

// The makespan of `tasks` on `cores` cores as the trainer runs them (ParallelFor::run_pinned):
// each core runs its own lane's tasks in order, then takes the tasks no core has started from
// the last one back; whichever core is free first moves next.
double makespan(const bpnn::BatchPlan& plan, const std::vector<TimedTask>& tasks, std::size_t cores) {
  std::vector<std::size_t> lanes(tasks.size()), cut_lanes;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const TimedTask& t = tasks[i];
    if (t.cut != nullptr && (i == 0 || tasks[i - 1].cut != t.cut)) cut_lanes = plan.phase1_lanes(t.layer, *t.cut, cores);
    lanes[i] = t.layer == none      ? bpnn::task_lane(t.index, cores)
               : t.cut != nullptr ? cut_lanes[t.index]
                                  : plan.tile_lane(t.layer, t.index, cores);
  }
  const auto lane = [&](const TimedTask& t) { return lanes[static_cast<std::size_t>(&t - tasks.data())]; };
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

// A plan's tasks, each timed alone on one core: phase 1's parallel phases (or its chunks of
// rows), phase 2's tiles. The phase-1 tasks point at the plan's cuts: keep `plan` alive.
struct TimedStep {
  std::vector<std::vector<TimedTask>> phase1;
  std::vector<TimedTask> phase2;
};

TimedStep timed_step(const bpnn::BatchPlan& plan, Mlp<float>& mlp, const float* x, const float* y, float* grad,
                     Workspace<float>& ws, std::size_t batch) {
  const auto& kernels = mlp.kernels();
  TimedStep step;
  auto& phase1 = step.phase1;
  // phase 1: forward, loss and δ of each chunk of rows — or, when the plan goes by layers, one
  // parallel phase per cut layer and direction, with the loss on one core between them
  if (!plan.phase1_by_layers) {
    phase1.emplace_back();
    const std::size_t chunks = plan.chunks(batch);
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t first = plan.row_cut.first(c), n = plan.row_cut.size(c);
      phase1.back().push_back({seconds_of([&] {
        mlp.forward(x, first, n, ws);
        mlp.loss_and_output_delta(y, first, n, ws);
        mlp.backward_data(first, n, ws);
      }), c, chunks});
    }
  } else {
    const std::size_t last = mlp.layers().size() - 1;
    const auto tiles = [&](const bpnn::TileCut& cut, std::size_t owner, auto&& body) {
      phase1.emplace_back();
      for (std::size_t t = 0; t < cut.tasks(); ++t) {
        const std::size_t g = cut.group(t), p = cut.part(t);
        phase1.back().push_back({seconds_of([&] {
                                   body(cut.units.first(g), cut.units.size(g), cut.parts.first(p), cut.parts.size(p));
                                 }),
                                 t, cut.tasks(), owner, &cut});
      }
    };
    for (std::size_t l = 0; l <= last; ++l) {
      if (plan.forward_cut[l].tasks() == 1)
        phase1.push_back({{seconds_of([&] { mlp.forward_layer(l, x, 0, batch, ws); }), 0, 1}});
      else
        tiles(plan.forward_cut[l], l, [&](std::size_t o0, std::size_t m, std::size_t r0, std::size_t n) {
          mlp.forward_layer_outputs(l, x, r0, n, o0, m, ws);
        });
    }
    phase1.push_back({{seconds_of([&] { mlp.loss_and_output_delta(y, 0, batch, ws); }), 0, 1}});
    for (std::size_t l = last; l > 0; --l)
      tiles(plan.backward_cut[l], l - 1, [&](std::size_t i0, std::size_t m, std::size_t r0, std::size_t n) {
        mlp.backward_data_inputs(l, r0, n, i0, m, ws);
      });
  }
  // phase 2: the weight gradient of each tile over all rows (its update is a few % more), with
  // the trainer's copies: the tile's columns of δ, and of the inputs when the tile has a range
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const bpnn::LayerTiles& tiles = plan.layers[l];
    const std::size_t out = mlp.layers()[l].out, in = mlp.layers()[l].in;
    const float* a = l == 0 ? x : ws.activations[l - 1].data();
    bpnn::AlignedVector<float> block(batch * tiles.outputs.largest()), cols(batch * tiles.inputs.largest()),
        bias(tiles.outputs.largest());
    for (std::size_t t = 0; t < tiles.tiles; ++t) {
      const std::size_t g = t / tiles.inputs.tasks, j = t % tiles.inputs.tasks;
      const std::size_t o0 = tiles.outputs.first(g), m = tiles.outputs.size(g);
      const std::size_t i0 = tiles.inputs.first(j), k = tiles.inputs.size(j);
      step.phase2.push_back({seconds_of([&] {
        const float* delta = ws.deltas[l].data();
        for (std::size_t r = 0; r < batch; ++r)
          std::copy_n(delta + r * out + o0, m, block.data() + r * m);
        const float* from = a;
        if (k != in) {
          for (std::size_t r = 0; r < batch; ++r) std::copy_n(a + r * in + i0, k, cols.data() + r * k);
          from = cols.data();
        }
        const std::size_t w0 = kernels.packed_size(o0, in) + (k != in ? kernels.packed_size(m, i0) : 0);
        kernels.dense_backward_weights({batch, k, m}, block.data(), from,
                                       grad + mlp.layers()[l].weight_offset + w0,
                                       j == 0 ? grad + mlp.layers()[l].bias_offset + o0 : bias.data());
      }), t, tiles.tiles, l});
    }
  }
  return step;
}

// The one-core step (the plan for one thread, every task in turn) and, for each core count, the
// plan the trainer makes for that many threads (its tiles follow the thread count where its
// efficient cut leaves cores idle) timed task by task and scheduled on them; the last column
// schedules the one-thread plan's tasks on as many cores (the cut before the tiles followed the
// thread count).
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
  const auto sums = [](const TimedStep& step) {
    double sum1 = 0, sum2 = 0;
    for (const auto& phase : step.phase1)
      for (const TimedTask& t : phase) sum1 += t.seconds;
    for (const TimedTask& t : step.phase2) sum2 += t.seconds;
    return std::pair{sum1, sum2};
  };
  const auto counts_of = [](const TimedStep& step) {  // tasks per parallel phase of phase 1
    std::string counts;
    for (const auto& phase : step.phase1) counts += (counts.empty() ? "" : "+") + std::to_string(phase.size());
    return counts;
  };

  const bpnn::BatchPlan plan = bpnn::batch_plan_make(mlp, batch, 1);
  const TimedStep single = timed_step(plan, mlp, x.data(), y.data(), grad.data(), ws, batch);
  std::string name;
  for (std::size_t s : shape.sizes) name += (name.empty() ? "" : "-") + std::to_string(s);
  name += " b" + std::to_string(batch);
  const auto [sum1, sum2] = sums(single);
  const double one = sum1 + sum2;
  std::size_t tasks1 = 0;
  for (const auto& phase : single.phase1) tasks1 += phase.size();
  if (plan.phase1_by_layers)
    std::printf("%-28s phase 1: %zu tasks in %zu layer phases (%s; %.1f µs mean)", name.c_str(), tasks1,
                single.phase1.size(), counts_of(single).c_str(), 1e6 * sum1 / static_cast<double>(tasks1));
  else
    std::printf("%-28s phase 1: %zu tasks of up to %zu rows (%.1f µs the first)", name.c_str(), tasks1,
                plan.chunk_rows, 1e6 * single.phase1.front().front().seconds);
  std::printf("  phase 2: %zu tasks (%.1f µs mean)%s\n", single.phase2.size(),
              1e6 * sum2 / static_cast<double>(single.phase2.size()),
              plan.weights_in_parallel ? "" : "  (phase 2 on one thread)");
  std::printf("%-28s %6s %-26s %16s %16s %12s %10s %12s %13s\n", "", "cores", "phase-1 tasks; phase 2", "tasks/core ph.1",
              "tasks/core ph.2", "step µs", "speed-up", "at 20 µs/fork", "1-thread cut");
  for (std::size_t cores : {1, 2, 8, 16, 64}) {
    const bpnn::BatchPlan cut = bpnn::batch_plan_make(mlp, batch, cores);
    const TimedStep step = cores == 1 ? TimedStep{} : timed_step(cut, mlp, x.data(), y.data(), grad.data(), ws, batch);
    const TimedStep& timed = cores == 1 ? single : step;
    const bpnn::BatchPlan& timed_plan = cores == 1 ? plan : cut;
    // the step with every fork/join costing `fork` seconds: each parallel phase's makespan, plus
    // its fork; single-task phases (the loss, an uncut layer) run on one core
    const auto seconds_of_step = [&](const bpnn::BatchPlan& of, const TimedStep& tasks, double fork) {
      double seconds = 0;
      for (const auto& phase : tasks.phase1) {
        const bool forks = cores > 1 && phase.size() > 1;
        seconds += makespan(of, phase, forks ? cores : 1) + (forks ? fork : 0);
      }
      const bool forks2 = cores > 1 && of.weights_in_parallel;
      return seconds + makespan(of, tasks.phase2, forks2 ? cores : 1) + (forks2 ? fork : 0);
    };
    const auto step_seconds = [&](double fork) { return seconds_of_step(timed_plan, timed, fork); };
    std::size_t fewest1 = 0;  // the fewest tasks of a parallel phase of phase 1
    for (const auto& phase : timed.phase1)
      if (phase.size() > 1) fewest1 = fewest1 == 0 ? phase.size() : std::min(fewest1, phase.size());
    const std::string counts = counts_of(timed) + "; " + std::to_string(timed.phase2.size());
    const double seconds = step_seconds(fork_seconds);
    std::printf("%-28s %6zu %-26s %16.2f %16.2f %12.1f %9.2fx %11.2fx %12.2fx\n", "", cores, counts.c_str(),
                static_cast<double>(fewest1) / static_cast<double>(cores),
                static_cast<double>(timed.phase2.size()) / static_cast<double>(cores), 1e6 * seconds, one / seconds,
                one / step_seconds(bpnn::task_overhead_seconds), one / seconds_of_step(plan, single, fork_seconds));
  }
}


// Thread CPU time of `work`, best of 5 (the efficiency floor wants the kernels' rate, not the
// machine's noise).
double cpu_seconds_of(auto&& work) {
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    timespec a{}, b{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    work();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    best = std::min(best, static_cast<double>(b.tv_sec - a.tv_sec) + 1e-9 * static_cast<double>(b.tv_nsec - a.tv_nsec));
  }
  return best;
}

// bpnn_plan --floor: the kernels' rate on a layer cut into 2-D tiles, against the whole layer's,
// at the shapes of mnist and wide — what batch_plan.hpp's least_task_flops is taken from. Each
// line runs every tile of the layer on one core in task order (panel first, as one thread runs
// them), thread CPU time, best of 5:
//   forward   rows × one panel of outputs          (dense_forward_outputs on a row range)
//   backward  rows × one panel of inputs           (dense_backward_data_inputs on a row range)
//   weights   one panel of outputs × inputs        (the inputs regrouped by range once per layer,
//                                                    as phase 1 does; each task copies its columns
//                                                    of δ, then dense_backward_weights)
void efficiency_floor() {
  const auto& kt = bpnn::kernels::kernels_select<float>();
  const std::size_t block = kt.out_block;
  std::printf("# bpnn_plan --floor: kernels %s, panel %zu outputs; rate of the tiled layer / the whole layer\n",
              kt.arch, block);
  struct Layer {
    std::size_t in, out, rows;
  };
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  for (const Layer& L : {Layer{784, 256, 64}, Layer{256, 256, 64}, Layer{1024, 4096, 256}, Layer{4096, 1024, 256}}) {
    bpnn::AlignedVector<float> x(L.rows * L.in), w(kt.packed_size(L.out, L.in)), b(L.out), y(L.rows * L.out),
        dy(L.rows * L.out), dx(L.rows * L.in), dw(w.size()), db(L.out), cols(L.rows * L.in), dcols(L.rows * block);
    for (float& v : x) v = 0.5f + u(gen);
    for (float& v : w) v = u(gen);
    for (float& v : dy) v = u(gen);
    const bpnn::kernels::DenseShape shape{L.rows, L.in, L.out};
    const double flops = 2.0 * static_cast<double>(L.rows * L.in * L.out);
    const double whole_f = cpu_seconds_of([&] { kt.dense_forward(shape, bpnn::Activation::sigmoid, x.data(), w.data(), b.data(), y.data()); });
    const double whole_b = cpu_seconds_of([&] { kt.dense_backward_data(shape, bpnn::Activation::sigmoid, dy.data(), w.data(), x.data(), dx.data()); });
    const double whole_w = cpu_seconds_of([&] { kt.dense_backward_weights(shape, dy.data(), x.data(), dw.data(), db.data()); });
    std::printf("%zu-%zu rows %zu: whole layer %.1f MFLOP: forward %.1f, backward %.1f, weights %.1f GFLOP/s\n", L.in,
                L.out, L.rows, flops * 1e-6, flops / whole_f * 1e-9, flops / whole_b * 1e-9, flops / whole_w * 1e-9);
    const std::size_t out_panels = (L.out + block - 1) / block, in_panels = (L.in + block - 1) / block;
    for (std::size_t rows : {2, 4, 8, 16, 32, 64, 128, 256}) {
      if (rows > L.rows) break;
      const double f = cpu_seconds_of([&] {
        for (std::size_t p = 0; p < out_panels; ++p)
          for (std::size_t r = 0; r < L.rows; r += rows)
            kt.dense_forward_outputs({std::min(rows, L.rows - r), L.in, L.out}, bpnn::Activation::sigmoid, p * block,
                                     std::min(L.out, (p + 1) * block), x.data() + r * L.in, w.data(), b.data(),
                                     y.data() + r * L.out);
      });
      const double bw = cpu_seconds_of([&] {
        for (std::size_t p = 0; p < in_panels; ++p)
          for (std::size_t r = 0; r < L.rows; r += rows)
            kt.dense_backward_data_inputs({std::min(rows, L.rows - r), L.in, L.out}, bpnn::Activation::sigmoid,
                                          p * block, std::min(L.in, (p + 1) * block), dy.data() + r * L.out,
                                          w.data(), x.data() + r * L.in, dx.data() + r * L.in);
      });
      std::printf("  %4zu rows x 1 panel: forward task %6.3f MFLOP %5.1f%%   backward task %6.3f MFLOP %5.1f%%\n", rows,
                  2.0 * static_cast<double>(rows * L.in * block) * 1e-6, 100 * whole_f / f,
                  2.0 * static_cast<double>(rows * L.out * block) * 1e-6, 100 * whole_b / bw);
    }
    for (std::size_t k : {16, 32, 64, 128, 256, 512, 1024, 4096}) {
      k = std::min(k, L.in);
      // the inputs regrouped by range once per layer (the trainer does it in phase 1), the tile's
      // columns of δ copied by each task (as the trainer's phase-2 task does)
      for (std::size_t i0 = 0; i0 < L.in; i0 += k) {
        const std::size_t n = std::min(k, L.in - i0);
        for (std::size_t r = 0; r < L.rows; ++r) std::copy_n(x.data() + r * L.in + i0, n, cols.data() + L.rows * i0 + r * n);
      }
      const double t = cpu_seconds_of([&] {
        for (std::size_t p = 0; p < out_panels; ++p) {
          const std::size_t o0 = p * block, m = std::min(L.out, o0 + block) - o0;
          for (std::size_t i0 = 0; i0 < L.in; i0 += k) {
            const std::size_t n = std::min(k, L.in - i0);
            for (std::size_t r = 0; r < L.rows; ++r)
              std::copy_n(dy.data() + r * L.out + o0, m, dcols.data() + r * m);
            float* tile = dw.data() + kt.packed_size(o0, L.in) + kt.packed_size(m, i0);
            kt.dense_backward_weights({L.rows, n, m}, dcols.data(), cols.data() + L.rows * i0, tile, db.data() + o0);
          }
        }
      });
      std::printf("  1 panel x %4zu inputs: weights task %6.3f MFLOP %5.1f%%\n", k,
                  2.0 * static_cast<double>(L.rows * k * block) * 1e-6, 100 * whole_w / t);
      if (k == L.in) break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Shape> shapes;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--floor") {
      efficiency_floor();
      return 0;
    }
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
  std::printf("# bpnn_plan: kernels %s, %.2f µs per parallel phase (measured: oneTBB, 2 threads, a held\n"
              "# team, median after 20 µs of serial work); last column: the plan's worst case, %.0f µs\n",
              bpnn::kernels::kernels_select<float>().arch, 1e6 * fork, 1e6 * bpnn::task_overhead_seconds);
  for (const Shape& s : shapes) simulate(s, fork);
  return 0;
}
