#pragma once
// The training loop in one precision: epochs of shuffled (or file-order) batches, each a forward
// pass, the loss, a backward pass and the optimizer's step. Buffers are allocated once, here.
#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "bpnn/train.hpp"
#include "nn/mlp.hpp"
#include "nn/random.hpp"
#include "train/batch_plan.hpp"
#include "train/gradient_exchange.hpp"
#include "train/optimizer.hpp"
#include "train/parallel.hpp"
#include "train/schedule.hpp"

namespace bpnn {

// The rows per step of a resolved config on n samples: its batch, except for irprop, which
// takes all n (its batch must be 1, the default, or at least n; else Error(argument)).
std::size_t train_batch(const TrainConfig& config, std::size_t n);

// Bytes training allocates beyond the network, an upper bound checked against the memory before
// training (trainer.cpp); data_element_bytes: the size of the caller's data elements.
std::size_t training_bytes(const NetworkConfig& net, const TrainConfig& config, std::size_t n,
                           std::size_t data_element_bytes);

template <class T>
class TrainerCore {
 public:
  using value_type = T;
  // x:(n, inputs) y:(n, outputs), used in place when they are T (they must then outlive the
  // trainer), else converted into T once. Sharded data (total_rows > 0): they are the training
  // rows [first_row, first_row + n) of total_rows, the batch is cut from total_rows, and
  // set_exchange must follow (the rank's blocks must lie within these rows).
  template <class U>
  TrainerCore(Mlp<T>& mlp, const TrainConfig& config, const U* x, const U* y, std::size_t n,
              std::size_t total_rows = 0, std::size_t first_row = 0);

  // Validation rows vx:(n, inputs) vy:(n, outputs) in T, kept by pointer (the caller owns them);
  // before the first epoch. Error(data) for a value that is not finite.
  void set_validation(const T* x, const T* y, std::size_t n);
  // Sharded validation rows (after set_exchange): this rank's, block by block: block_rows[b] rows
  // of its b-th block, in block order, `total` rows over all ranks. Each block is scored alone, in
  // fixed chunks, and the blocks' sums are added in block order on every rank.
  void set_validation_blocks(const T* x, const T* y, std::size_t n, std::vector<std::size_t> block_rows,
                             std::size_t total);
  bool has_validation() const { return val_total_ > 0; }
  void set_batch_callback(BatchCallback callback) { on_batches_ = std::move(callback); }
  std::size_t samples() const { return total_; }
  // Under an exchange the sample order is per block (block_order_fill) and keeps no state.
  bool block_order() const { return exchange_ != nullptr; }

  // One epoch at the schedule's rate, then the validation score and the bookkeeping of the
  // schedule and early stopping. Error(argument) when early stopping has no validation data.
  EpochStats run_epoch();
  std::size_t epochs_done() const { return epoch_; }
  std::size_t epochs() const { return config_.epochs; }
  const TrainConfig& config() const { return config_; }
  // Early stopping's patience has run out.
  bool should_stop() const {
    return config_.early_stop > 0 && early_stop_.bad_epochs >= config_.early_stop;
  }
  // The network gets the best epoch's weights (when early stopping kept them).
  void restore_best();

  // Early stopping's state: the best validation loss (∞ before the first epoch), its epoch, the
  // epochs since it, and (with early stopping) the weights of that epoch.
  struct EarlyStopState {
    double best_loss;
    std::size_t best_epoch = 0;
    std::size_t bad_epochs = 0;
  };

  // The state a checkpoint saves and restores (train/checkpoint.cpp).
  Mlp<T>& mlp() { return mlp_; }
  OptimizerCore<T>& optimizer() { return optimizer_; }
  const OptimizerCore<T>& optimizer() const { return optimizer_; }
  std::vector<std::size_t>& order() { return order_; }
  Random& random() { return random_; }
  LearningRateSchedule& schedule() { return schedule_; }
  EarlyStopState& early_stop() { return early_stop_; }
  const EarlyStopState& early_stop() const { return early_stop_; }
  AlignedVector<T>& best_arena() { return best_arena_; }
  void set_epochs_done(std::size_t epochs) { epoch_ = epochs; }

