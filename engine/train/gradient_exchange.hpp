#pragma once
// The seam between the training loop and a distributed run (data-parallel training, bpnn_mpi):
// the few messages a run on several processes ("ranks") needs, and the fixed cut of a step into
// shards that makes the trained model the same, bit for bit, for any number of ranks.
//
// Every step is cut into S = shard_count(batch, network) shards of consecutive rows (the last,
// short step of an epoch too); the cut depends on the batch and the network, never on the ranks.
// Shard s of every step draws its rows from block s of the training rows (ShardBlocks), which
// lives on the rank holding shard s, so a rank needs only its blocks' rows. Each shard's gradient is computed
// alone, by the same kernels in the same order whichever rank holds it, and the shard gradients
// are summed in one fixed binary tree (shard_tree_split). Rank r holds a contiguous range of
// shards (rank_shards); a tree node whose shards all sit on one rank is summed there, and a node
// that spans ranks is summed on the rank holding its first shard, which receives its right
// child's sum from the rank holding that child's first shard. The root's two children are swapped
// between rank 0 and the rank holding the right child's first shard, which both add them (left +
// right); with more than two ranks rank 0 then sends the root on to the ranks that lack it, down a
// chain, a segment at a time as each is final. The tree runs once per segment of the parameters
// (a layer, last layer first), with non-blocking messages, so a segment's sums travel while the
// next one's δ and sums are computed; every element still takes the same additions in the same
// order (trainer_core.cpp, tree_reduce). Every rank applies the same
// update to the same weights. libbpnn knows only
// this interface; bpnn_mpi (engine/mpi) implements it on an MPI communicator.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"

