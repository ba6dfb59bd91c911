// The batch plan's rule over many shapes (widths 1 … 8192, batch 1 … 512): a step is split into
// tasks only where the split pays (engine/train/batch_plan.hpp, split_pays), so more threads are
// never slower, and each cut is balanced (a power of two of tasks within one kernel block of each
// other); task counts only, no timing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernel_tables.hpp"
#include "nn/mlp.hpp"
#include "train/batch_plan.hpp"

namespace {

using bpnn::fork_flops;
using bpnn::task_target_flops;

// The rule of unit_cut (batch_plan.hpp) for one cut of `count` units of `unit_flops` each:
//  - tasks cover the units in order, each starting on a kernel block;
//  - a split pays (the work moved off the largest task is a fork's worth) and every task carries
//    `least` (a task's worth, task_target_flops, counting a partial last block as whole) unless
//    the work is only halved and halving is allowed;
//  - the task count is a power of two and doubling it would leave a task short of that worth;
//  - balance: the tasks' sizes differ by at most one block, so on P threads dividing the task
//    count the busiest thread has at most one block per task more than count / P.
void check_unit_cut(const bpnn::UnitCut& cut, std::size_t count, double unit_flops, std::size_t block,
                    double least = task_target_flops, bool halving = true) {
  REQUIRE(cut.count == count);
  REQUIRE(cut.tasks >= 1);
  CHECK(cut.first(0) == 0);
  CHECK(cut.first(cut.tasks) == count);
  if (cut.tasks == 1) return;
  REQUIRE(block > 0);
  CHECK(cut.block == block);
  CHECK((cut.tasks & (cut.tasks - 1)) == 0);
  std::size_t fewest_blocks = count, most_blocks = 0;
  for (std::size_t t = 0; t < cut.tasks; ++t) {
    CHECK(cut.first(t) % block == 0);
    CHECK(cut.first(t) < cut.first(t + 1));
    const std::size_t blocks = (cut.size(t) + block - 1) / block;
    fewest_blocks = std::min(fewest_blocks, blocks);
    most_blocks = std::max(most_blocks, blocks);
    if (cut.tasks > 2 || !halving) CHECK(unit_flops * static_cast<double>(blocks * block) >= least);
  }
  CHECK(most_blocks - fewest_blocks <= 1);
  CHECK(unit_flops * static_cast<double>(count - cut.largest()) >= fork_flops);
  const std::size_t all_blocks = (count + block - 1) / block;
  CHECK(unit_flops * static_cast<double>(all_blocks / (2 * cut.tasks) * block) < least + unit_flops);
  for (std::size_t threads = 2; threads <= cut.tasks; threads *= 2) {
    std::vector<std::size_t> load(threads, 0);  // tasks handed in order to the least-loaded thread
    for (std::size_t t = 0; t < cut.tasks; ++t) *std::min_element(load.begin(), load.end()) += cut.size(t);
    const std::size_t busiest = *std::max_element(load.begin(), load.end());
    INFO(cut.tasks << " tasks on " << threads << " threads");
    CHECK(busiest * threads <= count + cut.tasks * block);
  }
}

// Whether two cuts are the same.
bool same_unit_cut(const bpnn::UnitCut& a, const bpnn::UnitCut& b) {
  return a.count == b.count && a.block == b.block && a.tasks == b.tasks;
}

// The rule of tile_cut (batch_plan.hpp) for a 2-D cut of `units` (whole blocks of `block`) ×
// `parts` (whole part_blocks, at least least_parts), cell_flops per unit and part:
//  - each dimension covers its units in order, tasks starting on blocks, a power of two of them,
//    within one block of each other (balanced on 2, 4, 8, … threads);
//  - at most phase_tasks tasks, each at least least_task (least_task_flops, or finest_task_flops
//    for the finest grid; a partial block counted whole);
//  - parts only for one-block groups when one_block_parts;
//  - a split pays (split_pays), and the cut is as fine as those rules allow: a phase of work W
//    has min(phase_tasks, the largest power of two ≤ W / least_task) tasks unless neither
//    dimension can be cut twice as finely.
void check_tile_cut(const bpnn::TileCut& cut, std::size_t units, std::size_t block, std::size_t parts,
                    std::size_t part_block, std::size_t least_parts, double cell_flops, bool one_block_parts,
                    double least_task = bpnn::least_task_flops) {
  const std::size_t tasks = cut.tasks();
  INFO(cut.units.tasks << " groups x " << cut.parts.tasks << " parts");
  REQUIRE(cut.units.count == units);
  REQUIRE(cut.parts.count == parts);
  CHECK(cut.units.first(cut.units.tasks) == units);
  CHECK(cut.parts.first(cut.parts.tasks) == parts);
  CHECK(tasks <= bpnn::phase_tasks);
  const double work = cell_flops * static_cast<double>(units) * static_cast<double>(parts);
  const auto smallest = [](const bpnn::UnitCut& c) { return static_cast<double>(c.blocks() / c.tasks * c.block); };
  if (tasks == 1) {
    // not cut: too little work for two least tasks, a split that would not pay, or no cut the
    // blocks allow
    const bool cuttable = block > 0 && units > 0 && parts > 0 && work >= 2 * least_task;
    if (cuttable && (units + block - 1) / block >= 2) {
      const bpnn::UnitCut halves{units, block, 2};
      if (smallest(halves) * static_cast<double>(parts) * cell_flops >= least_task)
        CHECK_FALSE(bpnn::split_pays(work, cell_flops * static_cast<double>(halves.largest() * parts)));
    }
    return;
  }
  for (const bpnn::UnitCut* c : {&cut.units, &cut.parts}) {
    CHECK((c->tasks & (c->tasks - 1)) == 0);
    std::size_t fewest = c->count, most = 0;
    for (std::size_t t = 0; t < c->tasks; ++t) {
      CHECK(c->first(t) % c->block == 0);
      CHECK(c->first(t) < c->first(t + 1));
      const std::size_t blocks = (c->size(t) + c->block - 1) / c->block;
      fewest = std::min(fewest, blocks);
      most = std::max(most, blocks);
    }
    CHECK(most - fewest <= 1);
  }
  if (cut.units.tasks > 1) CHECK(cut.units.block == block);
  if (cut.parts.tasks > 1) {
    CHECK(cut.parts.block == part_block);
    CHECK(smallest(cut.parts) >= static_cast<double>(least_parts));
    if (one_block_parts) CHECK(cut.units.tasks == cut.units.blocks());
  }
  // every task at least the least task size, and the split pays
  CHECK(smallest(cut.units) * smallest(cut.parts) * cell_flops >= least_task);
  CHECK(bpnn::split_pays(work, cell_flops * static_cast<double>(cut.units.largest() * cut.parts.largest())));
  // as fine as the rules allow: fewer tasks than the work has room for only when neither
  // dimension can be cut twice as finely
  if (tasks < bpnn::phase_tasks && 2.0 * static_cast<double>(tasks) * least_task <= work) {
    const bpnn::UnitCut more_groups{units, block, 2 * cut.units.tasks};
    const bool groups_can = more_groups.tasks <= more_groups.blocks() &&
                            smallest(more_groups) * static_cast<double>(parts) * cell_flops >= least_task;
    const bpnn::UnitCut more_parts{parts, part_block, 2 * cut.parts.tasks};
    const bool parts_can = (!one_block_parts || cut.units.tasks == cut.units.blocks()) &&
                           more_parts.tasks <= more_parts.blocks() &&
                           smallest(more_parts) >= static_cast<double>(least_parts) &&
                           smallest(cut.units) * smallest(more_parts) * cell_flops >= least_task;
    CHECK_FALSE(groups_can);
    CHECK_FALSE(parts_can);
  }
}

// The rule of tile_cut for `threads` threads (batch_plan.hpp), given the cut for one thread
// (`efficient`, the efficiency floors) and the finest grid (the kernels' contract floors):
//  - the efficient cut wherever it gives every thread a task, or the finest grid has no more;
//  - else the finest grid's groups with a power of two of its parts, as few as give
//    tasks_per_core tasks a thread (all of them when it has fewer), so a block of its tiles —
//    or the efficient cut where that one would not pay.
void check_thread_cut(const bpnn::TileCut& cut, const bpnn::TileCut& efficient, const bpnn::TileCut& finest,
                      std::size_t threads, double cell_flops) {
  const auto same_cut = [](const bpnn::TileCut& a, const bpnn::TileCut& b) {
    return same_unit_cut(a.units, b.units) && same_unit_cut(a.parts, b.parts);
  };
  INFO(threads << " threads: " << cut.units.tasks << " x " << cut.parts.tasks << " (efficient " << efficient.units.tasks
                << " x " << efficient.parts.tasks << ", finest " << finest.units.tasks << " x " << finest.parts.tasks << ")");
  if (efficient.tasks() >= threads || finest.tasks() <= efficient.tasks()) {
    CHECK(same_cut(cut, efficient));
    return;
  }
  if (same_cut(cut, efficient)) {  // only where the refined cut would not pay
    bpnn::TileCut refined = finest;
    while (refined.parts.tasks > 1 && refined.units.tasks * (refined.parts.tasks / 2) >= bpnn::tasks_per_core * threads)
      refined.parts.tasks /= 2;
    const double work = cell_flops * static_cast<double>(cut.units.count * cut.parts.count);
    CHECK_FALSE(bpnn::split_pays(work, cell_flops * static_cast<double>(refined.units.largest() * refined.parts.largest())));
    return;
  }
  CHECK(same_unit_cut(cut.units, finest.units));
  CHECK(cut.parts.count == finest.parts.count);
  CHECK(cut.parts.block == finest.parts.block);
  CHECK((cut.parts.tasks & (cut.parts.tasks - 1)) == 0);
  CHECK(cut.parts.tasks <= finest.parts.tasks);
  CHECK(finest.parts.tasks % cut.parts.tasks == 0);
  CHECK(cut.tasks() >= std::min(bpnn::tasks_per_core * threads, finest.tasks()));
  if (cut.parts.tasks > 1) CHECK(cut.units.tasks * (cut.parts.tasks / 2) < bpnn::tasks_per_core * threads);
}

// Whether every tile of `cut` is a block of `grid`'s tiles, consecutive in the grid's order (what
// the trainer's norm parts rely on): both dimensions a power of two of tasks over the same units
// and blocks (or one task), the grid's at least as many, and a cut of parts only in the grid's
// groups (a tile of several groups and part of their inputs would not be consecutive).
bool nests_in(const bpnn::TileCut& cut, const bpnn::TileCut& grid) {
  const auto dim = [](const bpnn::UnitCut& c, const bpnn::UnitCut& g) {
    if (c.count != g.count) return false;
    if (c.tasks == 1) return true;
    return c.block == g.block && g.tasks % c.tasks == 0 && ((g.tasks & (g.tasks - 1)) == 0);
  };
  return dim(cut.units, grid.units) && dim(cut.parts, grid.parts) &&
         (cut.parts.tasks == 1 || cut.units.tasks == grid.units.tasks);
}

// A phase's tasks on `threads` threads by `lane` (BatchPlan::tile_lane, task_lane): every task
// on a thread in range, and each thread within one task of tasks/threads (none idle while
// another has two).
template <class Lane>
void check_lanes(std::size_t tasks, std::size_t threads, Lane&& lane) {
  INFO(tasks << " tasks on " << threads << " threads");
  std::vector<std::size_t> load(threads, 0);
  for (std::size_t t = 0; t < tasks; ++t) {
    const std::size_t p = lane(t);
    REQUIRE(p < threads);
    ++load[p];
  }
  const auto [fewest, most] = std::minmax_element(load.begin(), load.end());
  CHECK(*most - *fewest <= 1);
}

// The threads of a phase-1 cut of layer `layer`'s outputs (BatchPlan::phase1_lanes): one for
// each task, balanced (check_lanes). Which thread owns which task: the TEST_CASE on hand-made
// cuts below.
void check_phase1_lanes(const bpnn::BatchPlan& plan, std::size_t layer, const bpnn::TileCut& cut, std::size_t threads) {
  const std::vector<std::size_t> lanes = plan.phase1_lanes(layer, cut, threads);
  REQUIRE(lanes.size() == cut.tasks());
  check_lanes(cut.tasks(), threads, [&](std::size_t t) { return lanes[t]; });
}

template <class T>
void check_plan(const bpnn::Mlp<T>& mlp, std::size_t batch) {
  const bpnn::BatchPlan plan = bpnn::batch_plan_make(mlp, batch);
  const auto& layers = mlp.layers();
  double flops_per_row = 0;
  for (std::size_t l = 0; l < layers.size(); ++l)
    flops_per_row += (l == 0 ? 2.0 : 4.0) * static_cast<double>(layers[l].in * layers[l].out);

  // phase 1 by rows: the batch's rows by the same balanced rule, the rows spread evenly, each
  // chunk at least 16 rows and a task's worth — or rows_for_large_weights rows (never halved
  // below them) with weights larger than L2
  const bool large_weights = std::any_of(layers.begin(), layers.end(), [](const bpnn::LayerSpec& s) {
    return s.in * s.out * sizeof(T) > bpnn::l2_bytes;
  });
  const std::size_t chunks = plan.chunks(batch);
  REQUIRE(plan.chunk_rows >= 1);
  REQUIRE(plan.chunk_rows <= batch);
  CHECK(plan.chunk_rows == plan.row_cut.largest());
  const double least_rows = static_cast<double>(
      large_weights ? bpnn::rows_for_large_weights : bpnn::least_chunk_rows);
  check_unit_cut(plan.row_cut, batch, flops_per_row, 1,
                 std::max(task_target_flops, flops_per_row * least_rows), !large_weights);
  if (chunks > 1) CHECK(static_cast<double>(batch / chunks) >= (large_weights ? least_rows : 16.0));
  // a partial batch at the end of an epoch: the same rules on its rows — no more chunks than the
  // batch, a power of two, none under 16 rows (rows_for_large_weights with large weights), and a
  // split only where it pays
  for (std::size_t rows = 1; rows <= batch; rows += 7) {
    const bpnn::UnitCut part = plan.row_chunks(rows);
    CHECK(part.tasks <= chunks);
    CHECK(part.first(part.tasks) == rows);
    if (part.tasks > 1) {
      CHECK(rows / part.tasks >= bpnn::least_chunk_rows);
      CHECK((part.tasks & (part.tasks - 1)) == 0);
      CHECK(static_cast<double>(rows / part.tasks) >= least_rows);
      CHECK(bpnn::split_pays(flops_per_row * static_cast<double>(rows),
                             flops_per_row * static_cast<double>(part.largest())));
    }
  }

  // phase 1 by layers: each layer's forward cut (outputs × rows) and backward cut (inputs × rows)
  // by tile_cut's rule (check_tile_cut); the output layer's forward stays whole when it keeps
  // logits, the first layer has no backward cut. Layer by layer is chosen exactly when the layer
  // form cuts some layer into tiles of task_target_flops (unit_cut) and its work + span beats
  // the rows' — work: flops, weights read (a chunk reads all of each layer forward and all but
  // the first backward; a layer's tiles read it once together) and a fork per parallel phase;
  // span: the largest task of each phase in a row, a fork each
  const std::size_t block = mlp.kernels().out_block;
  const double rows = static_cast<double>(batch);
  const double byte = bpnn::weight_byte_flops;
  REQUIRE(plan.forward_cut.size() == layers.size());
  REQUIRE(plan.backward_cut.size() == layers.size());
  double layers_work = 0, layers_span = 0, chunk_weight_bytes = 0;
  bool any_layer_cut = false;
  const auto choice_add = [&](const bpnn::UnitCut& cut, double unit_flops, double unit_weight_bytes) {
    const double fork = cut.tasks > 1 ? fork_flops : 0;
    layers_work += (unit_flops + byte * unit_weight_bytes) * static_cast<double>(cut.count) + fork;
    layers_span += (unit_flops + byte * unit_weight_bytes) * static_cast<double>(cut.largest()) + fork;
    chunk_weight_bytes += unit_weight_bytes * static_cast<double>(cut.count);
    any_layer_cut = any_layer_cut || cut.tasks > 1;
  };
  for (std::size_t l = 0; l < layers.size(); ++l) {
    INFO("layer " << l);
    const double in = static_cast<double>(layers[l].in), out = static_cast<double>(layers[l].out);
    const bool logits = l + 1 == layers.size() && mlp.keeps_logits();
    if (logits)
      CHECK(plan.forward_cut[l].tasks() == 1);
    else
      check_tile_cut(plan.forward_cut[l], layers[l].out, block, batch, 1, bpnn::least_tile_rows, 2.0 * in, false);
    choice_add(logits ? bpnn::UnitCut{layers[l].out, std::max<std::size_t>(layers[l].out, 1), 1}
                      : bpnn::unit_cut(layers[l].out, 2.0 * rows * in, block),
               2.0 * rows * in, in * sizeof(T));
    if (l == 0) {
      CHECK(plan.backward_cut[l].tasks() == 1);
    } else {
      check_tile_cut(plan.backward_cut[l], layers[l].in, block, batch, 1, bpnn::least_backward_rows, 2.0 * out, false);
      choice_add(bpnn::unit_cut(layers[l].in, 2.0 * rows * out, block), 2.0 * rows * out, out * sizeof(T));
    }
  }
  const double chunk_fork = chunks > 1 ? fork_flops : 0;
  const double rows_work = flops_per_row * rows + static_cast<double>(chunks) * byte * chunk_weight_bytes + chunk_fork;
  const double rows_span = flops_per_row * static_cast<double>(plan.chunk_rows) + byte * chunk_weight_bytes + chunk_fork;
  INFO("rows: work " << rows_work << " span " << rows_span << "; layers: work " << layers_work << " span " << layers_span);
  CHECK(plan.phase1_by_layers == (any_layer_cut && layers_work + layers_span < rows_work + rows_span));

  // a step of fewer rows (the end of an epoch): each phase-1 cut keeps its groups, and its rows
  // in parts about as large as the batch's, a power of two, no more than before
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const bpnn::TileCut same = plan.forward_cut[l].with_parts(batch);  // the batch: the cut itself
    CHECK(same.units.tasks == plan.forward_cut[l].units.tasks);
    CHECK(same.parts.tasks == plan.forward_cut[l].parts.tasks);
    CHECK(same.parts.count == batch);
  }
  for (std::size_t l = 0; l < layers.size(); ++l)
    for (std::size_t part_rows = 1; part_rows <= batch; part_rows += 13) {
      const bpnn::TileCut fewer = plan.forward_cut[l].with_parts(part_rows);
      CHECK(fewer.units.tasks == plan.forward_cut[l].units.tasks);
      CHECK(fewer.parts.count == part_rows);
      CHECK(fewer.parts.first(fewer.parts.tasks) == part_rows);
      CHECK(fewer.parts.tasks <= plan.forward_cut[l].parts.tasks);
      CHECK((fewer.parts.tasks & (fewer.parts.tasks - 1)) == 0);
      if (fewer.parts.tasks > 1) CHECK(part_rows / fewer.parts.tasks + 1 >= batch / plan.forward_cut[l].parts.tasks);
    }

