// The single-precision-agnostic training loop; see trainer_core.hpp.
#include "train/trainer_core.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <new>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

// The config resolved (train_config_resolve) and checked against the data; irprop's batch
// becomes the whole data set.
TrainConfig validated(const TrainConfig& config, std::size_t n) {
  TrainConfig c = train_config_resolve(config);
  if (c.batch == 0) throw Error(ErrorKind::argument, "batch: must be at least 1");
  if (c.epochs == 0 || c.epochs > max_epochs)
    throw Error(ErrorKind::argument,
                "epochs: must be between 1 and " + std::to_string(max_epochs) + ", not " +
                    std::to_string(c.epochs));
  if (c.threads < 0) throw Error(ErrorKind::argument, "threads: must be ≥ 0 (0 = all cores)");
  if (c.plan_threads < 0 || c.plan_threads > max_plan_threads)
    throw Error(ErrorKind::argument, "plan_threads: must be between 0 (the threads used) and " +
                                         std::to_string(max_plan_threads) + ", not " + std::to_string(c.plan_threads));
  schedule_validate(c.schedule);
  if (!(c.val_split >= 0 && c.val_split < 1))
    throw Error(ErrorKind::argument, "val_split: must be in [0, 1), not " + std::to_string(c.val_split));
  if (c.early_stop > max_epochs)
    throw Error(ErrorKind::argument, "early_stop: must be at most " + std::to_string(max_epochs));
  if (n == 0) throw Error(ErrorKind::argument, "training data: no samples");
  c.batch = train_batch(c, n);
  return c;
}

bool is_01(double v) { return v == 0.0 || v == 1.0; }

// The data in T: the caller's own buffer when it already is T, else a converted copy.
template <class T, class U>
const T* data_in(const U* data, std::size_t count, AlignedVector<T>& copy) {
  if constexpr (std::is_same_v<T, U>) {
    return data;
  } else {
    copy.assign(data, data + count);
    return copy.data();
  }
}

// A tile's scratch for one step of the shard tree: 64-byte aligned like the arena, and not
// zeroed (whoever fills it writes every element first).
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t count)
      : data_(count > 0 ? static_cast<T*>(std::aligned_alloc(64, (count * sizeof(T) + 63) / 64 * 64)) : nullptr) {
    if (count > 0 && data_ == nullptr) throw std::bad_alloc();
  }
  ~Scratch() { std::free(data_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() const { return data_; }
  T& operator[](std::size_t i) const { return data_[i]; }

 private:
  T* data_;
};

}  // namespace

std::size_t train_batch(const TrainConfig& c, std::size_t n) {
  if (c.optimizer != Optimizer::irprop) return c.batch;
  if (c.batch != 1 && c.batch < n)
    throw Error(ErrorKind::argument,
                "batch: irprop steps on the full batch (" + std::to_string(n) +
                    " samples); leave batch at its default or give at least that many, not " +
                    std::to_string(c.batch));
  return n;
}

template <class T>
template <class U>
TrainerCore<T>::TrainerCore(Mlp<T>& mlp, const TrainConfig& config, const U* x, const U* y,
                            std::size_t n, std::size_t total_rows, std::size_t first_row)
    : mlp_(mlp),
      config_(validated(config, total_rows > 0 ? total_rows : n)),
      n_(n),
      total_(total_rows > 0 ? total_rows : n),
      first_row_(total_rows > 0 ? first_row : 0),
      x_(data_in(x, n * mlp.n_inputs(), x_copy_)),
      y_(data_in(y, n * mlp.n_outputs(), y_copy_)),
      order_(n),
      random_(config.seed),
      workspace_(mlp, std::min(config_.batch, total_)),
      parallel_(config.backend, config.threads),
      plan_(batch_plan_make(mlp, workspace_.capacity,
                            static_cast<std::size_t>(config.plan_threads > 0 ? config.plan_threads : parallel_.threads()))),
      tile_square_norms_(config_.clip > 0 ? plan_.norm_tiles : 0),
      optimizer_(config_, mlp.arena().size(), mlp.kernels()),
      chunk_loss_(plan_.chunks(workspace_.capacity)),
      chunk_correct_(plan_.chunks(workspace_.capacity)),
      schedule_(config_.schedule, config_.learning_rate, config_.epochs),
      early_stop_{std::numeric_limits<double>::infinity()} {
  if (total_rows > 0 && (first_row > total_rows || n > total_rows - first_row))
    throw Error(ErrorKind::argument, "sharded training data: rows [" + std::to_string(first_row) + ", " +
                                         std::to_string(first_row + n) + ") of " + std::to_string(total_rows));
  const kernels::KernelTable<T>& table = mlp.kernels();
  // the tiles of a layer's cut, group by group, each its outputs, inputs and parameters
  const auto tiles_of = [&](std::size_t l, const TileCut& cut, auto&& add) {
    const LayerSpec& layer = mlp.layers()[l];
    for (std::size_t g = 0; g < cut.units.tasks; ++g) {
      const std::size_t o0 = cut.units.first(g), m = cut.units.size(g);
      const std::size_t group = table.packed_size(o0, layer.in);
      for (std::size_t j = 0; j < cut.parts.tasks; ++j) {
        // a one-panel group's inputs [i0, i0 + k) are a packed (m, k) layer packed_size(m, i0) in
        const std::size_t i0 = cut.parts.first(j), k = cut.parts.size(j);
        const std::size_t w0 = cut.parts.tasks == 1 ? group : group + table.packed_size(m, i0);
        const std::size_t w1 = cut.parts.tasks == 1 ? table.packed_size(o0 + m, layer.in)
                                                    : group + table.packed_size(m, i0 + k);
        add(WeightTask{l, o0, m, i0, k, {layer.weight_offset + w0, w1 - w0, layer.bias_offset + o0, j == 0 ? m : 0}});
      }
    }
  };
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const LayerTiles& cut = plan_.layers[l];
    input_blocks_.emplace_back(cut.inputs.tasks > 1 ? workspace_.capacity * mlp.layers()[l].in : 0);
    tiles_of(l, cut.cut(), [&](const WeightTask& task) {
      weight_tasks_.push_back(task);
      task_scratch_.emplace_back(cut.tiles > 1 ? workspace_.capacity * task.outputs + task.outputs : 0);
    });
    // the clipping norm's grid (BatchPlan: the same for every thread count): a task's tiles of it
    // are those inside its outputs and inputs, consecutive in the grid's order
    if (config_.clip > 0)
      tiles_of(l, cut.norm_cut(), [&](const WeightTask& tile) {
        const std::size_t index = norm_params_.size();
        norm_params_.push_back(tile.params);
        for (std::size_t t = cut.first_task; t < cut.first_task + cut.tiles; ++t) {
          WeightTask& task = weight_tasks_[t];
          if (tile.first_output < task.first_output || tile.first_output >= task.first_output + task.outputs ||
              tile.first_input < task.first_input || tile.first_input >= task.first_input + task.inputs)
            continue;
          if (tile.first_output + tile.outputs > task.first_output + task.outputs ||
              tile.first_input + tile.inputs > task.first_input + task.inputs)
            throw Error(ErrorKind::internal, "batch plan: a tile of the norm's grid straddles two phase-2 tasks");
          if (task.norm_end == 0) task.norm_first = index;
          if (task.norm_end != 0 && task.norm_end != index)
            throw Error(ErrorKind::internal, "batch plan: a phase-2 task is not a block of the norm's grid");
          task.norm_end = index + 1;
        }
      });
  }
  std::size_t covered = 0;
  for (const WeightTask& task : weight_tasks_) covered += task.norm_end - task.norm_first;
  if (covered != norm_params_.size())
    throw Error(ErrorKind::internal, "batch plan: the phase-2 tasks do not cover the norm's grid");
  if (plan_.phase1_by_layers) {  // the steps of an epoch: whole batches, then what is left
    batch_lanes_ = phase1_lanes_make(workspace_.capacity);
    if (total_ % workspace_.capacity != 0) last_lanes_ = phase1_lanes_make(total_ % workspace_.capacity);
  }
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  if (config_.shuffle) {
    batch_x_.resize(workspace_.capacity * mlp.n_inputs());
    batch_y_.resize(workspace_.capacity * mlp.n_outputs());
  }
  for (std::size_t i = 0; i < n * mlp.n_inputs(); ++i)
    if (!std::isfinite(x_[i]))
      throw Error(ErrorKind::data, "training data: input " + std::to_string(i % mlp.n_inputs()) +
                                       " of sample " + std::to_string(i / mlp.n_inputs()) +
                                       " is not finite in this precision");
  const std::size_t k = mlp.n_outputs();
  for (std::size_t i = 0; i < n * k; ++i)
    if (!std::isfinite(y_[i]))
      throw Error(ErrorKind::data, "training data: target " + std::to_string(i % k) +
                                       " of sample " + std::to_string(i / k) +
                                       " is not finite in this precision");
  const bool all_01 = std::all_of(y_, y_ + n * k, [](T v) { return is_01(v); });
  bool one_hot = all_01 && k > 1;
  for (std::size_t r = 0; one_hot && r < n; ++r)
    one_hot = std::count(y_ + r * k, y_ + (r + 1) * k, T(1)) == 1;
  classes_ = one_hot ? Classes::one_hot : (all_01 && k == 1 ? Classes::binary : Classes::none);
}

