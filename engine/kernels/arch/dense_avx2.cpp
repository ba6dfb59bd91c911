// The avx2 kernel table: the dense templates instantiated for xsimd::fma3<avx2>, compiled with
// AVX2 and FMA flags (CMakeLists.txt derives them from the file name).
#include "kernels/arch/dense_tables.hpp"
#include "kernels/simd/dense_table.hpp"
#include "kernels/simd/sweep_sample_sgd.hpp"

namespace bpnn::kernels {

template <class T>
const KernelTable<T>& kernels_avx2() {
  using namespace xsimd;
  // initialised on first use, immutable afterwards
  static const KernelTable<T> table = [] {
    KernelTable<T> t = simd::dense_table<fma3<avx2>, T>("avx2", elementwise_avx2<T>());
    t.sweep_sample_sgd = simd::sweep_sample_sgd<fma3<avx2>, T>;  // many networks, one per lane
    t.sweep_lanes = batch<T, fma3<avx2>>::size;
    t.sweep_narrow_elements = simd::sweep_narrow_elements_of<fma3<avx2>, T>;
    return t;
  }();
  return table;
}

template const KernelTable<float>& kernels_avx2<float>();
template const KernelTable<double>& kernels_avx2<double>();

}  // namespace bpnn::kernels
