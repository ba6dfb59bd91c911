#pragma once
// How one mini-batch step is cut into tasks. Every sum a step makes is fixed by the network's
// shapes and the batch size alone — never by the number of threads — so every thread count
// computes exactly the same sums in the same order, and trained models are identical bit for
// bit. The cut into tasks may follow the thread count only where the kernels give every element
// the same bits whatever tile computes it (a layer's tiles, below); the sums that do depend on a
// cut (the loss over chunks of rows, the clipping norm's parts) are made on cuts that never do.
//
//   phase 1, per chunk of rows: forward through all layers, loss, δ of every layer
//            (rows are independent, each chunk owns its rows of the work buffers);
//            or, when chunks of rows cannot split it well (a small batch of a wide network),
//            layer by layer over all rows: the forward pass of each layer cut into tiles of
//            its outputs × rows, the backward pass to each layer's inputs into tiles of them ×
//            rows (the kernels give every element the same bits whichever tile computes it);
//   phase 2, per (layer, tile of outputs × inputs): dW_tile = Σ_all rows δ_tileᵀ·a_tile, then
//            the optimizer's update of that tile (each task owns its slice of weights, gradient
//            and optimizer state).
// Two fork/joins per step when phase 1 goes by rows, whatever the depth of the network (one more
// per cut layer and direction when it goes by layers); one more with gradient clipping,
// whose norm needs every tile's gradient before any update (one part of ‖g‖² per tile of the
// finest weight grid, LayerTiles::norm_inputs, whichever task computes it, added in grid order,
// so the norm does not depend on the threads).
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

// A 2-D cut of a layer's work: `units` (its outputs, or for the backward pass its inputs) in
// groups of whole kernel blocks, and each group's `parts` (rows in phase 1, inputs in phase 2).
// Task t is group t / parts.tasks, part t % parts.tasks: a group's tasks are consecutive, so the
// tasks that share a slice of weights are next to each other in the task order.
struct TileCut {
  UnitCut units;
  UnitCut parts;

  constexpr std::size_t tasks() const { return units.tasks * parts.tasks; }
  constexpr std::size_t group(std::size_t t) const { return t / parts.tasks; }
  constexpr std::size_t part(std::size_t t) const { return t % parts.tasks; }
  // The same cut of fewer parts (a step of fewer rows than the batch): as many parts as keep
  // each part about the size it has in the full cut, a power of two, rows spread evenly.
  constexpr TileCut with_parts(std::size_t count) const;
};

struct LayerTiles {
  UnitCut outputs;           // the phase-2 cut of the layer's outputs (whole out_blocks)
  UnitCut inputs;            // each output group's inputs (several parts only for one-block groups)
  std::size_t tiles;         // tasks for this layer (outputs.tasks · inputs.tasks)
  std::size_t first_task;    // index of its first task among all phase-2 tasks
  // The clipping norm's grid: the finest phase-2 cut of the layer (tile_finest), the same for
  // every thread count; each task above is a block of its tiles, consecutive in its order (both
  // cuts are powers of two over the same blocks, and inputs are cut only in one-block groups),
  // and the norm has one part per grid tile.
  UnitCut norm_outputs, norm_inputs;
  std::size_t first_norm_tile = 0;  // index of its first grid tile among all layers'
  TileCut cut() const { return {outputs, inputs}; }
  TileCut norm_cut() const { return {norm_outputs, norm_inputs}; }
};

// Phase 1's chunks of rows hold at least this many rows (a few register tiles of rows).
constexpr std::size_t least_chunk_rows = 16;

struct BatchPlan {
  UnitCut row_cut;                 // phase 1 by rows: the batch's rows cut into chunks
  std::size_t chunk_rows = 1;      // rows of the largest chunk (the batch: phase 1 on one thread)
  std::vector<LayerTiles> layers;  // phase-2 cut of each layer
  std::size_t weight_tasks = 0;    // phase-2 tasks in all
  std::size_t norm_tiles = 0;      // tiles of the clipping norm's grid in all (LayerTiles::norm_cut)
  std::size_t threads = 1;         // the thread count the tiles are cut for (batch_plan_make; 1 per sample)
  bool weights_in_parallel = false;  // phase 2's split pays for waking threads (split_pays)
  // Per-sample steps (batch 1) of networks with a layer wide enough to cut into several tiles
  // split those layers' outputs across threads; all others run on one thread.
  bool sample_in_parallel = false;
  // Phase 1 layer by layer (see the top of this file) instead of by chunks of rows:
  // forward_cut[l] cuts layer l's outputs × the batch's rows, backward_cut[l] (l ≥ 1) its
  // inputs (i.e. δ_{l−1}) × the rows.
  bool phase1_by_layers = false;
  std::vector<TileCut> forward_cut, backward_cut;

