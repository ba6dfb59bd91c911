// The shard cut and the fixed summation tree of data-parallel training
// (train/gradient_exchange.hpp), and data-parallel training itself on an in-process exchange:
// P "ranks" as threads passing messages through mailboxes, so the same-bits property is tested
// without MPI too (tests/mpi/ test it under mpirun).
#include <catch2/catch.hpp>

#include <chrono>
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
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "same_bits.hpp"
#include "train/gradient_exchange.hpp"

namespace {

using bpnn::rank_first_shard;
using bpnn::shard_first_row;
using bpnn::shard_rank;
using bpnn::shard_tree_split;

// Mailboxes shared by the ranks of one in-process run.
struct Post {
  std::mutex mutex;
  std::condition_variable arrived;
  std::map<std::tuple<int, int, int>, std::deque<std::vector<char>>> boxes;  // (from, to, tag)
};

class LoopbackExchange final : public bpnn::GradientExchange {
 public:
  LoopbackExchange(Post& post, int rank, int ranks) : post_(post), rank_(rank), ranks_(ranks) {}
  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }
  void send(int to, int tag, const void* data, std::size_t bytes) override {
    const char* p = static_cast<const char*>(data);
    std::lock_guard lock(post_.mutex);
    post_.boxes[{rank_, to, tag}].emplace_back(p, p + bytes);
    post_.arrived.notify_all();
  }
  void receive(int from, int tag, void* data, std::size_t bytes) override {
    std::unique_lock lock(post_.mutex);
    auto& box = post_.boxes[{from, rank_, tag}];
    // a deadlock fails the test (every waiting rank gives up) instead of hanging it
    if (!post_.arrived.wait_for(lock, std::chrono::seconds(60), [&] { return !box.empty(); }))
      throw std::runtime_error("loopback: rank " + std::to_string(rank_) + " waited 60 s for rank " +
                               std::to_string(from) + " (tag " + std::to_string(tag) + "): a deadlock");
    if (box.front().size() != bytes) throw std::logic_error("loopback: message size differs");
    std::memcpy(data, box.front().data(), bytes);
    box.pop_front();
  }
  void send_receive(int peer, int tag, const void* out, void* in, std::size_t bytes) override {
    send(peer, tag, out, bytes);  // mailboxes never block a send
    receive(peer, tag, in, bytes);
  }
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
  Post& post_;
  int rank_, ranks_;
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

// Trains on `ranks` in-process ranks; every rank's parameters.
std::vector<std::vector<double>> train_ranks(int ranks, bpnn::Precision precision, bpnn::Optimizer optimizer) {
  const bpnn::Dataset data = class_data(150);  // steps of 67, 67 and 16 rows: 5, 5 and 1 shards
  Post post;
  std::vector<std::vector<double>> result(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> failures(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        LoopbackExchange exchange(post, r, ranks);
        bpnn::NetworkConfig nc;
        nc.sizes = {5, 16, 3};
        nc.hidden_act = bpnn::Activation::tanh;
        nc.output_act = bpnn::Activation::softmax;
        nc.loss = bpnn::Loss::xent;
        nc.precision = precision;
        bpnn::Network net(nc);
        bpnn::TrainConfig tc;
        tc.optimizer = optimizer;
        tc.learning_rate = optimizer == bpnn::Optimizer::adam ? 0.01 : 0.3;
        tc.batch = 67;
        tc.epochs = 3;
        tc.threads = 1;
        bpnn::Trainer trainer(net, tc, data);
        bpnn::trainer_exchange_set(trainer, exchange);
        trainer.run();
        result[static_cast<std::size_t>(r)] = params(net);
      } catch (...) {
        failures[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& f : failures)
    if (f) std::rethrow_exception(f);
  return result;
}

}  // namespace

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

TEST_CASE("the collective error flag: one rank's error reaches every rank, with its kind and rank", "[exchange]") {
  constexpr int ranks = 3;
  Post post;
  std::vector<std::string> messages(ranks);
  std::vector<int> kinds(ranks, -1);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      LoopbackExchange exchange(post, r, ranks);
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
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < ranks; ++r) {
    CHECK(messages[static_cast<std::size_t>(r)] == "rank 2: shard.csv:7:3: not a number");
    CHECK(kinds[static_cast<std::size_t>(r)] == static_cast<int>(bpnn::ErrorKind::data));
  }
}
