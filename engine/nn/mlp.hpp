#pragma once
// The network in one precision: a stack of dense layers over one parameter arena, plus the
// forward pass, the loss and the backward pass over a batch of rows.
//
// Data path of one batch (N rows):
//   x:(N,In0) → dense_forward → a1:(N,Out0) → ... → output layer z:(N,K) → ŷ = out_act(z)
//   loss(ŷ, y) → δ_L = ∂E/∂z_L:(N,K) → dense_backward_weights (dW_l += δ_lᵀ·a_l)
//   → dense_backward_data (δ_{l−1} = (δ_l·W_l) ⊙ act'(a_{l−1})) → ...
#include <cstddef>
#include <vector>

#include "bpnn/network.hpp"
#include "kernels/kernels.hpp"
#include "nn/aligned.hpp"

namespace bpnn {

// One dense layer's place in the parameter arena.
struct LayerSpec {
  std::size_t in = 0, out = 0;
  Activation act = Activation::sigmoid;  // the layer's activation (the output layer's out_act)
  std::size_t weight_offset = 0;         // packed (out, in) weights
  std::size_t bias_offset = 0;           // (out)
};

template <class T>
class Mlp;

// Per-batch work buffers for up to `capacity` rows; allocated once, reused every step.
template <class T>
struct Workspace {
  Workspace() = default;
  Workspace(const Mlp<T>& net, std::size_t capacity);
  std::size_t capacity = 0;
  std::vector<AlignedVector<T>> activations;  // activations[l]: (capacity, out_l), output of layer l
  std::vector<AlignedVector<T>> deltas;       // deltas[l]: (capacity, out_l), ∂E/∂z_l
  AlignedVector<T> logits;                    // (capacity, K): z of the output layer, when kept
};

template <class T>
class Mlp {
 public:
  Mlp(const NetworkConfig& config, const kernels::KernelTable<T>& kernels);

  const kernels::KernelTable<T>& kernels() const { return *kernels_; }
  const std::vector<LayerSpec>& layers() const { return layers_; }
  std::size_t n_inputs() const { return layers_.front().in; }
  std::size_t n_outputs() const { return layers_.back().out; }
  Loss loss() const { return loss_; }

  // The parameter arena: every layer's packed weights and bias. Gradients share its layout.
  AlignedVector<T>& arena() { return arena_; }
  const AlignedVector<T>& arena() const { return arena_; }

  // Public layout of layer l: w:(out,in) row-major and b:(out).
  void get_layer(std::size_t l, T* weights, T* bias) const;
  void set_layer(std::size_t l, const T* weights, const T* bias);
  // Rows [first, first + count) of layer l's weights from w:(count, in) row-major. `first` is a
  // multiple of kernels().out_block (only 0 when out_block is 0), and so is `count` unless
  // the rows end the layer.
  void set_weight_rows(std::size_t l, std::size_t first, std::size_t count, const T* w);

  // The row-range forms below work on rows [first, first + n) of a batch whose row 0 is at x
  // (and y), reading and writing only those rows of the workspace, so disjoint ranges may run
  // on different threads. first + n ≤ ws.capacity.

  // x:(N,In0) → ws.activations.back():(N,K) holds ŷ for the rows
  void forward(const T* x, std::size_t first, std::size_t n, Workspace<T>& ws) const;
  void forward(const T* x, std::size_t n, Workspace<T>& ws) const { forward(x, 0, n, ws); }
  // layer l alone (the output layer: its logits and output activation too)
  void forward_layer(std::size_t l, const T* x, std::size_t first, std::size_t n,
                     Workspace<T>& ws) const;

  // outputs [o0, o0 + m) of layer l for rows [first, first + n), the same bits as forward_layer
  // gives them: o0 a multiple of kernels().out_block, m one too unless the range ends the layer;
  // not for the output layer when it keeps logits. Disjoint tiles may run on different threads.
  void forward_layer_outputs(std::size_t l, const T* x, std::size_t first, std::size_t n, std::size_t o0,
                             std::size_t m, Workspace<T>& ws) const {
    const LayerSpec& layer = layers_[l];
    kernels_->dense_forward_outputs({n, layer.in, layer.out}, layer.act, o0, o0 + m,
                                    (l == 0 ? x : ws.activations[l - 1].data()) + first * layer.in,
                                    arena_.data() + layer.weight_offset, arena_.data() + layer.bias_offset,
                                    ws.activations[l].data() + first * layer.out);
  }

  // y:(N,K) targets → Σ over the rows of the per-sample loss E; writes δ_L = ∂E/∂z_L into
  // ws.deltas.back(). Call after forward on the same rows.
  double loss_and_output_delta(const T* y, std::size_t first, std::size_t n,
                               Workspace<T>& ws) const;
  double loss_and_output_delta(const T* y, std::size_t n, Workspace<T>& ws) const {
    return loss_and_output_delta(y, 0, n, ws);
  }

