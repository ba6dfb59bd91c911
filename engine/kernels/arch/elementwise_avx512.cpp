// The elementwise kernels for xsimd::avx512bw, built with that instruction set's flags (the top-level
// CMakeLists.txt derives them from the file name).
// GCC 12 falsely reports _mm512_undefined_*() operands as uninitialised once inlined
// (GCC PR 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/arch/elementwise_table.hpp"

namespace bpnn::kernels {

template <class T>
const ElementwiseKernels<T>& elementwise_avx512() {
  static constexpr ElementwiseKernels<T> table = elementwise_table<xsimd::avx512bw, T>("avx512");
  return table;
}

template const ElementwiseKernels<float>& elementwise_avx512<float>();
template const ElementwiseKernels<double>& elementwise_avx512<double>();

}  // namespace bpnn::kernels
