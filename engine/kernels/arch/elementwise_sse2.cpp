// The elementwise kernels for xsimd::sse2. Built with that instruction set's flags (see the top-level
// CMakeLists.txt); only templates instantiated with this Arch are used here, so no code of this
// instruction set can be merged into another translation unit's inline functions.
#include "kernels/arch/elementwise.hpp"
#include "kernels/simd/vector_math.hpp"

namespace bpnn::kernels {
namespace {

using Arch = xsimd::sse2;

template <class T>
void forward(Activation act, std::size_t count, const T* x, T* y) {
  simd::activation_forward(Arch{}, act, count, x, y);
}
template <class T>
void backward(Activation act, std::size_t count, const T* y, T* delta) {
  simd::activation_backward(Arch{}, act, count, y, delta);
}
template <class T>
void sgd(std::size_t count, T lr, T momentum, T grad_scale, const T* g, T* v, T* w) {
  simd::sgd_update(Arch{}, count, lr, momentum, grad_scale, g, v, w);
}
template <class T>
void exp(std::size_t count, const T* x, T* y) {
  simd::exp_forward(Arch{}, count, x, y);
}

template <class T>
constexpr ElementwiseKernels<T> table{"sse2", forward<T>, backward<T>, sgd<T>, exp<T>};

}  // namespace

template <class T>
const ElementwiseKernels<T>& elementwise_sse2() {
  return table<T>;
}

template const ElementwiseKernels<float>& elementwise_sse2<float>();
template const ElementwiseKernels<double>& elementwise_sse2<double>();

}  // namespace bpnn::kernels
