// The sweep's lane kernel for xsimd::avx512bw, built with AVX-512 (F, DQ, BW, VL) flags (the top-level
// CMakeLists.txt derives them from the file name); see sweep.hpp.
// GCC 12.2 falsely reports the _mm512_undefined_* operands inside avx512fintrin.h as
// uninitialised once inlined (GCC PR 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/arch/sweep.hpp"
#include "kernels/simd/sweep_sample_sgd.hpp"

namespace bpnn::kernels {

template <class T>
const SweepKernel<T>& sweep_kernel_avx512() {
  using namespace xsimd;
  static constexpr SweepKernel<T> kernel{simd::sweep_sample_sgd<avx512bw, T>, batch<T, avx512bw>::size,
                                         simd::sweep_narrow_elements_of<avx512bw, T>,
                                         simd::sweep_short_chain_vectors<avx512bw, T> * batch<T, avx512bw>::size,
                                         simd::few_lanes<avx512bw, T>};
  return kernel;
}

template const SweepKernel<float>& sweep_kernel_avx512<float>();
template const SweepKernel<double>& sweep_kernel_avx512<double>();

}  // namespace bpnn::kernels
