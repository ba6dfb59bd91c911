// The elementwise kernels for xsimd::avx512bw. Built with that instruction set's flags (see the top-level
// CMakeLists.txt); only templates instantiated with this Arch are used here, so no code of this
// instruction set can be merged into another translation unit's inline functions.
// GCC 12's avx512fintrin.h builds many intrinsics on _mm512_undefined_*(), which trips a false
// -Wmaybe-uninitialized once inlined (GCC PR 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/arch/elementwise.hpp"
#include "kernels/simd/vector_math.hpp"

namespace bpnn::kernels {
namespace {

using Arch = xsimd::avx512bw;

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
constexpr ElementwiseKernels<T> table{"avx512", forward<T>, backward<T>, sgd<T>, exp<T>};

}  // namespace

template <class T>
const ElementwiseKernels<T>& elementwise_avx512() {
  return table<T>;
}

template const ElementwiseKernels<float>& elementwise_avx512<float>();
template const ElementwiseKernels<double>& elementwise_avx512<double>();

}  // namespace bpnn::kernels
