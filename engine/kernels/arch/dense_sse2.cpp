// The sse2 kernel table: the dense templates instantiated for xsimd::sse2, compiled with
// SSE2 (x86-64 baseline) flags (CMakeLists.txt derives them from the file name).
#include "kernels/arch/dense_tables.hpp"
#include "kernels/arch/sweep.hpp"
#include "kernels/simd/dense_table.hpp"

namespace bpnn::kernels {

template <class T>
const KernelTable<T>& kernels_sse2() {
  using namespace xsimd;
  // initialised on first use, immutable afterwards
  static const KernelTable<T> table = [] {
    KernelTable<T> t = simd::dense_table<sse2, T>("sse2", elementwise_sse2<T>());
    sweep_kernel_fill(sweep_kernel_sse2<T>(), t);  // many networks, one per lane (sweep_sse2.cpp)
    return t;
  }();
  return table;
}

template const KernelTable<float>& kernels_sse2<float>();
template const KernelTable<double>& kernels_sse2<double>();

}  // namespace bpnn::kernels
