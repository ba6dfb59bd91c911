// The shard cut and the fixed summation tree of data-parallel training
// (train/gradient_exchange.hpp), and data-parallel training itself on an in-process exchange:
// P "ranks" as threads passing messages through mailboxes, so the same-bits property is tested
// without MPI too (tests/mpi/ test it under mpirun).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/evaluate.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "same_bits.hpp"
#include "kernels/kernels.hpp"
#include "nn/mlp.hpp"
#include "train/gradient_exchange.hpp"
#include "train/trainer_core.hpp"

namespace {

using bpnn::rank_first_shard;
using bpnn::shard_first_row;
using bpnn::shard_rank;
using bpnn::shard_tree_split;

// A message in a mailbox: a copy (send, eager), or a started send's own buffer, read only when a
// receive takes it (start_send, rendezvous as MPI's large messages: the sender's request completes
// then, so a sender that wrote its buffer before waiting would ship the wrong bits).
struct Message {
  std::vector<char> copy;
  const char* buffer = nullptr;
  std::size_t bytes = 0;
  std::shared_ptr<bool> delivered;  // start_send: set when a receive has taken it
};

// Mailboxes shared by the ranks of one in-process run.
struct Post {
  std::mutex mutex;
  std::condition_variable arrived;
  std::map<std::tuple<int, int, int>, std::deque<Message>> boxes;  // (from, to, tag)
};

class LoopbackExchange final : public bpnn::GradientExchange {
 public:
  // piece_bytes, segment_bytes: the reduction's message sizes (reduce_piece_bytes,
  // reduce_segment_bytes), the library's defaults unless given
  LoopbackExchange(Post& post, int rank, int ranks, std::size_t piece_bytes = bpnn::exchange_piece_bytes,
                   std::size_t segment_bytes = bpnn::exchange_segment_bytes)
      : post_(post), rank_(rank), ranks_(ranks), piece_bytes_(piece_bytes), segment_bytes_(segment_bytes) {}
  int rank() const override { return rank_; }
  std::size_t reduce_piece_bytes() const override { return piece_bytes_; }
  std::size_t reduce_segment_bytes() const override { return segment_bytes_; }
  int ranks() const override { return ranks_; }
  void send(int to, int tag, const void* data, std::size_t bytes) override {
    const char* p = static_cast<const char*>(data);
    std::lock_guard lock(post_.mutex);
    post_.boxes[{rank_, to, tag}].push_back({std::vector<char>(p, p + bytes), nullptr, bytes, nullptr});
    post_.arrived.notify_all();
  }
  void receive(int from, int tag, void* data, std::size_t bytes) override {
    wait(start_receive(from, tag, data, bytes));  // after the receives started before it
  }
  void send_receive(int peer, int tag, const void* out, void* in, std::size_t bytes) override {
    send(peer, tag, out, bytes);  // mailboxes never block a send
    receive(peer, tag, in, bytes);
  }
  Request start_send(int to, int tag, const void* data, std::size_t bytes) override {
    auto delivered = std::make_shared<bool>(false);
    std::lock_guard lock(post_.mutex);
    post_.boxes[{rank_, to, tag}].push_back({{}, static_cast<const char*>(data), bytes, delivered});
    post_.arrived.notify_all();
    requests_.push_back({true, to, tag, nullptr, bytes, delivered, false});
    return requests_.size() - 1;
  }
  Request start_receive(int from, int tag, void* data, std::size_t bytes) override {
    std::lock_guard lock(post_.mutex);
    requests_.push_back({false, from, tag, static_cast<char*>(data), bytes, std::make_shared<bool>(false), false});
    receiving_.push_back(requests_.size() - 1);
    return requests_.size() - 1;
  }
  bool test(Request request) override {
    std::lock_guard lock(post_.mutex);
    deliver();
    return spend_if_done(request);
  }
  void wait(Request request) override {
    std::unique_lock lock(post_.mutex);
    // a deadlock fails the test (every waiting rank gives up) instead of hanging it
    const bool done = post_.arrived.wait_for(lock, std::chrono::seconds(60), [&] {
      deliver();
      return *requests_.at(request).done;
    });
    if (!done) {
      const Pending& p = requests_[request];
      throw std::runtime_error("loopback: rank " + std::to_string(rank_) + " waited 60 s to " +
                               (p.is_send ? "send to" : "receive from") + " rank " + std::to_string(p.peer) +
                               " (tag " + std::to_string(p.tag) + "): a deadlock");
    }
    spend_if_done(request);
  }
  void progress() override {
    if (fail_progress_after_ > 0 && --fail_progress_after_ == 0)
      throw bpnn::Error(bpnn::ErrorKind::io, "loopback: progress failed on purpose");
    std::lock_guard lock(post_.mutex);
    deliver();
  }
  // Takes back this rank's unmatched receives and undelivered started sends; spends every request.
  void cancel_all() override {
    std::lock_guard lock(post_.mutex);
    ++cancels_;
    receiving_.clear();
    for (Pending& p : requests_) {
      if (p.spent) continue;
      if (p.is_send && !*p.done) {
        auto& box = post_.boxes[{rank_, p.peer, p.tag}];
        for (auto m = box.begin(); m != box.end(); ++m)
          if (m->delivered == p.done) {
            box.erase(m);
            break;
          }
      }
      p.spent = true;
    }
  }
  // Requests started and not yet spent; cancel_all calls; progress() throws Error(io) at its
  // `calls`-th call from now.
  std::size_t live_requests() const {
    return static_cast<std::size_t>(std::count_if(requests_.begin(), requests_.end(), [](const Pending& p) { return !p.spent; }));
  }
  int cancels() const { return cancels_; }
  void fail_progress_at(int calls) { fail_progress_after_ = calls; }
  void broadcast(void* data, std::size_t bytes, int root) override {
    if (rank_ == root) {
      for (int r = 0; r < ranks_; ++r)
        if (r != root) send(r, -1, data, bytes);
    } else {
      receive(root, -1, data, bytes);
    }
  }
  void all_gather(const void* mine, std::size_t bytes, void* all) override {
    for (int r = 0; r < ranks_; ++r)
      if (r != rank_) send(r, -2, mine, bytes);
    for (int r = 0; r < ranks_; ++r) {
      char* to = static_cast<char*>(all) + static_cast<std::size_t>(r) * bytes;
      if (r == rank_)
        std::memcpy(to, mine, bytes);
      else
        receive(r, -2, to, bytes);
    }
  }
  int first_rank_with(bool flag) override {
    std::vector<int> flags(static_cast<std::size_t>(ranks_));
    const int mine = flag ? 1 : 0;
    all_gather(&mine, sizeof mine, flags.data());
    for (int r = 0; r < ranks_; ++r)
      if (flags[static_cast<std::size_t>(r)]) return r;
    return -1;
  }

