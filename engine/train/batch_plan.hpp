#pragma once
// How one mini-batch step is cut into tasks. The cut depends only on the network's shapes and
// the batch size — never on the number of threads — so every thread count computes exactly the
// same sums in the same order, and trained models are identical bit for bit.
//
//   phase 1, per chunk of rows: forward through all layers, loss, δ of every layer
//            (rows are independent, each chunk owns its rows of the work buffers);
//            or, when chunks of rows cannot split it well (a small batch of a wide network),
//            layer by layer over all rows: the forward pass of each layer cut into tiles of
//            its outputs, the backward pass to each layer's inputs cut into tiles of them (the
//            kernels give every element the same bits either way);
//   phase 2, per (layer, tile of outputs): dW_tile = Σ_all rows δ_tileᵀ·a, then the optimizer's
//            update of that tile (each task owns its slice of weights, gradient and optimizer
//            state).
// Two fork/joins per step when phase 1 goes by rows, whatever the depth of the network (one more
// per cut layer and direction when it goes by layers); one more with gradient clipping,
// whose norm needs every tile's gradient before any update (each task's part of ‖g‖² is kept
// apart and the parts are added in task order, so the norm does not depend on the threads).
#include <algorithm>
#include <cstddef>
#include <vector>

#include "nn/mlp.hpp"

namespace bpnn {

// A cut of a layer's `count` outputs (or inputs) into `tasks` tasks of whole kernel blocks,
// as equal as whole blocks allow: task t takes blocks [t·blocks/tasks, (t+1)·blocks/tasks), so
// two tasks differ by at most one block (the last block may be partial).
struct UnitCut {
  std::size_t count = 0;  // units cut
  std::size_t block = 1;  // units per kernel block; every task starts on a block boundary
  std::size_t tasks = 1;

  constexpr std::size_t blocks() const { return (count + block - 1) / block; }
  constexpr std::size_t first(std::size_t t) const {
    return std::min(count, t * blocks() / tasks * block);
  }
  constexpr std::size_t size(std::size_t t) const { return first(t + 1) - first(t); }
  constexpr std::size_t largest() const {
    std::size_t most = 0;
    for (std::size_t t = 0; t < tasks; ++t) most = std::max(most, size(t));
    return most;
  }
};

struct LayerTiles {
  UnitCut outputs;           // the phase-2 cut of the layer's outputs (whole out_blocks)
  std::size_t tiles;         // tasks for this layer (outputs.tasks)
  std::size_t first_task;    // index of its first task among all phase-2 tasks
};

// Phase 1's chunks of rows hold at least this many rows (a few register tiles of rows).
constexpr std::size_t least_chunk_rows = 16;

struct BatchPlan {
  UnitCut row_cut;                 // phase 1 by rows: the batch's rows cut into chunks
  std::size_t chunk_rows = 1;      // rows of the largest chunk (the batch: phase 1 on one thread)
  std::vector<LayerTiles> layers;  // phase-2 cut of each layer
  std::size_t weight_tasks = 0;    // phase-2 tasks in all
  bool weights_in_parallel = false;  // phase 2's split pays for waking threads (split_pays)
  // Per-sample steps (batch 1) of networks with a layer wide enough to cut into several tiles
  // split those layers' outputs across threads; all others run on one thread.
  bool sample_in_parallel = false;
  // Phase 1 layer by layer (see the top of this file) instead of by chunks of rows:
  // forward_cut[l] cuts layer l's outputs, backward_cut[l] (l ≥ 1) its inputs, i.e. δ_{l−1}.
  bool phase1_by_layers = false;
  std::vector<UnitCut> forward_cut, backward_cut;

  double flops_per_row = 0;            // phase 1's work per row (forward and backward)
  std::size_t least_rows = least_chunk_rows;  // the fewest rows of a chunk (more with large weights)

  // The chunks of a step of `rows` rows (the batch, or fewer at the end of an epoch): the
  // batch's cut for the batch; for fewer rows the same rules on those rows — a power of two of
  // chunks, no more than the batch has, none under least_rows rows, one when the split would not
  // pay — the rows spread evenly.
  UnitCut row_chunks(std::size_t rows) const;
  std::size_t chunks(std::size_t rows) const { return row_chunks(rows).tasks; }

