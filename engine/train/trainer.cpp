// bpnn::Trainer and bpnn::train over TrainerCore<T> in the network's precision: the data as the
// core sees it (split, scaled), the epoch loop with early stopping, and checkpoints.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <exception>
#include <string>
#include <type_traits>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/train.hpp"
#include "nn/network_impl.hpp"
#include "nn/size_check.hpp"
#include "train/checkpoint.hpp"
#include "train/divergence.hpp"
#include "train/gradient_exchange.hpp"
#include "train/setup_agreement.hpp"
#include "train/trainer_core.hpp"

namespace bpnn {
namespace {

// Rows `rows` (all n when null) of x:(n, inputs) in T: after the scaler when it is active
// (computed in double, as predict does), else converted.
template <class T, class U>
std::vector<T> rows_in(const InputScaler& scaler, const U* x, std::size_t n, std::size_t inputs,
                       const std::vector<std::size_t>* rows) {
  const std::size_t count = rows ? rows->size() : n;
  std::vector<T> out(checked_mul(count, inputs, "training rows"));
  std::vector<double> row(inputs);
  for (std::size_t r = 0; r < count; ++r) {
    const U* from = x + (rows ? (*rows)[r] : r) * inputs;
    T* to = out.data() + r * inputs;
    if (scaler.active()) {
      std::copy_n(from, inputs, row.begin());
      scaler_apply(scaler, row.data(), 1, inputs);
      std::copy(row.begin(), row.end(), to);
    } else {
      std::copy_n(from, inputs, to);
    }
  }
  return out;
}

}  // namespace

// The busy lock is taken first and released last: the network is the trainer's for its life.
// A network with an input scaler trains on raw inputs, as predict takes them: the trainer scales
// its own copy of the inputs (in double, as predict does, then stored in the network's precision)
// before the core sees them. With config.val_split the rows of each side are gathered into owned
// copies in the network's precision.
struct Trainer::Impl {
  template <class U>
  Impl(Network& network, const TrainConfig& train_config, const U* x, const U* y, std::size_t n)
      : lock(NetworkAccess::impl(network).busy, "train"),
        public_net(network),
        net(NetworkAccess::impl(network)),
        config(train_config) {
    const std::size_t inputs = net.config.sizes.front(), outputs = net.config.sizes.back();
    data_fingerprint_ = data_fingerprint(x, y, n, inputs, outputs);
    if (config.val_split > 0) {  // the rows of each side, gathered straight into T
      if (!(config.val_split < 1))
        throw Error(ErrorKind::argument, "val_split: must be in [0, 1)");
      const std::vector<double> targets(y, y + checked_mul(n, outputs, "training targets"));
      const RowSplit rows = split_rows_stratified(targets.data(), n, outputs, config.val_split, config.seed);
      if (rows.train.empty() || rows.test.empty())
        throw Error(ErrorKind::argument, "val_split: " + std::to_string(n) +
                                             " samples are too few to hold out a validation part");
      core_make(x, y, n, &rows.train);
      validation_set(x, y, n, &rows.test);
      split = true;
    } else {
      core_make(x, y, n, nullptr);
    }
  }