  double flops_per_row = 0;            // phase 1's work per row (forward and backward)
  std::size_t least_rows = least_chunk_rows;  // the fewest rows of a chunk (more with large weights)

  // The chunks of a step of `rows` rows (the batch, or fewer at the end of an epoch): the
  // batch's cut for the batch; for fewer rows the same rules on those rows — a power of two of
  // chunks, no more than the batch has, none under least_rows rows, one when the split would not
  // pay — the rows spread evenly.
  UnitCut row_chunks(std::size_t rows) const;
  std::size_t chunks(std::size_t rows) const { return row_chunks(rows).tasks; }

  // Which of `threads` threads runs phase-2 tile t of layer `layer`: task_lane of the tile's
  // index among all phase-2 tasks, the same thread step after step, so each core keeps its share
  // of the weights in its own cache. Phase 2 runs all layers' tiles in one loop, each thread
  // within one tile of the others; a cut of n tasks given n consecutive indices is as balanced.
  std::size_t tile_lane(std::size_t layer, std::size_t t, std::size_t threads) const;

  // Which of `threads` threads runs each task of `cut`, a phase-1 cut of the units that are
  // layer `layer`'s outputs: its forward tiles, or the backward tiles of the layer above (δ of
  // these outputs). A task goes to the thread of the phase-2 tile that holds its outputs — for a
  // cut into parts of rows, part p of P to the tile of range p·J/P of the J ranges of inputs — so
  // (with one range a group) the thread that updates a slice of the weights is the one that
  // reads it in the next step's forward pass, and the δ a backward tile writes is read by the
  // weight tile on its own core. A cut into more parts than the weight tiles have ranges takes
  // its parts to one thread (on 784-512-512-10 at batch 128 the round robin by task index sent
  // the second 64-row part of every panel to the other core, which then read that panel's
  // weights from the core that had updated them: about 12% of the 2-thread step). When that
  // leaves a thread more than one task over another (fewer output groups than threads, or
  // groups that do not divide evenly over them), the tasks go round robin instead (tile_lane of
  // the task's index), as before.
  std::vector<std::size_t> phase1_lanes(std::size_t layer, const TileCut& cut, std::size_t threads) const;
};

// When a split pays. Waking a second thread and joining it costs about task_overhead_seconds
// (a fork/join of ParallelFor with two threads, bench/bench_parallel.cpp on this 2-core Xeon:
// oneTBB 0.2 µs back to back, 4–5 µs once its workers have gone to sleep while the calling
// thread slept, 22 µs when it computed meanwhile, as in a step — the futex wake that kicks the
// worker's halted vCPU, fork_join/tbb_cold_busy; 20 µs is the figure taken. Inside an epoch
// the trainer's threads are held (ParallelFor::hold): a phase then costs about 1 µs while they
// spin, and the same ~20 µs once they have slept after a gap of over 1 ms (held_job/*).
// OpenMP's fork waits for its worker to run, which on a machine with more runnable threads than cores takes
// a scheduler time slice, ~10 ms measured under load: no plan fixes that, use the tbb backend
// there). Work runs on one core at about kernel_flops_per_second, a sustained rate
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
// tasks/threads tasks or one more. The thread count decides which thread runs a task, and where
// the kernels allow it how a layer's work is cut into tiles (tile_cut), never what an element's
// sums are (BatchPlan::tile_lane and phase1_lanes for the tiles of a layer).
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