  // Which of `threads` threads runs tile t of layer `layer`'s outputs — its phase-2 tile t and
  // its phase-1 forward tile t (the same cut), and tile t of the next layer's inputs in the
  // backward pass: task_lane of the tile's index among all phase-2 tasks, the same thread step
  // after step, so each core keeps its share of the weights in its own cache (the update writes
  // a tile, the next forward pass reads it). Phase 2 runs all layers' tiles in one loop, each
  // thread within one tile of the others; a phase-1 cut of n tiles is n consecutive indices,
  // as balanced.
  std::size_t tile_lane(std::size_t layer, std::size_t t, std::size_t threads) const;
};

// When a split pays. Waking a second thread and joining it costs about task_overhead_seconds
// (a fork/join of ParallelFor with two threads, bench/bench_parallel.cpp on this 2-core Xeon:
// oneTBB 0.3 µs back to back and 10 µs once its workers have gone to sleep; 20 µs is the figure
// taken. OpenMP's fork waits for its worker to run, which on a machine with more runnable
// threads than cores takes a scheduler time slice, ~10 ms measured under load: no plan fixes
// that, use the tbb backend there). Work runs on one core at about kernel_flops_per_second, a sustained rate
// well below the FMA peak (about 115 GFLOP/s f32 here). Two rules follow:
//   - a task should carry pays_factor forks' worth of work:
//       task_target_flops = pays_factor · task_overhead_seconds · kernel_flops_per_second = 4 MFLOP;
//   - a phase is split only when the work the split moves off its largest task — the least a
//     second thread takes over — at least pays for the fork (split_pays: ≥ 1 MFLOP).
// Everything else runs on the calling thread, so more threads are never slower than one. The
// per-sample matrix-vector kernels stream their weights at 10–20 GFLOP/s, so for them both
// figures are conservative by a further factor of 2–5.
constexpr double task_overhead_seconds = 20e-6;
constexpr double kernel_flops_per_second = 50e9;
constexpr double fork_flops = task_overhead_seconds * kernel_flops_per_second;
constexpr double pays_factor = 4;
constexpr double task_target_flops = pays_factor * fork_flops;

// Whether a phase of `work` flops whose largest task has `largest` flops pays for its fork.
constexpr bool split_pays(double work, double largest) { return work - largest >= fork_flops; }

// A phase-1 chunk streams every layer's weights once; when a layer's weights outgrow a core's L2
// cache (1 MiB here and on most current x86 cores), chunks get at least this many rows so the
// weights are reused across enough rows to keep the kernels compute-bound. Measured on W3
// (1024-4096-4096-1024, batch 256, one Zen 4 core): 64 rows 77% of the FMA peak, 128 rows 79%,
// 256 rows 84% — but 256 would leave phase 1 on one thread. 128 keeps two chunks per 256 rows.
constexpr std::size_t l2_bytes = 1 << 20;
constexpr std::size_t rows_for_large_weights = 128;

// Which of `threads` threads runs task t of a parallel phase: round robin, so every thread gets
// tasks/threads tasks or one more. Only WHICH thread runs a task depends on the thread count,
// never what a task computes (BatchPlan::tile_lane for the tiles of a layer).
constexpr std::size_t task_lane(std::size_t t, std::size_t threads) { return t % threads; }

// A task also reads the weights it uses, and a phase-1 chunk of rows reads EVERY weight of every
// layer (forward, and backward to the inputs but the first layer's), where a layer's tile reads
// only its slice: 4 chunks of 16 rows read the weights 4 times a step, the layer cut once. What
// a byte read costs, in the flops the kernels do meanwhile: measured on deep
// (256-256-256-256-256-10, batch 64, one core, avx512 f32, by thread CPU time), 4 chunks of 16
// rows took about 400 µs a step more than the layer cut over the 64 rows, for 5.5 MB more
// weights read, while the step's kernels ran at about 110 GFLOP/s: 44 MFLOP for 5.5 MB, 8 flops
// a byte (the weights and a batch of activations outgrow the 2 MB L2 there).
constexpr double weight_byte_flops = 8;

inline std::size_t BatchPlan::tile_lane(std::size_t layer, std::size_t t, std::size_t threads) const {
  return task_lane(layers[layer].first_task + t, threads);
}

// The largest power of two not above n (n ≥ 1).
constexpr std::size_t power_of_two_floor(std::size_t n) {
  std::size_t p = 1;
  while (p <= n / 2) p *= 2;
  return p;
}

inline UnitCut BatchPlan::row_chunks(std::size_t rows) const {
  if (rows == row_cut.count) return row_cut;
  UnitCut cut{rows, 1, power_of_two_floor(std::clamp<std::size_t>(rows / least_rows, 1, row_cut.tasks))};
  if (cut.tasks > 1 && !split_pays(flops_per_row * static_cast<double>(rows),
                                   flops_per_row * static_cast<double>(cut.largest())))
    cut.tasks = 1;
  return cut;
}

// Tasks of whole blocks over `count` units of `unit_flops` each. The rule, from the shapes alone:
//   - each task carries at least task_target_flops (want_blocks whole blocks or more), except
//     that work of one to two tasks' worth is still halved;
//   - of the task counts that allows, the largest power of two, the blocks spread as evenly as
//     whole blocks allow — so the tasks divide evenly over 2, 4, 8, … threads whenever there are
//     at least as many tasks as threads (5 tasks on 2 threads would be 3 against 2, 40% of a
//     task idle on one core; 4 of the same work are 2 against 2);
//   - one task when the split would not pay (split_pays: the smaller half of a halved phase
//     must be a fork's worth), or when the kernels cannot split (block 0).
// The same rule with the least units of a task given (`want`), and halving allowed or not.
constexpr UnitCut balanced_cut(std::size_t count, double unit_flops, std::size_t block,
                               std::size_t want, bool halve) {
  if (block == 0 || count == 0) return {count, std::max<std::size_t>(count, 1), 1};
  UnitCut cut{count, block, 1};
  const std::size_t want_blocks = std::max<std::size_t>(1, (want + block - 1) / block);
  const std::size_t most = cut.blocks() / want_blocks;
  if (cut.blocks() < 2 || (most < 2 && !halve)) return cut;
  cut.tasks = power_of_two_floor(std::max<std::size_t>(most, 2));
  if (!split_pays(unit_flops * static_cast<double>(count),
                  unit_flops * static_cast<double>(cut.largest())))
    cut.tasks = 1;
  return cut;
}

constexpr UnitCut unit_cut(std::size_t count, double unit_flops, std::size_t block) {
  return balanced_cut(count, unit_flops, block,
                      static_cast<std::size_t>(task_target_flops / unit_flops) + 1, true);
}

// The work on a cut's critical path with unlimited threads: its largest task, plus a fork when
// there are several.
constexpr double cut_span(const UnitCut& cut, double unit_flops) {
  return unit_flops * static_cast<double>(cut.largest()) + (cut.tasks > 1 ? fork_flops : 0.0);
}

template <class T>
BatchPlan batch_plan_make(const Mlp<T>& mlp, std::size_t batch) {
  BatchPlan plan;
  double flops_per_row = 0;
  std::size_t largest_weights = 0;
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const LayerSpec& s = mlp.layers()[l];
    flops_per_row += (l == 0 ? 2.0 : 4.0) * static_cast<double>(s.in * s.out);
    largest_weights = std::max(largest_weights, s.in * s.out * sizeof(T));
  }
  // phase 1: chunks of rows by unit_cut's rule — each worth task_target_flops, a power of two of
  // them, the rows spread evenly (rows are independent: any cut gives each row the same bits) —
  // with at least least_chunk_rows rows each, or rows_for_large_weights when weights outgrow L2
  // (not halved below them then)
  const bool large_weights = largest_weights > l2_bytes;
  std::size_t rows = static_cast<std::size_t>(task_target_flops / flops_per_row) + 1;
  rows = std::max(rows, large_weights ? rows_for_large_weights : least_chunk_rows);
  plan.row_cut = balanced_cut(batch, flops_per_row, 1, rows,
                              !large_weights && batch >= 2 * least_chunk_rows);
  plan.chunk_rows = plan.row_cut.largest();
  plan.flops_per_row = flops_per_row;
  plan.least_rows = large_weights ? rows_for_large_weights : least_chunk_rows;