template <class T>
std::size_t TrainerCore<T>::count_correct(const Workspace<T>& ws, const T* y, std::size_t first,
                                          std::size_t rows) const {
  const std::size_t k = mlp_.n_outputs();
  const T* yhat = ws.activations.back().data();
  std::size_t correct = 0;
  for (std::size_t r = first; r < first + rows; ++r) {
    const T* p = yhat + r * k;
    const T* t = y + r * k;
    if (classes_ == Classes::binary)
      correct += (p[0] > T(0.5)) == (t[0] > T(0.5));
    else
      correct += std::max_element(p, p + k) - p == std::max_element(t, t + k) - t;
  }
  return correct;
}

template <class T>
void TrainerCore<T>::weight_task(std::size_t task, const T* x, std::size_t rows) {
  const WeightTask& job = weight_tasks_[task];
  const std::size_t l = job.layer, o0 = job.first_output, m = job.outputs;
  const LayerSpec& layer = mlp_.layers()[l];

  // This tile's columns of δ:(rows, out) as a contiguous (rows, m) block, scaled as the optimizer
  // asks (by −lr/rows for an in-place update): phase 1 is done with δ, so the single-tile case
  // scales it in place.
  const T scale = optimizer_.delta_scale(rows);
  T* delta = workspace_.deltas[l].data();
  T* bias = nullptr;  // a bias gradient this tile computes but does not own
  if (plan_.layers[l].tiles > 1) {
    T* block = task_scratch_[task].data();
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < m; ++j) block[r * m + j] = scale * delta[r * layer.out + o0 + j];
    delta = block;
    bias = block + workspace_.capacity * m;
  } else if (scale != T(1)) {
    for (std::size_t i = 0; i < rows * m; ++i) delta[i] *= scale;
  }
  // its columns of the layer's inputs: all of them, or the block phase 1 copied them into
  const T* in = job.inputs == layer.in ? (l == 0 ? x : workspace_.activations[l - 1].data())
                                       : input_blocks_[l].data() + rows * job.first_input;
  const auto gradient_add = [&](T* grad) {  // dw += δᵀ·a, db += Σ_rows δ
    T* db = grad + job.params.bias_begin;
    if (job.params.bias_count == 0) {
      std::fill_n(bias, m, T(0));
      db = bias;
    }
    mlp_.kernels().dense_backward_weights({rows, job.inputs, m}, delta, in, grad + job.params.weights_begin, db);
  };

  if (optimizer_.in_place()) {  // w += Σ_rows (−lr/rows·δ)ᵀ·a, straight into the weights
    gradient_add(mlp_.arena().data());
    return;
  }
  // g = Σ_rows δᵀ·a, then the optimizer's update of the tile from g/rows
  optimizer_.gradient_clear(job.params);
  gradient_add(optimizer_.gradient());
  if (optimizer_.clips())
    tile_norms(job);
  else
    optimizer_.update(job.params, optimizer_.gradient_scale(rows, 0), mlp_.arena().data());
}

template <class T>
void TrainerCore<T>::tile_norms(const WeightTask& task) {
  for (std::size_t f = task.norm_first; f < task.norm_end; ++f)
    tile_square_norms_[f] = optimizer_.tile_square_norm(norm_params_[f]);
}

template <class T>
double TrainerCore<T>::grid_square_norm() {
  double square_norm = 0;
  for (double s : tile_square_norms_) square_norm += s;
  last_square_norm_ = square_norm;
  return square_norm;
}

template <class T>
void TrainerCore<T>::input_blocks_fill(std::size_t l, const T* x, std::size_t first, std::size_t n,
                                       std::size_t rows) {
  const UnitCut& ranges = plan_.layers[l].inputs;
  if (ranges.tasks == 1) return;
  const std::size_t in = mlp_.layers()[l].in;
  const T* a = l == 0 ? x : workspace_.activations[l - 1].data();
  for (std::size_t j = 0; j < ranges.tasks; ++j) {
    const std::size_t i0 = ranges.first(j), k = ranges.size(j);
    T* block = input_blocks_[l].data() + rows * i0;
    for (std::size_t r = first; r < first + n; ++r) std::copy_n(a + r * in + i0, k, block + r * k);
  }
}

template <class T>
template <class Task>
void TrainerCore<T>::weight_tasks_run(Task&& task) {
  weight_tasks_range_run(0, plan_.weight_tasks, task);
}

template <class T>
template <class Task>
void TrainerCore<T>::weight_tasks_range_run(std::size_t first, std::size_t end, Task&& task) {
  if (plan_.weights_in_parallel) {
    parallel_.run_pinned(end - first, [&](std::size_t i) { return weight_task_lane(first + i); },
                         [&](std::size_t i) { task(first + i); });
  } else {
    for (std::size_t t = first; t < end; ++t) task(t);
  }
}

template <class T>
std::size_t TrainerCore<T>::weight_task_lane(std::size_t task) const {
  const std::size_t l = weight_tasks_[task].layer;
  const LayerTiles& layer = plan_.layers[l];
  return plan_.tile_lane(l, task - layer.first_task, static_cast<std::size_t>(parallel_.threads()));
}

template <class T>
typename TrainerCore<T>::Phase1Lanes TrainerCore<T>::phase1_lanes_make(std::size_t rows) const {
  const std::size_t threads = static_cast<std::size_t>(parallel_.threads());
  const std::size_t layers = mlp_.layers().size();
  Phase1Lanes lanes{rows, std::vector<std::vector<std::size_t>>(layers), std::vector<std::vector<std::size_t>>(layers)};
  for (std::size_t l = 0; l < layers; ++l) {
    lanes.forward[l] = plan_.phase1_lanes(l, plan_.forward_cut[l].with_parts(rows), threads);
    if (l > 0) lanes.backward[l] = plan_.phase1_lanes(l - 1, plan_.backward_cut[l].with_parts(rows), threads);
  }
  return lanes;
}

template <class T>
void TrainerCore<T>::check_finite(double loss) const {
  if (!std::isfinite(loss))
    throw Error(ErrorKind::nonfinite,
                "training diverged: the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                    " in epoch " + std::to_string(epoch_ + 1) +
                    "; the network keeps the weights from before that step (try a smaller learning rate)");
}

template <class T>
double TrainerCore<T>::sample_step(const T* x, const T* y, std::size_t& correct) {
  const T lr = static_cast<T>(config_.learning_rate);
  if (mlp_.has_tiny_step()) {  // tiny layers: the whole step in registers, one kernel call
    const double loss = mlp_.sample_sgd_tiny(x, y, lr, workspace_);
    check_finite(loss);
    if (classes_ != Classes::none) correct += count_correct(workspace_, y, 0, 1);
    return loss;
  }
  if (!plan_.sample_in_parallel) {  // small layers: one thread, the fused sweep
    mlp_.forward(x, 0, 1, workspace_);
    const double loss = mlp_.loss_and_output_delta(y, 0, 1, workspace_);
    check_finite(loss);
    if (classes_ != Classes::none) correct += count_correct(workspace_, y, 0, 1);
    sgd_sample_in_place(mlp_, x, workspace_, lr);
    return loss;
  }
  // Wide layers: their outputs are split across threads in the forward pass and the update;
  // δ_{l−1} (a sum over all outputs) stays on the calling thread.
  const auto tiles = [&](std::size_t l, auto&& body) {
    const UnitCut& cut = plan_.layers[l].outputs;
    parallel_.run(cut.tasks, [&](std::size_t t) { body(cut.first(t), cut.size(t)); });
  };
  const std::size_t last = mlp_.layers().size() - 1;
  for (std::size_t l = 0; l < last; ++l)
    tiles(l, [&](std::size_t o0, std::size_t m) { mlp_.forward_outputs(l, x, o0, m, workspace_); });
  mlp_.forward_layer(last, x, 0, 1, workspace_);
  const double loss = mlp_.loss_and_output_delta(y, 0, 1, workspace_);
  check_finite(loss);
  if (classes_ != Classes::none) correct += count_correct(workspace_, y, 0, 1);
  for (std::size_t l = last + 1; l-- > 0;) {
    if (l > 0) mlp_.backward_data_row(l, workspace_);
    tiles(l, [&](std::size_t o0, std::size_t m) {
      sgd_outputs_in_place(mlp_, l, x, o0, m, workspace_, lr);
    });
  }
  return loss;
}