 private:
  struct Pending {
    bool is_send;
    int peer, tag;
    char* data;  // a receive's buffer
    std::size_t bytes;
    std::shared_ptr<bool> done;
    bool spent;
  };
  // With the post's lock: the started receives take the messages that have arrived, in the order
  // they were started (per sender and tag, messages match in order).
  void deliver() {
    for (std::size_t i = 0; i < receiving_.size();) {
      Pending& p = requests_[receiving_[i]];
      auto& box = post_.boxes[{p.peer, rank_, p.tag}];
      if (box.empty()) {
        ++i;
        continue;
      }
      Message& m = box.front();
      if (m.bytes != p.bytes) throw std::logic_error("loopback: message size differs");
      std::memcpy(p.data, m.buffer != nullptr ? m.buffer : m.copy.data(), p.bytes);
      if (m.delivered) *m.delivered = true;
      box.pop_front();
      *p.done = true;
      receiving_.erase(receiving_.begin() + static_cast<std::ptrdiff_t>(i));
      post_.arrived.notify_all();
    }
  }
  bool spend_if_done(Request request) {
    Pending& p = requests_.at(request);
    if (p.spent) throw std::logic_error("loopback: a request spent twice");
    if (*p.done) p.spent = true;
    return *p.done;
  }

  Post& post_;
  int rank_, ranks_;
  std::size_t piece_bytes_, segment_bytes_;
  std::vector<Pending> requests_;      // every request of this rank, by its number
  std::vector<Request> receiving_;     // started receives not yet matched, in order
  int cancels_ = 0, fail_progress_after_ = 0;
};

bpnn::Dataset class_data(std::size_t n) {
  bpnn::Dataset d;
  d.n = n;
  d.inputs = 5;
  d.outputs = 3;
  std::uint64_t state = 77;
  for (std::size_t r = 0; r < n; ++r) {
    double s = 0;
    for (std::size_t i = 0; i < d.inputs; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const double v = static_cast<double>(state >> 11) / 9007199254740992.0 * 2 - 1;
      d.x.push_back(v);
      s += v * static_cast<double>(i % 3);
    }
    const std::size_t c = s < -0.5 ? 0 : (s < 0.5 ? 1 : 2);
    for (std::size_t k = 0; k < d.outputs; ++k) d.y.push_back(k == c ? 1.0 : 0.0);
  }
  return d;
}

std::vector<double> params(const bpnn::Network& net) {
  std::vector<double> out;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    const std::vector<double> w = net.weights(l), b = net.bias(l);
    out.insert(out.end(), w.begin(), w.end());
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

// Runs per_rank(r, exchange) on `ranks` in-process ranks, a thread each, over one loopback post
// (with the reduction's message sizes given, else the library's); then rethrows the lowest rank's
// failure, if any.
template <class PerRank>
void on_ranks(int ranks, PerRank&& per_rank, std::size_t piece_bytes = bpnn::exchange_piece_bytes,
              std::size_t segment_bytes = bpnn::exchange_segment_bytes) {
  Post post;
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> failures(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        LoopbackExchange exchange(post, r, ranks, piece_bytes, segment_bytes);
        per_rank(r, exchange);
      } catch (...) {
        failures[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& f : failures)
    if (f) std::rethrow_exception(f);
}

// The network and training config of the in-process runs below: ShardedRun's options on a
// 5-16-3 tanh/softmax network, batch 67.
struct ShardedRun {
  std::size_t rows = 137;  // steps of 67, 67 and 3 rows: the last one leaves 2 of its 5 shards empty
  double val_split = 0;
  std::size_t epochs = 3;
  bool shuffle = true;
  std::string checkpoint, resume;
};

bpnn::NetworkConfig sharded_net(bpnn::Precision precision) {
  bpnn::NetworkConfig nc;
  nc.sizes = {5, 16, 3};
  nc.hidden_act = bpnn::Activation::tanh;
  nc.output_act = bpnn::Activation::softmax;
  nc.loss = bpnn::Loss::xent;
  nc.precision = precision;
  return nc;
}

bpnn::TrainConfig sharded_config(bpnn::Optimizer optimizer, const ShardedRun& run) {
  bpnn::TrainConfig tc;
  tc.optimizer = optimizer;
  tc.learning_rate = optimizer == bpnn::Optimizer::adam ? 0.01 : 0.3;
  tc.batch = 67;
  tc.epochs = run.epochs;
  tc.threads = 1;
  tc.shuffle = run.shuffle;
  tc.val_split = run.val_split;
  tc.checkpoint = run.checkpoint;
  return tc;
}

// Trains on `ranks` in-process ranks, each holding the whole data (trainer_exchange_set); every
// rank's parameters.
std::vector<std::vector<double>> train_ranks(int ranks, bpnn::Precision precision, bpnn::Optimizer optimizer) {
  const bpnn::Dataset data = class_data(150);  // steps of 67, 67 and 16 rows: 5, 5 and 1 shards
  std::vector<std::vector<double>> result(static_cast<std::size_t>(ranks));
  on_ranks(ranks, [&](int r, LoopbackExchange& exchange) {
    bpnn::Network net(sharded_net(precision));
    bpnn::Trainer trainer(net, sharded_config(optimizer, ShardedRun{}), data);
    bpnn::trainer_exchange_set(trainer, exchange);
    trainer.run();
    result[static_cast<std::size_t>(r)] = params(net);
  });
  return result;
}

// The rows bpnn::train holds out of `data` with the config's val_split (none without).
std::vector<std::size_t> validation_rows_of(const bpnn::Dataset& data, const bpnn::TrainConfig& tc) {
  if (tc.val_split == 0) return {};
  return bpnn::split_rows_stratified(data.y.data(), data.n, data.outputs, tc.val_split, tc.seed).test;
}

// Trains on `ranks` in-process ranks, each given only the file rows of its blocks
// (trainer_make_sharded); every rank's parameters. Checkpoints: with `checkpoint`, the run stops
// after `epochs` epochs and rank 0 writes it; with `resume`, the run continues from it.
// heldout_loss: rank 0's trained network scored by bpnn::evaluate on validation_rows_of(data).
std::vector<std::vector<double>> train_sharded(int ranks, bpnn::Precision precision, bpnn::Optimizer optimizer,
                                               const ShardedRun& run, std::vector<double>* val_losses = nullptr,
                                               double* heldout_loss = nullptr) {
  const bpnn::Dataset data = class_data(run.rows);
  std::vector<std::vector<double>> result(static_cast<std::size_t>(ranks));
  on_ranks(ranks, [&](int r, LoopbackExchange& exchange) {
    const bpnn::NetworkConfig nc = sharded_net(precision);
    bpnn::Network net(nc);
    const bpnn::TrainConfig tc = sharded_config(optimizer, run);
    const bpnn::ShardLayout layout = bpnn::shard_layout_make(nc, tc, data.n, validation_rows_of(data, tc));
    const bpnn::RowRange mine = layout.rank_file_rows(static_cast<std::size_t>(r), static_cast<std::size_t>(ranks));
    const std::vector<double> x(data.x.begin() + static_cast<std::ptrdiff_t>(mine.begin * data.inputs),
                                data.x.begin() + static_cast<std::ptrdiff_t>(mine.end * data.inputs));
    const std::vector<double> y(data.y.begin() + static_cast<std::ptrdiff_t>(mine.begin * data.outputs),
                                data.y.begin() + static_cast<std::ptrdiff_t>(mine.end * data.outputs));
    auto trainer = bpnn::trainer_make_sharded(net, tc, exchange, layout, x.data(), y.data(), mine.end - mine.begin);
    if (!run.resume.empty()) trainer->resume(run.resume);
    trainer->run([&](const bpnn::EpochStats& s) {
      if (val_losses != nullptr && r == 0) val_losses->push_back(s.val_loss);
      return bpnn::EpochAction::go_on;
    });
    result[static_cast<std::size_t>(r)] = params(net);
    if (heldout_loss != nullptr && r == 0) {
      const bpnn::Dataset heldout = bpnn::dataset_rows(data, validation_rows_of(data, tc));
      *heldout_loss = bpnn::evaluate(net, heldout.x.data(), heldout.y.data(), heldout.n).loss;
    }
  });
  return result;
}

// The reduction's message sizes of an in-process run.
struct MessageSizes {
  std::size_t piece_bytes = bpnn::exchange_piece_bytes, segment_bytes = bpnn::exchange_segment_bytes;
};

// Trains `sizes` (tanh hidden layers, softmax output) on `ranks` in-process ranks holding the whole
// data, 2 epochs of `batch` (160: 10 shards) over batch + 190 rows; rank 0's parameters (every
// rank's must be the same).
std::vector<double> train_layers(int ranks, const std::vector<std::size_t>& sizes, bpnn::Precision precision,
                                 bpnn::Optimizer optimizer, MessageSizes messages, std::size_t batch = 160) {
  const std::size_t rows = batch + 190, epochs = 2;
  const bpnn::Dataset data = class_data(rows);
  std::vector<std::vector<double>> result(static_cast<std::size_t>(ranks));
  on_ranks(ranks, [&](int r, LoopbackExchange& exchange) {
    bpnn::NetworkConfig nc = sharded_net(precision);
    nc.sizes = sizes;
    bpnn::Network net(nc);
    ShardedRun run;
    run.epochs = epochs;
    bpnn::TrainConfig tc = sharded_config(optimizer, run);
    tc.batch = batch;
    bpnn::Trainer trainer(net, tc, data);
    bpnn::trainer_exchange_set(trainer, exchange);
    trainer.run();
    result[static_cast<std::size_t>(r)] = params(net);
  }, messages.piece_bytes, messages.segment_bytes);
  for (const std::vector<double>& p : result)
    if (!bpnn_test::same_bits(p, result.front())) throw std::logic_error("the ranks' parameters differ");
  return result.front();
}

}  // namespace

TEST_CASE("blocks: every step has the batch's rows, every row is used once an epoch, blocks ignore the ranks",
          "[exchange]") {
  for (std::size_t rows = 1; rows <= 300; ++rows)
    for (const std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{16}, std::size_t{67}, std::size_t{200}}) {
      const bpnn::ShardBlocks b = bpnn::shard_blocks_make(rows, batch, 1000);
      REQUIRE(b.shards == bpnn::shard_count(std::min(rows, batch), 1000, std::size_t{1} << 20));
      CHECK(b.block_first(0) == 0);
      CHECK(b.block_first(b.shards) == rows);
      const std::size_t last = rows - b.full_steps * b.batch;
      for (std::size_t s = 0; s < b.shards; ++s) {
        // a block holds its shard's share of every step, and has rows
        const std::size_t size = b.block_first(s + 1) - b.block_first(s);
        CHECK(size == b.full_steps * b.share(s, b.batch) + b.share(s, last));
        CHECK(size > 0);
      }
      std::size_t sum = 0;
      for (std::size_t s = 0; s < b.shards; ++s) sum += b.share(s, last);
      CHECK(sum == last);
    }
  std::vector<std::size_t> order(40);
  bpnn::block_order_fill(order.data(), order.size(), false, 9, 2, 0);
  for (std::size_t i = 0; i < order.size(); ++i) CHECK(order[i] == i);
  std::vector<std::size_t> other(40);
  bpnn::block_order_fill(order.data(), order.size(), true, 9, 2, 0);
  bpnn::block_order_fill(other.data(), other.size(), true, 9, 2, 1);
  CHECK(order != other);  // a new order every epoch
  std::sort(order.begin(), order.end());
  for (std::size_t i = 0; i < order.size(); ++i) CHECK(order[i] == i);
}

TEST_CASE("sharded layout: the validation rows, the blocks' file rows and each rank's range", "[exchange]") {
  for (const std::size_t n : {std::size_t{30}, std::size_t{137}, std::size_t{1000}})
    for (const double f : {0.0, 0.1, 0.25}) {
      bpnn::TrainConfig tc;
      tc.batch = 23;
      tc.val_split = f;
      tc.seed = 4;
      const std::vector<std::size_t> held = f > 0 ? bpnn::split_rows(n, f, tc.seed).test : std::vector<std::size_t>{};
      const bpnn::ShardLayout layout = bpnn::shard_layout_make(sharded_net(bpnn::Precision::f32), tc, n, held);
      std::vector<std::size_t> validation;
      for (std::size_t i = 0; i < n; ++i)
        if (layout.is_validation(i)) validation.push_back(i);
      CHECK(validation == held);
      CHECK(layout.validation_rows == held.size());
      CHECK(layout.blocks.rows == n - held.size());
      const std::size_t shards = layout.blocks.shards;
      REQUIRE(layout.block_file_first.size() == shards + 1);
      CHECK(layout.block_file_first.front() == 0);
      CHECK(layout.block_file_first.back() == n);
      for (std::size_t s = 0; s < shards; ++s) {  // each block's file rows hold its training rows
        std::size_t training = 0;
        for (std::size_t i = layout.block_file_first[s]; i < layout.block_file_first[s + 1]; ++i)
          training += !layout.is_validation(i);
        CHECK(training == layout.blocks.block_first(s + 1) - layout.blocks.block_first(s));
      }
      for (std::size_t ranks = 1; ranks <= 5; ++ranks) {
        CHECK(layout.rank_file_rows(0, ranks).begin == 0);
        CHECK(layout.rank_file_rows(ranks - 1, ranks).end == n);
        for (std::size_t r = 0; r + 1 < ranks; ++r)
          CHECK(layout.rank_file_rows(r, ranks).end == layout.rank_file_rows(r + 1, ranks).begin);
      }
    }
  const bpnn::NetworkConfig nc = sharded_net(bpnn::Precision::f32);
  bpnn::TrainConfig tc;
  tc.val_split = 0.5;
  CHECK_THROWS_WITH(bpnn::shard_layout_make(nc, tc, 1, {0}), Catch::Contains("too few"));
  CHECK_THROWS_WITH(bpnn::shard_layout_make(nc, tc, 10, {}), Catch::Contains("too few"));
  CHECK_THROWS_WITH(bpnn::shard_layout_make(nc, tc, 10, {3, 10}), Catch::Contains("past the 10 rows"));
  CHECK_THROWS_WITH(bpnn::shard_layout_make(nc, tc, 10, {4, 4}), Catch::Contains("out of order"));
  tc.val_split = 0;
  CHECK_THROWS_WITH(bpnn::shard_layout_make(nc, tc, 10, {4}), Catch::Contains("without val_split"));
}

TEST_CASE("sharded data-parallel training holds out the rows bpnn::train holds out (the stratified split)",
          "[exchange][train]") {
  for (const bpnn::Precision precision : {bpnn::Precision::f32, bpnn::Precision::f64})
    for (const int ranks : {1, 3}) {
      ShardedRun run;
      run.val_split = 0.2;
      std::vector<double> val;
      double heldout = 0;
      train_sharded(ranks, precision, bpnn::Optimizer::adam, run, &val, &heldout);
      REQUIRE(val.size() == run.epochs);
      INFO(ranks << " ranks, " << bpnn::to_string(precision) << ": last validation loss " << val.back()
                 << ", the trained network on bpnn::train's held-out rows " << heldout);
      // the same rows, summed in another order
      CHECK(std::abs(val.back() - heldout) <= (precision == bpnn::Precision::f32 ? 1e-6 : 1e-12) * heldout);
    }
}

TEST_CASE("sharded data-parallel training: each rank holds only its rows, the same bits for 1 to 6 ranks",
          "[exchange][train]") {
  for (const bpnn::Precision precision : {bpnn::Precision::f32, bpnn::Precision::f64})
    for (const bpnn::Optimizer optimizer : {bpnn::Optimizer::sgd, bpnn::Optimizer::adam})
      for (const double val_split : {0.0, 0.15}) {
        ShardedRun run;
        run.val_split = val_split;
        std::vector<double> one_val;
        const std::vector<double> one = train_sharded(1, precision, optimizer, run, &one_val).front();
        REQUIRE(one_val.size() == run.epochs);
        CHECK(std::isnan(one_val[0]) == (val_split == 0));
        if (val_split == 0) {  // the same as every rank holding the whole data (trainer_exchange_set)
          Post post;
          LoopbackExchange exchange(post, 0, 1);
          bpnn::Network net(sharded_net(precision));
          const bpnn::Dataset data = class_data(run.rows);  // kept: an f64 trainer uses it in place
          bpnn::Trainer whole(net, sharded_config(optimizer, run), data);
          bpnn::trainer_exchange_set(whole, exchange);
          whole.run();
          CHECK(bpnn_test::same_bits(params(net), one));
        }
        for (int ranks = 2; ranks <= 6; ++ranks) {  // 6: a rank without blocks
          std::vector<double> val;
          INFO(ranks << " ranks, " << bpnn::to_string(precision) << ", " << bpnn::to_string(optimizer)
                     << ", val_split " << val_split);
          for (const std::vector<double>& p : train_sharded(ranks, precision, optimizer, run, &val))
            CHECK(bpnn_test::same_bits(p, one));
          CHECK(bpnn_test::same_bits(val, one_val));
        }
      }
}

TEST_CASE("sharded data-parallel training: a checkpoint written under 2 ranks resumes under 3 with the same bits",
          "[exchange][train][checkpoint]") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("bpnn_sharded_resume_" + std::to_string(::getpid()) + ".ckpt")).string();
  ShardedRun straight;
  straight.val_split = 0.15;
  straight.epochs = 4;
  const std::vector<double> want = train_sharded(1, bpnn::Precision::f32, bpnn::Optimizer::adam, straight).front();
  ShardedRun first = straight;
  first.epochs = 2;
  first.checkpoint = path;
  train_sharded(2, bpnn::Precision::f32, bpnn::Optimizer::adam, first);
  ShardedRun second = straight;
  second.resume = path;
  for (const std::vector<double>& p : train_sharded(3, bpnn::Precision::f32, bpnn::Optimizer::adam, second))
    CHECK(bpnn_test::same_bits(p, want));
  // a data-parallel checkpoint is not resumed by a run without MPI (its order is per block)
  bpnn::Network net(sharded_net(bpnn::Precision::f32));
  const bpnn::Dataset data = class_data(straight.rows);
  bpnn::Trainer plain(net, sharded_config(bpnn::Optimizer::adam, straight), data);
  CHECK_THROWS_WITH(plain.resume(path), Catch::Contains("data-parallel run (mpirun)"));
  std::filesystem::remove(path);
}