  // which thread runs a task (tile_lane in phase 2, phase1_lanes in phase 1, task_lane for
  // chunks of rows): every phase — phase 2 over all layers, each cut of phase 1, also of a
  // shorter last step, the chunks of rows — within one task per thread of balanced, for any
  // thread count
  for (std::size_t threads : {1, 2, 3, 4, 8, 16, 64}) {
    INFO("phase 2");
    check_lanes(plan.weight_tasks, threads, [&](std::size_t task) {
      std::size_t l = 0;
      while (l + 1 < layers.size() && plan.layers[l + 1].first_task <= task) ++l;
      return plan.tile_lane(l, task - plan.layers[l].first_task, threads);
    });
    check_lanes(chunks, threads, [&](std::size_t c) { return bpnn::task_lane(c, threads); });
    for (std::size_t l = 0; l < layers.size(); ++l)
      for (std::size_t rows : {batch, batch / 2 + 1}) {
        INFO("phase 1, layer " << l << ", " << rows << " rows");
        check_phase1_lanes(plan, l, plan.forward_cut[l].with_parts(rows), threads);
        if (l > 0) check_phase1_lanes(plan, l - 1, plan.backward_cut[l].with_parts(rows), threads);
      }
  }
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const bpnn::UnitCut& forward = plan.forward_cut[l].units;
    const bpnn::UnitCut& tiles = plan.layers[l].outputs;
    if (l + 1 == layers.size() && mlp.keeps_logits()) continue;
    if (batch == 1 || plan.forward_cut[l].tasks() == 1 || plan.layers[l].tiles == 1) continue;
    REQUIRE(forward.tasks == tiles.tasks);
    for (std::size_t t = 0; t <= tiles.tasks; ++t) CHECK(forward.first(t) == tiles.first(t));
  }

  // phase 2: each layer's weights by tile_cut's rule: groups of outputs, then input ranges of
  // one-block groups (none in a per-sample step)
  double weight_flops = 0, largest = 0;
  std::size_t tasks = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    INFO("phase 2, layer " << l);
    const bpnn::LayerTiles& t = plan.layers[l];
    CHECK(t.first_task == tasks);
    CHECK(t.tiles == t.outputs.tasks * t.inputs.tasks);
    check_tile_cut(t.cut(), layers[l].out, block, layers[l].in, bpnn::tile_input_block,
                   batch == 1 ? layers[l].in + 1 : bpnn::least_tile_inputs, 2.0 * rows, true);
    tasks += t.tiles;
    weight_flops += 2.0 * rows * static_cast<double>(layers[l].in * layers[l].out);
    largest = std::max(largest, 2.0 * rows * static_cast<double>(t.outputs.largest() * t.inputs.largest()));
  }
  CHECK(plan.weight_tasks == tasks);
  CHECK(plan.weights_in_parallel == (tasks > 1 && weight_flops - largest >= fork_flops));

  // the clipping norm's grid: the finest cut of each layer's weights (tile_cut's rule with the
  // kernels' contract floors), and every phase-2 tile a block of its tiles
  std::size_t norm_tiles = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    INFO("norm grid, layer " << l);
    const bpnn::LayerTiles& t = plan.layers[l];
    CHECK(t.first_norm_tile == norm_tiles);
    check_tile_cut(t.norm_cut(), layers[l].out, block, layers[l].in, bpnn::tile_input_block,
                   batch == 1 ? layers[l].in + 1 : bpnn::finest_tile_inputs, 2.0 * rows, true, bpnn::finest_task_flops);
    CHECK(nests_in(t.cut(), t.norm_cut()));
    norm_tiles += t.norm_cut().tasks();
  }
  CHECK(plan.norm_tiles == norm_tiles);

  // The plan for more threads: the same chunks of rows, the same form of phase 1 and the same
  // norm grid; each layer's cut by the rule for its thread count (check_thread_cut), phase 2's
  // tiles blocks of the norm grid's, phase 1's parts of rows at least finest_rows (also in a
  // shorter last step), and each phase balanced on those threads.
  for (std::size_t threads : {2, 3, 4, 8, 16, 64}) {
    INFO("plan for " << threads << " threads");
    const bpnn::BatchPlan wide = bpnn::batch_plan_make(mlp, batch, threads);
    // phase 2 is one parallel phase: its layers are cut for the threads only when the efficient
    // cuts of all of them leave a thread without a task
    const std::size_t weight_threads = plan.weight_tasks >= threads || batch == 1 ? 1 : threads;
    CHECK(wide.threads == (batch == 1 ? 1 : threads));
    CHECK(wide.row_cut.tasks == plan.row_cut.tasks);
    CHECK(wide.phase1_by_layers == plan.phase1_by_layers);
    CHECK(wide.norm_tiles == plan.norm_tiles);
    CHECK(wide.sample_in_parallel == plan.sample_in_parallel);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      INFO("layer " << l);
      const double in = static_cast<double>(layers[l].in), out = static_cast<double>(layers[l].out);
      const std::size_t P = batch == 1 ? 1 : threads;
      const bool logits = l + 1 == layers.size() && mlp.keeps_logits();
      if (logits) {
        CHECK(wide.forward_cut[l].tasks() == 1);
      } else {
        check_thread_cut(wide.forward_cut[l], plan.forward_cut[l],
                         bpnn::tile_finest(layers[l].out, block, batch, 1, bpnn::finest_rows, 2.0 * in, false), P, 2.0 * in);
      }
      if (l > 0)
        check_thread_cut(wide.backward_cut[l], plan.backward_cut[l],
                         bpnn::tile_finest(layers[l].in, block, batch, 1, bpnn::finest_backward_rows, 2.0 * out, false),
                         P, 2.0 * out);
      for (const bpnn::TileCut* c : {&wide.forward_cut[l], &wide.backward_cut[l]})
        for (std::size_t part_rows : {batch, batch / 2 + 1, batch / 3 + 1}) {
          const bpnn::TileCut fewer = c->with_parts(part_rows);
          if (fewer.parts.tasks > 1) CHECK(part_rows / fewer.parts.tasks >= bpnn::finest_rows);  // the kernels' 4
        }
      const bpnn::LayerTiles& t = wide.layers[l];
      CHECK(same_unit_cut(t.norm_outputs, plan.layers[l].norm_outputs));
      CHECK(same_unit_cut(t.norm_inputs, plan.layers[l].norm_inputs));
      CHECK(t.first_norm_tile == plan.layers[l].first_norm_tile);
      check_thread_cut(t.cut(), plan.layers[l].cut(), t.norm_cut(), weight_threads, 2.0 * rows);
      CHECK(nests_in(t.cut(), t.norm_cut()));
    }
    check_lanes(wide.weight_tasks, threads, [&](std::size_t task) {
      std::size_t l = 0;
      while (l + 1 < layers.size() && wide.layers[l + 1].first_task <= task) ++l;
      return wide.tile_lane(l, task - wide.layers[l].first_task, threads);
    });
    for (std::size_t l = 0; l < layers.size(); ++l) {
      check_phase1_lanes(wide, l, wide.forward_cut[l], threads);
      if (l > 0) check_phase1_lanes(wide, l - 1, wide.backward_cut[l], threads);
    }
  }

  // per-sample steps: split only where a layer was cut (and so pays)
  const bool any_cut = std::any_of(plan.layers.begin(), plan.layers.end(),
                                   [](const bpnn::LayerTiles& t) { return t.outputs.tasks > 1; });
  CHECK(plan.sample_in_parallel == (batch == 1 && any_cut));

  // never slower: a whole step too small to pay for two forks wakes no second thread at all
  if (flops_per_row * rows + weight_flops < 2 * fork_flops) {
    CHECK(chunks == 1);
    CHECK_FALSE(plan.weights_in_parallel);
    CHECK_FALSE(plan.sample_in_parallel);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      CHECK(plan.forward_cut[l].tasks() == 1);
      CHECK(plan.backward_cut[l].tasks() == 1);
      CHECK(plan.layers[l].tiles == 1);
    }
  }
}