  // δ_L of the rows → δ_l of every layer: δ_{l−1} = (δ_l·W_l) ⊙ act'(a_{l−1})
  void backward_data(std::size_t first, std::size_t n, Workspace<T>& ws) const;
  // One layer of it, l > 0: δ_{l−1} = (δ_l·W_l) ⊙ act'(a_{l−1}) for the rows. Calling it for
  // l = L−1 down to 1 is backward_data, bit for bit, so a step can produce the δ of one layer at
  // a time (the data-parallel step reduces a layer's gradient while the layers below it wait).
  void backward_data_layer(std::size_t l, std::size_t first, std::size_t n, Workspace<T>& ws) const;

  // inputs [i0, i0 + m) of δ_{l−1} = (δ_l·W_l) ⊙ act'(a_{l−1}) for rows [first, first + n),
  // l > 0, the same bits as backward_data gives them (i0 a multiple of kernels().out_block, m one
  // too unless the range ends the layer's inputs). Disjoint tiles may run on different threads.
  void backward_data_inputs(std::size_t l, std::size_t first, std::size_t n, std::size_t i0, std::size_t m,
                            Workspace<T>& ws) const {
    const LayerSpec& layer = layers_[l];
    kernels_->dense_backward_data_inputs({n, layer.in, layer.out}, layers_[l - 1].act, i0, i0 + m,
                                         ws.deltas[l].data() + first * layer.out,
                                         arena_.data() + layer.weight_offset,
                                         ws.activations[l - 1].data() + first * layer.in,
                                         ws.deltas[l - 1].data() + first * layer.in);
  }

  // The whole backward pass on one thread, the reference for the parallel step: back-propagates
  // δ_L and accumulates ∂E/∂params summed over the n rows into grad (the arena's layout):
  // grad += Σ_rows ∂E/∂params. Reads the weights, writes only grad and ws.deltas.
  void backward(const T* x, std::size_t n, Workspace<T>& ws, T* grad) const;

  // The pieces of a step that the optimizer (engine/train/optimizer.hpp) puts together, so it can
  // split a layer's outputs across threads and fuse the update into the backward sweep. Output
  // ranges start at multiples of kernels().out_block and own disjoint outputs. Inline: the
  // per-sample step of tiny networks calls them millions of times a second.

  // outputs [o0, o0 + m) of layer l for row 0: y = act(a_{l−1}·wᵀ + b); not for a layer that
  // keeps logits
  void forward_outputs(std::size_t l, const T* x, std::size_t o0, std::size_t m,
                       Workspace<T>& ws) const;
  // δ_{l−1} = (δ_l·W_l) ⊙ act'(a_{l−1}) for row 0, l > 0
  void backward_data_row(std::size_t l, Workspace<T>& ws) const {
    const LayerSpec& layer = layers_[l];
    kernels_->dense_backward_data({1, layer.in, layer.out}, layers_[l - 1].act,
                                  ws.deltas[l].data(), arena_.data() + layer.weight_offset,
                                  ws.activations[l - 1].data(), ws.deltas[l - 1].data());
  }
  // delta:(rows, m), the δ of outputs [o0, o0 + m) of layer l for rows 0 … rows−1 (any scale)
  // → grad_w[o0, o0 + m) += deltaᵀ·a_{l−1} ; grad_b[o0, o0 + m) += Σ_rows delta, where grad has
  // the arena's layout and may be the arena itself (an in-place update) and a_{−1} = x.
  void backward_weights_outputs(std::size_t l, const T* x, const Workspace<T>& ws,
                                std::size_t rows, const T* delta, std::size_t o0, std::size_t m,
                                T* grad) const {
    const LayerSpec& layer = layers_[l];
    const T* in = l == 0 ? x : ws.activations[l - 1].data();
    kernels_->dense_backward_weights({rows, layer.in, m}, delta, in,
                                     grad + layer.weight_offset + kernels_->packed_size(o0, layer.in),
                                     grad + layer.bias_offset + o0);
  }

  // Per-sample SGD without momentum, fused, for row 0: w −= lr·∂E/∂w. Only tests/test_parallel.cpp
  // still calls it, as its reference; training uses sgd_sample_in_place (train/optimizer.hpp).
  void backward_sgd_in_place(const T* x, Workspace<T>& ws, T lr);

  // True when the output layer computes its logits separately (softmax, or cross-entropy).
  bool keeps_logits() const { return keeps_logits_; }

  // Whether the kernels step this network per sample in one call (sample_sgd_tiny): every layer
  // at most kernels::tiny_max_width wide, at most kernels::tiny_max_layers layers, MSE loss,
  // no softmax, and a table that has the kernel.
  bool has_tiny_step() const { return tiny_.layers > 0; }
  // Per-sample SGD without momentum for row 0, in one call (has_tiny_step()): forward, loss,
  // backward and update, bit for bit forward + loss_and_output_delta + sgd_sample_in_place.
  // Returns E; writes ŷ into ws.activations.back(); changes the weights only when E is finite.
  double sample_sgd_tiny(const T* x, const T* y, T lr, Workspace<T>& ws) {
    return kernels_->sample_sgd_tiny(tiny_, x, y, lr, arena_.data(), ws.activations.back().data());
  }

 private:
  const kernels::KernelTable<T>* kernels_;
  std::vector<LayerSpec> layers_;
  AlignedVector<T> arena_;
  Loss loss_;
  bool keeps_logits_;
  kernels::TinyNet tiny_;  // layers = 0 unless has_tiny_step()
};

}  // namespace bpnn
