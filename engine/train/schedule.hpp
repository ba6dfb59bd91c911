#pragma once
// The learning rate from epoch to epoch: the schedules of include/bpnn/train.hpp and the state
// the plateau rule keeps (the best loss so far and the epochs since it), which a checkpoint saves.
#include <cstddef>

#include "bpnn/train.hpp"

namespace bpnn {

// PyTorch ReduceLROnPlateau's fixed settings: a loss counts as better below best·(1 − 1e-4), and a
// reduction smaller than 1e-8 is not made.
constexpr double plateau_threshold = 1e-4;
constexpr double plateau_min_change = 1e-8;

class LearningRateSchedule {
 public:
  struct State {
    double rate = 0;      // the plateau rule's current rate
    double best = 0;      // the plateau rule's best loss (∞ before the first epoch)
    std::size_t bad_epochs = 0;
  };

  // base: lr₀; epochs: the run's total (cosine's E)
  LearningRateSchedule(const Schedule& schedule, double base, std::size_t epochs);

  // The rate of epoch `epoch` (0-based), before it runs.
  double rate(std::size_t epoch) const;
  // After each epoch: the loss the plateau rule watches.
  void observe(double loss);

  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  Schedule schedule_;
  double base_;
  std::size_t epochs_;
  State state_;
};

// Error(argument) for a schedule out of its ranges (step_epochs 0, gamma outside (0, 1], factor
// outside (0, 1)).
void schedule_validate(const Schedule& schedule);

}  // namespace bpnn
