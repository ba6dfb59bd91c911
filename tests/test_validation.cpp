// Validation and early stopping: the per-epoch validation score equals an evaluation of the
// network on the held-out rows; early stopping stops after `patience` epochs without a strictly
// better validation loss and leaves the best epoch's weights; the same bits for any thread count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/evaluate.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "same_bits.hpp"
#include "train_test_util.hpp"

namespace {

// Noise targets (nothing to learn), so a fast learner overfits and the validation loss turns up.
bpnn::Dataset noise_classes(std::size_t n, std::size_t in, std::size_t classes, std::uint64_t seed) {
  return bpnn_test::random_class_data(n, in, classes, seed, false);
}

bpnn::NetworkConfig classifier(std::size_t in, std::size_t hidden, std::size_t classes) {
  bpnn::NetworkConfig nc{{in, hidden, classes}};
  nc.output_act = bpnn::Activation::softmax;
  nc.loss = bpnn::Loss::xent;
  nc.precision = bpnn::Precision::f64;
  nc.seed = 3;
  return nc;
}

}  // namespace

TEST_CASE("the validation score is the network's score on the held-out rows", "[validation]") {
  const bpnn::Dataset data = noise_classes(120, 4, 3, 11);
  bpnn::Network net(classifier(4, 8, 3));
  bpnn::TrainConfig tc;
  tc.optimizer = bpnn::Optimizer::adam;
  tc.batch = 8;
  tc.epochs = 3;
  tc.val_split = 0.25;
  tc.seed = 7;
  std::vector<bpnn::EpochStats> epochs;
  bpnn::train(net, tc, data, [&](const bpnn::EpochStats& s) {
    epochs.push_back(s);
    return bpnn::EpochAction::go_on;
  });
  REQUIRE(epochs.size() == 3);
  const auto [train_part, val_part] = bpnn::split_dataset_stratified(data, 0.25, 7);
  CHECK(val_part.n + train_part.n == 120);
  CHECK(std::abs(double(val_part.n) - 30) <= 3);  // rounded per class
  const bpnn::Evaluation e = bpnn::evaluate(net, val_part.x.data(), val_part.y.data(), val_part.n);
  CHECK(epochs.back().val_loss == Approx(e.loss).epsilon(1e-12));
  CHECK(epochs.back().val_accuracy == Approx(e.accuracy).epsilon(1e-12));
  CHECK(epochs.back().learning_rate == 1e-3);
  CHECK(epochs.front().best);
  for (const auto& s : epochs) CHECK(std::isfinite(s.val_loss));
}

TEST_CASE("a validation set given apart is scored the same way", "[validation]") {
  const bpnn::Dataset data = noise_classes(90, 4, 3, 1), val = noise_classes(30, 4, 3, 2);
  bpnn::Network net(classifier(4, 8, 3));
  bpnn::TrainConfig tc;
  tc.batch = 10;
  tc.epochs = 2;
  double last = 0;
  bpnn::train(net, tc, data, val, [&](const bpnn::EpochStats& s) {
    last = s.val_loss;
    return bpnn::EpochAction::go_on;
  });
  CHECK(last == Approx(bpnn::evaluate(net, val.x.data(), val.y.data(), val.n).loss).epsilon(1e-12));
  tc.val_split = 0.2;
  bpnn::Network other(classifier(4, 8, 3));
  CHECK_THROWS_AS(bpnn::train(other, tc, data, val), bpnn::Error);
}

TEST_CASE("early stopping stops after its patience and keeps the best epoch's weights", "[validation]") {
  const bpnn::Dataset data = noise_classes(200, 6, 3, 21);
  for (int threads : {1, 2, 3}) {
    bpnn::Network net(classifier(6, 32, 3));
    bpnn::TrainConfig tc;
    tc.optimizer = bpnn::Optimizer::adam;
    tc.learning_rate = 0.03;
    tc.batch = 8;
    tc.epochs = 200;
    tc.val_split = 0.3;
    tc.early_stop = 4;
    tc.threads = threads;
    std::vector<bpnn::EpochStats> epochs;
    const bpnn::TrainReport report = bpnn::train(net, tc, data, [&](const bpnn::EpochStats& s) {
      epochs.push_back(s);
      return bpnn::EpochAction::go_on;
    });
    REQUIRE(report.stopped_early);
    REQUIRE(epochs.size() < 200);
    const auto best = std::min_element(epochs.begin(), epochs.end(),
                                       [](const auto& a, const auto& b) { return a.val_loss < b.val_loss; });
    CHECK(report.best_epoch == best->epoch);
    CHECK(report.best_val_loss == best->val_loss);
    CHECK(epochs.size() == best->epoch + 1 + 4);  // four epochs without a better loss
    CHECK(best->best);
    CHECK_FALSE(epochs.back().best);
    const auto [train_part, val_part] = bpnn::split_dataset_stratified(data, 0.3, tc.seed);
    const double restored = bpnn::evaluate(net, val_part.x.data(), val_part.y.data(), val_part.n).loss;
    CHECK(restored == Approx(best->val_loss).epsilon(1e-12));
    CHECK(restored < epochs.back().val_loss);
    static std::vector<double> first_threads;
    if (threads == 1) first_threads = bpnn_test::all_parameters(net);
    else CHECK(bpnn_test::same_bits(first_threads, bpnn_test::all_parameters(net)));
  }
}

TEST_CASE("early stopping needs validation data, val_split is checked", "[validation]") {
  const bpnn::Dataset data = noise_classes(20, 2, 2, 3);
  bpnn::Network net(classifier(2, 3, 2));
  bpnn::TrainConfig tc;
  tc.early_stop = 2;
  CHECK_THROWS_AS(bpnn::train(net, tc, data), bpnn::Error);
  tc.early_stop = 0;
  for (double bad : {-0.1, 1.0, 2.0}) {
    tc.val_split = bad;
    CHECK_THROWS_AS(bpnn::train(net, tc, data), bpnn::Error);
  }
}
