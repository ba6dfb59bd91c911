// The forward pass, the loss and the backward pass of one precision's network.
#include "nn/mlp.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/activation_scalar.hpp"
#include "nn/output_layer.hpp"

namespace bpnn {

template <class T>
Workspace<T>::Workspace(const Mlp<T>& net, std::size_t rows) : capacity(rows) {
  for (const LayerSpec& layer : net.layers()) {
    activations.emplace_back(rows * layer.out);
    deltas.emplace_back(rows * layer.out);
  }
  if (net.keeps_logits()) logits.resize(rows * net.n_outputs());
}

template <class T>
Mlp<T>::Mlp(const NetworkConfig& config, const kernels::KernelTable<T>& kernels)
    : kernels_(&kernels),
      loss_(config.loss),
      keeps_logits_(config.output_act == Activation::softmax || config.loss == Loss::xent) {
  validate(config);
  std::size_t offset = 0;
  const auto align = [](std::size_t n) { return (n + 15) / 16 * 16; };  // 64-byte starts
  for (std::size_t l = 0; l + 1 < config.sizes.size(); ++l) {
    LayerSpec layer;
    layer.in = config.sizes[l];
    layer.out = config.sizes[l + 1];
    layer.act = l + 2 == config.sizes.size() ? config.output_act : config.hidden_act;
    layer.weight_offset = offset;
    offset += align(kernels.packed_size(layer.out, layer.in));
    layer.bias_offset = offset;
    offset += align(layer.out);
    layers_.push_back(layer);
  }
  arena_.assign(offset, T(0));
  const bool tiny =
      kernels.sample_sgd_tiny && loss_ == Loss::mse && !keeps_logits_ &&
      layers_.size() <= kernels::tiny_max_layers &&
      std::all_of(layers_.begin(), layers_.end(), [](const LayerSpec& l) {
        return l.in <= kernels::tiny_max_width && l.out <= kernels::tiny_max_width;
      });
  if (tiny) {
    tiny_.layers = layers_.size();
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const LayerSpec& s = layers_[l];
      tiny_.layer[l] = {s.in, s.out, s.act, s.weight_offset, s.bias_offset};
    }
  }
}

template <class T>
void Mlp<T>::get_layer(std::size_t l, T* weights, T* bias) const {
  const LayerSpec& layer = layers_.at(l);
  kernels_->unpack(layer.out, layer.in, arena_.data() + layer.weight_offset, weights);
  std::copy_n(arena_.data() + layer.bias_offset, layer.out, bias);
}

template <class T>
void Mlp<T>::set_layer(std::size_t l, const T* weights, const T* bias) {
  const LayerSpec& layer = layers_.at(l);
  kernels_->pack(layer.out, layer.in, weights, arena_.data() + layer.weight_offset);
  std::copy_n(bias, layer.out, arena_.data() + layer.bias_offset);
}

template <class T>
void Mlp<T>::set_weight_rows(std::size_t l, std::size_t first, std::size_t count, const T* w) {
  const LayerSpec& layer = layers_.at(l);
  kernels_->pack(count, layer.in, w,
                 arena_.data() + layer.weight_offset + kernels_->packed_size(first, layer.in));
}

template <class T>
void Mlp<T>::forward_layer(std::size_t l, const T* x, std::size_t first, std::size_t n,
                           Workspace<T>& ws) const {
  const LayerSpec& layer = layers_[l];
  const kernels::DenseShape shape{n, layer.in, layer.out};
  const T* in = l == 0 ? x + first * layer.in : ws.activations[l - 1].data() + first * layer.in;
  const T* w = arena_.data() + layer.weight_offset;
  const T* b = arena_.data() + layer.bias_offset;
  T* y = ws.activations[l].data() + first * layer.out;
  if (l + 1 == layers_.size() && keeps_logits_) {
    T* z = ws.logits.data() + first * layer.out;
    kernels_->dense_forward(shape, Activation::linear, in, w, b, z);
    output_activation(layer.act, n, layer.out, z, y, *kernels_);
  } else {
    kernels_->dense_forward(shape, layer.act, in, w, b, y);
  }
}

template <class T>
void Mlp<T>::forward(const T* x, std::size_t first, std::size_t n, Workspace<T>& ws) const {
  for (std::size_t l = 0; l < layers_.size(); ++l) forward_layer(l, x, first, n, ws);
}

template <class T>
double Mlp<T>::loss_and_output_delta(const T* y, std::size_t first, std::size_t n,
                                     Workspace<T>& ws) const {
  const std::size_t k = n_outputs(), offset = first * k;
  return output_loss_and_delta(loss_, layers_.back().act, n, k,
                               keeps_logits_ ? ws.logits.data() + offset : nullptr,
                               ws.activations.back().data() + offset, y + offset,
                               ws.deltas.back().data() + offset);
}

template <class T>
void Mlp<T>::backward_data(std::size_t first, std::size_t n, Workspace<T>& ws) const {
  for (std::size_t l = layers_.size() - 1; l > 0; --l) backward_data_layer(l, first, n, ws);
}

// δ_l:(n, out) of rows [first, first + n), W_l:(out, in) packed, a_{l−1}:(n, in) → δ_{l−1}:(n, in)
template <class T>
void Mlp<T>::backward_data_layer(std::size_t l, std::size_t first, std::size_t n, Workspace<T>& ws) const {
  const LayerSpec& layer = layers_[l];
  kernels_->dense_backward_data({n, layer.in, layer.out}, layers_[l - 1].act,
                                ws.deltas[l].data() + first * layer.out,
                                arena_.data() + layer.weight_offset,
                                ws.activations[l - 1].data() + first * layer.in,
                                ws.deltas[l - 1].data() + first * layer.in);
}

template <class T>
void Mlp<T>::backward(const T* x, std::size_t n, Workspace<T>& ws, T* grad) const {
  backward_data(0, n, ws);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerSpec& layer = layers_[l];
    const T* in = l == 0 ? x : ws.activations[l - 1].data();
    kernels_->dense_backward_weights({n, layer.in, layer.out}, ws.deltas[l].data(), in,
                                     grad + layer.weight_offset, grad + layer.bias_offset);
  }
}

template <class T>
void Mlp<T>::forward_outputs(std::size_t l, const T* x, std::size_t o0, std::size_t m,
                             Workspace<T>& ws) const {
  const LayerSpec& layer = layers_[l];
  const T* in = l == 0 ? x : ws.activations[l - 1].data();
  kernels_->dense_forward({1, layer.in, m}, layer.act, in,
                          arena_.data() + layer.weight_offset + kernels_->packed_size(o0, layer.in),
                          arena_.data() + layer.bias_offset + o0, ws.activations[l].data() + o0);
}

template <class T>
void Mlp<T>::backward_sgd_in_place(const T* x, Workspace<T>& ws, T lr) {
  for (std::size_t l = layers_.size(); l-- > 0;) {
    if (l > 0) backward_data_row(l, ws);  // δ_{l−1} from the weights before this step
    T* delta = ws.deltas[l].data();
    for (std::size_t o = 0; o < layers_[l].out; ++o) delta[o] *= -lr;
    backward_weights_outputs(l, x, ws, 1, delta, 0, layers_[l].out, arena_.data());
  }
}

template struct Workspace<float>;
template struct Workspace<double>;
template class Mlp<float>;
template class Mlp<double>;

}  // namespace bpnn