template <class T>
void sweep_shapes() {
  const auto& table = bpnn::kernels::kernels_select<T>();
  const std::vector<std::size_t> widths = {1, 2, 7, 16, 65, 200, 400, 1024, 4096};
  const std::vector<std::size_t> outputs = {1, 10, 1000};
  const std::vector<std::size_t> batches = {1, 2, 7, 16, 17, 33, 64, 100, 128, 257, 512};
  std::vector<std::vector<std::size_t>> shapes;
  for (std::size_t in : widths)
    for (std::size_t hidden : widths)
      for (std::size_t out : outputs) shapes.push_back({in, hidden, out});
  shapes.push_back({784, 512, 512, 10});  // and the other shapes of `bpnn bench --workload scaling`
  shapes.push_back({256, 256, 256, 256, 256, 10});
  shapes.push_back({2048, 4096, 10});
  shapes.push_back({8192, 512, 10});
  shapes.push_back({1024, 4096, 1024});
  shapes.push_back({4096, 1});
  shapes.push_back({1, 4096});
  for (const auto& sizes : shapes) {
    bpnn::NetworkConfig config;
    config.sizes = sizes;
    config.precision = std::is_same_v<T, float> ? bpnn::Precision::f32 : bpnn::Precision::f64;
    const bpnn::Mlp<T> mlp(config, table);
    std::string shape;
    for (std::size_t s : sizes) shape += std::to_string(s) + " ";
    for (std::size_t batch : batches) {
      INFO("sizes " << shape << "batch " << batch << " (" << table.arch << ")");
      check_plan(mlp, batch);
    }
  }
}