TEST_CASE("shards: contiguous ranges per rank, balanced, covering every shard once", "[exchange]") {
  for (std::size_t shards = 1; shards <= 70; ++shards)
    for (std::size_t ranks = 1; ranks <= 9; ++ranks) {
      CHECK(rank_first_shard(0, shards, ranks) == 0);
      CHECK(rank_first_shard(ranks, shards, ranks) == shards);
      for (std::size_t r = 0; r < ranks; ++r) {
        const std::size_t a = rank_first_shard(r, shards, ranks), b = rank_first_shard(r + 1, shards, ranks);
        REQUIRE(a <= b);
        CHECK(b - a >= shards / ranks);
        CHECK(b - a <= shards / ranks + 1);
        for (std::size_t s = a; s < b; ++s) REQUIRE(shard_rank(s, shards, ranks) == r);
      }
    }
}

TEST_CASE("shards: every shard has rows, the rows add up, the count ignores the ranks", "[exchange]") {
  for (std::size_t rows = 1; rows <= 600; ++rows)
    for (const std::size_t weights : {std::size_t{1000}, std::size_t{4} << 20}) {
      const std::size_t shards = bpnn::shard_count(rows, weights, std::size_t{1} << 20);
      REQUIRE(shards >= 1);
      REQUIRE(shards <= bpnn::max_shards);
      CHECK(shard_first_row(0, shards, rows) == 0);
      CHECK(shard_first_row(shards, shards, rows) == rows);
      for (std::size_t s = 0; s < shards; ++s)
        CHECK(shard_first_row(s + 1, shards, rows) > shard_first_row(s, shards, rows));
    }
  CHECK(bpnn::shard_count(37, 1000, 1 << 20) == 3);
  CHECK(bpnn::shard_count(64, 1000, 1 << 20) == 4);
  CHECK(bpnn::shard_count(256, 4 << 20, 1 << 20) == 4);
  CHECK(bpnn::shard_count(100000, 1000, 1 << 20) == 64);
}