  // Data-parallel steps across the exchange's ranks from now on (train/gradient_exchange.hpp);
  // before the first epoch. Each rank computes its shards of every step, the shard gradients are
  // summed in the fixed tree, and every rank applies the same update.
  void set_exchange(GradientExchange& exchange);
  GradientExchange* exchange() const { return exchange_; }
  // Elements the data-parallel step holds beyond the gradient (the receive ring): at most the
  // parameters' count, the memory bound of README "Training on many machines (MPI)".
  std::size_t reduction_buffer_elements() const { return receive_ring_.size(); }
  // With gradient clipping: ‖g‖² of the last step, summed over the norm's grid (BatchPlan); else 0.
  double last_square_norm() const { return last_square_norm_; }
  // Shard gradients the reduction's plan computes per tile and step on this rank: each of its
  // shards once when no work is wasted.
  std::size_t reduction_shard_gradients() const {
    std::size_t count = 0;
    for (const TreeOp& op : tree_ops_)
      if (op.kind == TreeOp::Kind::sum || op.kind == TreeOp::Kind::add_left) count += op.hi - op.lo;
    return count;
  }

 private:
  enum class Classes { none, one_hot, binary };

  // One step over `rows` samples at x, y; returns Σ E over them, adds to `correct`. With `order`,
  // the samples are rows order[0], …, order[rows − 1] of x and y, gathered into batch_x_ and
  // batch_y_ by phase 1's tasks (each copies the rows it reads first), not on one thread before.
  double step(const T* x, const T* y, std::size_t rows, std::size_t& correct,
              const std::size_t* order = nullptr);
  // Per-sample SGD without momentum: forward, loss, and the fused backward-and-update sweep.
  double sample_step(const T* x, const T* y, std::size_t& correct);
  // Throws Error(nonfinite) unless the step's loss is finite (before any weight changes).
  void check_finite(double loss) const;
  // Phase 2 task: the weight gradient of one tile of one layer's weights (a group of its
  // outputs, or one panel's range of inputs), then (unless the optimizer clips, which needs all
  // tiles first) its update.
  void weight_task(std::size_t task, const T* x, std::size_t rows);
  // Rows [first, first + n) of layer l's inputs (x for layer 0) copied into input_blocks_[l], when
  // its phase-2 tiles cut the inputs: phase 1 calls it where those rows are read anyway.
  void input_blocks_fill(std::size_t l, const T* x, std::size_t first, std::size_t n, std::size_t rows);
  // Runs task(i) for every phase-2 task, on threads when the plan says so.
  template <class Task>
  void weight_tasks_run(Task&& task);
  // Runs task(i) for the phase-2 tasks i in [first, end), on threads when the plan says so.
  template <class Task>
  void weight_tasks_range_run(std::size_t first, std::size_t end, Task&& task);
  // The thread (of parallel_'s) that runs phase-2 task `task`: BatchPlan::tile_lane of its tile.
  std::size_t weight_task_lane(std::size_t task) const;
  // The threads of the phase-1 tiles of a step of `rows` rows by layers (BatchPlan::phase1_lanes):
  // per layer, its forward tiles' and (from layer 1) its backward tiles'.
  struct Phase1Lanes {
    std::size_t rows = 0;
    std::vector<std::vector<std::size_t>> forward, backward;
  };
  Phase1Lanes phase1_lanes_make(std::size_t rows) const;
  // Correct classifications among rows [first, first + rows) of the last forward pass in ws.
  std::size_t count_correct(const Workspace<T>& ws, const T* y, std::size_t first,
                            std::size_t rows) const;
  // Σ E and the correct classifications over the validation rows, in a fixed chunk order (per
  // block, then summed in block order, for sharded validation).
  std::pair<double, std::size_t> validation_score();
  // Σ E and the correct classifications over rows x:(n, inputs), y:(n, outputs), in passes of the
  // validation workspace and fixed chunks.
  std::pair<double, std::size_t> rows_score(const T* x, const T* y, std::size_t n);
  // Whether accuracies are reported: the targets are classes (on every rank, under an exchange).
  bool reports_accuracy() const { return classes_ != Classes::none && classes_agreed_; }
  // Sets the rate the steps use from now on.
  void learning_rate_set(double rate);