namespace bpnn {

// Partial sums of the gradient travel between ranks in pieces of at most this many bytes (a
// layer's part of the arena cut into pieces), each added to the receiver's sum as it arrives.
constexpr std::size_t exchange_piece_bytes = std::size_t{4} << 20;
// The pipelined reduction sends a layer on its own once it has this many bytes, else together
// with the layers below it: a smaller message costs its latency, not its bytes, so overlapping
// it gains nothing, and every extra message is one more point where the ranks wait for each
// other (one run of mnist with its 10 KB last layer on its own: 0.17 of one process against the
// blocking step's 0.59, on a loaded 2-core machine whose noise is nearly as large).
constexpr std::size_t exchange_segment_bytes = std::size_t{4} << 20;

class GradientExchange {
 public:
  virtual ~GradientExchange() = default;
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  // Point-to-point: `bytes` bytes to rank `to` under `tag`, and the matching receive. Messages
  // between two ranks under one tag arrive in the order they were sent.
  virtual void send(int to, int tag, const void* data, std::size_t bytes) = 0;
  virtual void receive(int from, int tag, void* data, std::size_t bytes) = 0;
  // Both at once with one peer (each side sends `out` and receives into `in`, `bytes` each way),
  // so two ranks swap data without either waiting for the other's send to finish.
  virtual void send_receive(int peer, int tag, const void* out, void* in, std::size_t bytes) = 0;
  // Non-blocking point-to-point, so messages travel while the caller computes: start_send and
  // start_receive start one message (matched with the blocking calls' rules, in the order they
  // are started) and return its request. The buffer stays the exchange's until the request is
  // spent: a send's is not written, a receive's not read before then. test(request) says whether
  // it is done (true spends it); wait(request) returns when it is done and spends it; every
  // request is spent exactly once. progress() lets the transport move the started messages (Open
  // MPI's shared-memory and TCP transports move data only inside MPI calls): cheap, called
  // between pieces of work.
  using Request = std::size_t;
  virtual Request start_send(int to, int tag, const void* data, std::size_t bytes) = 0;
  virtual Request start_receive(int from, int tag, void* data, std::size_t bytes) = 0;
  virtual bool test(Request request) = 0;
  virtual void wait(Request request) = 0;
  virtual void progress() {}
  // Cancels every request started and not yet spent and spends them all: no receive writes its
  // buffer afterwards (a cancelled message may or may not have been delivered). A send the
  // transport cannot cancel (Open MPI's ob1 cancels no send) is released, not completed, and may
  // still read its buffer if a peer receives it later: the job is failing then, and ends with
  // the agreed error or mpirun's abort. Called when a step fails in the middle of a reduction,
  // before its buffers are freed: the ranks are then out of step, and the trainer takes no
  // further step.
  virtual void cancel_all() = 0;
  // Collective: root's `bytes` bytes to every rank.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  // Collective: every rank's `bytes` bytes, in rank order, into all (ranks() · bytes) on every rank.
  virtual void all_gather(const void* mine, std::size_t bytes, void* all) = 0;
  // Collective: whether `flag` is true on any rank (the collective error flag), and the lowest
  // such rank (−1 when none).
  virtual int first_rank_with(bool flag) = 0;
  // The reduction's message sizes on this transport (the defaults above; the tests' loopback
  // makes them small, so tiny networks go through every path of the pipeline).
  virtual std::size_t reduce_piece_bytes() const { return exchange_piece_bytes; }
  virtual std::size_t reduce_segment_bytes() const { return exchange_segment_bytes; }
  // Seconds this rank has spent in the calls above (sending, or waiting for other ranks).
  virtual double wait_seconds() const { return 0; }
};

// Rows per shard a step aims at: enough rows to keep a shard's kernels efficient (more when a
// layer's weights outgrow the L2 cache, as the batch plan's rows_for_large_weights), and at most
// max_shards shards a step: a batch of 64 rows of a small network gives 4 shards (8-row shards
// measured 0.25–0.5x of a run without MPI on mnist at one rank, 16-row ones 0.55–0.75x).
constexpr std::size_t shard_rows_small = 16;
constexpr std::size_t shard_rows_large = 64;
constexpr std::size_t max_shards = 64;

// Shards of a step of `rows` rows, from the rows and the largest layer's weight bytes only.
constexpr std::size_t shard_count(std::size_t rows, std::size_t largest_weight_bytes,
                                  std::size_t l2_cache_bytes) {
  const std::size_t per = largest_weight_bytes > l2_cache_bytes ? shard_rows_large : shard_rows_small;
  const std::size_t s = (rows + per - 1) / per;
  return s == 0 ? 1 : (s > max_shards ? max_shards : s);
}

// The first row of shard s of `shards` shards over `rows` rows: the first rows % shards shards
// take one row more.
constexpr std::size_t shard_first_row(std::size_t s, std::size_t shards, std::size_t rows) {
  const std::size_t q = rows / shards, extra = rows % shards;
  return s * q + (s < extra ? s : extra);
}

// The first shard of rank r when `shards` shards go to `ranks` ranks in contiguous ranges, the
// first shards % ranks ranks taking one more; rank_first_shard(ranks, …) = shards.
constexpr std::size_t rank_first_shard(std::size_t r, std::size_t shards, std::size_t ranks) {
  return shard_first_row(r, ranks, shards);
}

// The rank that holds shard s.
constexpr std::size_t shard_rank(std::size_t s, std::size_t shards, std::size_t ranks) {
  const std::size_t q = shards / ranks, extra = shards % ranks;
  const std::size_t big = extra * (q + 1);  // shards held by the ranks that take one more
  return s < big ? s / (q + 1) : extra + (s - big) / q;
}

// The fixed summation tree over shards [lo, hi), hi − lo ≥ 2: the left child takes the largest
// power of two below hi − lo, so left subtrees are perfect and every node is the same for every
// rank count. Returns the first shard of the right child.
constexpr std::size_t shard_tree_split(std::size_t lo, std::size_t hi) {
  std::size_t half = 1;
  while (half * 2 < hi - lo) half *= 2;
  return lo + half;
}

// The fixed blocks of data-parallel training (README "Training on many machines (MPI)"): the
// training rows cut into S = shard_count(batch, …) contiguous blocks, block s holding exactly the
// rows shard s takes over one epoch. A full step of `batch` rows gives shard s its usual share
// (shard_first_row over S), and the last, short step is cut over the same S shards (a shard may
// get no row), so every step has `batch` rows and every row is used once per epoch. Shard s of
// every step draws from block s, in the block's own seeded order, so a rank holding shards
// [a, b) of every step needs only the training rows [block_first(a), block_first(b)).
struct ShardBlocks {
  std::size_t rows = 0;        // training rows
  std::size_t batch = 0;       // rows of a full step: min(batch, rows)
  std::size_t shards = 0;      // S
  std::size_t full_steps = 0;  // steps of `batch` rows; a last one of `rows % batch` when not 0

  // Rows of shard s in a step of `step_rows` rows.
  std::size_t share(std::size_t s, std::size_t step_rows) const {
    return shard_first_row(s + 1, shards, step_rows) - shard_first_row(s, shards, step_rows);
  }
  // The first training row of block s (s ≤ S; block_first(S) = rows).
  std::size_t block_first(std::size_t s) const {
    return full_steps * shard_first_row(s, shards, batch) + shard_first_row(s, shards, rows - full_steps * batch);
  }
};

// The blocks of `rows` training rows for steps of `batch` rows (at least 1) and a network whose
// largest layer has `largest_weight_bytes` of weights.
ShardBlocks shard_blocks_make(std::size_t rows, std::size_t batch, std::size_t largest_weight_bytes);

// Block s's sample order in epoch `epoch` (0-based): its rows [0, count) in file order, shuffled
// when `shuffle` by a generator seeded from (seed, s, epoch) alone, so the order needs no state
// beyond the epoch count (a checkpoint saves none) and is the same for any number of ranks.
void block_order_fill(std::size_t* order, std::size_t count, bool shuffle, std::uint64_t seed,
                      std::size_t s, std::size_t epoch);

// Sharded data: how the rows of a data file are shared out among the ranks, from the file's row
// count and (with val_split) its validation rows. The validation rows are the split bpnn::train
// makes of the whole file (split_rows_stratified of its targets, or split_rows_by_class of their
// classes), computed once — by rank 0 reading the targets a piece at a time in the CLI — and
// agreed, so no rank needs the other rows. The other rows, in file order, are the training rows,
// cut into blocks (ShardBlocks); block s owns the file rows [block_file_first[s],
// block_file_first[s + 1]): its training rows and the validation rows after them (block 0 also
// those before its first training row).
struct ShardLayout {
  std::size_t file_rows = 0, validation_rows = 0;
  std::vector<bool> validation;  // with val_split: per file row, whether it is held out
  ShardBlocks blocks;
  std::size_t largest_weight_bytes = 0;
  std::vector<std::size_t> block_file_first;  // S + 1 entries

