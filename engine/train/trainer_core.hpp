#pragma once
// The training loop in one precision: epochs of shuffled (or file-order) batches, each a forward
// pass, the loss, a backward pass and an SGD step. Buffers are allocated once, here.
#include <cstddef>
#include <vector>

#include "bpnn/train.hpp"
#include "nn/mlp.hpp"
#include "nn/random.hpp"
#include "train/batch_plan.hpp"
#include "train/parallel.hpp"

namespace bpnn {

template <class T>
class TrainerCore {
 public:
  using value_type = T;
  // x:(n, inputs) y:(n, outputs), used in place when they are T (they must then outlive the
  // trainer), else converted into T once.
  template <class U>
  TrainerCore(Mlp<T>& mlp, const TrainConfig& config, const U* x, const U* y, std::size_t n);

  EpochStats run_epoch();
  std::size_t epochs_done() const { return epoch_; }
  std::size_t epochs() const { return config_.epochs; }

 private:
  enum class Classes { none, one_hot, binary };

  // One step over `rows` samples at x, y; returns Σ E over them, adds to `correct`.
  double step(const T* x, const T* y, std::size_t rows, std::size_t& correct);
  // Per-sample SGD without momentum: forward, loss, and the fused backward-and-update sweep.
  double sample_step(const T* x, const T* y, std::size_t& correct);
  // Throws Error(nonfinite) unless the step's loss is finite (before any weight changes).
  void check_finite(double loss) const;
  // Phase 2 task: the weight gradient of one tile of one layer's outputs, then its update.
  void update_tile(std::size_t layer, std::size_t tile, const T* x, std::size_t rows);
  // Correct classifications among rows [first, first + rows) of the last forward pass.
  std::size_t count_correct(const T* y, std::size_t first, std::size_t rows) const;

  Mlp<T>& mlp_;
  TrainConfig config_;
  std::size_t n_;
  AlignedVector<T> x_copy_, y_copy_;  // the data set converted to T, when it came in another type
  const T* x_;                         // the data set, (n, inputs): the caller's or x_copy_
  const T* y_;                         // (n, outputs): the caller's or y_copy_
  std::vector<std::size_t> order_;     // sample order of the current epoch
  Random random_;
  Workspace<T> workspace_;
  AlignedVector<T> batch_x_, batch_y_;  // the gathered rows of one step
  AlignedVector<T> gradient_, velocity_;  // only with momentum: plain SGD updates in place
  std::vector<AlignedVector<T>> delta_tiles_;  // per layer: δ regrouped tile by tile, (rows, tile)
  BatchPlan plan_;
  std::vector<double> chunk_loss_;
  std::vector<std::size_t> chunk_correct_;
  ParallelFor parallel_;
  Classes classes_;
  std::size_t epoch_ = 0;
};

}  // namespace bpnn
