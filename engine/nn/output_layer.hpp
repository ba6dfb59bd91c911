#pragma once
// The output layer's activation and the loss: ŷ from the logits, E and δ = ∂E/∂z from ŷ and y.
// Output layers are narrow (K outputs), so these stay plain loops over rows.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "bpnn/types.hpp"
#include "kernels/activation_scalar.hpp"
#include "kernels/kernels.hpp"

namespace bpnn {

// z:(N,K) → y:(N,K); softmax row by row (max-shifted), other activations elementwise
template <class T>
void output_activation(Activation act, std::size_t n, std::size_t k, const T* z, T* y,
                       const kernels::KernelTable<T>& kernels) {
  if (act != Activation::softmax) {
    kernels.activation_forward(act, n * k, z, y);
    return;
  }
  for (std::size_t r = 0; r < n; ++r) {
    const T* zr = z + r * k;
    T* yr = y + r * k;
    const T top = *std::max_element(zr, zr + k);
    T sum = 0;
    for (std::size_t j = 0; j < k; ++j) sum += (yr[j] = std::exp(zr[j] - top));
    const T inv = T(1) / sum;
    for (std::size_t j = 0; j < k; ++j) yr[j] *= inv;
  }
}

// log(1 + e^v) without overflow
template <class T>
T softplus(T v) {
  return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v)));
}

// z:(N,K) logits (may be null unless loss is xent) yhat:(N,K) y:(N,K) → delta:(N,K) = ∂E/∂z;
// returns Σ_rows E.
//   mse:  E = ½Σ_j (ŷ_j − y_j)²; δ = (ŷ − y) ⊙ act'(ŷ), softmax: δ_i = ŷ_i (g_i − Σ_j g_j ŷ_j)
//   xent, softmax: E = Σ_j y_j (logΣ_k e^{z_k} − z_j); δ = ŷ·Σ_j y_j − y
//   xent, sigmoid: E = Σ_j softplus(z_j) − y_j z_j (binary cross-entropy); δ = ŷ − y
template <class T>
double output_loss_and_delta(Loss loss, Activation act, std::size_t n, std::size_t k, const T* z,
                             const T* yhat, const T* y, T* delta) {
  double total = 0;
  for (std::size_t r = 0; r < n; ++r) {
    const T* zr = z ? z + r * k : nullptr;
    const T* pr = yhat + r * k;
    const T* yr = y + r * k;
    T* dr = delta + r * k;
    if (loss == Loss::mse) {
      T e = 0;
      for (std::size_t j = 0; j < k; ++j) {
        const T g = pr[j] - yr[j];
        e += g * g;
        dr[j] = g;
      }
      total += T(0.5) * e;
      if (act == Activation::softmax) {
        T dot = 0;
        for (std::size_t j = 0; j < k; ++j) dot += dr[j] * pr[j];
        for (std::size_t j = 0; j < k; ++j) dr[j] = pr[j] * (dr[j] - dot);
      } else {
        for (std::size_t j = 0; j < k; ++j)
          dr[j] *= kernels::activation_derivative_scalar(act, pr[j]);
      }
    } else if (act == Activation::softmax) {
      const T top = *std::max_element(zr, zr + k);
      T sum = 0, mass = 0;
      for (std::size_t j = 0; j < k; ++j) sum += std::exp(zr[j] - top);
      const T lse = top + std::log(sum);
      T e = 0;
      for (std::size_t j = 0; j < k; ++j) {
        e += yr[j] * (lse - zr[j]);
        mass += yr[j];
      }
      total += e;
      for (std::size_t j = 0; j < k; ++j) dr[j] = pr[j] * mass - yr[j];
    } else {  // xent with sigmoid outputs
      T e = 0;
      for (std::size_t j = 0; j < k; ++j) {
        e += softplus(zr[j]) - yr[j] * zr[j];
        dr[j] = pr[j] - yr[j];
      }
      total += e;
    }
  }
  return total;
}

}  // namespace bpnn