TEST_CASE("shard tree: left children are the largest power of two below the node", "[exchange]") {
  for (std::size_t lo = 0; lo < 5; ++lo)
    for (std::size_t size = 2; size <= 70; ++size) {
      const std::size_t left = shard_tree_split(lo, lo + size) - lo;
      CHECK((left & (left - 1)) == 0);
      CHECK(left < size);
      CHECK(2 * left >= size);
    }
}

TEST_CASE("data-parallel training on 1 to 6 in-process ranks: the same bits on every rank and for every rank count",
          "[exchange][train]") {
  for (const bpnn::Precision precision : {bpnn::Precision::f32, bpnn::Precision::f64})
    for (const bpnn::Optimizer optimizer : {bpnn::Optimizer::sgd, bpnn::Optimizer::adam}) {
      const std::vector<double> one = train_ranks(1, precision, optimizer).front();
      for (int ranks = 2; ranks <= 6; ++ranks)  // 6: more ranks than the 5 shards of a step
        for (const std::vector<double>& p : train_ranks(ranks, precision, optimizer)) {
          INFO(ranks << " ranks, " << bpnn::to_string(precision) << ", " << bpnn::to_string(optimizer));
          CHECK(bpnn_test::same_bits(p, one));
        }
    }
}

// The gradient is reduced segment by segment (layers of at least reduce_segment_bytes), last
// layer first, in pieces of reduce_piece_bytes, with messages in flight while the next segment's
// sum is computed (trainer_core.cpp, tree_reduce): a segment sent before it is summed, a piece
// added to the wrong place or node, or a buffer reused before its message completed changes the
// bits. Batch 160 gives 10 shards: under 3 ranks rank 1 sums a node whose right child ends on
// rank 2 (its left child added tile by tile once the right one has arrived), rank 2 sends one
// node and swaps another with rank 0 (summed in the same buffer once the first one's sends are
// done); under 4 ranks the root's right child starts on rank 3. Tiny pieces (16 f32) make rank 0's receives
// outgrow its receive ring, so receives wait for room; segment sizes of 0 and 1 KB give every
// layer its own segment, or join the small ones.
TEST_CASE("data-parallel training reduces layers of different sizes in a pipeline: the same bits for 1 to 4 ranks",
          "[exchange][train]") {
  const std::vector<std::size_t> sizes = {5, 24, 9, 17, 3};
  for (const bpnn::Precision precision : {bpnn::Precision::f32, bpnn::Precision::f64})
    for (const bpnn::Optimizer optimizer : {bpnn::Optimizer::sgd, bpnn::Optimizer::adam}) {
      const std::vector<double> one = train_layers(1, sizes, precision, optimizer, {});
      for (const MessageSizes messages : {MessageSizes{}, MessageSizes{64, 0}, MessageSizes{256, 1024}})
        for (const int ranks : {2, 3, 4}) {
          INFO(ranks << " ranks, " << bpnn::to_string(precision) << ", " << bpnn::to_string(optimizer) << ", pieces of "
                     << messages.piece_bytes << " bytes, segments of " << messages.segment_bytes);
          CHECK(bpnn_test::same_bits(train_layers(ranks, sizes, precision, optimizer, messages), one));
        }
    }
}

