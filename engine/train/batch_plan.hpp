#pragma once
// How one mini-batch step is cut into tasks. The cut depends only on the network's shapes and
// the batch size — never on the number of threads — so every thread count computes exactly the
// same sums in the same order, and trained models are identical bit for bit.
//
//   phase 1, per chunk of rows: forward through all layers, loss, δ of every layer
//            (rows are independent, each chunk owns its rows of the work buffers);
//   phase 2, per (layer, tile of outputs): dW_tile = Σ_all rows δ_tileᵀ·a, then the optimizer's
//            update of that tile (each task owns its slice of weights, gradient and optimizer
//            state).
// Two fork/joins per step, whatever the depth of the network; three with gradient clipping,
// whose norm needs every tile's gradient before any update (each task's part of ‖g‖² is kept
// apart and the parts are added in task order, so the norm does not depend on the threads).
#include <algorithm>
#include <cstddef>
#include <vector>

#include "nn/mlp.hpp"

namespace bpnn {

struct LayerTiles {
  std::size_t tile_outputs;  // outputs per phase-2 task (a multiple of the kernels' out_block)
  std::size_t tiles;         // tasks for this layer
  std::size_t first_task;    // index of its first task among all phase-2 tasks
};

struct BatchPlan {
  std::size_t chunk_rows = 1;      // rows per phase-1 task (the batch: phase 1 on one thread)
  std::vector<LayerTiles> layers;  // phase-2 cut of each layer
  std::size_t weight_tasks = 0;    // phase-2 tasks in all
  bool weights_in_parallel = false;  // phase 2's split pays for waking threads (split_pays)
  // Per-sample steps (batch 1) of networks with a layer wide enough to cut into several tiles
  // split those layers' outputs across threads; all others run on one thread.
  bool sample_in_parallel = false;

  std::size_t chunks(std::size_t rows) const { return (rows + chunk_rows - 1) / chunk_rows; }
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
  // phase 1: chunks of whole register tiles of rows, each worth task_target_flops
  std::size_t rows = static_cast<std::size_t>(task_target_flops / flops_per_row) + 1;
  if (largest_weights > l2_bytes) rows = std::max(rows, rows_for_large_weights);
  plan.chunk_rows = std::min(batch, (rows + 15) / 16 * 16);
  if (!split_pays(flops_per_row * static_cast<double>(batch),
                  flops_per_row * static_cast<double>(plan.chunk_rows)))
    plan.chunk_rows = batch;  // one chunk: the split would not pay

  // phase 2: tiles of whole kernel blocks of outputs, each worth task_target_flops; a layer
  // whose split does not pay stays one tile
  const std::size_t block = mlp.kernels().out_block;
  double weight_flops = 0, largest_tile = 0;
  for (const LayerSpec& s : mlp.layers()) {
    const double per_output = 2.0 * static_cast<double>(batch * s.in);
    weight_flops += per_output * static_cast<double>(s.out);
    LayerTiles t{s.out, 1, plan.weight_tasks};
    if (block > 0) {
      const std::size_t want = static_cast<std::size_t>(task_target_flops / per_output) + 1;
      t.tile_outputs = std::min(s.out, (want + block - 1) / block * block);
      if (!split_pays(per_output * static_cast<double>(s.out),
                      per_output * static_cast<double>(t.tile_outputs)))
        t.tile_outputs = s.out;
      t.tiles = (s.out + t.tile_outputs - 1) / t.tile_outputs;
    }
    largest_tile = std::max(largest_tile, per_output * static_cast<double>(t.tile_outputs));
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