template <class T>
double TrainerCore<T>::step(const T* data_x, const T* data_y, std::size_t rows, std::size_t& correct,
                            const std::size_t* order) {
  const std::size_t in = mlp_.n_inputs(), k = mlp_.n_outputs();
  if (rows == 1 && optimizer_.in_place())
    return order == nullptr ? sample_step(data_x, data_y, correct)
                            : sample_step(data_x + order[0] * in, data_y + order[0] * k, correct);
  // The rows of the step: where they are, or gathered in the epoch's order, rows [first, first + n)
  // by the phase-1 task that reads them first (a copy: the same values whoever makes it).
  const T* x = order == nullptr ? data_x : batch_x_.data();
  const T* y = order == nullptr ? data_y : batch_y_.data();
  const auto gather = [&](std::size_t first, std::size_t n) {
    if (order == nullptr) return;
    for (std::size_t r = first; r < first + n; ++r) {
      std::copy_n(data_x + order[r] * in, in, batch_x_.data() + r * in);
      std::copy_n(data_y + order[r] * k, k, batch_y_.data() + r * k);
    }
  };
  double loss = 0;
  const std::size_t threads = static_cast<std::size_t>(parallel_.threads());
  if (plan_.phase1_by_layers) {
    // phase 1 layer by layer over all rows: each layer's outputs (forward) and inputs
    // (backward) in tiles of rows, the loss on this thread; a tile of a layer's outputs on the
    // thread of the phase-2 tile that holds them (BatchPlan::phase1_lanes)
    if (rows != batch_lanes_.rows && rows != last_lanes_.rows) last_lanes_ = phase1_lanes_make(rows);
    const Phase1Lanes& lanes = rows == batch_lanes_.rows ? batch_lanes_ : last_lanes_;
    const auto tiles = [&](const TileCut& cut, const std::vector<std::size_t>& tile_lanes, auto&& body) {
      parallel_.run_pinned(cut.tasks(), [&](std::size_t t) { return tile_lanes[t]; },
                           [&](std::size_t t) {
                             const std::size_t g = cut.group(t), p = cut.part(t);
                             body(cut.units.first(g), cut.units.size(g), cut.parts.first(p), cut.parts.size(p), g);
                           });
    };
    // the gather in as many pieces of rows as layer 0's forward pass has tasks: the copy is
    // 1/(2·outputs) of that pass's arithmetic per element, so it is cut wherever that pass is
    // (nothing to gather, and no fork, when the rows are used where they are)
    const UnitCut row_pieces{rows, 1, std::min(rows, plan_.forward_cut[0].with_parts(rows).tasks())};
    if (order != nullptr)
      parallel_.run_pinned(row_pieces.tasks, [&](std::size_t t) { return plan_.tile_lane(0, t, threads); },
                           [&](std::size_t t) { gather(row_pieces.first(t), row_pieces.size(t)); });
    const std::size_t last = mlp_.layers().size() - 1;
    for (std::size_t l = 0; l <= last; ++l) {
      const TileCut cut = plan_.forward_cut[l].with_parts(rows);
      if (cut.tasks() == 1) {
        input_blocks_fill(l, x, 0, rows, rows);
        mlp_.forward_layer(l, x, 0, rows, workspace_);
        continue;
      }
      // the tiles of the first output group also copy their rows of the layer's inputs for
      // phase 2 (input_blocks_fill), while they read them
      tiles(cut, lanes.forward[l], [&](std::size_t o0, std::size_t m, std::size_t r0, std::size_t n, std::size_t g) {
        if (g == 0) input_blocks_fill(l, x, r0, n, rows);
        mlp_.forward_layer_outputs(l, x, r0, n, o0, m, workspace_);
      });
    }
    loss = mlp_.loss_and_output_delta(y, 0, rows, workspace_);
    if (classes_ != Classes::none) correct += count_correct(workspace_, y, 0, rows);
    for (std::size_t l = last; l > 0; --l)
      tiles(plan_.backward_cut[l].with_parts(rows), lanes.backward[l],
            [&](std::size_t i0, std::size_t m, std::size_t r0, std::size_t n, std::size_t) {
              mlp_.backward_data_inputs(l, r0, n, i0, m, workspace_);
            });
  } else {
    // phase 1: forward, loss and δ of every layer, chunk by chunk of rows
    const UnitCut cut = plan_.row_chunks(rows);
    const std::size_t chunks = cut.tasks;
    parallel_.run_pinned(chunks, [&](std::size_t c) { return task_lane(c, threads); }, [&](std::size_t c) {
      const std::size_t first = cut.first(c);
      const std::size_t n = cut.size(c);
      gather(first, n);
      mlp_.forward(x, first, n, workspace_);
      for (std::size_t l = 0; l < mlp_.layers().size(); ++l) input_blocks_fill(l, x, first, n, rows);
      chunk_loss_[c] = mlp_.loss_and_output_delta(y, first, n, workspace_);
      chunk_correct_[c] = classes_ == Classes::none ? 0 : count_correct(workspace_, y, first, n);
      mlp_.backward_data(first, n, workspace_);
    });
    for (std::size_t c = 0; c < chunks; ++c) {
      loss += chunk_loss_[c];
      correct += chunk_correct_[c];
    }
  }
  check_finite(loss);
  // phase 2: weight gradients over all rows and the update, tile by tile
  optimizer_.step_begin();
  weight_tasks_run([&](std::size_t task) { weight_task(task, x, rows); });
  if (optimizer_.clips()) {  // the norm over the norm's grid, in grid order, then the updates
    const double square_norm = grid_square_norm();
    const T scale = optimizer_.gradient_scale(rows, square_norm);
    weight_tasks_run([&](std::size_t task) {
      optimizer_.update(weight_tasks_[task].params, scale, mlp_.arena().data());
    });
  }
  return loss;
}

template <class T>
void TrainerCore<T>::set_exchange(GradientExchange& exchange) {
  if (epoch_ > 0) throw Error(ErrorKind::argument, "data-parallel training: set before the first epoch");
  if (exchange.ranks() < 1 || exchange.rank() < 0 || exchange.rank() >= exchange.ranks())
    throw Error(ErrorKind::argument, "data-parallel training: rank " + std::to_string(exchange.rank()) +
                                         " of " + std::to_string(exchange.ranks()));
  // The ranks' setups, their kernels included (the same bits need the same operation order),
  // were compared before this by every caller (ranks_same_setup_check, train/setup_agreement.hpp).
  for (const LayerSpec& layer : mlp_.layers())
    largest_weight_bytes_ = std::max(largest_weight_bytes_, layer.in * layer.out * sizeof(T));
  const std::size_t ranks = static_cast<std::size_t>(exchange.ranks());
  const std::size_t me = static_cast<std::size_t>(exchange.rank());
  blocks_ = shard_blocks_make(total_, workspace_.capacity, largest_weight_bytes_);
  first_block_ = rank_first_shard(me, blocks_.shards, ranks);
  end_block_ = rank_first_shard(me + 1, blocks_.shards, ranks);
  const std::size_t need_first = blocks_.block_first(first_block_), need_end = blocks_.block_first(end_block_);
  if (need_first < first_row_ || need_end > first_row_ + n_)
    throw Error(ErrorKind::argument, "data-parallel training: rank " + std::to_string(me) + " holds training rows [" +
                                         std::to_string(first_row_) + ", " + std::to_string(first_row_ + n_) +
                                         "), its blocks need [" + std::to_string(need_first) + ", " +
                                         std::to_string(need_end) + ")");
  exchange_ = &exchange;
  block_order_.assign(need_end - need_first, 0);
  batch_x_.resize(workspace_.capacity * mlp_.n_inputs());
  batch_y_.resize(workspace_.capacity * mlp_.n_outputs());
  if (optimizer_.in_place()) summed_.assign(mlp_.arena().size(), T(0));
  // per rank: loss, correct of each of its shards, then whether its targets are classes
  const std::size_t slot = 2 * ((blocks_.shards + ranks - 1) / ranks) + 1;
  shard_stats_.assign(slot, 0.0);
  all_shard_stats_.assign(slot * ranks, 0.0);
  tree_plan_make();
}