  // The data-parallel step (set_exchange) over rows [first, first + rows) of the epoch's order:
  // this rank's shards through phase 1 (forward, loss, the output layer's δ), the loss of every
  // shard gathered and summed in shard order, the δ and the gradient summed in the shard tree
  // layer by layer, the root sent to every rank a segment at a time (tree_reduce), then the update
  // on every rank. Step `step` of the epoch takes shard s's rows from block s, at its position
  // step·share.
  double distributed_step(std::size_t step, std::size_t rows, std::size_t& correct);
  // One tile's sum over shards [lo, hi) into dw, db (the tile's weights and biases).
  void tile_tree_sum(std::size_t task, std::size_t lo, std::size_t hi, T* dw, T* db);

  // The shard tree as this rank takes part in it, planned once (set_exchange: the cut and the
  // ranks never change) as a list of operations, each applied to every segment of the arena:
  //   sum          shards [lo, hi), all held here, into the gradient (the first write of the
  //                node); after a node this rank sent (after_sends), tree_advance computes it once
  //                that node's sends from the segment have completed, else tree_compute does
  //   receive_add  grad += the sum another rank sends (the right child: left + right)
  //   add_left     grad = sum over shards [lo, hi), all held here, + grad: the left child added to a
  //                right child that starts here and spans other ranks (computed by tree_advance,
  //                a tile at a time, once the right child is final)
  //   send         the node's sum to the parent node's rank
  //   swap         the root's children: this rank's to `peer`, and grad = left + right on both ranks
  // Every node is summed in the gradient buffer: a rank that sends several nodes sums the next one
  // once the previous one's sends from the segment have completed.
  struct TreeOp {
    enum class Kind { sum, receive_add, add_left, send, swap } kind;
    std::size_t lo = 0, hi = 0;
    int peer = 0, tag = 0;
    bool after_sends = false;  // sum: the segment's earlier sends must complete first
  };
  // A contiguous part of the arena that travels as a unit: the weights and biases of layers
  // [first_layer, end_layer), at least the exchange's reduce_segment_bytes() unless the whole arena is smaller.
  struct Segment {
    std::size_t first_layer, end_layer, begin, end;
  };
  // One received piece of the step, in the order the tree consumes them: its segment, its
  // operation (index in tree_ops_) and its elements.
  struct ReceivePiece {
    std::size_t segment, op, first, count;
  };
  void tree_plan_make();
  void tree_plan_sum(std::size_t lo, std::size_t hi, bool after_sends);
  void tree_plan_send(std::size_t lo, std::size_t hi, std::size_t parent_rank);
  // Sum operation `op` over segment k's tiles into the gradient; `pump`: tree_pump between tiles (one
  // thread) or layers (several), while messages are in flight.
  void tree_sum_segment(const TreeOp& op, std::size_t k, bool pump);
  // An add_left operation over segment k.
  void tree_add_left(const TreeOp& op, std::size_t k);
  // The δ of layers [first_layer, L) for every shard of this rank, computing those below
  // deltas_layer_ one layer at a time (Mlp::backward_data_layer); `pump`: tree_pump between shards
  // (one thread) or layers (several), while messages are in flight.
  void tree_deltas(std::size_t first_layer, bool pump);
  // Phase 2 of a data-parallel step into grad (the tree_plan_make comment in trainer_core.cpp).
  // When it throws, the exchange's requests are cancelled (cancel_all) and every later
  // distributed_step throws Error(argument): the ranks' messages are out of step.
  void tree_reduce(T* grad);
  // The sum operations of segment k: its layers' tiles, last layer first; after the first
  // segment (messages in flight) tree_pump between tiles on one thread, between layers on several.
  void tree_compute(std::size_t k);
  // Moves the exchange along: posts the receives that fit, lets the transport progress, and
  // finishes what has arrived (tree_advance(false), tree_broadcast_advance(false)).
  void tree_pump();
  // The root's broadcast down the broadcast chain, a segment at a time once it is final: rank 0
  // starts each final segment's sends to the next member; another member posts a final segment's
  // receives into the gradient once its own sends from it have completed, and passes each piece
  // on to the next member as it arrives. `block`: wait instead of stopping at what has not arrived.
  void tree_broadcast_advance(bool block);
  // Posts receives in consumption order while the receive ring has room.
  void tree_post_receives();
  // Runs the message operations of the computed segments in order; `block`: wait for messages
  // instead of stopping at the first that has not arrived.
  void tree_advance(bool block);
  // Starts the sends of the gradient's segment k to `peer` under `tag`, a piece each.
  void tree_start_sends(std::size_t k, int peer, int tag);
  // Whether every send from elements [first, first + count) of the gradient has completed (waits for
  // them when `block`).
  bool tree_sends_done(std::size_t first, std::size_t count, bool block);
  // Whether the oldest posted receive has arrived (waits when `block`); posts it first if needed.
  bool tree_receive_ready(bool block);