template <class T>
bpnn::BatchPlan plan_of(std::vector<std::size_t> sizes, std::size_t batch, std::size_t threads = 1) {
  bpnn::NetworkConfig config;
  config.sizes = std::move(sizes);
  config.precision = std::is_same_v<T, float> ? bpnn::Precision::f32 : bpnn::Precision::f64;
  const bpnn::Mlp<T> mlp(config, bpnn::kernels::kernels_select<T>());
  return bpnn::batch_plan_make(mlp, batch, threads);
}

}  // namespace

TEMPLATE_TEST_CASE("the batch plan splits a step only where the split pays, over many shapes",
                   "[parallel][batch_plan]", float, double) {
  sweep_shapes<TestType>();
}

TEST_CASE("the batch plan keeps small per-sample steps on one thread and splits big steps",
          "[parallel][batch_plan]") {
  // the case: per-sample 200-400-10 was 0.92x with 2 threads; now nothing forks
  const bpnn::BatchPlan per_sample = plan_of<float>({200, 400, 10}, 1);
  CHECK_FALSE(per_sample.sample_in_parallel);
  CHECK_FALSE(per_sample.weights_in_parallel);
  CHECK(per_sample.chunks(1) == 1);
  // a batch one row past a chunk: the one-row chunk would not pay for its fork
  const bpnn::BatchPlan ragged = plan_of<float>({1024, 256, 10}, 17);
  CHECK(ragged.chunks(17) == 1);
  // the named mini-batch workloads still split both phases
  for (const auto& [sizes, batch] :
       {std::pair{std::vector<std::size_t>{784, 256, 10}, std::size_t{64}},
        std::pair{std::vector<std::size_t>{1024, 4096, 1024}, std::size_t{256}}}) {
    const bpnn::BatchPlan plan = plan_of<float>(sizes, batch);
    CHECK(plan.chunks(batch) > 1);
    CHECK(plan.weights_in_parallel);
  }
  // a per-sample step with a 1024 x 4096 layer splits it
  CHECK(plan_of<float>({1024, 4096, 16}, 1).sample_in_parallel);
}