// One shard's gradient for one tile: the kernel's dW += δᵀ·a, dB += Σδ over the shard's rows.
//   delta:(n, m) of the tile's outputs, a:(n, in) → dw:(m, in) packed, db:(m)
template <class T>
void TrainerCore<T>::tile_tree_sum(std::size_t task, std::size_t lo, std::size_t hi, T* dw, T* db) {
  const ParamTile& tile = weight_tasks_[task].params;
  if (hi - lo > 1) {  // left child into dw, db; right child into a scratch tile; then added
    const std::size_t mid = shard_tree_split(lo, hi);
    tile_tree_sum(task, lo, mid, dw, db);
    const Scratch<T> right(tile.weights_count + tile.bias_count);  // not zeroed: the leaves clear it
    tile_tree_sum(task, mid, hi, right.data(), right.data() + tile.weights_count);
    for (std::size_t i = 0; i < tile.weights_count; ++i) dw[i] += right[i];
    for (std::size_t i = 0; i < tile.bias_count; ++i) db[i] += right[tile.weights_count + i];
    return;
  }
  const ShardStep& st = shard_step_;
  const WeightTask& job = weight_tasks_[task];
  const std::size_t l = job.layer, o0 = job.first_output, m = job.outputs, k = job.inputs;
  const LayerSpec& layer = mlp_.layers()[l];
  const std::size_t row0 = shard_first_row(lo, st.shards, st.rows);
  const std::size_t f = row0 - st.first_row;
  const std::size_t n = shard_first_row(lo + 1, st.shards, st.rows) - row0;
  if (n == 0) {  // a shard without rows (the last step's): a zero gradient
    std::fill_n(dw, tile.weights_count, T(0));
    std::fill_n(db, tile.bias_count, T(0));
    return;
  }
  const T* delta = workspace_.deltas[l].data() + f * layer.out;
  // the tile's columns of δ as a contiguous (n, m) block, of the inputs as an (n, k) block, and
  // a bias gradient the tile does not own
  Scratch<T> block((m != layer.out ? n * m : 0) + (k != layer.in ? n * k : 0) + (tile.bias_count == 0 ? m : 0));
  T* next = block.data();
  if (m != layer.out) {
    for (std::size_t r = 0; r < n; ++r) std::copy_n(delta + r * layer.out + o0, m, next + r * m);
    delta = next;
    next += n * m;
  }
  const T* in = l == 0 ? batch_x_.data() + f * layer.in : workspace_.activations[l - 1].data() + f * layer.in;
  if (k != layer.in) {
    for (std::size_t r = 0; r < n; ++r) std::copy_n(in + r * layer.in + job.first_input, k, next + r * k);
    in = next;
    next += n * k;
  }
  if (tile.bias_count == 0) db = next;
  std::fill_n(dw, tile.weights_count, T(0));
  std::fill_n(db, m, T(0));
  mlp_.kernels().dense_backward_weights({n, k, m}, delta, in, dw, db);
}

// The shard tree of a data-parallel step, pipelined layer by layer.
//
// Backward produces the δ and the weight gradients last layer first, so phase 2 walks the arena's
// segments (a layer each; layers under reduce_segment_bytes join the ones below) in that order:
// the δ of segment k's layers are computed for every shard of this rank, a layer at a time
// (tree_deltas; phase 1 made only the output layer's), then segment k's sums (tree_compute), then
// its messages are started without blocking, and while they travel segment k + 1's δ and sums
// are computed; between shards or tiles (on one thread) or between layers (on several) tree_pump
// posts receives, lets MPI progress and finishes what has arrived. On a real network this hides
// the transfer of layers L..2 behind the backward pass (δ and gradient) of layers L−1..1; only the
// last segment computed (layer 1's) travels in the open. The sums that must wait (after_sends,
// add_left: the memory bound below) run in tree_advance, in the plan's order; in the last segment
// they are not overlapped. With a broadcast (more than two ranks, or the root summed on rank 0),
// rank 0 sends each segment of the root down the broadcast chain as soon as it is final, so the
// root of layers L..2 travels while the lower segments are still being summed
// (tree_broadcast_advance); every rank waits for the whole root before the update.
//
// The δ are the same bits as backward_data's: each shard's δ_{l−1} comes from its δ_l by the same
// kernel on the same rows (Mlp::backward_data_layer), only the order between shards and layers
// differs, and no two of them share a row. The broadcast copies.
//
// The bits cannot change: every element of the gradient belongs to exactly one segment, and
// within a segment each element goes through the same operations in the same order as in one
// walk over the whole arena: its leaf sums (tile_tree_sum, the same kernels on the same rows),
// then the receive_add/add_left/swap of the plan in the plan's order, each one `left + right`.
// A segment's first sum may run before its message operations because it is the first write to
// the segment of the step; later sums wait their turn in tree_advance.
//
// Memory beyond the gradient: the receive ring alone, the parameters' size, so each rank's
// gradient memory is 2x the parameter bytes (1x on one rank or without receives). Every node a
// rank sums lives in the gradient buffer: a rank that sends several nodes sums the next one into
// a segment only once the previous one's sends from that segment have completed (after_sends;
// the receiver never needs a later node before an earlier one's pieces, so those sends complete),
// and a node whose right child starts here but spans other ranks gets its left child, all held
// here, added tile by tile from a scratch tile once the right child is final (add_left; IEEE
// addition commutes, so left + right is the same sum). Received pieces wait in the ring first in
// first out; a receive is posted only when its piece fits, so a rank never receives more than the
// ring ahead of what it has added, and the oldest receive always fits once everything before it
// has been added. A send's buffer (a segment of the gradient) is not written until the send has
// completed: a node's sum waits for the earlier sends; swap writes a piece of the root only after
// the sends from it completed; a broadcast receive into a segment is posted only once the
// rank's sends from that segment completed; and every send is complete before the update.

template <class T>
void TrainerCore<T>::tree_plan_sum(std::size_t lo, std::size_t hi, bool after_sends) {
  const std::size_t shards = blocks_.shards, ranks = static_cast<std::size_t>(exchange_->ranks());
  const std::size_t me = static_cast<std::size_t>(exchange_->rank());
  if (shard_rank(hi - 1, shards, ranks) == me) {
    tree_ops_.push_back({TreeOp::Kind::sum, lo, hi, 0, 0, after_sends});
    return;
  }
  const std::size_t mid = shard_tree_split(lo, hi);
  const std::size_t owner = shard_rank(mid, shards, ranks);
  if (owner != me) {  // the left child here, then the right child's sum from its rank
    tree_plan_sum(lo, mid, after_sends);
    tree_ops_.push_back({TreeOp::Kind::receive_add, lo, hi, static_cast<int>(owner), static_cast<int>(mid), false});
    return;
  }
  // The right child starts here and spans other ranks: it is summed into the gradient buffer,
  // then the left child's sum, all held here, is added to it a tile at a time (no second
  // arena-sized buffer). The left child is not summed into the gradient first: the right
  // child's first sum would overwrite it.
  tree_plan_sum(mid, hi, after_sends);
  tree_ops_.push_back({TreeOp::Kind::add_left, lo, mid, 0, 0, false});
}

template <class T>
void TrainerCore<T>::tree_plan_send(std::size_t lo, std::size_t hi, std::size_t parent_rank) {
  const std::size_t shards = blocks_.shards, ranks = static_cast<std::size_t>(exchange_->ranks());
  const std::size_t me = static_cast<std::size_t>(exchange_->rank());
  const std::size_t owner = shard_rank(lo, shards, ranks);
  if (owner == me) {  // a right child whose parent is summed on another rank: summed and sent
    tree_plan_sum(lo, hi, tree_sent_);  // a node sent before: its sends must complete first
    tree_ops_.push_back({TreeOp::Kind::send, lo, hi, static_cast<int>(parent_rank), static_cast<int>(lo), false});
    tree_sent_ = true;
    return;
  }
  if (hi - lo == 1 || hi <= first_block_ || lo >= end_block_) return;
  const std::size_t mid = shard_tree_split(lo, hi);
  tree_plan_send(lo, mid, owner);
  tree_plan_send(mid, hi, owner);
}