  // Sharded data-parallel training (trainer_make_sharded): x, y are this rank's file rows of the
  // layout; the core gets the training rows among them, then the exchange, then the validation
  // rows block by block. The data fingerprint is set by the caller (it needs every rank).
  template <class U>
  Impl(Network& network, const TrainConfig& train_config, GradientExchange& exchange, const ShardLayout& layout,
       const U* x, const U* y, std::size_t n)
      : lock(NetworkAccess::impl(network).busy, "train"),
        public_net(network),
        net(NetworkAccess::impl(network)),
        config(train_config) {
    const std::size_t ranks = static_cast<std::size_t>(exchange.ranks());
    const std::size_t me = static_cast<std::size_t>(exchange.rank());
    const RowRange mine = layout.rank_file_rows(me, ranks);
    if (n != mine.end - mine.begin)
      throw Error(ErrorKind::argument, "sharded training data: rank " + std::to_string(me) + " was given " +
                                           std::to_string(n) + " rows, its blocks hold the file rows [" +
                                           std::to_string(mine.begin) + ", " + std::to_string(mine.end) + ") of " +
                                           std::to_string(layout.file_rows));
    if (n > 0 && (x == nullptr || y == nullptr)) throw Error(ErrorKind::argument, "training data: null x or y");
    const std::size_t first = layout.rank_first_block(me, ranks), end = layout.rank_first_block(me + 1, ranks);
    std::vector<std::size_t> train_rows, val_rows, val_block_rows;
    for (std::size_t s = first; s < end; ++s) {
      std::size_t count = 0;
      for (std::size_t i = layout.block_file_first[s]; i < layout.block_file_first[s + 1]; ++i) {
        if (layout.is_validation(i)) {
          val_rows.push_back(i - mine.begin);
          ++count;
        } else {
          train_rows.push_back(i - mine.begin);
        }
      }
      val_block_rows.push_back(count);
    }
    core_make(x, y, n, val_rows.empty() ? nullptr : &train_rows, layout.blocks.rows,
              layout.blocks.block_first(first));
    visit([&](auto& core) { core.set_exchange(exchange); });
    if (layout.validation_rows > 0) {
      const std::size_t inputs = net.config.sizes.front(), outputs = net.config.sizes.back();
      const auto set = [&](auto& core, auto& vx, auto& vy) {
        using T = typename std::remove_reference_t<decltype(core)>::value_type;
        vx = rows_in<T>(net.scaler, x, n, inputs, &val_rows);
        vy = rows_in<T>(InputScaler{}, y, n, outputs, &val_rows);
        core.set_validation_blocks(vx.data(), vy.data(), val_rows.size(), val_block_rows, layout.validation_rows);
      };
      if (core_f32) set(*core_f32, val_x_f32, val_y_f32);
      else set(*core_f64, val_x_f64, val_y_f64);
      split = true;
    }
  }

  // With a scaler or a split the core gets its rows (scaled inputs, targets) in the network's
  // precision, owned here, so it converts nothing more; otherwise the caller's rows. Sharded:
  // they are the training rows [first_row, …) of total_rows.
  template <class U>
  void core_make(const U* x, const U* y, std::size_t n, const std::vector<std::size_t>* rows,
                 std::size_t total_rows = 0, std::size_t first_row = 0) {
    const std::size_t inputs = net.config.sizes.front(), outputs = net.config.sizes.back();
    const auto make = [&](auto& core, auto& own_x, auto& own_y, auto& mlp) {
      using T = typename std::remove_reference_t<decltype(own_x)>::value_type;
      using Core = typename std::remove_reference_t<decltype(core)>::element_type;
      if (net.scaler.active() || rows != nullptr) {
        own_x = rows_in<T>(net.scaler, x, n, inputs, rows);
        own_y = rows_in<T>(InputScaler{}, y, n, outputs, rows);
        core = std::make_unique<Core>(mlp, config, own_x.data(), own_y.data(), own_y.size() / outputs, total_rows,
                                      first_row);
      } else {
        core = std::make_unique<Core>(mlp, config, x, y, n, total_rows, first_row);
      }
    };
    if (net.config.precision == Precision::f32)
      make(core_f32, scaled_f32, targets_f32, std::get<Mlp<float>>(net.mlp));
    else
      make(core_f64, scaled_f64, targets_f64, std::get<Mlp<double>>(net.mlp));
  }

  // The validation rows (`rows` of x and y, or all n), scaled and in the network's precision,
  // owned here.
  template <class U>
  void validation_set(const U* x, const U* y, std::size_t n, const std::vector<std::size_t>* rows) {
    if (n > 0 && (x == nullptr || y == nullptr))
      throw Error(ErrorKind::argument, "validation data: null x or y");
    const std::size_t inputs = net.config.sizes.front(), outputs = net.config.sizes.back();
    const auto set = [&](auto& core, auto& vx, auto& vy) {
      using T = typename std::remove_reference_t<decltype(core)>::value_type;
      vx = rows_in<T>(net.scaler, x, n, inputs, rows);
      vy = rows_in<T>(InputScaler{}, y, n, outputs, rows);
      core.set_validation(vx.data(), vy.data(), vy.size() / outputs);
    };
    if (core_f32) set(*core_f32, val_x_f32, val_y_f32);
    else set(*core_f64, val_x_f64, val_y_f64);
    if (!rows) validation_fingerprint = data_fingerprint(x, y, n, inputs, outputs);
  }

  template <class F>
  decltype(auto) visit(F&& f) {
    if (core_f32) return f(*core_f32);
    return f(*core_f64);
  }