TEST_CASE("small batches of wide networks, mnist and deep split phase 1 by layers, small networks keep rows",
          "[parallel][batch_plan]") {
  // the shape: 784-512-512-10 at batch 128 was one 128-row chunk, phase 1 on one thread
  for (std::size_t batch : {16, 32, 64, 128}) {
    INFO("batch " << batch);
    const bpnn::BatchPlan plan = plan_of<float>({784, 512, 512, 10}, batch);
    CHECK(plan.phase1_by_layers);
    CHECK(plan.forward_cut[0].tasks() > 1);
    CHECK(plan.forward_cut[1].tasks() > 1);
    CHECK(plan.backward_cut[1].tasks() > 1);
  }
  // with the weights each task reads counted, the MNIST-shaped step and deep go by layers too
  // (four 16-row chunks read all of W1 four times a step; measured at one thread, the layer cut
  // took 60–70% of the rows' CPU time on deep, 75–95% on mnist); the seed network stays whole
  CHECK(plan_of<float>({784, 256, 10}, 64).phase1_by_layers);
  CHECK(plan_of<float>({256, 256, 256, 256, 256, 10}, 64).phase1_by_layers);
  CHECK_FALSE(plan_of<float>({2, 4, 1}, 16).phase1_by_layers);
  CHECK_FALSE(plan_of<double>({64, 32, 10}, 32).phase1_by_layers);
}