template <class T>
void TrainerCore<T>::tree_plan_make() {
  const std::size_t shards = blocks_.shards, ranks = static_cast<std::size_t>(exchange_->ranks());
  const std::size_t me = static_cast<std::size_t>(exchange_->rank());
  tree_ops_.clear();
  tree_sent_ = false;
  // The root: summed on rank 0, or its children swapped between rank 0 and the rank holding the
  // right child's first shard, which both add them (then rank 0 broadcasts when more ranks wait).
  const std::size_t mid = shards > 1 ? shard_tree_split(0, shards) : 0;
  const std::size_t right_rank = shards > 1 ? shard_rank(mid, shards, ranks) : 0;
  if (right_rank == 0) {
    if (me == 0)
      tree_plan_sum(0, shards, false);
    else
      tree_plan_send(0, shards, 0);
  } else if (me == 0) {
    tree_plan_sum(0, mid, false);
    tree_ops_.push_back({TreeOp::Kind::swap, 0, shards, static_cast<int>(right_rank), static_cast<int>(mid), false});
  } else if (me == right_rank) {
    tree_plan_send(0, mid, 0);  // its nodes inside the left child first: rank 0 waits for them
    tree_plan_sum(mid, shards, tree_sent_);
    tree_ops_.push_back({TreeOp::Kind::swap, 0, shards, 0, static_cast<int>(mid), false});
  } else {
    tree_plan_send(0, shards, 0);
  }
  // rank 0 broadcasts the root when more than two ranks, or the root summed on rank 0
  const bool broadcast = ranks > 2 || (right_rank == 0 && ranks > 1);
  tree_has_messages_ = std::any_of(tree_ops_.begin(), tree_ops_.end(),
                                   [](const TreeOp& op) { return op.kind != TreeOp::Kind::sum; });
  // The root's broadcast, segment by segment (tree_broadcast_advance): rank 0 and the ranks that
  // do not hold the root (all but the swap's right rank), in rank order, as a chain: each member
  // receives every piece from the one before it and passes it on to the one after it, so each
  // link carries the root once (the cost model's one gradient for the broadcast), and the last
  // member has it (members − 2) pieces after the second.
  broadcast_parent_ = broadcast_child_ = -1;
  broadcast_tag_ = static_cast<int>(shards);  // above every tree message's tag (a shard)
  if (broadcast) {
    std::vector<std::size_t> members{0};
    for (std::size_t r = 1; r < ranks; ++r)
      if (r != right_rank) members.push_back(r);
    const auto at = std::find(members.begin(), members.end(), me);
    if (at != members.end()) {
      const std::size_t i = static_cast<std::size_t>(at - members.begin());
      if (i > 0) broadcast_parent_ = static_cast<int>(members[i - 1]);
      if (i + 1 < members.size()) broadcast_child_ = static_cast<int>(members[i + 1]);
    }
  }

  // The segments, last layer first: a layer's packed weights and its biases lie in one range of
  // the arena (nn/mlp.cpp: weights, then biases, each 64-byte aligned), up to the next layer's, so
  // layers [a, b) are the range from layer a's weights to layer b's. A segment takes layers from
  // the top until it holds the exchange's reduce_segment_bytes(); a small rest joins the segment above it.
  const std::vector<LayerSpec>& layers = mlp_.layers();
  const auto layer_begin = [&](std::size_t l) { return l < layers.size() ? layers[l].weight_offset : mlp_.arena().size(); };
  for (std::size_t l = 0; l < layers.size(); ++l)
    if (layers[l].bias_offset < layer_begin(l) || layers[l].bias_offset + layers[l].out > layer_begin(l + 1))
      throw Error(ErrorKind::internal, "data-parallel training: layer " + std::to_string(l) +
                                           "'s parameters are not one range of the arena");
  const std::size_t min_count = exchange_->reduce_segment_bytes() / sizeof(T);
  segments_.clear();
  for (std::size_t end_layer = layers.size(); end_layer > 0;) {
    std::size_t first_layer = end_layer - 1;
    while (first_layer > 0 && layer_begin(end_layer) - layer_begin(first_layer) < min_count) --first_layer;
    if (first_layer > 0 || layer_begin(end_layer) - layer_begin(first_layer) >= min_count || segments_.empty())
      segments_.push_back({first_layer, end_layer, layer_begin(first_layer), layer_begin(end_layer)});
    else  // the bottom layers are too small on their own: they travel with the segment above
      segments_.back() = {first_layer, segments_.back().end_layer, layer_begin(first_layer), segments_.back().end};
    end_layer = first_layer;
  }
  const std::size_t piece = tree_piece_ = std::max<std::size_t>(1, exchange_->reduce_piece_bytes() / sizeof(T));
  receive_plan_.clear();
  for (std::size_t k = 0; k < segments_.size(); ++k)
    for (std::size_t o = 0; o < tree_ops_.size(); ++o) {
      const auto kind = tree_ops_[o].kind;
      if (kind != TreeOp::Kind::receive_add && kind != TreeOp::Kind::swap) continue;
      for (std::size_t first = segments_[k].begin; first < segments_[k].end; first += piece)
        receive_plan_.push_back({k, o, first, std::min(piece, segments_[k].end - first)});
    }
  // The ring: the parameters' size, the rest of 2x the parameter bytes beside the gradient.
  receive_ring_.assign(receive_plan_.empty() ? 0 : mlp_.arena().size(), T(0));
}

template <class T>
void TrainerCore<T>::tree_post_receives() {
  const std::size_t capacity = receive_ring_.size();
  while (receives_posted_ < receive_plan_.size()) {
    const ReceivePiece& next = receive_plan_[receives_posted_];
    std::size_t at = 0;  // where the piece fits, first in first out, or capacity when it does not
    if (!ring_entries_.empty()) {
      const std::size_t head = ring_entries_.back().offset + receive_plan_[receives_posted_ - 1].count;
      const std::size_t tail = ring_entries_.front().offset;
      if (head > tail)  // [tail, head) in use: after it, or else wrapped to the start
        at = head + next.count <= capacity ? head : (next.count <= tail ? 0 : capacity);
      else  // wrapped: [tail, capacity) and [0, head) in use
        at = head + next.count <= tail ? head : capacity;
    }
    if (at == capacity) return;
    const TreeOp& op = tree_ops_[next.op];
    ring_entries_.push_back({exchange_->start_receive(op.peer, op.tag, receive_ring_.data() + at,
                                                      next.count * sizeof(T)),
                             at});
    ++receives_posted_;
  }
}

template <class T>
bool TrainerCore<T>::tree_receive_ready(bool block) {
  if (receives_consumed_ == receives_posted_) tree_post_receives();  // the ring is empty: it fits
  if (ring_entries_.empty()) throw Error(ErrorKind::internal, "data-parallel training: a receive was not posted");
  RingEntry& entry = ring_entries_.front();
  if (entry.arrived) return true;
  if (block)
    exchange_->wait(entry.request);
  else if (!exchange_->test(entry.request))
    return false;
  entry.arrived = true;
  return true;
}