// Past two cores: a phase that is split (split_pays, above: the never-slower rule) is cut into up
// to phase_tasks tasks — four per core on the 16-core machine the plan is designed for, so a core
// that finishes early finds work and the last task to start is a quarter of a core's share. A
// phase costs ONE start and end (a fork/join, or a held team's handoff) whatever its task count; a
// further task inside it costs only run_pinned's bookkeeping (an atomic exchange or two, well
// under a microsecond) plus whatever kernel efficiency a smaller tile loses. So tasks go down to
// the kernels' efficiency floor, where the rate of a layer cut into tiles is within a few % of the
// whole layer's: measured by `bpnn_plan --floor` (every tile of a layer in task order on one core,
// thread CPU time, best of 5, avx512 f32 on this Xeon, 784-256 and 256-256 at 64 rows, 1024-4096
// and 4096-1024 at 256):
//   - forward, rows × one 64-output panel: 97–103% of the whole layer's rate from 64 rows up;
//     16 rows 94–102% (mnist's 784-256 at 94–95% in two runs, which cost W2 about 3% of its
//     one-thread step), 32 rows (five 6-row register tiles and a 2-row one) 87–97%, 8 rows
//     79–83%, 2 rows 48–55%: least_tile_rows = 64, least_task_flops = 0.5 MFLOP (256-256 at 16
//     rows, 99%: the smallest tile measured within a few %);
//   - backward to the inputs, rows × one panel of inputs: 99–106% with all 64 (mnist) or 256
//     (wide) rows, 93% at 128 of 256, 80–86% at 64 and 14–52% at 4–16 rows (its cost per call
//     does not shrink with the rows): least_backward_rows = 256;
//   - weight gradient, one panel of outputs × a range of inputs (the inputs regrouped by range
//     once in phase 1, each task copying its columns of δ): 98–99% at 1024 inputs, 87–93% at
//     512, 68–80% at 64–128, 33–40% at 16 (again a cost per call of the rows × the panel):
//     least_tile_inputs = 1024.
// With these floors mnist keeps 4 forward tiles of its first layer and 5 weight tiles: on 16
// cores 12 would idle. So the floors hold only while every core has a task: a layer's phase
// whose cut has fewer tasks than the threads is cut finer, into tasks_per_core tasks a thread,
// down to tiles that run at about half the whole layer's rate (the same measurements: forward
// 2 rows 48–55%, 8 rows 79–83% → finest_rows = 4; backward 16 rows 48–53% → finest_backward_rows
// = 16; weight gradient 16 inputs 33–40%, 64 inputs 68–80% → finest_tile_inputs = 32), each at
// least finest_task_flops (a few µs of work, well above run_pinned's bookkeeping). Finer tiles
// would let a phase on idle cores take longer than on the cores it had: on deep at 8 cores,
// backward tiles of 8 rows (about 30%) made the simulated step 10% slower than the efficient
// cut (bpnn_plan). The kernels' contract allows all of these (kernels.hpp: every element's bits
// are the whole layer's on any range of rows — the backward pass from 4 rows, below which it
// takes its matrix-vector form, which sums in another order — and on any range of whole
// tile_input_block inputs). Only the tiles follow the threads: the loss is summed over chunks
// of rows that never do, and the clipping norm over the finest grid of the weights.
constexpr std::size_t design_cores = 16;
constexpr std::size_t tasks_per_core = 4;
constexpr std::size_t phase_tasks = design_cores * tasks_per_core;
constexpr double least_task_flops = 0.5e6;
constexpr std::size_t least_tile_rows = 64;
constexpr std::size_t least_backward_rows = 256;
constexpr std::size_t tile_input_block = 16;
constexpr std::size_t least_tile_inputs = 1024;
constexpr std::size_t finest_rows = 4;  // also the backward pass's contract floor (kernels.hpp)
constexpr std::size_t finest_backward_rows = 16;
constexpr std::size_t finest_tile_inputs = 32;
constexpr double finest_task_flops = 0.25e6;

inline std::size_t BatchPlan::tile_lane(std::size_t layer, std::size_t t, std::size_t threads) const {
  return task_lane(layers[layer].first_task + t, threads);
}