// A deep network (6 layers of mixed widths): the δ of each layer are computed while the layers
// above travel (trainer_core.cpp, tree_deltas), and with more than two ranks rank 0 sends each
// segment's root down the broadcast chain as soon as it is final. Segments of one layer each (0
// bytes), of small layers joined (1 KB, 2 KB) or of the whole arena (the default), in pieces of
// 16 to 64 f32: a δ computed before the layer above's, a segment broadcast before it is final or
// received into a buffer a send still reads changes the bits.
TEST_CASE("data-parallel training of a deep network, segment by segment: the same bits for 1 to 5 ranks",
          "[exchange][train]") {
  const std::vector<std::size_t> sizes = {5, 40, 7, 33, 3, 21, 3};
  for (const bpnn::Precision precision : {bpnn::Precision::f32, bpnn::Precision::f64})
    for (const bpnn::Optimizer optimizer : {bpnn::Optimizer::sgd, bpnn::Optimizer::adam}) {
      const std::vector<double> one = train_layers(1, sizes, precision, optimizer, {});
      for (const MessageSizes messages :
           {MessageSizes{}, MessageSizes{64, 0}, MessageSizes{256, 1024}, MessageSizes{128, 2048}})
        for (const int ranks : {2, 3, 4, 5}) {
          INFO(ranks << " ranks, " << bpnn::to_string(precision) << ", " << bpnn::to_string(optimizer) << ", pieces of "
                     << messages.piece_bytes << " bytes, segments of " << messages.segment_bytes);
          CHECK(bpnn_test::same_bits(train_layers(ranks, sizes, precision, optimizer, messages), one));
        }
    }
}

