// The elementwise kernels for xsimd::fma3<xsimd::avx2>, built with that instruction set's flags (the top-level
// CMakeLists.txt derives them from the file name).
#include "kernels/arch/elementwise_table.hpp"

namespace bpnn::kernels {

template <class T>
const ElementwiseKernels<T>& elementwise_avx2() {
  static constexpr ElementwiseKernels<T> table = elementwise_table<xsimd::fma3<xsimd::avx2>, T>("avx2");
  return table;
}

template const ElementwiseKernels<float>& elementwise_avx2<float>();
template const ElementwiseKernels<double>& elementwise_avx2<double>();

}  // namespace bpnn::kernels
