#pragma once
// The elementwise table of one instruction set, written once over Arch. Include it only from that
// set's translation unit (elementwise_<isa>.cpp): every function here is a template on Arch, so
// no code of one instruction set can be merged into another's.
#include "kernels/arch/elementwise.hpp"
#include "kernels/simd/vector_math.hpp"

namespace bpnn::kernels {

template <class Arch, class T>
constexpr ElementwiseKernels<T> elementwise_table(const char* name) {
  return {
      name,
      [](Activation act, std::size_t count, const T* x, T* y) {
        simd::activation_forward(Arch{}, act, count, x, y);
      },
      [](Activation act, std::size_t count, const T* y, T* delta) {
        simd::activation_backward(Arch{}, act, count, y, delta);
      },
      [](std::size_t count, T lr, T momentum, T grad_scale, const T* g, T* v, T* w) {
        simd::sgd_update(Arch{}, count, lr, momentum, grad_scale, g, v, w);
      },
      [](std::size_t count, const T* x, T* y) { simd::exp_forward(Arch{}, count, x, y); },
      [](std::size_t count, const T* grad, T grad_scale, T decay, const AdamStep<T>& step, T* w, T* m,
         T* v) { simd::adam_update(Arch{}, count, grad, grad_scale, decay, step, w, m, v); },
  };
}

}  // namespace bpnn::kernels