// Each rank's gradient memory (README "Training on many machines (MPI)"): the gradient and a
// receive ring of at most the parameters' size, nothing arena-sized more. A rank sends several
// nodes from one buffer (each after the previous one's sends), and adds a left child to a right
// child that spans other ranks a tile at a time; one buffer per node sent or added needed up to 4
// more arena-sized buffers (S = 52, 62, 64) before. Shard counts whose trees cut the ranks' ranges
// at many depths; then the same bits as one rank for the deepest cuts, in tiny pieces (rendezvous
// sends that wait for their receive: a deadlock hangs here).
TEST_CASE("data-parallel training holds no arena-sized buffer beyond the gradient and the receive ring",
          "[exchange][train]") {
  for (const std::size_t shards : {10, 16, 32, 52, 62, 64})
    for (int ranks = 2; ranks <= 5; ++ranks) {
      const bpnn::Dataset data = class_data(16 * shards);
      std::vector<std::size_t> beyond(static_cast<std::size_t>(ranks)), arena(beyond.size()), cut(beyond.size()),
          computed(beyond.size());
      on_ranks(ranks, [&](int r, LoopbackExchange& exchange) {
        const bpnn::NetworkConfig nc = sharded_net(bpnn::Precision::f64);
        bpnn::Mlp<double> mlp(nc, bpnn::kernels::kernels_select<double>());
        bpnn::TrainConfig tc = sharded_config(bpnn::Optimizer::sgd, ShardedRun{});
        tc.batch = data.n;
        bpnn::TrainerCore<double> core(mlp, tc, data.x.data(), data.y.data(), data.n);
        core.set_exchange(exchange);
        const std::size_t i = static_cast<std::size_t>(r);
        beyond[i] = core.reduction_buffer_elements();
        computed[i] = core.reduction_shard_gradients();
        arena[i] = mlp.arena().size();
        cut[i] = bpnn::shard_blocks_make(data.n, data.n, 16 * 5 * sizeof(double)).shards;
      });
      for (std::size_t r = 0; r < beyond.size(); ++r) {
        INFO("S = " << shards << ", P = " << ranks << ", rank " << r);
        REQUIRE(cut[r] == shards);
        CHECK(beyond[r] <= arena[r]);  // with the gradient: 2x the parameter bytes
        // each of the rank's shards' gradients computed once (a left child summed and then
        // overwritten would be computed twice)
        CHECK(computed[r] == bpnn::rank_first_shard(r + 1, shards, beyond.size()) -
                                 bpnn::rank_first_shard(r, shards, beyond.size()));
      }
    }
  const std::vector<std::size_t> sizes = {5, 24, 9, 17, 3};
  for (const std::size_t shards : {52, 62}) {
    const std::vector<double> one = train_layers(1, sizes, bpnn::Precision::f32, bpnn::Optimizer::adam, {}, 16 * shards);
    for (int ranks = 2; ranks <= 5; ++ranks) {
      INFO("S = " << shards << ", P = " << ranks);
      CHECK(bpnn_test::same_bits(
          train_layers(ranks, sizes, bpnn::Precision::f32, bpnn::Optimizer::adam, {64, 0}, 16 * shards), one));
    }
  }
}

