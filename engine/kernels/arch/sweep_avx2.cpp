// The sweep's lane kernel for xsimd::fma3<avx2>, built with AVX2 and FMA flags (the top-level
// CMakeLists.txt derives them from the file name); see sweep.hpp.
#include "kernels/arch/sweep.hpp"
#include "kernels/simd/sweep_sample_sgd.hpp"

namespace bpnn::kernels {

template <class T>
const SweepKernel<T>& sweep_kernel_avx2() {
  using namespace xsimd;
  static constexpr SweepKernel<T> kernel{simd::sweep_sample_sgd<fma3<avx2>, T>, batch<T, fma3<avx2>>::size,
                                         simd::sweep_narrow_elements_of<fma3<avx2>, T>,
                                         simd::sweep_short_chain_vectors<fma3<avx2>, T> * batch<T, fma3<avx2>>::size,
                                         simd::few_lanes<fma3<avx2>, T>};
  return kernel;
}

template const SweepKernel<float>& sweep_kernel_avx2<float>();
template const SweepKernel<double>& sweep_kernel_avx2<double>();

}  // namespace bpnn::kernels
