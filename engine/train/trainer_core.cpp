// The single-precision-agnostic training loop; see trainer_core.hpp.
#include "train/trainer_core.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

void validate(const TrainConfig& c, std::size_t n) {
  if (!(std::isfinite(c.learning_rate) && c.learning_rate >= 0))
    throw Error(ErrorKind::argument, "learning rate: must be a finite number ≥ 0");
  if (!(std::isfinite(c.momentum) && c.momentum >= 0 && c.momentum < 1))
    throw Error(ErrorKind::argument, "momentum: must be in [0, 1)");
  if (c.batch == 0) throw Error(ErrorKind::argument, "batch: must be at least 1");
  if (c.threads < 0) throw Error(ErrorKind::argument, "threads: must be ≥ 0 (0 = all cores)");
  if (n == 0) throw Error(ErrorKind::argument, "training data: no samples");
}

bool is_01(double v) { return v == 0.0 || v == 1.0; }

}  // namespace

template <class T>
template <class U>
TrainerCore<T>::TrainerCore(Mlp<T>& mlp, const TrainConfig& config, const U* x, const U* y,
                            std::size_t n)
    : mlp_(mlp),
      config_(config),
      n_(n),
      x_(x, x + n * mlp.n_inputs()),
      y_(y, y + n * mlp.n_outputs()),
      order_(n),
      random_(config.seed),
      workspace_(mlp, std::min(config.batch, n)),
      gradient_(mlp.arena().size()),
      velocity_(config.momentum > 0 ? mlp.arena().size() : 0) {
  validate(config, n);
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  if (config.shuffle) {
    batch_x_.resize(workspace_.capacity * mlp.n_inputs());
    batch_y_.resize(workspace_.capacity * mlp.n_outputs());
  }
  for (std::size_t i = 0; i < x_.size(); ++i)
    if (!std::isfinite(x_[i]))
      throw Error(ErrorKind::data, "training data: input " + std::to_string(i % mlp.n_inputs()) +
                                       " of sample " + std::to_string(i / mlp.n_inputs()) +
                                       " is not finite in this precision");
  const std::size_t k = mlp.n_outputs();
  const bool all_01 = std::all_of(y_.begin(), y_.end(), [](T v) { return is_01(v); });
  bool one_hot = all_01 && k > 1;
  for (std::size_t r = 0; one_hot && r < n; ++r)
    one_hot = std::count(y_.begin() + r * k, y_.begin() + (r + 1) * k, T(1)) == 1;
  classes_ = one_hot ? Classes::one_hot : (all_01 && k == 1 ? Classes::binary : Classes::none);
}

template <class T>
std::size_t TrainerCore<T>::count_correct(const T* y, std::size_t rows) const {
  const std::size_t k = mlp_.n_outputs();
  const T* yhat = workspace_.activations.back().data();
  std::size_t correct = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const T* p = yhat + r * k;
    const T* t = y + r * k;
    if (classes_ == Classes::binary)
      correct += (p[0] > T(0.5)) == (t[0] > T(0.5));
    else
      correct += std::max_element(p, p + k) - p == std::max_element(t, t + k) - t;
  }
  return correct;
}

template <class T>
double TrainerCore<T>::step(const T* x, const T* y, std::size_t rows, std::size_t& correct) {
  mlp_.forward(x, rows, workspace_);
  const double loss = mlp_.loss_and_output_delta(y, rows, workspace_);
  if (!std::isfinite(loss))
    throw Error(ErrorKind::nonfinite,
                "training diverged: the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                    " in epoch " + std::to_string(epoch_ + 1) +
                    "; the network keeps the weights from before that step (try a smaller learning rate)");
  if (classes_ != Classes::none) correct += count_correct(y, rows);
  const T lr = static_cast<T>(config_.learning_rate);
  if (rows == 1 && velocity_.empty()) {
    mlp_.backward_sgd_in_place(x, workspace_, lr);
    return loss;
  }
  std::fill(gradient_.begin(), gradient_.end(), T(0));
  mlp_.backward(x, rows, workspace_, gradient_.data());
  mlp_.kernels().sgd_update(gradient_.size(), lr, static_cast<T>(config_.momentum),
                            T(1) / static_cast<T>(rows), gradient_.data(), velocity_.data(),
                            mlp_.arena().data());
  return loss;
}

template <class T>
EpochStats TrainerCore<T>::run_epoch() {
  const auto start = std::chrono::steady_clock::now();
  if (config_.shuffle) random_.shuffle(order_.begin(), n_);
  const std::size_t in = mlp_.n_inputs(), k = mlp_.n_outputs();
  double loss = 0;
  std::size_t correct = 0;
  for (std::size_t first = 0; first < n_; first += workspace_.capacity) {
    const std::size_t rows = std::min(workspace_.capacity, n_ - first);
    const T* x = x_.data() + first * in;
    const T* y = y_.data() + first * k;
    if (config_.shuffle) {  // gather the step's rows in the epoch's order
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t s = order_[first + r];
        std::copy_n(x_.data() + s * in, in, batch_x_.data() + r * in);
        std::copy_n(y_.data() + s * k, k, batch_y_.data() + r * k);
      }
      x = batch_x_.data();
      y = batch_y_.data();
    }
    loss += step(x, y, rows, correct);
  }
  EpochStats stats;
  stats.epoch = epoch_++;
  stats.loss = loss / static_cast<double>(n_);
  if (classes_ != Classes::none)
    stats.accuracy = static_cast<double>(correct) / static_cast<double>(n_);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.samples_per_s = stats.seconds > 0 ? static_cast<double>(n_) / stats.seconds : 0;
  return stats;
}

template class TrainerCore<float>;
template class TrainerCore<double>;
template TrainerCore<float>::TrainerCore(Mlp<float>&, const TrainConfig&, const float*, const float*, std::size_t);
template TrainerCore<float>::TrainerCore(Mlp<float>&, const TrainConfig&, const double*, const double*, std::size_t);
template TrainerCore<double>::TrainerCore(Mlp<double>&, const TrainConfig&, const float*, const float*, std::size_t);
template TrainerCore<double>::TrainerCore(Mlp<double>&, const TrainConfig&, const double*, const double*, std::size_t);

}  // namespace bpnn