TEST_CASE("a phase-1 tile runs on the thread that updates the weights of its outputs", "[parallel][batch_plan]") {
  // Hand-made cuts, so that the case does not depend on the kernels' panel width. Layer 0 is
  // 784-512 with 8 weight tiles of 64 outputs (one range of inputs each), layer 1 is 512-1024
  // with 16 groups × 4 ranges of inputs, its tasks after layer 0's (first_task 8).
  bpnn::BatchPlan plan;
  plan.layers.push_back({{512, 64, 8}, {784, 16, 1}, 8, 0, {}, {}, 0});
  plan.layers.push_back({{1024, 64, 16}, {512, 16, 4}, 64, 8, {}, {}, 0});

  // 8 panels × 2 parts of 64 rows against 8 weight tiles (784-512-512-10 at batch 128): both
  // parts of panel g on the thread of weight tile g. By task index (the rule before) part 1 of
  // every panel went to the other of two threads.
  const bpnn::TileCut panels_by_two{{512, 64, 8}, {128, 1, 2}};
  for (std::size_t threads : {2, 4, 8}) {
    INFO(threads << " threads");
    const std::vector<std::size_t> lanes = plan.phase1_lanes(0, panels_by_two, threads);
    for (std::size_t t = 0; t < panels_by_two.tasks(); ++t) CHECK(lanes[t] == plan.tile_lane(0, t / 2, threads));
  }
  CHECK(plan.phase1_lanes(0, panels_by_two, 2) != std::vector<std::size_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1});

  // the same cut of δ (the backward tiles of the layer above, 256 rows in 2 parts) goes the same way
  const bpnn::TileCut delta_by_two{{512, 64, 8}, {256, 1, 2}};
  CHECK(plan.phase1_lanes(0, delta_by_two, 2) == std::vector<std::size_t>{0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1});

  // as many parts as the weight tiles have ranges: part p on the thread of range p of its group
  const bpnn::TileCut by_ranges{{1024, 64, 16}, {256, 1, 4}};
  for (std::size_t threads : {2, 3, 16}) {
    INFO(threads << " threads");
    const std::vector<std::size_t> lanes = plan.phase1_lanes(1, by_ranges, threads);
    for (std::size_t t = 0; t < by_ranges.tasks(); ++t) CHECK(lanes[t] == plan.tile_lane(1, t, threads));
  }
  // fewer parts than ranges: part p would go to the thread of its group's range 2p, tiles 4g
  // and 4g + 2 — all of even index, so on 2 threads all on thread 0: round robin instead
  const bpnn::TileCut by_halves{{1024, 64, 16}, {256, 1, 2}};
  const std::vector<std::size_t> halves = plan.phase1_lanes(1, by_halves, 2);
  for (std::size_t t = 0; t < by_halves.tasks(); ++t) CHECK(halves[t] == plan.tile_lane(1, t, 2));

  // when the owners would leave a thread more than one task over another, round robin instead:
  // 4 groups against 8 weight tiles (every group's first tile is even: all on thread 0 of 2),
  // and 8 panels × 2 parts on 3 threads (owners 6, 6 and 4 tasks)
  const bpnn::TileCut coarse{{512, 64, 4}, {64, 1, 1}};
  CHECK(plan.phase1_lanes(0, coarse, 2) == std::vector<std::size_t>{0, 1, 0, 1});
  const std::vector<std::size_t> three = plan.phase1_lanes(0, panels_by_two, 3);
  for (std::size_t t = 0; t < panels_by_two.tasks(); ++t) CHECK(three[t] == plan.tile_lane(0, t, 3));
}