inline std::vector<std::size_t> BatchPlan::phase1_lanes(std::size_t layer, const TileCut& cut,
                                                        std::size_t threads) const {
  const LayerTiles& weights = layers[layer];
  std::vector<std::size_t> lanes(cut.tasks()), load(threads, 0);
  std::size_t group = 0;  // the phase-2 output group holding the task's first unit (tasks go group first)
  for (std::size_t t = 0; t < cut.tasks(); ++t) {
    const std::size_t first = cut.units.first(cut.group(t));
    while (group + 1 < weights.outputs.tasks && weights.outputs.first(group + 1) <= first) ++group;
    const std::size_t range = cut.part(t) * weights.inputs.tasks / cut.parts.tasks;
    lanes[t] = tile_lane(layer, group * weights.inputs.tasks + range, threads);
    ++load[lanes[t]];
  }
  const auto [fewest, most] = std::minmax_element(load.begin(), load.end());
  if (*most - *fewest > 1)
    for (std::size_t t = 0; t < cut.tasks(); ++t) lanes[t] = tile_lane(layer, t, threads);
  return lanes;
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

constexpr TileCut TileCut::with_parts(std::size_t count) const {
  if (count == parts.count) return *this;
  if (parts.tasks == 1) return {units, {count, parts.block, 1}};
  const std::size_t share = count * parts.tasks / std::max<std::size_t>(parts.count, 1);
  return {units, {count, parts.block, power_of_two_floor(std::clamp<std::size_t>(share, 1, parts.tasks))}};
}

// The 2-D grid of a layer's work: `units` in whole blocks of `block` (0: cannot be cut) × `parts`
// in whole part_blocks, cell_flops per unit and part. The rule, from the shapes alone:
//   - a phase that is split gets up to phase_tasks tasks, each of at least least_task (the
//     smallest task, a partial last block counted whole): the largest power of two of tasks that
//     allows;
//   - groups of units first (each task then reads only its group's weights, and the thread that
//     updates a slice of weights is the one that reads it next, BatchPlan::phase1_lanes), as many as
//     the blocks and the least task allow, a power of two;
//   - then each group's parts, a power of two, none under least_parts units — only when every
//     group is one block if `one_block_parts` (a packed panel's inputs are contiguous, a wider
//     group's are not);
//   - one task when the split would not pay (split_pays: the work moved off the largest task
//     must be a fork's worth).
constexpr TileCut tile_grid(std::size_t units, std::size_t block, std::size_t parts, std::size_t part_block,
                            std::size_t least_parts, double least_task, double cell_flops, bool one_block_parts) {
  const TileCut whole{{units, std::max<std::size_t>(units, 1), 1}, {parts, std::max<std::size_t>(parts, 1), 1}};
  if (block == 0 || units == 0 || parts == 0) return whole;
  const double work = cell_flops * static_cast<double>(units) * static_cast<double>(parts);
  const double most = work / least_task;
  const std::size_t want =
      most >= static_cast<double>(phase_tasks) ? phase_tasks : power_of_two_floor(std::max<std::size_t>(1, static_cast<std::size_t>(most)));
  if (want < 2) return whole;
  const auto smallest = [](const UnitCut& c) { return static_cast<double>(c.blocks() / c.tasks * c.block); };
  TileCut cut{{units, block, 1}, {parts, part_block, 1}};
  for (std::size_t n = std::min(want, power_of_two_floor(cut.units.blocks())); n >= 2; n /= 2) {
    const UnitCut groups{units, block, n};
    if (smallest(groups) * static_cast<double>(parts) * cell_flops >= least_task) {
      cut.units = groups;
      break;
    }
  }
  if (!one_block_parts || cut.units.tasks == cut.units.blocks())
    for (std::size_t n = want / cut.units.tasks; n >= 2; n /= 2) {
      const UnitCut pieces{parts, part_block, n};
      if (pieces.blocks() >= n && smallest(pieces) >= static_cast<double>(least_parts) &&
          smallest(cut.units) * smallest(pieces) * cell_flops >= least_task) {
        cut.parts = pieces;
        break;
      }
    }
  if (cut.tasks() < 2 ||
      !split_pays(work, cell_flops * static_cast<double>(cut.units.largest() * cut.parts.largest())))
    return whole;
  return cut;
}

// The finest grid of a layer's work: tile_grid with the finest floors (finest_parts,
// finest_task_flops). Every phase-2 cut tile_cut makes is a block of its tiles, for every thread
// count (phase 1 needs no such nesting: it sums nothing across tiles).
constexpr TileCut tile_finest(std::size_t units, std::size_t block, std::size_t parts, std::size_t part_block,
                              std::size_t finest_parts, double cell_flops, bool one_block_parts) {
  return tile_grid(units, block, parts, part_block, finest_parts, finest_task_flops, cell_flops, one_block_parts);
}

// The efficient grid of a layer's work: tile_grid with the kernels' efficiency floors
// (least_parts, least_task_flops), the cut for one thread.
constexpr TileCut tile_efficient(std::size_t units, std::size_t block, std::size_t parts, std::size_t part_block,
                                 std::size_t least_parts, double cell_flops, bool one_block_parts) {
  return tile_grid(units, block, parts, part_block, least_parts, least_task_flops, cell_flops, one_block_parts);
}

// The cut of a layer's work for `threads` threads: tile_grid with the kernels' efficiency floors
// (least_parts, least_task_flops) when that gives every thread a task; else the finest grid's
// groups with as few of its parts as give tasks_per_core tasks a thread (all of them when that
// is more than it has), or the efficient cut when that one would not pay. Both grids are powers
// of two over the same blocks; in phase 2 (one_block_parts) the finest is at least as fine in
// both dimensions, so the cut is a block of its tiles (the norm's grid).
constexpr TileCut tile_cut(std::size_t units, std::size_t block, std::size_t parts, std::size_t part_block,
                           std::size_t least_parts, std::size_t finest_parts, double cell_flops,
                           bool one_block_parts, std::size_t threads) {
  const TileCut efficient = tile_efficient(units, block, parts, part_block, least_parts, cell_flops, one_block_parts);
  if (efficient.tasks() >= threads) return efficient;
  const TileCut finest = tile_finest(units, block, parts, part_block, finest_parts, cell_flops, one_block_parts);
  if (finest.tasks() <= efficient.tasks()) return efficient;
  TileCut cut = finest;
  while (cut.parts.tasks > 1 && cut.units.tasks * (cut.parts.tasks / 2) >= tasks_per_core * threads)
    cut.parts.tasks /= 2;
  const double work = cell_flops * static_cast<double>(units) * static_cast<double>(parts);
  if (!split_pays(work, cell_flops * static_cast<double>(cut.units.largest() * cut.parts.largest())))
    return efficient;
  return cut;
}

// The plan of a step of `batch` rows on `threads` threads (≥ 1). Which form phase 1 takes, its
// chunks of rows and the clipping norm's grid follow from the shapes and the batch alone; the
// tiles of a layer also from the thread count (tile_cut). A per-sample step (batch 1) is cut as
// for one thread: its matrix-vector tiles stream the weights, and the "never slower" rule for
// them was derived for that cut.
template <class T>
BatchPlan batch_plan_make(const Mlp<T>& mlp, std::size_t batch, std::size_t threads = 1) {
  BatchPlan plan;
  threads = batch == 1 ? 1 : std::max<std::size_t>(threads, 1);
  plan.threads = threads;
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
  // logits: its output activation needs whole rows) and its backward over its inputs. Which
  // form a step takes, from the shapes and the batch alone, never the thread count: each form's
  // work W (its flops, the weights its tasks read at weight_byte_flops a byte — every chunk reads
  // them all, the tiles of a layer together once — and a fork per parallel phase) and span S (its
  // longest chain of tasks, a fork each) give a greedy schedule on P cores at most W/P + (1 −
  // 1/P)·S (Graham's bound); the plan takes the layer form when it cuts some layer into tiles of
  // outputs (inputs) worth task_target_flops and its W + S is smaller, the bound for two cores
  // (which with one core ranks by work, with many by span). Taken, each layer's cut is then
  // refined into the 2-D tiles of tile_cut (outputs × rows, inputs × rows), which only adds
  // tasks for more cores: the choice between the forms is the one made on those output tiles.
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
  const auto whole = [](std::size_t units, std::size_t rows) {
    return TileCut{{units, std::max<std::size_t>(units, 1), 1}, {rows, std::max<std::size_t>(rows, 1), 1}};
  };
  for (std::size_t l = 0; l <= last; ++l) {
    const LayerSpec& s = mlp.layers()[l];
    // a task of m outputs (inputs) computes 2·rows·in (2·rows·out) flops and reads in (out)
    // weights per unit
    const double per_output = 2.0 * batch_rows * static_cast<double>(s.in);
    const bool whole_rows = l == last && mlp.keeps_logits();
    layers_add(whole_rows ? UnitCut{s.out, std::max<std::size_t>(s.out, 1), 1} : unit_cut(s.out, per_output, block),
               per_output + weight_unit * static_cast<double>(s.in));
    plan.forward_cut.push_back(whole_rows ? whole(s.out, batch)
                                          : tile_cut(s.out, block, batch, 1, least_tile_rows, finest_rows,
                                                     2.0 * static_cast<double>(s.in), false, threads));
    chunk_weights += weight_unit * static_cast<double>(s.in * s.out);
    const double per_input = 2.0 * batch_rows * static_cast<double>(s.out);
    plan.backward_cut.push_back(l == 0 ? whole(s.in, batch)
                                       : tile_cut(s.in, block, batch, 1, least_backward_rows, finest_backward_rows,
                                                  2.0 * static_cast<double>(s.out), false, threads));
    if (l > 0) {
      layers_add(unit_cut(s.in, per_input, block), per_input + weight_unit * static_cast<double>(s.out));
      chunk_weights += weight_unit * static_cast<double>(s.in * s.out);
    }
  }
  const std::size_t chunks = plan.chunks(batch);
  const double rows_work = flops_per_row * batch_rows + static_cast<double>(chunks) * chunk_weights +
                           (chunks > 1 ? fork_flops : 0.0);
  const double rows_span = flops_per_row * static_cast<double>(plan.chunk_rows) + chunk_weights +
                           (chunks > 1 ? fork_flops : 0.0);
  plan.phase1_by_layers = any_layer_cut && layers_work + layers_span < rows_work + rows_span;

  // phase 2: tiles of each layer's weights by tile_cut — groups of whole kernel blocks of
  // outputs, then, for one-block groups, ranges of inputs (each dW element is Σ over all rows,
  // whichever tile computes it); a per-sample step (batch 1) cuts outputs only. Phase 2 is one
  // parallel phase over all layers' tiles, so its layers are cut finer for the threads (tile_cut)
  // only when their efficient cuts together leave a thread without a task. The clipping norm's
  // grid is the finest cut, whatever the threads.
  const auto least_inputs = [&](const LayerSpec& s) { return batch == 1 ? s.in + 1 : least_tile_inputs; };
  const auto finest_inputs = [&](const LayerSpec& s) { return batch == 1 ? s.in + 1 : finest_tile_inputs; };
  std::size_t efficient_tasks = 0;
  for (const LayerSpec& s : mlp.layers())
    efficient_tasks += tile_efficient(s.out, block, s.in, tile_input_block, least_inputs(s), 2.0 * batch_rows, true).tasks();
  const std::size_t weight_threads = efficient_tasks >= threads ? 1 : threads;
  double weight_flops = 0, largest_tile = 0;
  for (const LayerSpec& s : mlp.layers()) {
    const double per_output = 2.0 * batch_rows * static_cast<double>(s.in);
    weight_flops += per_output * static_cast<double>(s.out);
    const TileCut cut = tile_cut(s.out, block, s.in, tile_input_block, least_inputs(s), finest_inputs(s),
                                 2.0 * batch_rows, true, weight_threads);
    const TileCut norm = tile_finest(s.out, block, s.in, tile_input_block, finest_inputs(s), 2.0 * batch_rows, true);
    const LayerTiles t{cut.units, cut.parts, cut.tasks(), plan.weight_tasks, norm.units, norm.parts, plan.norm_tiles};
    largest_tile = std::max(largest_tile, 2.0 * batch_rows * static_cast<double>(cut.units.largest() * cut.parts.largest()));
    plan.weight_tasks += t.tiles;
    plan.norm_tiles += norm.tasks();
    plan.layers.push_back(t);
  }
  plan.weights_in_parallel = plan.weight_tasks > 1 && split_pays(weight_flops, largest_tile);
  // Per-sample steps fork once per cut layer in the forward pass and once in the update, each
  // over that layer's tiles: a layer is cut only when its split pays (above), so any cut layer
  // makes the per-sample split pay.
  plan.sample_in_parallel =
      batch == 1 && std::any_of(plan.layers.begin(), plan.layers.end(),
                                [](const LayerTiles& t) { return t.outputs.tasks > 1; });
  return plan;
}

}  // namespace bpnn
