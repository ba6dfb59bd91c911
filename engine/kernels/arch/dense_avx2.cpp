// The avx2 kernel table: the dense templates instantiated for xsimd::fma3<avx2>, compiled with
// AVX2 and FMA flags (CMakeLists.txt derives them from the file name).
#include "kernels/arch/dense_tables.hpp"
#include "kernels/arch/sweep.hpp"
#include "kernels/simd/dense_table.hpp"

namespace bpnn::kernels {

template <class T>
const KernelTable<T>& kernels_avx2() {
  using namespace xsimd;
  // initialised on first use, immutable afterwards
  static const KernelTable<T> table = [] {
    KernelTable<T> t = simd::dense_table<fma3<avx2>, T>("avx2", elementwise_avx2<T>());
    sweep_kernel_fill(sweep_kernel_avx2<T>(), t);  // many networks, one per lane (sweep_avx2.cpp)
    return t;
  }();
  return table;
}

template const KernelTable<float>& kernels_avx2<float>();
template const KernelTable<double>& kernels_avx2<double>();

}  // namespace bpnn::kernels