// A step that fails in the middle of the reduction (here the transport, on every rank, at its
// first progress call: messages of the first segment are in flight) cancels every message it
// started before the buffers can be freed, and the trainer refuses any further step: the ranks'
// messages are out of step.
TEST_CASE("data-parallel training: a step that fails mid-reduction cancels its messages and takes no further step",
          "[exchange][train]") {
  const bpnn::Dataset data = class_data(350);
  std::vector<std::size_t> live(2);
  std::vector<int> cancels(2);
  std::vector<std::string> first(2), second(2);
  on_ranks(2, [&](int r, LoopbackExchange& exchange) {
    bpnn::NetworkConfig nc = sharded_net(bpnn::Precision::f64);
    nc.sizes = {5, 24, 9, 17, 3};
    bpnn::Mlp<double> mlp(nc, bpnn::kernels::kernels_select<double>());
    bpnn::TrainConfig tc = sharded_config(bpnn::Optimizer::adam, ShardedRun{});
    tc.batch = 160;
    bpnn::TrainerCore<double> core(mlp, tc, data.x.data(), data.y.data(), data.n);
    core.set_exchange(exchange);
    exchange.fail_progress_at(1);
    const std::size_t i = static_cast<std::size_t>(r);
    try {
      core.run_epoch();
    } catch (const bpnn::Error& e) {
      first[i] = e.what();
    }
    live[i] = exchange.live_requests();
    cancels[i] = exchange.cancels();
    try {
      core.run_epoch();
    } catch (const bpnn::Error& e) {
      second[i] = e.what();
    }
  }, 64, 0);
  for (std::size_t r = 0; r < 2; ++r) {
    INFO("rank " << r);
    CHECK(first[r] == "loopback: progress failed on purpose");
    CHECK(cancels[r] == 1);
    CHECK(live[r] == 0);
    CHECK(second[r].find("an earlier step failed in the middle of the gradient exchange") != std::string::npos);
  }
}