  bool is_validation(std::size_t file_row) const { return !validation.empty() && validation[file_row]; }
  // Blocks [first, end) of rank r of `ranks`: its shards of every step.
  std::size_t rank_first_block(std::size_t r, std::size_t ranks) const {
    return rank_first_shard(r, blocks.shards, ranks);
  }
  // The file rows rank r reads: those of its blocks.
  RowRange rank_file_rows(std::size_t r, std::size_t ranks) const {
    return {block_file_first[rank_first_block(r, ranks)], block_file_first[rank_first_block(r + 1, ranks)]};
  }
};

// The layout of `file_rows` rows for a network and a training config (its batch, optimizer,
// val_split and seed); with val_split, `validation` lists the held-out file rows in increasing
// order (RowSplit::test of the whole file's split), else it must be empty. Error(argument) when
// the split leaves no training or no validation row, or the list does not fit the file.
ShardLayout shard_layout_make(const NetworkConfig& net, const TrainConfig& config, std::size_t file_rows,
                              const std::vector<std::size_t>& validation = {});

// Thrown by exchange_agree: the error every rank agreed on, so a program may print it on one rank
// only (the CLI prints it on rank 0).
class AgreedError : public Error {
 public:
  using Error::Error;
};

// Collective, the error flag: `failure` is the exception this rank caught since the last
// agreement (null when none). When any rank failed, every rank throws Error with the kind of the
// lowest failing rank's error and its message prefixed with "rank R: " (a failure that is not an
// Error is ErrorKind::internal; std::bad_alloc is "out of memory"); else it returns.
void exchange_agree(GradientExchange& exchange, const std::exception_ptr& failure);

// Collective: every rank's `count` doubles (ranks with fewer pad with anything: `slot` is the
// largest count), in rank order.
std::vector<double> exchange_gather(GradientExchange& exchange, const std::vector<double>& mine, std::size_t slot);

// Sharded data-parallel training: a trainer on this rank's rows only. x:(n, inputs),
// y:(n, outputs) are the file rows layout.rank_file_rows(rank, ranks) (n of them) of a data set
// of layout.file_rows rows; the trainer takes its training rows and (with config.val_split, which
// the layout applied) its validation rows from them, and scores validation block by block, summed
// in block order. The exchange, x and y must outlive the trainer (an f64 trainer without a scaler
// or a split uses x and y in place); the layout must be
// shard_layout_make(net's config, config, file_rows). Collective (it agrees the class set and
// the data fingerprint): call it on every rank.
std::unique_ptr<Trainer> trainer_make_sharded(Network& net, const TrainConfig& config, GradientExchange& exchange,
                                              const ShardLayout& layout, const double* x, const double* y,
                                              std::size_t n);

// Installs `exchange` in a trainer before its first epoch: from then on its steps are
// data-parallel across the exchange's ranks (every rank runs the same trainer on the same, whole
// data and config; each computes the gradients of its shards, drawn from its blocks). The exchange must outlive the trainer.
// Only rank 0 writes checkpoints. Error(argument) after the first epoch.
void trainer_exchange_set(Trainer& trainer, GradientExchange& exchange);

// Sharded validation data given apart (`--val FILE` under mpirun): its `file_rows` rows V are cut
// into the trainer's S blocks, block s holding the rows [shard_first_row(s, S, V),
// shard_first_row(s + 1, S, V)), and x:(n, inputs), y:(n, outputs) are this rank's blocks' rows
// (n of them, Error(argument) otherwise), raw: they get the network's scaler here. Each block is
// scored alone and the blocks' sums are added in block order, so the validation loss, accuracy
// and early stopping are the same for any number of ranks; the checkpoint's validation
// fingerprint mixes the blocks' in block order. The trainer is trainer_make_sharded's with
// `layout` and no val_split; before the first epoch. x and y may be freed after the call.
// Collective: call it on every rank; a failure on one rank is every rank's (exchange_agree).
void trainer_validation_set_sharded(Trainer& trainer, const ShardLayout& layout, const double* x, const double* y,
                                    std::size_t n, std::size_t file_rows);

}  // namespace bpnn
