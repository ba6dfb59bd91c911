// Learning-rate schedules: their spelling, the closed forms of step and cosine, the plateau rule
// against a transcription of PyTorch's ReduceLROnPlateau, and a schedule's effect on training
// (bit for bit the same as training epoch by epoch at the scheduled rates).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "same_bits.hpp"
#include "train/schedule.hpp"
#include "train_test_util.hpp"

namespace {

using bpnn::Schedule;
using bpnn::ScheduleKind;

// PyTorch's ReduceLROnPlateau.step (mode min, threshold_mode rel, cooldown 0, min_lr 0, eps 1e-8)
// written out as torch/optim/lr_scheduler.py has it.
struct TorchPlateau {
  double lr, factor;
  std::size_t patience;
  double best = std::numeric_limits<double>::infinity();
  std::size_t num_bad_epochs = 0;
  void step(double metric) {
    if (metric < best * (1 - 1e-4)) {
      best = metric;
      num_bad_epochs = 0;
    } else {
      num_bad_epochs += 1;
    }
    if (num_bad_epochs > patience) {
      const double new_lr = std::max(lr * factor, 0.0);
      if (lr - new_lr > 1e-8) lr = new_lr;
      num_bad_epochs = 0;
    }
  }
};

}  // namespace

TEST_CASE("schedules parse and print back", "[schedule]") {
  for (const char* text : {"constant", "cosine", "step:10:0.5", "plateau:3:0.25", "step:1:1"}) {
    const Schedule s = bpnn::parse_schedule(text);
    CHECK(bpnn::to_string(s) == text);
    CHECK(bpnn::parse_schedule(bpnn::to_string(s)) == s);
  }
  CHECK(bpnn::parse_schedule("step:30:0.1").kind == ScheduleKind::step);
  CHECK(bpnn::parse_schedule("step:30:0.1").step_epochs == 30);
  for (const char* bad : {"", "linear", "step", "step:0:0.5", "step:2:0", "step:2:1.5", "step:-1:0.5",
                          "step:2:0.5:1", "plateau:2:1", "plateau:2:0", "plateau:x:0.5", "cosine:3",
                          "step:2:nan", "step:99999999999:0.5"})
    CHECK_THROWS_AS(bpnn::parse_schedule(bad), bpnn::Error);
}

TEST_CASE("step and cosine follow their closed forms", "[schedule]") {
  const bpnn::LearningRateSchedule step(bpnn::parse_schedule("step:3:0.5"), 0.2, 10);
  for (std::size_t e = 0; e < 10; ++e) CHECK(step.rate(e) == 0.2 * std::pow(0.5, double(e / 3)));
  const bpnn::LearningRateSchedule cosine(bpnn::parse_schedule("cosine"), 0.1, 8);
  CHECK(cosine.rate(0) == 0.1);
  CHECK(cosine.rate(4) == Approx(0.05).epsilon(1e-15));
  for (std::size_t e = 0; e < 8; ++e)
    CHECK(cosine.rate(e) == 0.1 * 0.5 * (1 + std::cos(std::numbers::pi * double(e) / 8)));
  const bpnn::LearningRateSchedule constant(Schedule{}, 0.3, 5);
  CHECK(constant.rate(4) == 0.3);
}

TEST_CASE("plateau follows PyTorch's ReduceLROnPlateau", "[schedule]") {
  const std::vector<double> losses{1.0, 0.9, 0.95, 0.9, 0.89999, 0.9, 0.91, 0.5, 0.5, 0.5, 0.5, 0.49999, 0.4, 0.4, 0.41};
  for (std::size_t patience : {0u, 1u, 2u}) {
    bpnn::LearningRateSchedule ours(bpnn::Schedule{ScheduleKind::plateau, 1, 0.1, patience, 0.5}, 0.1, 100);
    TorchPlateau torch{0.1, 0.5, patience};
    for (std::size_t e = 0; e < losses.size(); ++e) {
      CHECK(ours.rate(e) == torch.lr);
      ours.observe(losses[e]);
      torch.step(losses[e]);
    }
  }
}

TEST_CASE("a schedule trains as epochs at the scheduled rates", "[schedule][train]") {
  const auto data = bpnn_test::random_train_data(40, 3, 2, 5);
  bpnn::NetworkConfig nc{{3, 5, 2}};
  nc.precision = bpnn::Precision::f64;
  bpnn::TrainConfig tc;
  tc.batch = 4;
  tc.shuffle = false;
  tc.learning_rate = 0.5;
  tc.epochs = 4;
  tc.schedule = bpnn::parse_schedule("step:2:0.25");
  bpnn::Network scheduled(nc);
  std::vector<double> rates;
  {
    bpnn::Trainer t(scheduled, tc, data.x.data(), data.y.data(), data.n);
    t.run([&](const bpnn::EpochStats& s) {
      rates.push_back(s.learning_rate);
      return bpnn::EpochAction::go_on;
    });
  }
  CHECK(rates == std::vector<double>{0.5, 0.5, 0.125, 0.125});
  bpnn::Network by_hand(nc);
  for (double rate : rates) {
    bpnn::TrainConfig one = tc;
    one.schedule = {};
    one.epochs = 1;
    one.learning_rate = rate;
    bpnn::Trainer t(by_hand, one, data.x.data(), data.y.data(), data.n);
    t.run();
  }
  CHECK(bpnn_test::same_bits(bpnn_test::all_parameters(scheduled), bpnn_test::all_parameters(by_hand)));
  bpnn::Network constant(nc);
  bpnn::TrainConfig flat = tc;
  flat.schedule = {};
  bpnn::Trainer(constant, flat, data.x.data(), data.y.data(), data.n).run();
  CHECK_FALSE(bpnn_test::same_bits(bpnn_test::all_parameters(scheduled), bpnn_test::all_parameters(constant)));
}
