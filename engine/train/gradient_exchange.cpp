// The blocks and row layout of sharded data-parallel training, and the collective error flag of
// a distributed run; see gradient_exchange.hpp.
#include "train/gradient_exchange.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <new>
#include <string>
#include <vector>

#include "bpnn/error.hpp"
#include "nn/random.hpp"
#include "train/batch_plan.hpp"
#include "train/trainer_core.hpp"

namespace bpnn {
namespace {

// SplitMix64's finaliser: a bijective mix of 64 bits.
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

ShardBlocks shard_blocks_make(std::size_t rows, std::size_t batch, std::size_t largest_weight_bytes) {
  if (rows == 0 || batch == 0) throw Error(ErrorKind::argument, "data-parallel training: no rows or a batch of 0");
  ShardBlocks b;
  b.rows = rows;
  b.batch = std::min(batch, rows);
  b.shards = shard_count(b.batch, largest_weight_bytes, l2_bytes);
  b.full_steps = rows / b.batch;
  return b;
}

void block_order_fill(std::size_t* order, std::size_t count, bool shuffle, std::uint64_t seed, std::size_t s,
                      std::size_t epoch) {
  std::iota(order, order + count, std::size_t{0});
  if (!shuffle) return;
  Random random(mix64(seed ^ mix64(0x626C6F636Bull + s) ^ mix64(0x65706F6368ull ^ (std::uint64_t{epoch} << 20))));
  random.shuffle(order, count);
}

ShardLayout shard_layout_make(const NetworkConfig& net, const TrainConfig& config, std::size_t file_rows,
                              const std::vector<std::size_t>& validation) {
  const TrainConfig c = train_config_resolve(config);
  if (c.batch == 0) throw Error(ErrorKind::argument, "batch: must be at least 1");
  if (!(c.val_split >= 0 && c.val_split < 1))
    throw Error(ErrorKind::argument, "val_split: must be in [0, 1), not " + std::to_string(c.val_split));
  if (file_rows == 0) throw Error(ErrorKind::argument, "training data: no samples");
  if (c.val_split == 0 && !validation.empty())
    throw Error(ErrorKind::argument, "data-parallel training: validation rows given without val_split");
  ShardLayout layout;
  layout.file_rows = file_rows;
  if (c.val_split > 0) {
    layout.validation.assign(file_rows, false);
    for (std::size_t k = 0; k < validation.size(); ++k) {
      if (validation[k] >= file_rows || (k > 0 && validation[k] <= validation[k - 1]))
        throw Error(ErrorKind::argument, "data-parallel training: validation row " + std::to_string(validation[k]) +
                                             " is out of order or past the " + std::to_string(file_rows) + " rows");
      layout.validation[validation[k]] = true;
    }
    layout.validation_rows = validation.size();
  }
  const std::size_t train_rows = file_rows - layout.validation_rows;
  if (c.val_split > 0 && (train_rows == 0 || layout.validation_rows == 0))
    throw Error(ErrorKind::argument, "val_split: " + std::to_string(file_rows) +
                                         " samples are too few to hold out a validation part");
  const std::size_t element = net.precision == Precision::f64 ? sizeof(double) : sizeof(float);
  for (std::size_t l = 0; l + 1 < net.sizes.size(); ++l)
    layout.largest_weight_bytes = std::max(layout.largest_weight_bytes, net.sizes[l] * net.sizes[l + 1] * element);
  layout.blocks = shard_blocks_make(train_rows, train_batch(c, train_rows), layout.largest_weight_bytes);
  const std::size_t shards = layout.blocks.shards;
  layout.block_file_first.assign(shards + 1, file_rows);
  layout.block_file_first[0] = 0;
  std::size_t next = 1, next_first = shards > 1 ? layout.blocks.block_first(1) : 0;
  for (std::size_t i = 0, t = 0; i < file_rows && next < shards; ++i) {
    if (layout.is_validation(i)) continue;
    if (t == next_first) {
      layout.block_file_first[next++] = i;
      if (next < shards) next_first = layout.blocks.block_first(next);
    }
    ++t;
  }
  return layout;
}

std::vector<double> exchange_gather(GradientExchange& exchange, const std::vector<double>& mine, std::size_t slot) {
  std::vector<double> padded(slot, 0.0);
  std::copy_n(mine.begin(), std::min(slot, mine.size()), padded.begin());
  std::vector<double> all(slot * static_cast<std::size_t>(exchange.ranks()));
  if (slot > 0) exchange.all_gather(padded.data(), slot * sizeof(double), all.data());
  return all;
}

void exchange_agree(GradientExchange& exchange, const std::exception_ptr& failure) {
  const int first = exchange.first_rank_with(failure != nullptr);
  if (first < 0) return;
  int kind = static_cast<int>(ErrorKind::internal);
  std::string message;
  if (exchange.rank() == first) {
    try {
      std::rethrow_exception(failure);
    } catch (const AgreedError& e) {  // agreed before (it names its rank already)
      kind = static_cast<int>(e.kind());
      message = e.what();
    } catch (const Error& e) {
      kind = static_cast<int>(e.kind());
      message = "rank " + std::to_string(first) + ": " + e.what();
    } catch (const std::bad_alloc&) {
      message = "rank " + std::to_string(first) + ": out of memory";
    } catch (const std::exception& e) {
      message = "rank " + std::to_string(first) + ": " + e.what();
    } catch (...) {
      message = "rank " + std::to_string(first) + ": an unknown exception";
    }
  }
  exchange.broadcast(&kind, sizeof kind, first);
  std::uint64_t length = message.size();
  exchange.broadcast(&length, sizeof length, first);
  std::vector<char> text(static_cast<std::size_t>(length));
  if (exchange.rank() == first) message.copy(text.data(), text.size());
  if (!text.empty()) exchange.broadcast(text.data(), text.size(), first);
  throw AgreedError(static_cast<ErrorKind>(kind), std::string(text.begin(), text.end()));
}

}  // namespace bpnn
