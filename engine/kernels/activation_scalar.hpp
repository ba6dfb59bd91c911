#pragma once
// Scalar activations and their derivatives from the outputs: the reference definitions.
#include <cmath>

#include "bpnn/types.hpp"

namespace bpnn::kernels {

// y = act(z) for one element; act is not softmax
template <class T>
inline T activation_scalar(Activation act, T z) {
  switch (act) {
    case Activation::sigmoid: return T(1) / (T(1) + std::exp(-z));  // exp(-z) = inf gives 0
    case Activation::tanh: return std::tanh(z);
    case Activation::relu: return z > T(0) ? z : T(0);
    default: return z;
  }
}

// act'(z) expressed through y = act(z)
template <class T>
inline T activation_derivative_scalar(Activation act, T y) {
  switch (act) {
    case Activation::sigmoid: return y * (T(1) - y);
    case Activation::tanh: return T(1) - y * y;
    case Activation::relu: return y > T(0) ? T(1) : T(0);
    default: return T(1);
  }
}

}  // namespace bpnn::kernels
