// The elementwise kernels for xsimd::sse2, built with that instruction set's flags (the top-level
// CMakeLists.txt derives them from the file name).
#include "kernels/arch/elementwise_table.hpp"

namespace bpnn::kernels {

template <class T>
const ElementwiseKernels<T>& elementwise_sse2() {
  static constexpr ElementwiseKernels<T> table = elementwise_table<xsimd::sse2, T>("sse2");
  return table;
}

template const ElementwiseKernels<float>& elementwise_sse2<float>();
template const ElementwiseKernels<double>& elementwise_sse2<double>();

}  // namespace bpnn::kernels