  BusyLock lock;
  Network& public_net;
  Network::Impl& net;
  TrainConfig config;
  bool split = false;  // config.val_split held out a validation part
  std::vector<float> scaled_f32, targets_f32, val_x_f32, val_y_f32;
  std::vector<double> scaled_f64, targets_f64, val_x_f64, val_y_f64;
  std::unique_ptr<TrainerCore<float>> core_f32;  // one of the two, in the network's precision
  std::unique_ptr<TrainerCore<double>> core_f64;
  DataFingerprint data_fingerprint_;                     // the training data as given (before any split)
  std::optional<DataFingerprint> validation_fingerprint;  // a validation set given apart
};

// What training allocates beyond the network, as an upper bound: the optimizer's gradient and
// state (none for plain SGD, up to three times the parameters for Adam and iRPROP), activations
// and deltas for a batch (twice, for gathered rows, logits and regrouped deltas), and a converted
// copy of the data when it comes in the other precision. Throws Error(argument) for an invalid
// optimizer setting.
std::size_t training_bytes(const NetworkConfig& net, const TrainConfig& config, std::size_t n,
                           std::size_t data_element_bytes) {
  const std::string what = "training";
  const TrainConfig resolved = train_config_resolve(config);
  const std::size_t element = net.precision == Precision::f64 ? sizeof(double) : sizeof(float);
  const std::size_t params = arena_bytes_bound(net.sizes, element);
  std::size_t widths = 0;
  for (std::size_t w : net.sizes) widths = checked_add(widths, w, what);
  const std::size_t batch = resolved.batch == 0 ? 1 : train_batch(resolved, n);
  const std::size_t rows = std::min<std::size_t>(batch, n);
  // per row and width: activations, δ, the gathered batch, scratch, and the (rows, inputs)
  // blocks of the layers whose weight tiles cut their inputs (batch_plan.hpp's 2-D tiles)
  const std::size_t activations =
      checked_mul(checked_mul(rows, widths, what), checked_mul(5, element, what), what);
  const std::size_t data = element == data_element_bytes
                               ? 0
                               : checked_mul(n, checked_mul(net.sizes.front() + net.sizes.back(),
                                                            element, what), what);
  // a validation split copies the data (in double) once more
  const std::size_t split = resolved.val_split > 0
                                ? checked_mul(n, checked_mul(net.sizes.front() + net.sizes.back(),
                                                             sizeof(double), what), what)
                                : 0;
  const std::size_t optimizer = checked_mul(params, optimizer_state_factor(resolved), what);
  const std::size_t best = resolved.early_stop > 0 ? params : 0;
  return checked_add(checked_add(checked_add(optimizer, activations, what), checked_add(data, split, what), what),
                     best, what);
}

struct TrainerAccess {
  template <class U>
  static std::unique_ptr<Trainer::Impl> make(Network& net, const TrainConfig& config, const U* x,
                                             const U* y, std::size_t n) {
    if (n > 0 && (x == nullptr || y == nullptr))
      throw Error(ErrorKind::argument, "training data: null x or y");
    check_fits_in_memory(training_bytes(NetworkAccess::impl(net).config, config, n, sizeof(U)),
                         "training (parameters, gradients, optimizer state, activations and data)");
    return std::make_unique<Trainer::Impl>(net, config, x, y, n);
  }

  static std::unique_ptr<Trainer> wrap(std::unique_ptr<Trainer::Impl> impl) {
    return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
  }

  // trainer_make_sharded
  static std::unique_ptr<Trainer> make_sharded(Network& net, const TrainConfig& config, GradientExchange& exchange,
                                               const ShardLayout& layout, const double* x, const double* y,
                                               std::size_t n);

  // trainer_validation_set_sharded
  static void validation_set_sharded(Trainer& trainer, const ShardLayout& layout, const double* x, const double* y,
                                     std::size_t n, std::size_t file_rows);

  static void exchange_set(Trainer& trainer, GradientExchange& exchange) {
    ranks_same_setup_check(exchange, trainer.impl_->public_net, trainer.impl_->config);
    trainer.impl_->visit([&](auto& core) { core.set_exchange(exchange); });
  }