template <class T>
bool TrainerCore<T>::tree_sends_done(std::size_t first, std::size_t count, bool block) {
  bool done = true;
  for (std::size_t i = 0; i < sends_in_flight_.size();) {
    const SendInFlight& send = sends_in_flight_[i];
    if (send.first >= first + count || first >= send.first + send.count) {
      ++i;
    } else if (block || exchange_->test(send.request)) {
      if (block) exchange_->wait(send.request);
      sends_in_flight_.erase(sends_in_flight_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      done = false;
      ++i;
    }
  }
  return done;
}

template <class T>
void TrainerCore<T>::tree_start_sends(std::size_t k, int peer, int tag) {
  const Segment& seg = segments_[k];
  const T* data = tree_grad_;
  for (std::size_t first = seg.begin; first < seg.end; first += tree_piece_) {
    const std::size_t count = std::min(tree_piece_, seg.end - first);
    sends_in_flight_.push_back({first, count, exchange_->start_send(peer, tag, data + first, count * sizeof(T))});
  }
}

template <class T>
void TrainerCore<T>::tree_advance(bool block) {
  const std::size_t piece = tree_piece_;
  const int me = exchange_->rank();
  while (cursor_segment_ < segments_computed_) {
    const Segment& seg = segments_[cursor_segment_];
    if (cursor_op_ == tree_ops_.size()) {  // the segment is final here (on rank 0: the root)
      ++cursor_segment_;
      cursor_op_ = 0;
      tree_broadcast_advance(false);
      continue;
    }
    const TreeOp& op = tree_ops_[cursor_op_];
    T* grad = tree_grad_;
    switch (op.kind) {
      case TreeOp::Kind::sum:  // by tree_compute, unless an earlier node's sends must complete first
        if (op.after_sends) {
          if (!tree_sends_done(seg.begin, seg.end - seg.begin, block)) return;
          tree_sum_segment(op, cursor_segment_, false);
        }
        break;
      case TreeOp::Kind::add_left:
        tree_add_left(op, cursor_segment_);
        break;
      case TreeOp::Kind::send:
        tree_start_sends(cursor_segment_, op.peer, op.tag);
        break;
      case TreeOp::Kind::receive_add:
      case TreeOp::Kind::swap: {
        if (op.kind == TreeOp::Kind::swap && !cursor_piece_sent_) {  // the segment is final: all of it to the peer
          tree_start_sends(cursor_segment_, op.peer, op.tag);
          cursor_piece_sent_ = true;
        }
        for (; seg.begin + cursor_piece_ < seg.end; cursor_piece_ += piece) {
          const std::size_t first = seg.begin + cursor_piece_, count = std::min(piece, seg.end - first);
          const ReceivePiece& expected = receive_plan_[receives_consumed_];
          if (expected.segment != cursor_segment_ || expected.op != cursor_op_ || expected.first != first)
            throw Error(ErrorKind::internal, "data-parallel training: the tree's receives are out of order");
          if (!tree_receive_ready(block)) return;
          const T* theirs = receive_ring_.data() + ring_entries_.front().offset;
          if (op.kind == TreeOp::Kind::receive_add) {
            T* mine = grad + first;
            for (std::size_t i = 0; i < count; ++i) mine[i] = mine[i] + theirs[i];  // left + right
          } else {
            // this piece's send (or an earlier one's) must complete before the root overwrites its
            // buffer (only those: waiting for later pieces' sends would wait for receives the peer
            // cannot yet post)
            if (!tree_sends_done(first, count, block)) return;
            T* root = grad + first;
            if (me == 0)
              for (std::size_t i = 0; i < count; ++i) root[i] = root[i] + theirs[i];  // left + right
            else
              for (std::size_t i = 0; i < count; ++i) root[i] = theirs[i] + root[i];  // left + right
          }
          ring_entries_.pop_front();
          ++receives_consumed_;
        }
        cursor_piece_ = 0;
        cursor_piece_sent_ = false;
        break;
      }
    }
    ++cursor_op_;
  }
}

template <class T>
void TrainerCore<T>::tree_pump() {
  tree_post_receives();
  exchange_->progress();
  tree_advance(false);
  tree_broadcast_advance(false);
}

template <class T>
void TrainerCore<T>::tree_broadcast_advance(bool block) {
  if (broadcast_parent_ < 0) {  // rank 0, or a rank outside the broadcast
    for (; broadcast_child_ >= 0 && broadcast_segments_ < cursor_segment_; ++broadcast_segments_)
      tree_start_sends(broadcast_segments_, broadcast_child_, broadcast_tag_);
    return;
  }
  const std::size_t piece = tree_piece_;
  for (; broadcast_segments_ < cursor_segment_; ++broadcast_segments_) {
    const Segment& seg = segments_[broadcast_segments_];
    // the root overwrites this rank's sums of the segment only once their sends have completed
    if (!tree_sends_done(seg.begin, seg.end - seg.begin, block)) break;
    for (std::size_t first = seg.begin; first < seg.end; first += piece) {
      const std::size_t count = std::min(piece, seg.end - first);
      broadcast_receives_.push_back(
          {first, count,
           exchange_->start_receive(broadcast_parent_, broadcast_tag_, tree_grad_ + first, count * sizeof(T))});
    }
  }
  while (!broadcast_receives_.empty()) {  // each piece passed on as it arrives
    const SendInFlight& arrived = broadcast_receives_.front();
    if (block)
      exchange_->wait(arrived.request);
    else if (!exchange_->test(arrived.request))
      return;
    if (broadcast_child_ >= 0)
      sends_in_flight_.push_back({arrived.first, arrived.count,
                                  exchange_->start_send(broadcast_child_, broadcast_tag_, tree_grad_ + arrived.first,
                                                        arrived.count * sizeof(T))});
    broadcast_receives_.pop_front();
  }
}

template <class T>
void TrainerCore<T>::tree_sum_segment(const TreeOp& op, std::size_t k, bool pump) {
  const Segment& seg = segments_[k];
  const std::size_t first = plan_.layers[seg.first_layer].first_task;
  const std::size_t end = plan_.layers[seg.end_layer - 1].first_task + plan_.layers[seg.end_layer - 1].tiles;
  T* grad = tree_grad_;
  const auto tile = [&](std::size_t task) {
    const ParamTile& params = weight_tasks_[task].params;
    tile_tree_sum(task, op.lo, op.hi, grad + params.weights_begin, grad + params.bias_begin);
  };
  if (!pump) {  // nothing in flight yet, or called by tree_advance: no MPI call between tiles
    weight_tasks_range_run(first, end, tile);
  } else if (!plan_.weights_in_parallel || parallel_.threads() <= 1) {  // MPI is called from this thread only: pump between tiles, last layer first
    for (std::size_t task = end; task-- > first;) {
      tile(task);
      tree_pump();
    }
  } else {  // a layer's tiles on the threads, then a pump
    for (std::size_t l = seg.end_layer; l-- > seg.first_layer;) {
      weight_tasks_range_run(plan_.layers[l].first_task, plan_.layers[l].first_task + plan_.layers[l].tiles, tile);
      tree_pump();
    }
  }
}

// Each tile of segment k: left = the sum over shards [op.lo, op.hi) into a scratch tile, then
// grad = left + grad (the right child, final here).
//   left:(tile weights + biases) scratch; the gradient's tile updated in place
template <class T>
void TrainerCore<T>::tree_add_left(const TreeOp& op, std::size_t k) {
  const Segment& seg = segments_[k];
  const std::size_t first = plan_.layers[seg.first_layer].first_task;
  const std::size_t end = plan_.layers[seg.end_layer - 1].first_task + plan_.layers[seg.end_layer - 1].tiles;
  T* grad = tree_grad_;
  weight_tasks_range_run(first, end, [&](std::size_t task) {
    const ParamTile& params = weight_tasks_[task].params;
    const Scratch<T> left(params.weights_count + params.bias_count);  // not zeroed: the leaves clear it
    tile_tree_sum(task, op.lo, op.hi, left.data(), left.data() + params.weights_count);
    T* dw = grad + params.weights_begin;
    T* db = grad + params.bias_begin;
    for (std::size_t i = 0; i < params.weights_count; ++i) dw[i] = left[i] + dw[i];  // left + right
    for (std::size_t i = 0; i < params.bias_count; ++i) db[i] = left[params.weights_count + i] + db[i];
  });
}

template <class T>
void TrainerCore<T>::tree_compute(std::size_t k) {
  for (const TreeOp& op : tree_ops_)
    if (op.kind == TreeOp::Kind::sum && !op.after_sends) tree_sum_segment(op, k, k > 0);
}

template <class T>
void TrainerCore<T>::tree_deltas(std::size_t first_layer, bool pump) {
  const ShardStep& st = shard_step_;
  const auto shard_delta = [&](std::size_t l, std::size_t s) {
    const std::size_t f = shard_first_row(s, st.shards, st.rows) - st.first_row;
    const std::size_t n = shard_first_row(s + 1, st.shards, st.rows) - st.first_row - f;
    if (n > 0) mlp_.backward_data_layer(l, f, n, workspace_);
  };
  for (; deltas_layer_ > first_layer; --deltas_layer_) {  // δ_{l−1} from δ_l
    const std::size_t l = deltas_layer_;
    if (pump && parallel_.threads() <= 1) {  // MPI is called from this thread only: pump between shards
      for (std::size_t s = st.first_shard; s < st.end_shard; ++s) {
        shard_delta(l, s);
        tree_pump();
      }
    } else {  // the layer's shards on the threads, then a pump
      parallel_.run(st.end_shard - st.first_shard, [&](std::size_t c) { shard_delta(l, st.first_shard + c); });
      if (pump) tree_pump();
    }
  }
}

template <class T>
void TrainerCore<T>::tree_reduce(T* grad) {
  tree_grad_ = grad;
  deltas_layer_ = mlp_.layers().size() - 1;  // phase 1 made the output layer's δ
  const bool broadcasts = broadcast_parent_ >= 0 || broadcast_child_ >= 0;
  // one rank's sum of every layer at once, over all tiles (nothing on a rank without shards)
  const auto sum_all = [&] {
    if (tree_ops_.empty()) return;
    tree_deltas(0, false);
    const TreeOp& op = tree_ops_.front();
    weight_tasks_run([&](std::size_t task) {
      const ParamTile& tile = weight_tasks_[task].params;
      tile_tree_sum(task, op.lo, op.hi, grad + tile.weights_begin, grad + tile.bias_begin);
    });
  };
  if (!tree_has_messages_ && !broadcasts) return sum_all();  // one rank
  receives_posted_ = receives_consumed_ = segments_computed_ = 0;
  ring_entries_.clear();
  sends_in_flight_.clear();
  broadcast_receives_.clear();
  cursor_segment_ = cursor_op_ = cursor_piece_ = broadcast_segments_ = 0;
  cursor_piece_sent_ = false;
  try {
    if (!tree_has_messages_) {  // every shard on one rank (or none here): only the broadcast travels
      sum_all();
      cursor_segment_ = segments_computed_ = segments_.size();
    } else {
      tree_post_receives();
      for (std::size_t k = 0; k < segments_.size(); ++k) {
        tree_deltas(segments_[k].first_layer, k > 0);  // while segment k − 1's messages travel
        tree_compute(k);
        segments_computed_ = k + 1;
        tree_advance(false);
      }
      tree_advance(true);
    }
    tree_broadcast_advance(true);
    for (const SendInFlight& send : sends_in_flight_) exchange_->wait(send.request);
    sends_in_flight_.clear();
  } catch (...) {
    // Messages are in flight into the receive ring, the gradient (the broadcast) and out of the
    // gradient: cancel them before those buffers can be freed. The other ranks' messages no longer
    // match this rank's, so the step cannot be resumed or repeated.
    tree_failed_ = true;
    exchange_->cancel_all();
    ring_entries_.clear();
    sends_in_flight_.clear();
    broadcast_receives_.clear();
    throw;
  }
  if (receives_consumed_ != receive_plan_.size() || !ring_entries_.empty())
    throw Error(ErrorKind::internal, "data-parallel training: the tree's receives did not all complete");
}

template <class T>
double TrainerCore<T>::distributed_step(std::size_t step, std::size_t rows, std::size_t& correct) {
  if (tree_failed_)
    throw Error(ErrorKind::argument,
                "data-parallel training: an earlier step failed in the middle of the gradient exchange, so the "
                "ranks are out of step; this trainer takes no further step");
  ShardStep& st = shard_step_;
  const std::size_t ranks = static_cast<std::size_t>(exchange_->ranks());
  st.rows = rows;
  st.shards = blocks_.shards;
  st.first_shard = first_block_;
  st.end_shard = end_block_;
  st.first_row = shard_first_row(st.first_shard, st.shards, rows);

  // this rank's rows of the step: shard s's share of block s, in the block's order this epoch
  const std::size_t in = mlp_.n_inputs(), k = mlp_.n_outputs();
  const std::size_t local_first = blocks_.block_first(first_block_);
  std::size_t r = 0;
  for (std::size_t s = st.first_shard; s < st.end_shard; ++s) {
    const std::size_t block = blocks_.block_first(s);
    const std::size_t* order = block_order_.data() + (block - local_first) + step * blocks_.share(s, blocks_.batch);
    for (std::size_t i = 0, count = blocks_.share(s, rows); i < count; ++i, ++r) {
      const std::size_t row = block + order[i] - first_row_;
      std::copy_n(x_ + row * in, in, batch_x_.data() + r * in);
      std::copy_n(y_ + row * k, k, batch_y_.data() + r * k);
    }
  }
  const T* x = batch_x_.data();
  const T* y = batch_y_.data();

  // phase 1, shard by shard: forward, loss and the output layer's δ (nothing for a shard without
  // rows); the δ of the layers below come layer by layer in phase 2 (tree_deltas)
  std::fill(shard_stats_.begin(), shard_stats_.end(), 0.0);
  shard_stats_.back() = classes_ == Classes::none ? 0.0 : 1.0;
  parallel_.run(st.end_shard - st.first_shard, [&](std::size_t c) {
    const std::size_t s = st.first_shard + c;
    const std::size_t f = shard_first_row(s, st.shards, rows) - st.first_row;
    const std::size_t n = shard_first_row(s + 1, st.shards, rows) - st.first_row - f;
    if (n == 0) return;
    mlp_.forward(x, f, n, workspace_);
    shard_stats_[2 * c] = mlp_.loss_and_output_delta(y, f, n, workspace_);
    shard_stats_[2 * c + 1] =
        classes_ == Classes::none ? 0.0 : static_cast<double>(count_correct(workspace_, y, f, n));
  });
  // every shard's loss, summed in shard order on every rank
  exchange_->all_gather(shard_stats_.data(), shard_stats_.size() * sizeof(double), all_shard_stats_.data());
  double loss = 0;
  for (std::size_t s = 0; s < st.shards; ++s) {
    const std::size_t owner = shard_rank(s, st.shards, ranks);
    const double* stats = all_shard_stats_.data() + owner * shard_stats_.size() +
                          2 * (s - rank_first_shard(owner, st.shards, ranks));
    loss += stats[0];
    correct += static_cast<std::size_t>(stats[1]);
  }
  for (std::size_t owner = 0; owner < ranks; ++owner)
    if (all_shard_stats_[(owner + 1) * shard_stats_.size() - 1] == 0.0) classes_agreed_ = false;
  check_finite(loss);

  // phase 2: the δ of each layer, and the shard gradients summed in the tree layer by layer,
  // last layer first (rank 0 ends with the root, and sends each segment of it on once final)
  T* grad = optimizer_.in_place() ? summed_.data() : optimizer_.gradient();
  tree_reduce(grad);

  // the update, the same on every rank
  optimizer_.step_begin();
  T* params = mlp_.arena().data();
  if (optimizer_.in_place()) {  // plain SGD: w += (−lr/rows)·g
    const T scale = optimizer_.delta_scale(rows);
    weight_tasks_run([&](std::size_t task) {
      const ParamTile& tile = weight_tasks_[task].params;
      for (std::size_t i = 0; i < tile.weights_count; ++i)
        params[tile.weights_begin + i] += scale * grad[tile.weights_begin + i];
      for (std::size_t i = 0; i < tile.bias_count; ++i)
        params[tile.bias_begin + i] += scale * grad[tile.bias_begin + i];
    });
    return loss;
  }
  double square_norm = 0;
  if (optimizer_.clips()) {
    weight_tasks_run([&](std::size_t task) { tile_norms(weight_tasks_[task]); });
    square_norm = grid_square_norm();
  }
  const T scale = optimizer_.gradient_scale(rows, square_norm);
  weight_tasks_run([&](std::size_t task) { optimizer_.update(weight_tasks_[task].params, scale, params); });
  return loss;
}

template <class T>
void TrainerCore<T>::set_validation(const T* x, const T* y, std::size_t n) {
  if (epoch_ > 0) throw Error(ErrorKind::argument, "validation data: set before the first epoch");
  if (n > 0 && (x == nullptr || y == nullptr))
    throw Error(ErrorKind::argument, "validation data: null x or y");
  const std::size_t in = mlp_.n_inputs(), k = mlp_.n_outputs();
  for (std::size_t i = 0; i < n * in; ++i)
    if (!std::isfinite(x[i]))
      throw Error(ErrorKind::data, "validation data: input " + std::to_string(i % in) + " of sample " +
                                       std::to_string(i / in) + " is not finite in this precision");
  for (std::size_t i = 0; i < n * k; ++i)
    if (!std::isfinite(y[i]))
      throw Error(ErrorKind::data, "validation data: target " + std::to_string(i % k) + " of sample " +
                                       std::to_string(i / k) + " is not finite in this precision");
  val_x_ = x;
  val_y_ = y;
  val_n_ = n;
  val_total_ = n;
  val_sharded_ = false;
  val_block_rows_.clear();
  val_workspace_ = n > 0 ? Workspace<T>(mlp_, std::min(n, validation_pass_rows)) : Workspace<T>();
}

template <class T>
void TrainerCore<T>::set_validation_blocks(const T* x, const T* y, std::size_t n, std::vector<std::size_t> block_rows,
                                           std::size_t total) {
  if (exchange_ == nullptr || block_rows.size() != end_block_ - first_block_ ||
      std::accumulate(block_rows.begin(), block_rows.end(), std::size_t{0}) != n || n > total)
    throw Error(ErrorKind::internal, "sharded validation rows: not this rank's blocks");
  set_validation(x, y, n);
  val_total_ = total;
  val_sharded_ = true;
  val_block_rows_ = std::move(block_rows);
}

template <class T>
std::pair<double, std::size_t> TrainerCore<T>::validation_score() {
  if (!val_sharded_) return rows_score(val_x_, val_y_, val_n_);
  // sharded: each block's sum alone, gathered, and added in block order on every rank
  const std::size_t in = mlp_.n_inputs(), k = mlp_.n_outputs();
  const std::size_t ranks = static_cast<std::size_t>(exchange_->ranks());
  const std::size_t shards = blocks_.shards;
  std::vector<double> mine;
  for (std::size_t b = 0, first = 0; b < val_block_rows_.size(); first += val_block_rows_[b++]) {
    const auto [loss, correct] = rows_score(val_x_ + first * in, val_y_ + first * k, val_block_rows_[b]);
    mine.push_back(loss);
    mine.push_back(static_cast<double>(correct));
  }
  const std::size_t slot = 2 * ((shards + ranks - 1) / ranks);
  const std::vector<double> all = exchange_gather(*exchange_, mine, slot);
  double loss_sum = 0;
  std::size_t correct_sum = 0;
  for (std::size_t s = 0; s < shards; ++s) {
    const std::size_t owner = shard_rank(s, shards, ranks);
    const double* stats = all.data() + owner * slot + 2 * (s - rank_first_shard(owner, shards, ranks));
    loss_sum += stats[0];
    correct_sum += static_cast<std::size_t>(stats[1]);
  }
  return {loss_sum, correct_sum};
}

template <class T>
std::pair<double, std::size_t> TrainerCore<T>::rows_score(const T* val_x, const T* val_y, std::size_t val_n) {
  const std::size_t in = mlp_.n_inputs(), k = mlp_.n_outputs();
  const std::size_t capacity = val_workspace_.capacity;
  const std::size_t tasks = (capacity + validation_chunk_rows - 1) / validation_chunk_rows;
  std::vector<double> loss(tasks);
  std::vector<std::size_t> correct(tasks);
  double loss_sum = 0;
  std::size_t correct_sum = 0;
  for (std::size_t pass = 0; pass < val_n; pass += capacity) {
    const std::size_t rows = std::min(capacity, val_n - pass);
    const T* x = val_x + pass * in;
    const T* y = val_y + pass * k;
    const std::size_t chunks = (rows + validation_chunk_rows - 1) / validation_chunk_rows;
    parallel_.run(chunks, [&](std::size_t c) {
      const std::size_t first = c * validation_chunk_rows;
      const std::size_t n = std::min(validation_chunk_rows, rows - first);
      mlp_.forward(x, first, n, val_workspace_);
      loss[c] = mlp_.loss_and_output_delta(y, first, n, val_workspace_);
      correct[c] = classes_ == Classes::none ? 0 : count_correct(val_workspace_, y, first, n);
    });
    for (std::size_t c = 0; c < chunks; ++c) {
      loss_sum += loss[c];
      correct_sum += correct[c];
    }
  }
  return {loss_sum, correct_sum};
}

template <class T>
void TrainerCore<T>::learning_rate_set(double rate) {
  config_.learning_rate = rate;
  optimizer_.set_learning_rate(rate);
}

template <class T>
void TrainerCore<T>::restore_best() {
  if (best_arena_.empty()) return;
  std::copy(best_arena_.begin(), best_arena_.end(), mlp_.arena().begin());
}

template <class T>
EpochStats TrainerCore<T>::run_epoch() {
  if (config_.early_stop > 0 && val_total_ == 0)
    throw Error(ErrorKind::argument,
                "early stopping needs validation data (a validation split or set)");
  learning_rate_set(schedule_.rate(epoch_));
  const auto start = std::chrono::steady_clock::now();
  if (exchange_ != nullptr) {  // each block's own order (the single-process shuffle is not used)
    const std::size_t local_first = blocks_.block_first(first_block_);
    for (std::size_t s = first_block_; s < end_block_; ++s)
      block_order_fill(block_order_.data() + (blocks_.block_first(s) - local_first),
                       blocks_.block_first(s + 1) - blocks_.block_first(s), config_.shuffle, config_.seed, s, epoch_);
  } else if (config_.shuffle) {
    random_.shuffle(order_.begin(), n_);
  }
  const std::size_t in = mlp_.n_inputs(), k = mlp_.n_outputs();
  const std::size_t n = total_;
  double loss = 0;
  std::size_t correct = 0;
  // progress reports: about 100 an epoch, in whole steps
  const std::size_t report_every =
      std::max<std::size_t>(workspace_.capacity, (n / 100 + workspace_.capacity - 1) / workspace_.capacity * workspace_.capacity);
  std::size_t next_report = report_every;
  if (on_batches_) on_batches_(epoch_, 0, n, std::numeric_limits<double>::quiet_NaN());
  // the other threads held from one progress report to the next (ParallelFor::hold): each
  // parallel phase of a step then hands its tasks to threads already waiting, where it would
  // start a parallel region; the caller's callback runs between the holds, outside bpnn's
  // parallel region
  std::size_t first = 0;
  while (first < n) {
    bool report = false;
    parallel_.hold([&] {
      while (first < n && !report) {
        const std::size_t rows = std::min(workspace_.capacity, n - first);
        if (exchange_ != nullptr) {
          loss += distributed_step(first / workspace_.capacity, rows, correct);
        } else {
          // shuffled: the step reads (one sample) or gathers (a batch) its rows in the epoch's order
          loss += config_.shuffle ? step(x_, y_, rows, correct, order_.data() + first)
                                  : step(x_ + first * in, y_ + first * k, rows, correct);
        }
        first += rows;
        report = on_batches_ && (first >= next_report || first == n);
      }
    });
    if (report) {
      on_batches_(epoch_, first, n, loss / static_cast<double>(first));
      next_report = first + report_every;
    }
  }
  EpochStats stats;
  stats.epoch = epoch_++;
  stats.loss = loss / static_cast<double>(n);
  if (reports_accuracy()) stats.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.samples_per_s = stats.seconds > 0 ? static_cast<double>(n) / stats.seconds : 0;
  stats.learning_rate = config_.optimizer == Optimizer::irprop
                            ? std::numeric_limits<double>::quiet_NaN()
                            : config_.learning_rate;
  if (val_total_ > 0) {
    const auto [val_loss, val_correct] = validation_score();
    stats.val_loss = val_loss / static_cast<double>(val_total_);
    if (reports_accuracy())
      stats.val_accuracy = static_cast<double>(val_correct) / static_cast<double>(val_total_);
    if (!std::isfinite(stats.val_loss))
      throw Error(ErrorKind::nonfinite, "training diverged: the validation loss became " +
                                            std::string(std::isnan(stats.val_loss) ? "NaN" : "infinite") +
                                            " after epoch " + std::to_string(epoch_) +
                                            " (try a smaller learning rate)");
    stats.best = stats.val_loss < early_stop_.best_loss;
    if (stats.best) {
      early_stop_.best_loss = stats.val_loss;
      early_stop_.best_epoch = stats.epoch;
      early_stop_.bad_epochs = 0;
      if (config_.early_stop > 0) best_arena_.assign(mlp_.arena().begin(), mlp_.arena().end());
    } else {
      ++early_stop_.bad_epochs;
    }
  }
  schedule_.observe(val_total_ > 0 ? stats.val_loss : stats.loss);
  return stats;
}

template class TrainerCore<float>;
template class TrainerCore<double>;
template TrainerCore<float>::TrainerCore(Mlp<float>&, const TrainConfig&, const float*, const float*, std::size_t,
                                         std::size_t, std::size_t);
template TrainerCore<float>::TrainerCore(Mlp<float>&, const TrainConfig&, const double*, const double*, std::size_t,
                                         std::size_t, std::size_t);
template TrainerCore<double>::TrainerCore(Mlp<double>&, const TrainConfig&, const float*, const float*, std::size_t,
                                          std::size_t, std::size_t);
template TrainerCore<double>::TrainerCore(Mlp<double>&, const TrainConfig&, const double*, const double*, std::size_t,
                                          std::size_t, std::size_t);

}  // namespace bpnn
