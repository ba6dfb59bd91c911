#pragma once
// x·y + z (and z − x·y) rounded once, as one instruction, wherever the instruction set has one.
// xsimd 8.1 gives AVX2+FMA (fma3<avx2>) its FMA instructions but has none for AVX-512: on
// avx512* its xsimd::fma is the generic x·y + z, a product and a sum that GCC contracts into one
// FMA at -O2 and above but not at -O0/-O1, under -ffp-contract=off or under another compiler —
// so the bits of every kernel, and the equalities the tests hold them to (the sweep's members
// against `bpnn train`, the tiny step against the layer-by-layer step, a pending update against
// std::fma), would depend on the build. Every kernel in this folder calls bpnn::simd::fma (fnma)
// instead: on avx512* (zmm) and avx512_ymm (ymm on an AVX-512 core) the FMA intrinsic, on every
// other arch xsimd's (one FMA on fma3<avx2>; on sse2, which has none, a product and a sum).
#include <type_traits>

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include "kernels/simd/avx512_ymm.hpp"

namespace bpnn::simd {

// Whether bpnn::simd::fma is one instruction that rounds once on Arch, as std::fma does: the
// archs of the branches below and xsimd's fma3 ones (any other falls back to a product and a sum).
template <class Arch>
inline constexpr bool fma_rounds_once =
    std::is_base_of_v<xsimd::avx512f, Arch> || std::is_base_of_v<xsimd::fma3<xsimd::avx2>, Arch>
#if defined(__AVX512VL__) && defined(__AVX512DQ__)
    || std::is_same_v<Arch, avx512_ymm>
#endif
    ;

namespace detail {

// x·y + z, or z − x·y when Negate: the FMA instruction on avx512* (zmm) and avx512_ymm (ymm),
// else xsimd's form. One body for both, so that an arch added here is added for both.
template <bool Negate, class T, class Arch>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> fused(const xsimd::batch<T, Arch>& x,
                                                          const xsimd::batch<T, Arch>& y,
                                                          const xsimd::batch<T, Arch>& z) {
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    if constexpr (std::is_same_v<T, float>)
      return Negate ? _mm512_fnmadd_ps(x, y, z) : _mm512_fmadd_ps(x, y, z);
    else
      return Negate ? _mm512_fnmadd_pd(x, y, z) : _mm512_fmadd_pd(x, y, z);
  }
#endif
#if defined(__AVX512VL__) && defined(__AVX512DQ__)
  if constexpr (std::is_same_v<Arch, avx512_ymm>) {
    if constexpr (std::is_same_v<T, float>)
      return Negate ? _mm256_fnmadd_ps(x, y, z) : _mm256_fmadd_ps(x, y, z);
    else
      return Negate ? _mm256_fnmadd_pd(x, y, z) : _mm256_fmadd_pd(x, y, z);
  }
#endif
  if constexpr (Negate)
    return xsimd::fnma(x, y, z);
  else
    return xsimd::fma(x, y, z);
}

}  // namespace detail

// x, y, z → x·y + z, rounded once where fma_rounds_once<Arch>
template <class T, class Arch>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> fma(const xsimd::batch<T, Arch>& x, const xsimd::batch<T, Arch>& y,
                                                        const xsimd::batch<T, Arch>& z) {
  return detail::fused<false>(x, y, z);
}

// x, y, z → z − x·y, rounded once where fma_rounds_once<Arch>
template <class T, class Arch>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> fnma(const xsimd::batch<T, Arch>& x, const xsimd::batch<T, Arch>& y,
                                                         const xsimd::batch<T, Arch>& z) {
  return detail::fused<true>(x, y, z);
}

}  // namespace bpnn::simd
