#pragma once
// The epochs of one training run, kept for `--history FILE.csv` and `--plot FILE.svg`.
//
// CSV: a header and one row per epoch added,
//   epoch,train_loss,val_loss,train_accuracy,val_accuracy,learning_rate,seconds
// numbers in the shortest form that reads back to the same double, an empty cell for a value
// the run does not have (NaN: no validation, no classes, no learning rate).
//
// SVG (720 wide): the loss against the epoch, train and validation (when any epoch has a
// validation loss), on a log axis when the losses span more than two decades (max/min > 100, all
// positive); a second panel below with the accuracies when any epoch has one; the last epoch
// marked best (lowest validation loss) as a dot. Labelled axes with ticks, a legend, a title.
#include <span>
#include <string>
#include <vector>

#include "bpnn/progress.hpp"

namespace bpnn::cli {

std::string training_history_csv(std::span<const EpochLine> epochs);
std::string training_history_svg(std::span<const EpochLine> epochs, const std::string& title);

class TrainingHistory {
 public:
  void add(const EpochLine& line) { epochs_.push_back(line); }
  const std::vector<EpochLine>& epochs() const { return epochs_; }

  // Written by the output rule (io/output_file.hpp: atomic replace, devices written in place);
  // Error(io) naming the path when it cannot be.
  void csv_write(const std::string& path) const;
  void svg_write(const std::string& path, const std::string& title) const;

 private:
  std::vector<EpochLine> epochs_;
};

}  // namespace bpnn::cli
