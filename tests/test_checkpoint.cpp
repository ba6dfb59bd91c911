// Checkpoints: a run stopped after some epochs and resumed from its checkpoint ends with the same
// bits as the run never stopped — every optimizer, with schedules, validation and early stopping,
// at several thread counts; what resume refuses (another config, other data, a corrupt file).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "cli_run.hpp"
#include "same_bits.hpp"
#include "train_test_util.hpp"

namespace {

namespace fs = std::filesystem;

// A scratch folder; dir / "name" is a path in it.
struct TempDir : bpnn_test::ScratchDir {
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

bpnn::Dataset classes_data(std::size_t n, std::size_t in, std::size_t k, std::uint64_t seed) {
  return bpnn_test::random_class_data(n, in, k, seed, true);
}

bpnn::NetworkConfig net_config(bpnn::Precision precision) {
  bpnn::NetworkConfig nc{{4, 6, 3}};
  nc.output_act = bpnn::Activation::softmax;
  nc.loss = bpnn::Loss::xent;
  nc.precision = precision;
  nc.seed = 9;
  return nc;
}

// Trains `epochs` epochs in one go; returns the parameters.
std::vector<double> uninterrupted(const bpnn::NetworkConfig& nc, bpnn::TrainConfig tc, const bpnn::Dataset& data) {
  bpnn::Network net(nc);
  bpnn::train(net, tc, data);
  return bpnn_test::all_parameters(net);
}

// Trains `stop_at` epochs writing a checkpoint, then resumes from it (a new network and trainer,
// `threads` threads) up to tc.epochs.
std::vector<double> resumed(const bpnn::NetworkConfig& nc, bpnn::TrainConfig tc, const bpnn::Dataset& data,
                            std::size_t stop_at, int threads, const std::string& path) {
  {
    bpnn::Network net(nc);
    bpnn::TrainConfig first = tc;
    first.checkpoint = path;
    bpnn::Trainer trainer(net, first, data);
    for (std::size_t e = 0; e < stop_at && !trainer.should_stop(); ++e) trainer.run_epoch();
    trainer.checkpoint_save(path);
  }
  bpnn::Checkpoint ck = bpnn::checkpoint_read(path);
  CHECK(ck.epochs_done <= stop_at);
  tc.threads = threads;
  bpnn::Trainer trainer(ck.network, tc, data);
  trainer.resume(path);
  trainer.run();
  return bpnn_test::all_parameters(ck.network);
}

}  // namespace

TEST_CASE("resume equals uninterrupted, bit for bit, for every optimizer", "[checkpoint]") {
  TempDir dir;
  const bpnn::Dataset data = classes_data(90, 4, 3, 4);
  struct Case {
    bpnn::Optimizer optimizer;
    const char* schedule;
    std::size_t batch;
    double clip;
  };
  const std::vector<Case> cases{
      {bpnn::Optimizer::sgd, "constant", 1, 0},        {bpnn::Optimizer::sgd, "step:2:0.5", 8, 0},
      {bpnn::Optimizer::momentum, "cosine", 8, 0},     {bpnn::Optimizer::nesterov, "plateau:1:0.5", 4, 0},
      {bpnn::Optimizer::adam, "cosine", 8, 1.0},       {bpnn::Optimizer::adamw, "step:3:0.1", 16, 0},
      {bpnn::Optimizer::irprop, "constant", 1, 0}};
  for (const auto precision : {bpnn::Precision::f64, bpnn::Precision::f32}) {
    for (const Case& c : cases) {
      INFO("optimizer " << bpnn::to_string(c.optimizer) << " schedule " << c.schedule);
      bpnn::TrainConfig tc;
      tc.optimizer = c.optimizer;
      tc.schedule = bpnn::parse_schedule(c.schedule);
      tc.batch = c.batch;
      tc.clip = c.clip;
      tc.epochs = 6;
      tc.seed = 5;
      if (c.optimizer == bpnn::Optimizer::sgd && c.batch == 8) tc.l2 = 1e-3;
      const auto whole = uninterrupted(net_config(precision), tc, data);
      for (int threads : {1, 2, 3})
        CHECK(bpnn_test::same_bits(whole, resumed(net_config(precision), tc, data, 2 + threads % 2, threads,
                                                  dir / "run.ckpt")));
    }
  }
}

TEST_CASE("resume with validation, early stopping and a scaler", "[checkpoint][validation]") {
  TempDir dir;
  bpnn::Dataset data = classes_data(150, 4, 3, 8);
  for (double& v : data.x) v = v * 40 + 7;  // something to scale
  bpnn::NetworkConfig nc = net_config(bpnn::Precision::f64);
  bpnn::TrainConfig tc;
  tc.optimizer = bpnn::Optimizer::adam;
  tc.learning_rate = 0.05;
  tc.batch = 8;
  tc.epochs = 60;
  tc.val_split = 0.3;
  tc.early_stop = 3;
  tc.schedule = bpnn::parse_schedule("plateau:1:0.5");
  bpnn::Network whole_net(nc);
  whole_net.set_scaler(bpnn::scaler_fit(bpnn::Scaling::standard, data.x.data(), data.n, data.inputs));
  const bpnn::TrainReport report = bpnn::train(whole_net, tc, data);
  REQUIRE(report.stopped_early);
  for (std::size_t stop_at : {std::size_t{1}, report.best_epoch + 1, report.epochs_run - 1, report.epochs_run}) {
    INFO("stopped after " << stop_at << " of " << report.epochs_run << " epochs");
    {
      bpnn::Network net(nc);
      net.set_scaler(whole_net.scaler());
      bpnn::Trainer trainer(net, tc, data);
      for (std::size_t e = 0; e < stop_at; ++e) trainer.run_epoch();
      trainer.checkpoint_save(dir / "es.ckpt");
    }
    bpnn::Checkpoint ck = bpnn::checkpoint_read(dir / "es.ckpt");
    CHECK(ck.config.val_split == 0.3);
    CHECK(ck.config.early_stop == 3);
    bpnn::Trainer trainer(ck.network, tc, data);
    trainer.resume(dir / "es.ckpt");
    const bpnn::TrainReport rest = trainer.run();
    CHECK(rest.best_epoch == report.best_epoch);
    CHECK(bpnn_test::same_bits(bpnn_test::all_parameters(whole_net), bpnn_test::all_parameters(ck.network)));
  }
}

TEST_CASE("more epochs on resume continue to the new total", "[checkpoint]") {
  TempDir dir;
  const bpnn::Dataset data = classes_data(60, 4, 3, 2);
  bpnn::TrainConfig tc;
  tc.optimizer = bpnn::Optimizer::momentum;
  tc.batch = 6;
  tc.schedule = bpnn::parse_schedule("step:2:0.5");
  tc.epochs = 7;
  const auto seven = uninterrupted(net_config(bpnn::Precision::f64), tc, data);
  tc.epochs = 3;
  tc.checkpoint = dir / "c.ckpt";
  bpnn::Network net(net_config(bpnn::Precision::f64));
  bpnn::train(net, tc, data);  // writes the final checkpoint after epoch 3
  bpnn::Checkpoint ck = bpnn::checkpoint_read(dir / "c.ckpt");
  CHECK(ck.epochs_done == 3);
  CHECK(ck.config.epochs == 3);
  tc.epochs = 7;
  tc.checkpoint.clear();
  bpnn::Trainer trainer(ck.network, tc, data);
  trainer.resume(dir / "c.ckpt");
  CHECK(trainer.run().epochs_run == 4);
  CHECK(bpnn_test::same_bits(seven, bpnn_test::all_parameters(ck.network)));
}

TEST_CASE("checkpoint_every writes along the way", "[checkpoint]") {
  TempDir dir;
  const bpnn::Dataset data = classes_data(30, 4, 3, 2);
  bpnn::TrainConfig tc;
  tc.epochs = 5;
  tc.checkpoint = dir / "every.ckpt";
  tc.checkpoint_every = 2;
  bpnn::Network net(net_config(bpnn::Precision::f32));
  std::vector<std::size_t> seen;
  bpnn::train(net, tc, data, [&](const bpnn::EpochStats& s) {
    seen.push_back(fs::exists(tc.checkpoint) ? bpnn::checkpoint_read(tc.checkpoint).epochs_done : 0);
    (void)s;
    return bpnn::EpochAction::go_on;
  });
  CHECK(seen == std::vector<std::size_t>{0, 2, 2, 4, 4});
  CHECK(bpnn::checkpoint_read(tc.checkpoint).epochs_done == 5);
}

TEST_CASE("resume refuses another config, other data and a corrupt file", "[checkpoint]") {
  TempDir dir;
  const bpnn::Dataset data = classes_data(40, 4, 3, 1);
  bpnn::TrainConfig tc;
  tc.optimizer = bpnn::Optimizer::adam;
  tc.batch = 4;
  tc.epochs = 2;
  tc.checkpoint = dir / "r.ckpt";
  bpnn::Network net(net_config(bpnn::Precision::f32));
  bpnn::train(net, tc, data);
  const auto kind_of = [&](bpnn::TrainConfig changed, const bpnn::Dataset& d, const std::string& path) {
    bpnn::Checkpoint ck = bpnn::checkpoint_read(dir / "r.ckpt");
    changed.checkpoint.clear();
    bpnn::Trainer trainer(ck.network, changed, d);
    try {
      trainer.resume(path);
    } catch (const bpnn::Error& e) {
      return e.kind();
    }
    return bpnn::ErrorKind::internal;  // "no error"
  };
  bpnn::TrainConfig same = tc;
  same.epochs = 4;
  same.threads = 2;
  CHECK(kind_of(same, data, dir / "r.ckpt") == bpnn::ErrorKind::internal);
  bpnn::TrainConfig lr = tc;
  lr.learning_rate = 0.01;
  CHECK(kind_of(lr, data, dir / "r.ckpt") == bpnn::ErrorKind::argument);
  bpnn::TrainConfig batch = tc;
  batch.batch = 5;
  CHECK(kind_of(batch, data, dir / "r.ckpt") == bpnn::ErrorKind::argument);
  bpnn::TrainConfig fewer = tc;
  fewer.epochs = 1;
  CHECK(kind_of(fewer, data, dir / "r.ckpt") == bpnn::ErrorKind::argument);
  bpnn::Dataset other = data;
  other.x[17] += 1e-9;
  CHECK(kind_of(tc, other, dir / "r.ckpt") == bpnn::ErrorKind::data);
  const bpnn::Dataset shorter = classes_data(39, 4, 3, 1);
  CHECK(kind_of(tc, shorter, dir / "r.ckpt") == bpnn::ErrorKind::data);

  // one flipped byte anywhere: Error(format); a model file is not a checkpoint
  std::ifstream in(dir / "r.ckpt", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (std::size_t at : {std::size_t{20}, bytes.size() / 2, bytes.size() - 3}) {
    std::string bad = bytes;
    bad[at] ^= 0x10;
    std::ofstream(dir / "bad.ckpt", std::ios::binary) << bad;
    CHECK_THROWS_AS(bpnn::checkpoint_read(dir / "bad.ckpt"), bpnn::Error);
    CHECK(kind_of(tc, data, dir / "bad.ckpt") == bpnn::ErrorKind::format);
  }
  bpnn::save_model(net, dir / "model.safetensors");
  CHECK(kind_of(tc, data, dir / "model.safetensors") == bpnn::ErrorKind::format);
  CHECK_THROWS_AS(bpnn::load_model(dir / "r.ckpt"), bpnn::Error);
}