TEST_CASE("mnist and wide offer 4 tasks per core at 16 cores in every phase of 1 MFLOP or more, and keep their 1- and 2-core cuts",
          "[parallel][batch_plan]") {
  // issue 11 §4: every phase of mnist and wide with at least 1 MFLOP of work offers phase_tasks
  // (4 × 16) tasks at 16 cores. Wide gets them from its 2-D tiles at every thread count (before
  // them its last layer's forward pass was 16 tasks and its phase 2 16 tiles of that layer);
  // mnist (784-256-10, batch 64: 25.7 MFLOP in its first layer's phases) from a cut that
  // follows the thread count: its efficient cut (the 4 panels, 64 rows and all 784 inputs each)
  // leaves cores idle past 4 threads, so at 16 it takes 4 panels × 16 parts of 4 rows forward
  // and 4 panels × 16 ranges of about 49 inputs in phase 2, while 1 and 2 threads keep the 4.
  const auto phases_check = [](const std::vector<std::size_t>& sizes, std::size_t batch, std::size_t threads,
                               std::size_t least_tasks) {
    const bpnn::BatchPlan plan = plan_of<float>(sizes, batch, threads);
    REQUIRE(plan.phase1_by_layers);
    const double rows = static_cast<double>(batch);
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      INFO("layer " << l << " of " << sizes.size() - 1 << ", batch " << batch << ", " << threads << " threads");
      const double flops = 2.0 * rows * static_cast<double>(sizes[l] * sizes[l + 1]);
      if (flops < 1e6) continue;
      CHECK(plan.forward_cut[l].tasks() >= least_tasks);
      if (l > 0) CHECK(plan.backward_cut[l].tasks() >= least_tasks);
      CHECK(plan.layers[l].tiles >= least_tasks);
    }
    CHECK(plan.weight_tasks >= least_tasks);
  };
  for (std::size_t threads : {1, 2, 16}) phases_check({1024, 4096, 4096, 1024}, 256, threads, bpnn::phase_tasks);
  phases_check({784, 256, 10}, 64, 16, bpnn::design_cores * bpnn::tasks_per_core);
  const std::size_t panels = (256 + bpnn::kernels::kernels_select<float>().out_block - 1) /
                             bpnn::kernels::kernels_select<float>().out_block;
  if (panels >= 2 && panels <= 4) {  // the 64-output panels of AVX-512 (4); AVX2's 32 (8) give 2 threads enough
    for (std::size_t threads : {1, 2}) {
      const bpnn::BatchPlan mnist = plan_of<float>({784, 256, 10}, 64, threads);
      CHECK(mnist.forward_cut[0].tasks() == panels);
      CHECK(mnist.forward_cut[0].parts.tasks == 1);
      CHECK(mnist.layers[0].tiles == panels);
      CHECK(mnist.layers[0].inputs.tasks == 1);
    }
  }
  // the plans for 1, 2 and 16 threads share the clipping norm's grid
  CHECK(plan_of<float>({784, 256, 10}, 64, 16).norm_tiles == plan_of<float>({784, 256, 10}, 64, 1).norm_tiles);
}

