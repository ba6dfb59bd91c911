#pragma once
// The optimizer: the one place where parameters change during training. It owns the optimizer's
// state (velocity, Adam's moments, iRPROP's step sizes and previous gradient) and the gradient
// buffer, and updates one tile of a layer's outputs at a time, so the trainer can spread the
// update over threads by the batch plan's cut. The rules are listed in include/bpnn/train.hpp.
//
// Two fast paths of plain SGD (no momentum, no decay, no clipping) keep no gradient at all:
//   per-sample steps fuse the update into the backward sweep (sgd_sample_in_place), and
//   mini-batch steps sum δ scaled by −lr/rows straight into the weights (in_place()).
// Adding an optimizer touches this module (its rule in update_range, its state buffers), the
// Optimizer enum (include/bpnn/train.hpp) with its name and defaults (train_config.cpp), and the
// front ends — not the network or the kernels.
#include <cstddef>

#include "bpnn/train.hpp"
#include "nn/aligned.hpp"
#include "nn/mlp.hpp"

namespace bpnn {

// A tile of one layer's outputs in the parameter arena: its packed weights and its biases.
struct ParamTile {
  std::size_t weights_begin, weights_count;
  std::size_t bias_begin, bias_count;
};

// The gradient's norm is clipped as PyTorch's clip_grad_norm_: g·min(1, N/(‖g‖ + clip_epsilon)).
constexpr double clip_epsilon = 1e-6;

template <class T>
class OptimizerCore {
 public:
  // config: resolved (train_config_resolve); params: the arena's size; kernels: the network's
  // (Adam's update runs there, vectorised)
  OptimizerCore(const TrainConfig& config, std::size_t params, const kernels::KernelTable<T>& kernels);

  // The per-sample step may use sgd_sample_in_place (and the mini-batch step may sum its
  // gradient straight into the weights, scaled by delta_scale): plain SGD without momentum,
  // decay or clipping.
  bool in_place() const { return in_place_; }
  // −lr/rows when in_place(), else 1: the factor the trainer applies to δ before summing it
  T delta_scale(std::size_t rows) const {
    return in_place_ ? -static_cast<T>(config_.learning_rate) / static_cast<T>(rows) : T(1);
  }
  // Clipping needs every tile's gradient before any update: the trainer sums the gradients and
  // their tile_square_norm first, then calls update with clip_scale.
  bool clips() const { return config_.clip > 0; }

  // The gradient, in the arena's layout (empty when in_place()).
  T* gradient() { return gradient_.data(); }
  // zeroes the tile's part of the gradient
  void gradient_clear(const ParamTile& tile);
  // Σ g² over the tile's gradient, in double, in a fixed order
  double tile_square_norm(const ParamTile& tile) const;
  // The factor that turns a gradient summed over `rows` rows into the step's (clipped) mean
  // gradient: 1/rows, times min(1, clip/(‖g/rows‖ + 1e-6)) when clipping; square_norm is
  // Σ tile_square_norm over the tiles of the norm's grid (BatchPlan::norm_tiles), in grid order.
  T gradient_scale(std::size_t rows, double square_norm) const;

  // Once per step, before any update (Adam's step count).
  void step_begin() { ++steps_; }
  // The rate of the steps from now on (a schedule changes it between epochs).
  void set_learning_rate(double rate) { config_.learning_rate = rate; }

  // The state a checkpoint keeps: the step count and the state buffers (empty when unused), in
  // the arena's layout.
  std::size_t steps() const { return steps_; }
  void set_steps(std::size_t steps) { steps_ = steps; }
  AlignedVector<T>& state1() { return state1_; }
  AlignedVector<T>& state2() { return state2_; }
  // The tile's update from its summed gradient times grad_scale; params is the arena.
  void update(const ParamTile& tile, T grad_scale, T* params);

 private:
  void update_range(std::size_t begin, std::size_t count, T grad_scale, T decay, T* params);

  TrainConfig config_;  // resolved
  const kernels::KernelTable<T>* kernels_;
  bool in_place_;
  std::size_t steps_ = 0;
  AlignedVector<T> gradient_;
  AlignedVector<T> state1_;  // velocity (sgd, momentum, nesterov), m (adam), Δ (irprop)
  AlignedVector<T> state2_;  // v (adam), the previous gradient (irprop)
};

// Per-sample SGD, for outputs [o0, o0 + m) of layer l: δ ⊙= −lr; w += δᵀ·a_{l−1}; b += δ.
template <class T>
void sgd_outputs_in_place(Mlp<T>& mlp, std::size_t l, const T* x, std::size_t o0, std::size_t m,
                          Workspace<T>& ws, T lr) {
  T* delta = ws.deltas[l].data() + o0;
  for (std::size_t o = 0; o < m; ++o) delta[o] *= -lr;
  mlp.backward_weights_outputs(l, x, ws, 1, delta, o0, m, mlp.arena().data());
}

// Per-sample SGD without momentum, fused, for row 0 after the forward pass and the loss:
// back-propagates δ_L and updates the weights in the same sweep, w −= lr·∂E/∂w. Layer l's
// weights change only after they have propagated δ to layer l−1, so every gradient uses the
// weights from before the step.
template <class T>
void sgd_sample_in_place(Mlp<T>& mlp, const T* x, Workspace<T>& ws, T lr) {
  for (std::size_t l = mlp.layers().size(); l-- > 0;) {
    if (l > 0) mlp.backward_data_row(l, ws);
    sgd_outputs_in_place(mlp, l, x, 0, mlp.layers()[l].out, ws, lr);
  }
}

// The optimizer's memory in units of the parameters' size: 0 for in-place SGD, else a gradient
// plus one (velocity) or two (Adam's moments, iRPROP's step sizes and previous gradient) state
// buffers. config: resolved.
std::size_t optimizer_state_factor(const TrainConfig& config);

}  // namespace bpnn
