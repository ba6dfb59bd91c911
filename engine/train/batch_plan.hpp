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
  std::size_t chunk_rows = 1;      // rows per phase-1 task
  std::vector<LayerTiles> layers;  // phase-2 cut of each layer
  std::size_t weight_tasks = 0;    // phase-2 tasks in all
  bool weights_in_parallel = false;  // phase 2 has enough work to pay for waking threads
  // Per-sample steps (batch 1) of networks with a layer wide enough to cut into several tiles
  // split those layers' outputs across threads; all others run on one thread.
  bool sample_in_parallel = false;

  std::size_t chunks(std::size_t rows) const { return (rows + chunk_rows - 1) / chunk_rows; }
};

// Work (floating-point operations) a task should have to pay for its scheduling.
constexpr double task_target_flops = 4.0e6;
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
  std::size_t rows = static_cast<std::size_t>(task_target_flops / flops_per_row) + 1;
  if (largest_weights > l2_bytes) rows = std::max(rows, rows_for_large_weights);
  plan.chunk_rows = std::min(batch, (rows + 15) / 16 * 16);  // whole register tiles of rows

  const std::size_t block = mlp.kernels().out_block;
  double weight_flops = 0;
  for (const LayerSpec& s : mlp.layers()) {
    weight_flops += 2.0 * static_cast<double>(batch * s.in * s.out);
    LayerTiles t{s.out, 1, plan.weight_tasks};
    if (block > 0) {
      const double per_output = 2.0 * static_cast<double>(batch * s.in);
      const std::size_t want = static_cast<std::size_t>(task_target_flops / per_output) + 1;
      t.tile_outputs = std::min(s.out, (want + block - 1) / block * block);
      t.tiles = (s.out + t.tile_outputs - 1) / t.tile_outputs;
    }
    plan.weight_tasks += t.tiles;
    plan.layers.push_back(t);
  }
  // Small networks keep phase 2 on the calling thread, so more threads never slow them down.
  plan.weights_in_parallel = weight_flops >= 2 * task_target_flops;
  plan.sample_in_parallel =
      batch == 1 && std::any_of(plan.layers.begin(), plan.layers.end(),
                                [](const LayerTiles& t) { return t.tiles > 1; });
  return plan;
}

}  // namespace bpnn
