#pragma once
// The arch of ymm registers on an AVX-512 core (the tiny per-sample step's,
// kernels/simd/sample_sgd_tiny.hpp): xsimd's AVX2 kernels, FMA by the intrinsic
// (kernels/simd/fma.hpp), and sigmoid's AVX-512 f32 form on ymm (Avx512F32Ops<256> in
// vector_math.hpp). Its own tag, so that those two can tell it from AVX2+FMA; it derives from
// avx2 rather than fma3<avx2> only because it takes every FMA from fma.hpp anyway.
#include <xsimd/xsimd.hpp>

#if defined(__AVX512VL__) && defined(__AVX512DQ__)
namespace bpnn::simd {
struct avx512_ymm : xsimd::avx2 {};
}  // namespace bpnn::simd

namespace xsimd::types {
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(bpnn::simd::avx512_ymm, avx2);
}  // namespace xsimd::types
#endif
