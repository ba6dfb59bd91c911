#pragma once
// The seam between the training loop and a distributed run (data-parallel training, bpnn_mpi):
// the few messages a run on several processes ("ranks") needs, and the fixed cut of a step into
// shards that makes the trained model the same, bit for bit, for any number of ranks.
//
// A step of `rows` rows is cut into shard_count(rows, network) shards of consecutive rows; the
// cut depends on the rows and the network, never on the ranks. Each shard's gradient is computed
// alone, by the same kernels in the same order whichever rank holds it, and the shard gradients
// are summed in one fixed binary tree (shard_tree_split). Rank r holds a contiguous range of
// shards (rank_shards); a tree node whose shards all sit on one rank is summed there, and a node
// that spans ranks is summed on the rank holding its first shard, which receives its right
// child's sum from the rank holding that child's first shard. The root's two children are swapped
// between rank 0 and the rank holding the right child's first shard, which both add them (left +
// right); with more than two ranks rank 0 then broadcasts the root. Every rank applies the same
// update to the same weights. libbpnn knows only
// this interface; bpnn_mpi (engine/mpi) implements it on an MPI communicator.
#include <cstddef>
#include <exception>

namespace bpnn {

class Trainer;

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
  // Collective: root's `bytes` bytes to every rank.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  // Collective: every rank's `bytes` bytes, in rank order, into all (ranks() · bytes) on every rank.
  virtual void all_gather(const void* mine, std::size_t bytes, void* all) = 0;
  // Collective: whether `flag` is true on any rank (the collective error flag), and the lowest
  // such rank (−1 when none).
  virtual int first_rank_with(bool flag) = 0;
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

// Collective, the error flag: `failure` is the exception this rank caught since the last
// agreement (null when none). When any rank failed, every rank throws Error with the kind of the
// lowest failing rank's error and its message prefixed with "rank R: " (a failure that is not an
// Error is ErrorKind::internal; std::bad_alloc is "out of memory"); else it returns.
void exchange_agree(GradientExchange& exchange, const std::exception_ptr& failure);

// Installs `exchange` in a trainer before its first epoch: from then on its steps are
// data-parallel across the exchange's ranks (every rank runs the same trainer on the same data
// and config; each computes the gradients of its shards). The exchange must outlive the trainer.
// Only rank 0 writes checkpoints. Error(argument) after the first epoch.
void trainer_exchange_set(Trainer& trainer, GradientExchange& exchange);

}  // namespace bpnn