namespace {

// The layout the phase-2 weight tiles of a range of inputs rely on (trainer_core.cpp): in one
// panel (m ≤ out_block outputs starting on a block), inputs [i0, i0 + k) are a packed (m, k)
// layer of their own, packed_size(m, i0) elements into the panel — checked by packing the
// sub-matrix alone and finding it there, for every table this CPU runs and the reference.
template <class T>
void check_input_ranges_of_a_panel() {
  std::vector<const bpnn::kernels::KernelTable<T>*> tables{&bpnn::kernels::kernels_reference<T>()};
  for (const auto& t : bpnn::test::fast_tables<T>()) tables.push_back(t.table);
  for (const auto* table : tables) {
    const std::size_t block = table->out_block;
    REQUIRE(block > 0);
    for (std::size_t out : {std::size_t{1}, block / 2 + 1, block, 2 * block + 3})
      for (std::size_t in : {7, 64, 100}) {
        std::vector<T> w(out * in);
        for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<T>(i + 1);
        std::vector<T> packed(table->packed_size(out, in));
        table->pack(out, in, w.data(), packed.data());
        for (std::size_t o0 = 0; o0 < out; o0 += block) {
          const std::size_t m = std::min(block, out - o0);
          const T* panel = packed.data() + table->packed_size(o0, in);
          for (std::size_t i0 = 0; i0 < in; i0 += 16) {
            const std::size_t k = std::min<std::size_t>(std::max<std::size_t>(in / 3, 1), in - i0);
            INFO(table->arch << " out " << out << " in " << in << " panel at " << o0 << " inputs [" << i0 << ", " << i0 + k << ")");
            std::vector<T> sub(m * k), alone(table->packed_size(m, k));
            for (std::size_t o = 0; o < m; ++o)
              for (std::size_t i = 0; i < k; ++i) sub[o * k + i] = w[(o0 + o) * in + i0 + i];
            table->pack(m, k, sub.data(), alone.data());
            REQUIRE(table->packed_size(m, i0) + alone.size() <= table->packed_size(m, in));
            CHECK(std::equal(alone.begin(), alone.end(), panel + table->packed_size(m, i0)));
          }
        }
      }
  }
}

}  // namespace

TEST_CASE("a panel's range of inputs is a packed layer of its own, where the weight tiles look for it",
          "[parallel][batch_plan]") {
  check_input_ranges_of_a_panel<float>();
  check_input_ranges_of_a_panel<double>();
}