  const std::size_t block = mlp.kernels().out_block;
  const double batch_rows = static_cast<double>(batch);

  // phase 1 by layers: each layer's forward over its outputs (not an output layer that keeps
  // logits: its output activation needs whole rows) and its backward over its inputs, in tiles
  // worth task_target_flops. Which cut a step takes, from the shapes and the batch alone, never
  // the thread count: each cut's work W (its flops, the weights its tasks read at
  // weight_byte_flops a byte — every chunk reads them all, the tiles of a layer together once —
  // and a fork per parallel phase) and span S (its longest chain of tasks, a fork each) give a
  // greedy schedule on P cores at most W/P + (1 − 1/P)·S (Graham's bound); the plan takes the
  // layer cut when it cuts some layer and its W + S is smaller, the bound for two cores (which
  // with one core ranks by work, with many by span). Its forward tiles of a layer are that
  // layer's phase-2 tiles (the same unit_cut), so with tile_lane the thread that updates a tile
  // of weights is the one that reads it in the next step's forward pass.
  const std::size_t last = mlp.layers().size() - 1;
  const double weight_unit = static_cast<double>(sizeof(T)) * weight_byte_flops;
  double chunk_weights = 0;
  double layers_work = 0, layers_span = 0;
  bool any_layer_cut = false;
  const auto layers_add = [&](const UnitCut& cut, double unit_flops) {
    layers_work += unit_flops * static_cast<double>(cut.count) + (cut.tasks > 1 ? fork_flops : 0.0);
    layers_span += cut_span(cut, unit_flops);
    any_layer_cut = any_layer_cut || cut.tasks > 1;
  };
  for (std::size_t l = 0; l <= last; ++l) {
    const LayerSpec& s = mlp.layers()[l];
    // a task of m outputs (inputs) computes 2·rows·in (2·rows·out) flops and reads in (out)
    // weights per unit
    const double per_output = 2.0 * batch_rows * static_cast<double>(s.in);
    plan.forward_cut.push_back(l == last && mlp.keeps_logits() ? UnitCut{s.out, std::max<std::size_t>(s.out, 1), 1}
                                                               : unit_cut(s.out, per_output, block));
    layers_add(plan.forward_cut.back(), per_output + weight_unit * static_cast<double>(s.in));
    chunk_weights += weight_unit * static_cast<double>(s.in * s.out);
    const double per_input = 2.0 * batch_rows * static_cast<double>(s.out);
    plan.backward_cut.push_back(l == 0 ? UnitCut{s.in, std::max<std::size_t>(s.in, 1), 1}
                                       : unit_cut(s.in, per_input, block));
    if (l > 0) {
      layers_add(plan.backward_cut.back(), per_input + weight_unit * static_cast<double>(s.out));
      chunk_weights += weight_unit * static_cast<double>(s.in * s.out);
    }
  }
  const std::size_t chunks = plan.chunks(batch);
  const double rows_work = flops_per_row * batch_rows + static_cast<double>(chunks) * chunk_weights +
                           (chunks > 1 ? fork_flops : 0.0);
  const double rows_span = flops_per_row * static_cast<double>(plan.chunk_rows) + chunk_weights +
                           (chunks > 1 ? fork_flops : 0.0);
  plan.phase1_by_layers = any_layer_cut && layers_work + layers_span < rows_work + rows_span;

  // phase 2: tiles of whole kernel blocks of outputs, each worth task_target_flops; a layer
  // whose split does not pay stays one tile
  double weight_flops = 0, largest_tile = 0;
  for (const LayerSpec& s : mlp.layers()) {
    const double per_output = 2.0 * batch_rows * static_cast<double>(s.in);
    weight_flops += per_output * static_cast<double>(s.out);
    const UnitCut cut = unit_cut(s.out, per_output, block);
    const LayerTiles t{cut, cut.tasks, plan.weight_tasks};
    largest_tile = std::max(largest_tile, per_output * static_cast<double>(cut.largest()));
    plan.weight_tasks += t.tiles;
    plan.layers.push_back(t);
  }
  plan.weights_in_parallel = plan.weight_tasks > 1 && split_pays(weight_flops, largest_tile);
  // Per-sample steps fork once per cut layer in the forward pass and once in the update, each
  // over that layer's tiles: a layer is cut only when its split pays (above), so any cut layer
  // makes the per-sample split pay.
  plan.sample_in_parallel =
      batch == 1 && std::any_of(plan.layers.begin(), plan.layers.end(),
                                [](const LayerTiles& t) { return t.tiles > 1; });
  return plan;
}

}  // namespace bpnn