  static void shapes_check(const Network& net, const Dataset& data, const char* what) {
    if (data.inputs != net.n_inputs() || data.outputs != net.n_outputs())
      throw Error(ErrorKind::data, std::string(what) + " has " + std::to_string(data.inputs) +
                                       " inputs and " + std::to_string(data.outputs) +
                                       " targets, but the network takes " + std::to_string(net.n_inputs()) +
                                       " inputs and gives " + std::to_string(net.n_outputs()) + " outputs");
  }
};

Trainer::Trainer(Network& net, const TrainConfig& config, const double* x, const double* y,
                 std::size_t n)
    : impl_(TrainerAccess::make(net, config, x, y, n)) {}

Trainer::Trainer(Network& net, const TrainConfig& config, const float* x, const float* y,
                 std::size_t n)
    : impl_(TrainerAccess::make(net, config, x, y, n)) {}

Trainer::Trainer(Network& net, const TrainConfig& config, const Dataset& data) {
  TrainerAccess::shapes_check(net, data, "data set");
  impl_ = TrainerAccess::make(net, config, data.x.data(), data.y.data(), data.n);
}

Trainer::Trainer(Network& net, const TrainConfig& config, const Dataset& data,
                 const Dataset& validation)
    : Trainer(net, config, data) {
  TrainerAccess::shapes_check(net, validation, "validation set");
  set_validation(validation.x.data(), validation.y.data(), validation.n);
}

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Trainer::~Trainer() = default;

void Trainer::set_validation(const double* x, const double* y, std::size_t n) {
  if (impl_->config.val_split > 0)
    throw Error(ErrorKind::argument, "validation data: given apart while val_split holds out a part");
  impl_->validation_set(x, y, n, nullptr);
}

void Trainer::set_validation(const float* x, const float* y, std::size_t n) {
  if (impl_->config.val_split > 0)
    throw Error(ErrorKind::argument, "validation data: given apart while val_split holds out a part");
  impl_->validation_set(x, y, n, nullptr);
}

void Trainer::set_batch_callback(BatchCallback on_batches) {
  impl_->visit([&](auto& core) { core.set_batch_callback(std::move(on_batches)); });
}

EpochStats Trainer::run_epoch() {
  return impl_->visit([](auto& core) {
    const EpochStats stats = core.run_epoch();
    // every rank holds the same parameters: under an exchange this is agreed by construction
    const auto& arena = core.mlp().arena();
    if (!all_finite(arena.data(), arena.size()))
      throw Error(ErrorKind::nonfinite, weights_diverged_message(core.epochs_done()));
    return stats;
  });
}

std::size_t Trainer::epochs_done() const {
  return impl_->visit([](auto& core) { return core.epochs_done(); });
}

bool Trainer::should_stop() const {
  return impl_->visit([](auto& core) { return core.should_stop(); });
}

void Trainer::restore_best() {
  impl_->visit([](auto& core) { core.restore_best(); });
}

void Trainer::checkpoint_save(const std::string& path) const {
  Impl& impl = *impl_;
  GradientExchange* exchange = impl.visit([](auto& core) { return core.exchange(); });
  const auto write = [&] {
    impl.visit([&](auto& core) {
      checkpoint_write(path, impl.public_net, core, impl.config, impl.data_fingerprint_,
                       impl.validation_fingerprint);
    });
  };
  if (exchange == nullptr) {
    write();
    return;
  }
  // data-parallel: every rank holds the same state; rank 0 alone writes, and its failure
  // reaches every rank (exchange_agree)
  std::exception_ptr failure;
  if (exchange->rank() == 0) {
    try {
      write();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  exchange_agree(*exchange, failure);
}

void trainer_exchange_set(Trainer& trainer, GradientExchange& exchange) {
  TrainerAccess::exchange_set(trainer, exchange);
}

namespace {

// One block's hash appended to a rank's list, as two 32-bit halves (exact in a double).
void block_hash_add(std::vector<double>& mine, std::uint64_t hash) {
  mine.push_back(static_cast<double>(hash >> 32));
  mine.push_back(static_cast<double>(hash & 0xFFFFFFFFu));
}

// The hashes of the S blocks of sharded data (`mine`: this rank's blocks', two 32-bit halves
// each, exact in a double), gathered and mixed in block order: the same for any number of ranks,
// as make_sharded mixes the training data's. Collective.
std::uint64_t block_hashes_mix(GradientExchange& exchange, const std::vector<double>& mine, std::size_t shards,
                               std::size_t inputs, std::size_t outputs) {
  const std::size_t ranks = static_cast<std::size_t>(exchange.ranks());
  const std::size_t slot = 2 * ((shards + ranks - 1) / ranks);
  const std::vector<double> all = exchange_gather(exchange, mine, slot);
  std::uint64_t hash = 0x9E3779B97F4A7C15ull ^ (inputs * 0x100000001B3ull) ^ outputs ^ (std::uint64_t{shards} << 48);
  for (std::size_t s = 0; s < shards; ++s) {
    const std::size_t owner = shard_rank(s, shards, ranks);
    const double* half = all.data() + owner * slot + 2 * (s - rank_first_shard(owner, shards, ranks));
    hash ^= (static_cast<std::uint64_t>(half[0]) << 32) | static_cast<std::uint64_t>(half[1]);
    hash = std::rotl(hash * 0xBF58476D1CE4E5B9ull, 31);
  }
  return hash;
}

}  // namespace

std::unique_ptr<Trainer> trainer_make_sharded(Network& net, const TrainConfig& config, GradientExchange& exchange,
                                              const ShardLayout& layout, const double* x, const double* y,
                                              std::size_t n) {
  return TrainerAccess::make_sharded(net, config, exchange, layout, x, y, n);
}

std::unique_ptr<Trainer> TrainerAccess::make_sharded(Network& net, const TrainConfig& config,
                                                     GradientExchange& exchange, const ShardLayout& layout,
                                                     const double* x, const double* y, std::size_t n) {
  // first, before anything that may fail on one rank alone: every rank reaches this message
  ranks_same_setup_check(exchange, net, config);
  std::unique_ptr<Trainer::Impl> impl;
  std::exception_ptr failure;
  const std::size_t inputs = net.n_inputs(), outputs = net.n_outputs();
  try {
    check_fits_in_memory(training_bytes(NetworkAccess::impl(net).config, config, std::max<std::size_t>(n, 1), sizeof(double)),
                         "training (parameters, gradients, optimizer state, activations and data)");
    impl = std::make_unique<Trainer::Impl>(net, config, exchange, layout, x, y, n);
  } catch (...) {
    failure = std::current_exception();
  }
  exchange_agree(exchange, failure);
  // The data's fingerprint, the same for any number of ranks: each block's file rows hashed
  // alone, the hashes mixed in block order (two 32-bit halves each, exact in a double).
  const std::size_t ranks = static_cast<std::size_t>(exchange.ranks());
  const std::size_t me = static_cast<std::size_t>(exchange.rank());
  const std::size_t shards = layout.blocks.shards;
  const std::size_t first = layout.rank_first_block(me, ranks), end = layout.rank_first_block(me + 1, ranks);
  std::vector<double> mine;
  for (std::size_t s = first; s < end; ++s) {
    const std::size_t from = layout.block_file_first[s] - layout.block_file_first[first];
    const std::size_t count = layout.block_file_first[s + 1] - layout.block_file_first[s];
    const std::uint64_t h = data_fingerprint(x + from * inputs, y + from * outputs, count, inputs, outputs).hash;
    block_hash_add(mine, h);
  }
  impl->data_fingerprint_ = {layout.file_rows, block_hashes_mix(exchange, mine, shards, inputs, outputs)};
  return TrainerAccess::wrap(std::move(impl));
}


void trainer_validation_set_sharded(Trainer& trainer, const ShardLayout& layout, const double* x, const double* y,
                                    std::size_t n, std::size_t file_rows) {
  TrainerAccess::validation_set_sharded(trainer, layout, x, y, n, file_rows);
}

void TrainerAccess::validation_set_sharded(Trainer& trainer, const ShardLayout& layout, const double* x,
                                           const double* y, std::size_t n, std::size_t file_rows) {
  Trainer::Impl& impl = *trainer.impl_;
  GradientExchange* exchange = impl.visit([](auto& core) { return core.exchange(); });
  if (exchange == nullptr)
    throw Error(ErrorKind::argument, "sharded validation data: the trainer is not data-parallel (trainer_make_sharded)");
  const std::size_t ranks = static_cast<std::size_t>(exchange->ranks());
  const std::size_t me = static_cast<std::size_t>(exchange->rank());
  const std::size_t shards = layout.blocks.shards;
  const std::size_t first = layout.rank_first_block(me, ranks), end = layout.rank_first_block(me + 1, ranks);
  const std::size_t inputs = impl.net.config.sizes.front(), outputs = impl.net.config.sizes.back();
  std::vector<double> mine;  // per block of this rank: its rows' hash, in two 32-bit halves
  std::exception_ptr failure;
  try {
    if (impl.config.val_split > 0)
      throw Error(ErrorKind::argument, "validation data: given apart while val_split holds out a part");
    if (impl.visit([](auto& core) { return core.samples(); }) != layout.blocks.rows)
      throw Error(ErrorKind::argument, "sharded validation data: the layout is not the trainer's");
    const std::size_t begin_row = shard_first_row(first, shards, file_rows);
    const std::size_t end_row = shard_first_row(end, shards, file_rows);
    if (n != end_row - begin_row)
      throw Error(ErrorKind::argument, "sharded validation data: rank " + std::to_string(me) + " was given " +
                                           std::to_string(n) + " rows, its blocks hold the rows [" +
                                           std::to_string(begin_row) + ", " + std::to_string(end_row) + ") of " +
                                           std::to_string(file_rows));
    if (n > 0 && (x == nullptr || y == nullptr)) throw Error(ErrorKind::argument, "validation data: null x or y");
    std::vector<std::size_t> block_rows;
    for (std::size_t s = first; s < end; ++s) {
      const std::size_t from = shard_first_row(s, shards, file_rows) - begin_row;
      block_rows.push_back(shard_first_row(s + 1, shards, file_rows) - shard_first_row(s, shards, file_rows));
      const std::uint64_t h =
          data_fingerprint(x + from * inputs, y + from * outputs, block_rows.back(), inputs, outputs).hash;
      block_hash_add(mine, h);
    }
    const auto set = [&](auto& core, auto& vx, auto& vy) {
      using T = typename std::remove_reference_t<decltype(core)>::value_type;
      vx = rows_in<T>(impl.net.scaler, x, n, inputs, nullptr);
      vy = rows_in<T>(InputScaler{}, y, n, outputs, nullptr);
      core.set_validation_blocks(vx.data(), vy.data(), n, block_rows, file_rows);
    };
    if (impl.core_f32) set(*impl.core_f32, impl.val_x_f32, impl.val_y_f32);
    else set(*impl.core_f64, impl.val_x_f64, impl.val_y_f64);
  } catch (...) {
    failure = std::current_exception();
  }
  exchange_agree(*exchange, failure);
  // the validation data's fingerprint, the same for any number of ranks
  impl.validation_fingerprint = DataFingerprint{file_rows, block_hashes_mix(*exchange, mine, shards, inputs, outputs)};
}

void Trainer::resume(const std::string& path) {
  Impl& impl = *impl_;
  impl.visit([&](auto& core) {
    checkpoint_restore(path, impl.net, core, impl.config, impl.data_fingerprint_,
                       impl.validation_fingerprint);
  });
}

TrainReport Trainer::run(const EpochCallback& on_epoch) {
  const auto start = std::chrono::steady_clock::now();
  TrainReport report;
  const TrainConfig& config = impl_->config;
  const auto checkpoint = [&] {
    if (!config.checkpoint.empty()) checkpoint_save(config.checkpoint);
  };
  while (epochs_done() < config.epochs) {
    if (should_stop()) {  // a resumed run whose patience had already run out
      report.stopped_early = true;
      break;
    }
    const EpochStats stats = run_epoch();
    report.epochs_run++;
    report.final_loss = stats.loss;
    const bool last = epochs_done() == config.epochs || should_stop();
    if (!last && config.checkpoint_every > 0 && epochs_done() % config.checkpoint_every == 0)
      checkpoint();
    if (on_epoch && on_epoch(stats) == EpochAction::stop) {
      report.stopped_by_callback = true;
      break;
    }
    if (should_stop()) {
      report.stopped_early = true;
      break;
    }
  }
  checkpoint();
  impl_->visit([&](auto& core) {
    if (core.has_validation() && core.epochs_done() > 0) {
      report.best_epoch = core.early_stop().best_epoch;
      report.best_val_loss = core.early_stop().best_loss;
    }
  });
  restore_best();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

TrainReport train(Network& net, const TrainConfig& config, const Dataset& data,
                  const EpochCallback& on_epoch) {
  Trainer trainer(net, config, data);
  return trainer.run(on_epoch);
}

TrainReport train(Network& net, const TrainConfig& config, const Dataset& data,
                  const Dataset& validation, const EpochCallback& on_epoch) {
  Trainer trainer(net, config, data, validation);
  return trainer.run(on_epoch);
}

}  // namespace bpnn
