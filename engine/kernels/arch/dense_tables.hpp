#pragma once
// The kernel table of each instruction set, defined in that set's translation unit
// (dense_avx512.cpp, dense_avx2.cpp, dense_sse2.cpp). Call one only on a CPU that runs it.
#include "kernels/kernels.hpp"

namespace bpnn::kernels {

template <class T>
const KernelTable<T>& kernels_avx512();  // xsimd::avx512bw: AVX-512 F/CD/DQ/BW
template <class T>
const KernelTable<T>& kernels_avx2();    // xsimd::fma3<xsimd::avx2>: AVX2 + FMA
template <class T>
const KernelTable<T>& kernels_sse2();    // xsimd::sse2, the x86-64 baseline

}  // namespace bpnn::kernels
