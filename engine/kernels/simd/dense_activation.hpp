#pragma once
// Minimal vector activations for the dense epilogues, over xsimd's own exp/tanh. Stand-ins until
// the tuned ones of engine/kernels/simd/vector_math.hpp are merged; same meaning as
// activation_scalar.hpp.
#include <xsimd/xsimd.hpp>

#include "bpnn/types.hpp"

namespace bpnn::kernels::simd {

// y = act(z)
struct DenseSigmoid {
  template <class B>
  B operator()(const B& z) const {
    return B(typename B::value_type(1)) / (B(typename B::value_type(1)) + xsimd::exp(-z));
  }
};
struct DenseTanh {
  template <class B>
  B operator()(const B& z) const { return xsimd::tanh(z); }
};
struct DenseRelu {
  template <class B>
  B operator()(const B& z) const { return xsimd::max(z, B(typename B::value_type(0))); }
};
struct DenseLinear {
  template <class B>
  B operator()(const B& z) const { return z; }
};

// d ⊙ act'(·) where y = act(·): sigmoid y(1−y), tanh 1−y², relu y > 0, linear 1
struct DenseSigmoidGrad {
  template <class B>
  B operator()(const B& d, const B& y) const {
    return d * (y * (B(typename B::value_type(1)) - y));
  }
};
struct DenseTanhGrad {
  template <class B>
  B operator()(const B& d, const B& y) const {
    return d * xsimd::fnma(y, y, B(typename B::value_type(1)));
  }
};
struct DenseReluGrad {
  template <class B>
  B operator()(const B& d, const B& y) const {
    return xsimd::select(y > B(typename B::value_type(0)), d, B(typename B::value_type(0)));
  }
};
struct DenseLinearGrad {
  template <class B>
  B operator()(const B& d, const B&) const { return d; }
};

// f(op) with the functor for act, the switch hoisted out of the loops (softmax acts as linear:
// the loss applies it).
template <class F>
inline void dense_with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::sigmoid: f(DenseSigmoid{}); break;
    case Activation::tanh: f(DenseTanh{}); break;
    case Activation::relu: f(DenseRelu{}); break;
    default: f(DenseLinear{}); break;
  }
}
template <class F>
inline void dense_with_activation_grad(Activation act, F&& f) {
  switch (act) {
    case Activation::sigmoid: f(DenseSigmoidGrad{}); break;
    case Activation::tanh: f(DenseTanhGrad{}); break;
    case Activation::relu: f(DenseReluGrad{}); break;
    default: f(DenseLinearGrad{}); break;
  }
}

}  // namespace bpnn::kernels::simd