TEST_CASE("the collective error flag: one rank's error reaches every rank, with its kind and rank", "[exchange]") {
  constexpr int ranks = 3;
  std::vector<std::string> messages(ranks);
  std::vector<int> kinds(ranks, -1);
  on_ranks(ranks, [&](int r, LoopbackExchange& exchange) {
    bpnn::exchange_agree(exchange, nullptr);  // nobody failed: returns on every rank
    std::exception_ptr failure;
    if (r == 2) failure = std::make_exception_ptr(bpnn::Error(bpnn::ErrorKind::data, "shard.csv:7:3: not a number"));
    try {
      bpnn::exchange_agree(exchange, failure);
    } catch (const bpnn::Error& e) {
      messages[static_cast<std::size_t>(r)] = e.what();
      kinds[static_cast<std::size_t>(r)] = static_cast<int>(e.kind());
    }
  });
  for (int r = 0; r < ranks; ++r) {
    CHECK(messages[static_cast<std::size_t>(r)] == "rank 2: shard.csv:7:3: not a number");
    CHECK(kinds[static_cast<std::size_t>(r)] == static_cast<int>(bpnn::ErrorKind::data));
  }
}

TEST_CASE("scaler partials: per-block statistics merged in order give scaler_fit's scaler", "[exchange][scaler]") {
  const bpnn::Dataset data = class_data(301);
  std::vector<double> x = data.x;
  for (std::size_t i = 0; i < x.size(); i += 5) x[i] = x[i] * 1000 + 1e6;  // a column far from 0
  for (const bpnn::Scaling kind : {bpnn::Scaling::standard, bpnn::Scaling::minmax}) {
    const bpnn::InputScaler whole = bpnn::scaler_fit(kind, x.data(), data.n, data.inputs);
    for (const std::size_t blocks : {std::size_t{1}, std::size_t{3}, std::size_t{7}}) {
      bpnn::ScalerPartial merged = bpnn::scaler_partial_fit(kind, nullptr, 0, data.inputs);
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t from = bpnn::shard_first_row(b, blocks, data.n), to = bpnn::shard_first_row(b + 1, blocks, data.n);
        bpnn::scaler_partial_merge(merged, bpnn::scaler_partial_fit(kind, x.data() + from * data.inputs, to - from, data.inputs));
      }
      const bpnn::InputScaler s = bpnn::scaler_from_partial(merged);
      REQUIRE(s.kind == kind);
      for (std::size_t j = 0; j < data.inputs; ++j) {
        INFO(bpnn::to_string(kind) << ", " << blocks << " blocks, column " << j);
        CHECK(s.offset[j] == Approx(whole.offset[j]).epsilon(1e-12));
        CHECK(s.factor[j] == Approx(whole.factor[j]).epsilon(1e-12));
        if (blocks == 1) {  // one block: the same operations as scaler_fit
          CHECK(s.offset[j] == whole.offset[j]);
          CHECK(s.factor[j] == whole.factor[j]);
        }
      }
    }
  }
  CHECK_THROWS_AS(bpnn::scaler_from_partial(bpnn::scaler_partial_fit(bpnn::Scaling::standard, nullptr, 0, 3)),
                  bpnn::Error);
}