  Mlp<T>& mlp_;
  TrainConfig config_;
  std::size_t n_;      // rows held: x_, y_
  std::size_t total_;  // training rows of the whole data set (n_ unless sharded)
  std::size_t first_row_;  // the training row of x_'s first row
  AlignedVector<T> x_copy_, y_copy_;  // the data set converted to T, when it came in another type
  const T* x_;                         // the data set, (n, inputs): the caller's or x_copy_
  const T* y_;                         // (n, outputs): the caller's or y_copy_
  std::vector<std::size_t> order_;     // sample order of the current epoch
  Random random_;
  Workspace<T> workspace_;
  AlignedVector<T> batch_x_, batch_y_;  // the gathered rows of one step
  ParallelFor parallel_;
  BatchPlan plan_;  // cut for parallel_'s threads, or TrainConfig::plan_threads
  // per phase-2 task: its layer, outputs [first_output, + outputs), inputs [first_input, + inputs)
  // and parameters (the biases of its outputs only in the tile of its group's first inputs)
  struct WeightTask {
    std::size_t layer, first_output, outputs, first_input, inputs;
    ParamTile params;
    std::size_t norm_first = 0, norm_end = 0;  // its tiles of the clipping norm's grid, when clipping
  };
  std::vector<WeightTask> weight_tasks_;
  std::vector<ParamTile> norm_params_;  // the clipping norm's grid (BatchPlan::norm_tiles), when clipping
  // ‖g‖² of each of a phase-2 task's tiles of the clipping norm's grid, into tile_square_norms_
  void tile_norms(const WeightTask& task);
  // Σ tile_square_norms_ in grid order, kept as last_square_norm_: the clipping norm of a step
  double grid_square_norm();
  // per phase-2 task of a layer cut into several: its columns of δ, (rows, outputs), then a bias
  // gradient it does not own (outputs)
  std::vector<AlignedVector<T>> task_scratch_;
  // per layer whose phase-2 tiles cut its inputs: its inputs regrouped by the input ranges, range
  // [i0, i0 + k) as a (rows, k) block at rows·i0 (input_blocks_fill)
  std::vector<AlignedVector<T>> input_blocks_;
  std::vector<double> tile_square_norms_;  // per tile of the norm's grid, when clipping
  double last_square_norm_ = 0;           // their sum in the last step
  Phase1Lanes batch_lanes_, last_lanes_;   // for a whole batch, and an epoch's shorter last step
  OptimizerCore<T> optimizer_;
  std::vector<double> chunk_loss_;
  std::vector<std::size_t> chunk_correct_;
  Classes classes_;
  std::size_t epoch_ = 0;
  LearningRateSchedule schedule_;
  EarlyStopState early_stop_;
  AlignedVector<T> best_arena_;  // with early stopping: the best epoch's parameters
  // validation rows, (val_n_, inputs) and (val_n_, outputs); their work buffers
  const T* val_x_ = nullptr;
  const T* val_y_ = nullptr;
  std::size_t val_n_ = 0;
  std::size_t val_total_ = 0;               // validation rows on all ranks
  bool val_sharded_ = false;                 // set_validation_blocks: scored per block, gathered
  std::vector<std::size_t> val_block_rows_;  // sharded validation: rows per local block
  Workspace<T> val_workspace_;
  BatchCallback on_batches_;
  // data-parallel runs: the exchange, the step's shard cut and this rank's part of it
  GradientExchange* exchange_ = nullptr;
  std::size_t largest_weight_bytes_ = 0;
  struct ShardStep {
    std::size_t shards = 0, rows = 0;  // shards of the step and its rows
    std::size_t first_shard = 0, end_shard = 0, first_row = 0;  // this rank's part
  } shard_step_;
  AlignedVector<T> summed_;                          // the summed gradient when in-place SGD keeps none
  std::vector<TreeOp> tree_ops_;                     // this rank's part of the tree
  bool tree_has_messages_ = false;                   // any operation but sum (ranks > 1)
  // this rank in the broadcast chain (tree_plan_make): the rank it receives the root from and the
  // one it passes it on to (−1: none), and the tag (the shard count: no tree node's)
  int broadcast_parent_ = -1, broadcast_child_ = -1, broadcast_tag_ = 0;
  bool tree_sent_ = false;                           // planning: a node of this rank is sent before
  bool tree_failed_ = false;  // a step threw inside the reduction: its messages were cancelled, no step follows
  std::vector<Segment> segments_;                    // the arena's layers, last layer first
  std::vector<ReceivePiece> receive_plan_;           // every received piece of a step, in order
  std::size_t tree_piece_ = 1;                       // elements per piece (reduce_piece_bytes)
  // The receive ring: received pieces wait here until their operation adds them, first in first
  // out; ring_entries_ are the posted, unconsumed ones (request, offset into receive_ring_).
  AlignedVector<T> receive_ring_;
  struct RingEntry {
    GradientExchange::Request request;
    std::size_t offset;
    bool arrived = false;  // the request is spent
  };
  std::deque<RingEntry> ring_entries_;
  // The step's progress: receives posted and consumed (indices into receive_plan_), segments
  // computed, the next operation to run (segment, op, piece; whether a swap's sends have started)
  // and the sends in flight.
  T* tree_grad_ = nullptr;
  std::size_t receives_posted_ = 0, receives_consumed_ = 0, segments_computed_ = 0;
  std::size_t deltas_layer_ = 0;  // the lowest layer whose δ exist for this rank's shards
  std::size_t cursor_segment_ = 0, cursor_op_ = 0, cursor_piece_ = 0;
  bool cursor_piece_sent_ = false;
  struct SendInFlight {
    std::size_t first, count;  // its buffer: elements [first, first + count) of the gradient
    GradientExchange::Request request;
  };
  std::vector<SendInFlight> sends_in_flight_;
  // The broadcast's progress: segments whose sends (rank 0) or receives (another member) have
  // started, and the receives not yet passed on, in order (as a SendInFlight: piece and request).
  std::size_t broadcast_segments_ = 0;
  std::deque<SendInFlight> broadcast_receives_;
  std::vector<double> shard_stats_, all_shard_stats_;  // per shard: loss, correct; then the classes flag
  ShardBlocks blocks_;                       // the fixed blocks of the training rows
  std::size_t first_block_ = 0, end_block_ = 0;  // this rank's blocks (its shards of every step)
  std::vector<std::size_t> block_order_;     // the epoch's order of each local block, concatenated
  bool classes_agreed_ = true;               // every rank's targets are classes of one kind
};

// Rows per task when scoring the validation set, and rows per pass over its work buffers: fixed,
// so the validation loss is summed in the same order for every thread count.
constexpr std::size_t validation_chunk_rows = 64;
constexpr std::size_t validation_pass_rows = 256;

}  // namespace bpnn
