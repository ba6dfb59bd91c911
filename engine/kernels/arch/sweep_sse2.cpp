// The sweep's lane kernel for xsimd::sse2, built with SSE2 (the x86-64 baseline) flags (the top-level
// CMakeLists.txt derives them from the file name); see sweep.hpp.
#include "kernels/arch/sweep.hpp"
#include "kernels/simd/sweep_sample_sgd.hpp"

namespace bpnn::kernels {

template <class T>
const SweepKernel<T>& sweep_kernel_sse2() {
  using namespace xsimd;
  static constexpr SweepKernel<T> kernel{simd::sweep_sample_sgd<sse2, T>, batch<T, sse2>::size,
                                         simd::sweep_narrow_elements_of<sse2, T>,
                                         simd::sweep_short_chain_vectors<sse2, T> * batch<T, sse2>::size,
                                         simd::few_lanes<sse2, T>};
  return kernel;
}

template const SweepKernel<float>& sweep_kernel_sse2<float>();
template const SweepKernel<double>& sweep_kernel_sse2<double>();

}  // namespace bpnn::kernels
