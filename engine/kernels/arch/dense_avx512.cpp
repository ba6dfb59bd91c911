// The avx512 kernel table: the dense templates instantiated for xsimd::avx512bw, compiled with
// AVX-512 (F, CD, DQ, BW) flags (CMakeLists.txt derives them from the file name).
// GCC 12.2 falsely reports the _mm512_undefined_* operands inside avx512fintrin.h as
// uninitialised once inlined (GCC PR 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/arch/dense_tables.hpp"
#include "kernels/arch/sweep.hpp"
#include "kernels/simd/dense_table.hpp"

namespace bpnn::kernels {

template <class T>
const KernelTable<T>& kernels_avx512() {
  using namespace xsimd;
  // initialised on first use, immutable afterwards
  static const KernelTable<T> table = [] {
    KernelTable<T> t = simd::dense_table<avx512bw, T>("avx512", elementwise_avx512<T>());
    sweep_kernel_fill(sweep_kernel_avx512<T>(), t);  // many networks, one per lane (sweep_avx512.cpp)
    return t;
  }();
  return table;
}

template const KernelTable<float>& kernels_avx512<float>();
template const KernelTable<double>& kernels_avx512<double>();

}  // namespace bpnn::kernels
