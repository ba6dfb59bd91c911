// The update rules of the six optimizers; see optimizer.hpp and include/bpnn/train.hpp.
#include "train/optimizer.hpp"

#include <algorithm>
#include <cmath>

namespace bpnn {
namespace {

// iRPROP− constants (Igel & Hüsken 2000; the values of Riedmiller & Braun 1993)
constexpr double rprop_increase = 1.2, rprop_decrease = 0.5;
constexpr double rprop_step_initial = 0.1, rprop_step_min = 0.0, rprop_step_max = 50.0;

bool keeps_velocity(const TrainConfig& c) {
  return c.optimizer == Optimizer::momentum || c.optimizer == Optimizer::nesterov ||
         (c.optimizer == Optimizer::sgd && c.momentum > 0);
}

// state buffers of the parameters' size: 0, 1 or 2
std::size_t state_buffers(const TrainConfig& c) {
  switch (c.optimizer) {
    case Optimizer::adam:
    case Optimizer::adamw:
    case Optimizer::irprop:
      return 2;
    default:
      return keeps_velocity(c) ? 1 : 0;
  }
}

bool updates_in_place(const TrainConfig& c) {
  return c.optimizer == Optimizer::sgd && c.momentum == 0 && c.l2 == 0 && c.clip == 0;
}

}  // namespace

std::size_t optimizer_state_factor(const TrainConfig& config) {
  return updates_in_place(config) ? 0 : 1 + state_buffers(config);  // the gradient and the state
}

template <class T>
OptimizerCore<T>::OptimizerCore(const TrainConfig& c, std::size_t params,
                                const kernels::KernelTable<T>& kernels)
    : config_(c), kernels_(&kernels), in_place_(updates_in_place(c)) {
  if (in_place_) return;
  gradient_.assign(params, T(0));
  const std::size_t buffers = state_buffers(c);
  if (buffers >= 1)
    state1_.assign(params, c.optimizer == Optimizer::irprop ? static_cast<T>(rprop_step_initial) : T(0));
  if (buffers >= 2) state2_.assign(params, T(0));
}

template <class T>
void OptimizerCore<T>::gradient_clear(const ParamTile& tile) {
  std::fill_n(gradient_.data() + tile.weights_begin, tile.weights_count, T(0));
  std::fill_n(gradient_.data() + tile.bias_begin, tile.bias_count, T(0));
}

template <class T>
double OptimizerCore<T>::tile_square_norm(const ParamTile& tile) const {
  double sum = 0;
  const T* g = gradient_.data();
  for (std::size_t i = 0; i < tile.weights_count; ++i) {
    const double v = g[tile.weights_begin + i];
    sum += v * v;
  }
  for (std::size_t i = 0; i < tile.bias_count; ++i) {
    const double v = g[tile.bias_begin + i];
    sum += v * v;
  }
  return sum;
}

template <class T>
T OptimizerCore<T>::gradient_scale(std::size_t rows, double square_norm) const {
  const double mean = 1.0 / static_cast<double>(rows);
  if (config_.clip > 0) {
    const double norm = std::sqrt(square_norm) * mean;  // ‖g‖ of the mean gradient
    const double coefficient = config_.clip / (norm + clip_epsilon);
    if (coefficient < 1) return static_cast<T>(mean * coefficient);
  }
  return static_cast<T>(mean);
}

template <class T>
void OptimizerCore<T>::update(const ParamTile& tile, T grad_scale, T* params) {
  update_range(tile.weights_begin, tile.weights_count, grad_scale, static_cast<T>(config_.l2), params);
  update_range(tile.bias_begin, tile.bias_count, grad_scale, T(0), params);  // biases: no decay
}

// One rule per optimizer over parameters [begin, begin + count): g = grad_scale·G + decay·w,
// then the rule (adamw decays w itself instead).
template <class T>
void OptimizerCore<T>::update_range(std::size_t begin, std::size_t count, T grad_scale, T decay,
                                    T* params) {
  T* w = params + begin;
  const T* grad = gradient_.data() + begin;
  T* s1 = state1_.empty() ? nullptr : state1_.data() + begin;
  T* s2 = state2_.empty() ? nullptr : state2_.data() + begin;
  const T lr = static_cast<T>(config_.learning_rate), mu = static_cast<T>(config_.momentum);
  switch (config_.optimizer) {
    case Optimizer::sgd:
    case Optimizer::momentum:
      if (s1 == nullptr) {  // w −= lr·g
        for (std::size_t i = 0; i < count; ++i) w[i] -= lr * (grad_scale * grad[i] + decay * w[i]);
      } else {  // v = μ·v + g ; w −= lr·v   (v starts at 0, so v₁ = g)
        for (std::size_t i = 0; i < count; ++i) {
          s1[i] = mu * s1[i] + (grad_scale * grad[i] + decay * w[i]);
          w[i] -= lr * s1[i];
        }
      }
      return;
    case Optimizer::nesterov:  // v = μ·v + g ; w −= lr·(g + μ·v)
      for (std::size_t i = 0; i < count; ++i) {
        const T g = grad_scale * grad[i] + decay * w[i];
        s1[i] = mu * s1[i] + g;
        w[i] -= lr * (g + mu * s1[i]);
      }
      return;
    case Optimizer::adam:
    case Optimizer::adamw: {
      // PyTorch's form: w −= (lr/bc₁)·m / (√v/√bc₂ + eps) with bc = 1 − βᵗ, the constants in
      // double as there; the update itself is the network's vectorised kernel.
      const double t = static_cast<double>(steps_);
      const kernels::AdamStep<T> step{
          static_cast<T>(config_.learning_rate / (1 - std::pow(config_.beta1, t))),
          static_cast<T>(std::sqrt(1 - std::pow(config_.beta2, t))),
          static_cast<T>(config_.beta1),
          static_cast<T>(config_.beta2),
          static_cast<T>(1 - config_.beta1),
          static_cast<T>(1 - config_.beta2),
          static_cast<T>(config_.eps)};
      T add_decay = decay;
      if (config_.optimizer == Optimizer::adamw) {  // decoupled: w ⊙= 1 − lr·λ, before the Adam step
        add_decay = T(0);
        if (decay != T(0)) {
          const T keep = static_cast<T>(1 - config_.learning_rate * static_cast<double>(decay));
          for (std::size_t i = 0; i < count; ++i) w[i] *= keep;
        }
      }
      kernels_->adam_update(count, grad, grad_scale, add_decay, step, w, s1, s2);
      return;
    }
    case Optimizer::irprop: {  // s1 = Δ, s2 = the previous step's gradient
      const T up = static_cast<T>(rprop_increase), down = static_cast<T>(rprop_decrease);
      const T step_max = static_cast<T>(rprop_step_max), step_min = static_cast<T>(rprop_step_min);
      for (std::size_t i = 0; i < count; ++i) {
        T g = grad_scale * grad[i] + decay * w[i];
        const T slope = s2[i] * g;
        if (slope > 0) {
          s1[i] = std::min(s1[i] * up, step_max);
        } else if (slope < 0) {
          s1[i] = std::max(s1[i] * down, step_min);
          g = T(0);  // iRPROP−: no step now, and no sign change seen next time
        }
        if (g > 0) w[i] -= s1[i];
        if (g < 0) w[i] += s1[i];
        s2[i] = g;
      }
      return;
    }
  }
}

template class OptimizerCore<float>;
template class OptimizerCore<double>;

}  // namespace bpnn
