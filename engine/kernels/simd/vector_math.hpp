#pragma once
// Vectorised exp, sigmoid and tanh, the activation functors built on them, and the elementwise
// kernels (activation forward/backward, SGD update). Written once over xsimd::batch<T, Arch> and
// instantiated per instruction set in engine/kernels/arch/*_<isa>.cpp; the GEMM epilogues call
// the same functors.
//
// Include this header ONLY from a translation unit compiled for the instruction set it
// instantiates (the arch TUs), and only instantiate it with an explicit Arch: every function
// here is a template on Arch (or on a batch type, which carries Arch), so the symbols of the
// AVX-512 copy differ from those of the SSE2 copy and the linker cannot merge them.
//
// Method
//   exp:     n = round(x·log2 e) by the 1.5·2^(p-1) shifter trick; r = x − n·ln2 with ln2 split
//            Cody–Waite style into hi + lo, hi short enough that n·hi is exact even where
//            fma is a multiply and an add (SSE2, fma.hpp); e^r = 1 + r + r²·q(r) with q a
//            near-minimax fit (fit_polynomials.py: degree 4 for f32, 9 for f64) on
//            |r| ≤ ln2/2; 2^n is built in the exponent bits. When every lane has
//            |x| < 87 (f32) / 708 (f64) that is one shift and one multiply; otherwise x is
//            clamped to [-104, 89] / [-746, 710] and 2^n is applied as 2^n1·2^n2 (n1 = n/2
//            rounded), so results that overflow become +inf and results in the subnormal range
//            are rounded once, correctly, from p·2^n1 (gradual underflow, no flush to zero).
//            x = +inf -> +inf, x = -inf -> 0, NaN -> NaN.
//   sigmoid: e = exp(−|x|) ∈ [0, 1]; y = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0 (the numerator
//            is selected), with 1 + e = (1 + s)·2^n + 1 as one FMA from exp's s = e^r − 1.
//            Nothing overflows: for any non-NaN input y is finite and in [0, 1]. For x ≲ −87
//            (f32) the result is subnormal and inherits exp's gradual underflow. The quotient is
//            one correctly rounded division.
//            AVX-512 f32 has its own form (detail::sigmoid_avx512_f32), because the sigmoid is
//            on every per-sample step's dependency chain, twice for the seed network (README
//            "The per-sample chain"), and five times per step of the sweep's lane kernel, which
//            is close to port-bound: a = max(−104, −|x|) (an OR and a max); k = round(16·a·log2 e)
//            by a 1.5·2^19 shifter, whose low bits index a 16-entry table of 2^(j/16) in one
//            vpermps; r = a − k/16·ln2 (|r| ≤ ln2/32) with ln2's low part folded into the
//            polynomial's last FMA; e^r − 1 = s = r + r²·(c0 + c1·r); t = 2^(j/16)·2^⌊k/16⌋ by
//            vscalefps beside the polynomial (it gives 0 below the subnormal range, so no lane
//            needs a range test or a second path), e = t + t·s in one FMA; then rcp14 (r0, 14
//            bits) and one Newton step, y = y0 + y0·(1 − den·r0), y0 = num·r0 as a masked
//            multiply. 18 vector instructions without a branch, against 24 and a branch for the
//            form above with rcp14 (which it replaced); 1.3× its throughput (0.27 against 0.355
//            ns per element in L1); chain 50 cycles against 57 on the Xeon of issue 11 round 2
//            (bench/latency_chain.cpp). f64 keeps the form above: 75 cycles there (91 before
//            Estrin form and the reduction's low part beside its high part). On the 4.07 GHz
//            Xeon of round 5: f32 57.2 cycles in zmm and 50.5 in ymm (the tiny step's registers,
//            sample_sgd_tiny.hpp), f64 84.6 and 64.1.
//   tanh:    |x| < atanh(1/2): x + x³·g(x²), g a near-minimax fit (degree 4 f32, 10 f64), so small
//            arguments keep full relative accuracy (tanh(±0) = ±0, subnormals pass through);
//            otherwise sign(x)·(1 − 2/(e^{2|x|} + 1)) with |x| clamped to 10 (f32) / 20 (f64),
//            where tanh is already 1 in that precision. One division.
//
// Measured accuracy (tests/test_vector_math.cpp with BPNN_TEST_DENSE=1): max error in ULP of the
// result against a double (f32) or long double (f64) reference. "whole range" = every 97th f32
// bit pattern (44M points), resp. 16M random f64 bit patterns; "|x| ≤ 20" = every 7th f32 bit
// pattern in |x| ≤ 20 (315M points), resp. 16M f64 values over |x| ≤ 20 and its small binades.
// Worst ISA shown (AVX-512 and AVX2+FMA agree; SSE2, without FMA, is within 0.06 ULP of them).
//                whole range   |x| ≤ 20          whole range   |x| ≤ 20
//   f32 exp        1.05         1.05     f64 exp   1.01         1.06
//   f32 sigmoid    2.28         2.36     f64 sig   2.13         2.38
//   f32 sigmoid, AVX-512 (table + vscalefps + rcp14), the default sweep (every 1021st / 257th
//                  bit pattern): 3.20         3.10     f64 (division, Estrin): 1.75 / 2.18
//                  every f32 with |x| ≤ 108 (2.24G points, `bpnn_tests "[exhaustive]"`): 3.49
//                  at x = −3.44161; subnormal results (x < −87.3) 1.21; the form it replaced:
//                  2.36 / 2.72 on the default sweep
//   f32 tanh       1.42         1.49     f64 tanh  1.37         1.46
// The tests hold every ISA to ≤ 4 ULP, and the AVX-512 f32 sigmoid to 3.5. Subnormal results (exp, and sigmoid for very negative x)
// are measured on the subnormal grid: gradual underflow, no flush to zero.
//
// Why not xsimd::exp: on AVX-512 it is about as fast as this one, but xsimd 8.1 flushes results
// below the normal range to 0 (f32 exp(−100.5) = 0, true 2.3e−44), and owning the code lets
// sigmoid and tanh reuse the reduction without the range checks they do not need.
//
// Throughput (bench/bench_vector_math.cpp, Zen 4 EPYC, one core, elements per nominal 2.6 GHz TSC
// cycle, 4096 elements): f32 sigmoid 1.39 (AVX-512) / 0.95 (AVX2) / 0.30 (SSE2), f32 exp 1.85,
// f32 tanh 0.97, f64 sigmoid 0.49, f64 exp 0.61, f64 tanh 0.30 (AVX-512).
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include "bpnn/types.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd/avx512_ymm.hpp"
#include "kernels/simd/fma.hpp"

namespace bpnn::simd {

namespace detail {

// Constants of exp/tanh per precision. Data only: no code is generated from these.
template <class T>
struct MathConst;

template <>
struct MathConst<float> {
  static constexpr int mant_bits = 23;
  static constexpr float log2e = 0x1.715476p0f;
  // ln2 = hi + lo, hi with 13 significant bits so n·hi is exact for |n| < 2^11 without FMA
  static constexpr float ln2_hi = 0x1.62ep-1f;
  static constexpr float ln2_lo = 0x1.0bfbe8p-15f;
  static constexpr float shifter = 0x1.8p23f + 127.0f;  // rounds to integers, carries the bias
  static constexpr float fast_limit = 87.0f;           // |x| below: 2^n is a normal number
  static constexpr float clamp_lo = -104.0f;           // e^-104 < 2^-150: rounds to 0
  static constexpr float clamp_hi = 89.0f;             // e^89 > FLT_MAX: overflows to inf
  // e^r = 1 + r + r²·q(r), |r| ≤ ln2/2
  static constexpr float exp_q[] = {0x1p-1f, 0x1.5554dep-3f, 0x1.55551ap-5f, 0x1.120b62p-7f,
                                    0x1.6d10fcp-10f};
  static constexpr float tanh_small = 0x1.193ea8p-1f;  // atanh(1/2)
  static constexpr float tanh_sat = 10.0f;             // tanh(10) rounds to 1
  // tanh(x) = x + x³·g(x²), |x| ≤ atanh(1/2)
  static constexpr float tanh_g[] = {-0x1.555554p-2f, 0x1.110feep-3f, -0x1.b9a11ep-5f,
                                     0x1.5d2c7cp-6f, -0x1.b183d0p-8f};
  // The AVX-512 sigmoid's exp (sigmoid_avx512_f32): e^a = 2^(k/16)·e^r, k = round(16·a·log2 e).
  // The shifter 1.5·2^19 rounds a·log2 e to a multiple of 1/16 and leaves k in the low bits.
  static constexpr float shifter_sixteenths = 0x1.8p19f;
  static constexpr float sigmoid_clamp = 104.0f;  // e^-104 < 2^-150: σ(−104) rounds to 0
  // ln2 = hi + lo with hi the f32 rounding: k/16·hi is exact inside the FMA
  static constexpr float ln2_f32_hi = 0x1.62e430p-1f;
  static constexpr float ln2_f32_lo = -0x1.05c610p-29f;
  // e^r = 1 + r + r²·q(r), |r| ≤ ln2/32, q of degree 1
  static constexpr float exp_sixteenths_q[] = {0x1.000148p-1f, 0x1.55565cp-3f};
  // 2^(j/16), j = 0..15, rounded to f32 (relative error < 0.8·2^-24; fit_polynomials.py)
  static constexpr float exp2_sixteenths[16] = {
      0x1p+0f,        0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f, 0x1.306fe0p+0f,
      0x1.3dea64p+0f, 0x1.4bfdaep+0f, 0x1.5ab07ep+0f, 0x1.6a09e6p+0f, 0x1.7a1148p+0f,
      0x1.8ace54p+0f, 0x1.9c4918p+0f, 0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f,
      0x1.ea4afap+0f};
};

template <>
struct MathConst<double> {
  static constexpr int mant_bits = 52;
  static constexpr double log2e = 0x1.71547652b82fep0;
  static constexpr double ln2_hi = 0x1.62e42feep-1;  // 33 significant bits (fdlibm's split)
  static constexpr double ln2_lo = 0x1.a39ef35793c76p-33;
  static constexpr double shifter = 0x1.8p52 + 1023.0;
  static constexpr double fast_limit = 708.0;
  static constexpr double clamp_lo = -746.0;  // e^-746 < 2^-1075
  static constexpr double clamp_hi = 710.0;   // e^710 > DBL_MAX
  static constexpr double exp_q[] = {
      0x1.0000000000001p-1,  0x1.5555555555556p-3,  0x1.5555555553d68p-5, 0x1.11111111109b5p-7,
      0x1.6c16c17889ef1p-10, 0x1.a01a01a7c2efep-13, 0x1.a019b9149a41cp-16, 0x1.71de0db2f6b19p-19,
      0x1.28917c89a43a7p-22, 0x1.af389ecfc4b9cp-26};
  static constexpr double tanh_small = 0x1.193ea7aad030bp-1;
  static constexpr double tanh_sat = 20.0;
  static constexpr double tanh_g[] = {
      -0x1.5555555555555p-2, 0x1.1111111111037p-3,  -0x1.ba1ba1b9ff62fp-5, 0x1.664f48774a7c5p-6,
      -0x1.226e32fa05e46p-7, 0x1.d6d33b41ea835p-9,  -0x1.7d97f0c0e2c2ep-10, 0x1.34c6edd26d9b3p-11,
      -0x1.ec1fac7d36cd7p-13, 0x1.652f20224cf39p-14, -0x1.5a32383cb11eep-16};
};

// c[0] + c[1]·x + … + c[N-1]·x^(N-1), Horner with FMA
template <class Arch, class T, std::size_t N>
inline xsimd::batch<T, Arch> poly(xsimd::batch<T, Arch> x, const T (&c)[N]) {
  using B = xsimd::batch<T, Arch>;
  B acc(c[N - 1]);
  for (std::size_t i = N - 1; i-- > 0;) acc = bpnn::simd::fma(acc, x, B(c[i]));
  return acc;
}

// c[0] + c[1]·x + … + c[N-1]·x^(N-1) with x2 = x², second-order Estrin: the pairs
// c[2i] + c[2i+1]·x are independent, then Horner in x² over them. Latency 4 + 4·⌈N/2 − 1⌉
// cycles of FMA instead of Horner's 4·(N − 1): 12 instead of 16 for f32's N = 5, 20 instead of
// 36 for f64's N = 10 (README "The per-sample chain": the sigmoid is on every step's chain).
template <class Arch, class T, std::size_t N>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> poly_pairs(xsimd::batch<T, Arch> x,
                                                               xsimd::batch<T, Arch> x2,
                                                               const T (&c)[N]) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t pairs = (N + 1) / 2;
  const auto pair = [&](std::size_t i) {
    return 2 * i + 1 < N ? bpnn::simd::fma(B(c[2 * i + 1]), x, B(c[2 * i])) : B(c[2 * i]);
  };
  // (a fold over an index sequence, so that every pair stays in a register)
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    B acc = pair(pairs - 1);
    ((acc = bpnn::simd::fma(x2, acc, pair(pairs - 2 - I))), ...);
    return acc;
  }(std::make_index_sequence<pairs - 1>{});
}

// x -> s, k: e^x = (1 + s)·2^n, s = e^r − 1 = r + r²q(r), k as in exp_split. n·ln2_lo is
// subtracted from the exact r_hi = x − n·ln2_hi, so it is computed beside r_hi, not after it.
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> exp_split_minus_one(
    xsimd::batch<T, Arch> x, xsimd::batch<T, Arch>& k) {
  using B = xsimd::batch<T, Arch>;
  using C = MathConst<T>;
  k = bpnn::simd::fma(x, B(C::log2e), B(C::shifter));  // round-to-nearest puts n in the low bits
  const B n = k - B(C::shifter);
  // n·lo as an FMA with a zero addend (the same bits as the product: n is never −0): with
  // contraction allowed (GCC's default, which this project turns off, but builds of these files
  // outside it such as the fuzz build do not) a plain product would be fused into the
  // subtraction, which puts it back on the chain
  const B r = bpnn::simd::fma(n, B(-C::ln2_hi), x) - bpnn::simd::fma(n, B(C::ln2_lo), B(T(0)));
  const B r2 = r * r;
  const B q = poly_pairs<Arch>(r, r2, C::exp_q);
  return bpnn::simd::fma(q, r2, r);
}

// x -> p, k: e^x = p·2^n with p = e^r, and k = n + shifter, whose low bits hold n + bias.
// x must keep |x·log2 e| well below 2^(p-2) (the callers clamp or test |x| first).
// (k is an out-parameter: returning a struct of two batches left dead stack stores in GCC 12.)
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_split(xsimd::batch<T, Arch> x, xsimd::batch<T, Arch>& k) {
  using B = xsimd::batch<T, Arch>;
  return exp_split_minus_one<Arch>(x, k) + B(T(1));  // 1 + (r + r²q): the add rounds once
}

// 2^(k − shifter) for k = integer + shifter with the integer in [−bias+1, bias]
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp2_bits(xsimd::batch<T, Arch> k) {
  using I = xsimd::batch<xsimd::as_integer_t<T>, Arch>;
  return xsimd::bitwise_cast<xsimd::batch<T, Arch>>(xsimd::bitwise_cast<I>(k)
                                                    << MathConst<T>::mant_bits);
}

// e^x for lanes with |x| < fast_limit: p·2^n with 2^n normal
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_fast(xsimd::batch<T, Arch> x) {
  xsimd::batch<T, Arch> k;
  const auto p = exp_split<Arch>(x, k);
  return p * exp2_bits<Arch>(k);
}

// e^x for any x: clamp, then scale in two steps so overflow gives inf and underflow is gradual
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp_edges(xsimd::batch<T, Arch> x) {
  using B = xsimd::batch<T, Arch>;
  using C = MathConst<T>;
  // min/max return their second operand when either is NaN (x86 semantics), so NaN survives
  x = xsimd::max(B(C::clamp_lo), xsimd::min(B(C::clamp_hi), x));
  B k;
  const B p = exp_split<Arch>(x, k);
  const B n = k - B(C::shifter);
  const B k1 = bpnn::simd::fma(n, B(T(0.5)), B(C::shifter));  // n1 = round(n/2)
  const B k2 = (n - (k1 - B(C::shifter))) + B(C::shifter);  // n2 = n − n1, exact
  return (p * exp2_bits<Arch>(k1)) * exp2_bits<Arch>(k2);
}

// The AVX-512 instructions of sigmoid_avx512_f32 on one register width: zmm (16 lanes), or with
// AVX-512VL ymm (8 lanes) for the tiny per-sample step, whose chain the narrow forms shorten (on
// the issue-11 Xeon a zmm add takes 3.7 cycles, a ymm add 2; zmm rcp14 6, ymm 4; zmm FMA 4.3,
// ymm 4). Each lane gets the same bits at either width: the same instruction on every lane, the
// same 16-entry table (indexed in a zmm vpermps for both). Defined only in the translation units
// built for those instruction sets (the AVX-512 ones), which are all built with the same flags.
template <int Bits>
struct Avx512F32Ops;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
template <>
struct Avx512F32Ops<512> {
  using V = __m512;
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V bit_or(V a, V b) { return _mm512_or_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V scalef(V a, V b) { return _mm512_scalef_ps(a, b); }
  static V rcp14(V a) { return _mm512_rcp14_ps(a); }
  // table[low 4 bits of index's lane]
  static V lookup(__m512 table, V index) { return _mm512_permutexvar_ps(_mm512_castps_si512(index), table); }
  // lanes where x < 0: a·b; others: keep
  static V mul_where_negative(V x, V keep, V a, V b) {
    return _mm512_mask_mul_ps(keep, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), a, b);
  }
};
#endif
#if defined(__AVX512VL__) && defined(__AVX512DQ__)
template <>
struct Avx512F32Ops<256> {
  using V = __m256;
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V bit_or(V a, V b) { return _mm256_or_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  static V scalef(V a, V b) { return _mm256_scalef_ps(a, b); }
  static V rcp14(V a) { return _mm256_rcp14_ps(a); }
  static V lookup(__m512 table, V index) {
    return _mm512_castps512_ps256(
        _mm512_permutexvar_ps(_mm512_castsi256_si512(_mm256_castps_si256(index)), table));
  }
  static V mul_where_negative(V x, V keep, V a, V b) {
    return _mm256_mask_mul_ps(keep, _mm256_cmp_ps_mask(x, _mm256_setzero_ps(), _CMP_LT_OQ), a, b);
  }
};
#endif

// y = 1/(1+e^-x) on AVX-512 f32, 18 vector instructions and no branch (see "Method" above):
// a = max(−104, −|x|); e = e^a = 2^(k/16)·e^r with 2^(j/16) (j = k mod 16) from a
// 16-entry table in one vpermps, scaled by 2^⌊k/16⌋ in vscalefps beside the degree-3 polynomial
// of e^r (exact for normal results, a correct rounding for subnormal ones, 0 below); then
// den = 1 + e and the quotient num/den by rcp14 and one correction, num = e for x < 0 (a masked
// multiply) and 1 otherwise. Bits: 512 (zmm), or 256 (ymm: sigmoid on avx512_ymm, the tiny step).
template <int Bits>
[[gnu::always_inline]] inline typename Avx512F32Ops<Bits>::V sigmoid_avx512_f32_lanes(
    typename Avx512F32Ops<Bits>::V v) {
  using C = MathConst<float>;
  using O = Avx512F32Ops<Bits>;
  using V = typename O::V;
  // max(−104, −|x|): vmaxps returns its second operand when either is NaN, so NaN stays NaN
  // (vrangeps would do both in one instruction, but it returns the number beside a quiet NaN)
  const V a = O::max(O::set1(-C::sigmoid_clamp), O::bit_or(v, O::set1(-0.0f)));
  const V shifter = O::set1(C::shifter_sixteenths);
  const V kk = O::fmadd(a, O::set1(C::log2e), shifter);
  const V k16 = O::sub(kk, shifter);  // k/16, exact
  // r = a − k/16·ln2: the high part on the chain; the low part is added in the polynomial's
  // last FMA (using r_hi in r² and q costs < 0.01 ulp: |k/16·lo| < 2^-21)
  const V r = O::fmadd(k16, O::set1(-C::ln2_f32_hi), a);
  const V r_full = O::fmadd(k16, O::set1(-C::ln2_f32_lo), r);
  const V q = O::fmadd(O::set1(C::exp_sixteenths_q[1]), r, O::set1(C::exp_sixteenths_q[0]));
  const V s = O::fmadd(q, O::mul(r, r), r_full);  // e^r − 1
  // vpermps reads the low 4 bits of each index lane: k mod 16, straight from the shifter's bits;
  // the table entry is scaled by 2^⌊k/16⌋ while the polynomial runs, so that vscalefps is off
  // the chain (the same bits where e is normal; a subnormal e is rounded twice, 1.21 ulp at most over x in [−110, −86])
  const __m512 table = _mm512_loadu_ps(C::exp2_sixteenths);
  const V t = O::scalef(O::lookup(table, kk), k16);
  const V e = O::fmadd(t, s, t);
  const V one = O::set1(1.0f);
  const V den = O::add(e, one);
  const V r0 = O::rcp14(den);  // 14 bits
  const V y0 = O::mul_where_negative(v, r0, e, r0);  // num·r0
  // y = y0 + y0·(1 − den·r0): y0·(2 − den·r0), the reciprocal's Newton step
  return O::fmadd(y0, O::fnmadd(den, r0, one), y0);
}

template <class Arch>
[[gnu::always_inline]] inline xsimd::batch<float, Arch> sigmoid_avx512_f32(
    xsimd::batch<float, Arch> x) {
  return xsimd::batch<float, Arch>(sigmoid_avx512_f32_lanes<512>(x));
}

}  // namespace detail

// e^x elementwise; x ≥ ln(max) -> +inf, x ≤ ln(min subnormal/2) -> 0, subnormal results rounded
template <class Arch, class T>
inline xsimd::batch<T, Arch> exp(xsimd::batch<T, Arch> x) {
  using B = xsimd::batch<T, Arch>;
  if (xsimd::all(xsimd::abs(x) < B(detail::MathConst<T>::fast_limit)))
    return detail::exp_fast<Arch>(x);
  return detail::exp_edges<Arch>(x);
}

// y = 1/(1+e^-x), computed from e = e^-|x| ≤ 1; finite, in [0, 1] for every non-NaN input
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> sigmoid(xsimd::batch<T, Arch> x) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (std::is_same_v<T, float> && std::is_base_of_v<xsimd::avx512dq, Arch>) {
    return detail::sigmoid_avx512_f32<Arch>(x);  // table, vscalefps, rcp14: shorter, fewer
#if defined(__AVX512VL__) && defined(__AVX512DQ__)
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Arch, avx512_ymm>) {
    return B(detail::sigmoid_avx512_f32_lanes<256>(x));  // the same form on ymm, the same bits
#endif
  } else {
    const B minus_a = x | B(T(-0.0));  // −|x|: one OR of the sign bit
    // σ = num/den: 1/(1+e) for x ≥ 0, e/(1+e) for x < 0, e = (1 + s)·2^n; den = 1 + e as one
    // FMA from s, with 1 + 2^n exact for n ≥ −p and, below that, within half an ulp of 1 where
    // e no longer reaches den's last bit
    const auto negative = x < B(T(0));
    B k;
    const B s = detail::exp_split_minus_one<Arch>(minus_a, k);
    const B scale = detail::exp2_bits<Arch>(k);
    B num = xsimd::select(negative, bpnn::simd::fma(s, scale, scale), B(T(1)));
    B den = bpnn::simd::fma(s, scale, scale + B(T(1)));
    const auto fast = xsimd::abs(x) < B(detail::MathConst<T>::fast_limit);
    if (!xsimd::all(fast)) {
      // lanes out of the fast range (and NaN) from exp_edges; the others keep the values
      // above, so that no lane depends on its neighbours
      const B e = detail::exp_edges<Arch>(minus_a);
      num = xsimd::select(fast, num, xsimd::select(negative, e, B(T(1))));
      den = xsimd::select(fast, den, B(T(1)) + e);
    }
    return num / den;  // one correctly rounded quotient
  }
}

// y = tanh(x): odd polynomial for |x| < atanh(1/2), sign(x)·(1 − 2/(e^{2|x|}+1)) above
template <class Arch, class T>
inline xsimd::batch<T, Arch> tanh(xsimd::batch<T, Arch> x) {
  using B = xsimd::batch<T, Arch>;
  using C = detail::MathConst<T>;
  const B a = xsimd::abs(x);
  const auto small = a < B(C::tanh_small);
  const B sign = x & B(T(-0.0));  // the sign bit of x (xsimd 8.1's andnot differs per ISA)
  const B z = x * x;
  // x + x³g has the sign of x; or-ing it in only matters for −0, which the sum turns into +0
  const B y_small = bpnn::simd::fma(x * z, detail::poly<Arch>(z, C::tanh_g), x) | sign;
  if (xsimd::all(small)) return y_small;
  // min(sat, a) returns a when a is NaN, so NaN reaches the output
  const B e = detail::exp_fast<Arch>(B(T(2)) * xsimd::min(B(C::tanh_sat), a));
  const B y_big = B(T(1)) - B(T(2)) / (e + B(T(1)));
  return xsimd::select(small, y_small, y_big | sign);
}

// ---- activation functors: y = act(z), callable on any batch type ----
struct SigmoidOp {  // y = 1/(1+e^-z)
  template <class B>
  [[gnu::always_inline]] B operator()(B z) const {
    return simd::sigmoid<typename B::arch_type>(z);
  }
};
struct TanhOp {  // y = tanh(z)
  template <class B>
  [[gnu::always_inline]] B operator()(B z) const {
    return simd::tanh<typename B::arch_type>(z);
  }
};
struct ReluOp {  // y = max(0, z); NaN and −0 give +0, as activation_scalar does
  template <class B>
  [[gnu::always_inline]] B operator()(B z) const {
    return xsimd::max(z, B(typename B::value_type(0)));  // maxps returns operand 2 on NaN / ±0
  }
};
struct LinearOp {  // y = z
  template <class B>
  [[gnu::always_inline]] B operator()(B z) const {
    return z;
  }
};

// ---- derivative functors: act'(z) written through the output y = act(z) ----
struct SigmoidGradOp {  // y(1−y)
  template <class B>
  [[gnu::always_inline]] B operator()(B y) const {
    return y * (B(typename B::value_type(1)) - y);
  }
};
struct TanhGradOp {  // 1 − y²
  template <class B>
  [[gnu::always_inline]] B operator()(B y) const {
    return bpnn::simd::fnma(y, y, B(typename B::value_type(1)));
  }
};
struct ReluGradOp {  // y > 0 ? 1 : 0
  template <class B>
  [[gnu::always_inline]] B operator()(B y) const {
    using T = typename B::value_type;
    return xsimd::select(y > B(T(0)), B(T(1)), B(T(0)));
  }
};
struct LinearGradOp {  // 1
  template <class B>
  [[gnu::always_inline]] B operator()(B) const {
    return B(typename B::value_type(1));
  }
};

// Calls f with the functor for act, so a switch on act happens once, outside the hot loop.
// softmax is not elementwise; like activation_scalar it is treated as linear here.
template <class F>
decltype(auto) with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::sigmoid: return f(SigmoidOp{});
    case Activation::tanh: return f(TanhOp{});
    case Activation::relu: return f(ReluOp{});
    default: return f(LinearOp{});
  }
}

// As with_activation, with the derivative functor (from outputs) for act.
template <class F>
decltype(auto) with_activation_grad(Activation act, F&& f) {
  switch (act) {
    case Activation::sigmoid: return f(SigmoidGradOp{});
    case Activation::tanh: return f(TanhGradOp{});
    case Activation::relu: return f(ReluGradOp{});
    default: return f(LinearGradOp{});
  }
}

// ---- elementwise kernels over pointers + sizes; any alignment; tails through a padded batch ----

namespace detail {

// x:(count) -> y:(count); y = op(x), x == y allowed
template <class Arch, class T, class Op>
inline void map_unary(std::size_t count, const T* x, T* y, Op op) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  std::size_t i = 0;
  for (; i + W <= count; i += W) op(B::load_unaligned(x + i)).store_unaligned(y + i);
  if (i == count) return;
  alignas(Arch::alignment()) T buf[W] = {};  // zero padding: every op is finite at 0
  std::memcpy(buf, x + i, (count - i) * sizeof(T));
  op(B::load_aligned(buf)).store_aligned(buf);
  std::memcpy(y + i, buf, (count - i) * sizeof(T));
}

// y:(count) delta:(count) -> delta ⊙= grad(y)
template <class Arch, class T, class Grad>
inline void scale_by_grad(std::size_t count, const T* y, T* delta, Grad grad) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  std::size_t i = 0;
  for (; i + W <= count; i += W)
    (B::load_unaligned(delta + i) * grad(B::load_unaligned(y + i))).store_unaligned(delta + i);
  if (i == count) return;
  alignas(Arch::alignment()) T by[W] = {};
  alignas(Arch::alignment()) T bd[W] = {};
  std::memcpy(by, y + i, (count - i) * sizeof(T));
  std::memcpy(bd, delta + i, (count - i) * sizeof(T));
  (B::load_aligned(bd) * grad(B::load_aligned(by))).store_aligned(bd);
  std::memcpy(delta + i, bd, (count - i) * sizeof(T));
}

}  // namespace detail

// x:(count) -> y:(count); y = e^x
template <class Arch, class T>
void exp_forward(Arch, std::size_t count, const T* x, T* y) {
  detail::map_unary<Arch>(count, x, y,
                          [](xsimd::batch<T, Arch> v) { return simd::exp<Arch>(v); });
}

// x:(count) -> y:(count); y = act(x), x == y allowed, act is not softmax (treated as linear)
template <class Arch, class T>
void activation_forward(Arch, Activation act, std::size_t count, const T* x, T* y) {
  if (act != Activation::sigmoid && act != Activation::tanh && act != Activation::relu) {
    if (x != y && count) std::memmove(y, x, count * sizeof(T));
    return;
  }
  with_activation(act, [&](auto op) { detail::map_unary<Arch>(count, x, y, op); });
}

// y:(count) delta:(count) -> delta:(count); delta ⊙= act'(y), the derivative from the outputs
template <class Arch, class T>
void activation_backward(Arch, Activation act, std::size_t count, const T* y, T* delta) {
  if (act != Activation::sigmoid && act != Activation::tanh && act != Activation::relu)
    return;  // act' = 1
  with_activation_grad(act, [&](auto grad) { detail::scale_by_grad<Arch>(count, y, delta, grad); });
}

namespace detail {

// One batch of the SGD step at unaligned addresses (see sgd_update).
template <bool Momentum, class Arch, class T>
inline void sgd_batch(xsimd::batch<T, Arch> lr, xsimd::batch<T, Arch> mu,
                      xsimd::batch<T, Arch> scale, const T* g, T* v, T* w) {
  using B = xsimd::batch<T, Arch>;
  const B step = scale * B::load_unaligned(g);
  if constexpr (Momentum) {
    const B vn = bpnn::simd::fma(mu, B::load_unaligned(v), step);
    vn.store_unaligned(v);
    bpnn::simd::fnma(lr, vn, B::load_unaligned(w)).store_unaligned(w);
  } else {
    bpnn::simd::fnma(lr, step, B::load_unaligned(w)).store_unaligned(w);
  }
}

template <bool Momentum, class Arch, class T>
inline void sgd_loop(std::size_t count, T lr, T momentum, T grad_scale, const T* g, T* v, T* w) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  const B vlr(lr), vmu(momentum), vscale(grad_scale);
  std::size_t i = 0;
  for (; i + W <= count; i += W)
    sgd_batch<Momentum, Arch>(vlr, vmu, vscale, g + i, Momentum ? v + i : v, w + i);
  if (i == count) return;
  const std::size_t rest = (count - i) * sizeof(T);
  T bg[W] = {}, bv[W] = {}, bw[W] = {};
  std::memcpy(bg, g + i, rest);
  std::memcpy(bw, w + i, rest);
  if constexpr (Momentum) std::memcpy(bv, v + i, rest);
  sgd_batch<Momentum, Arch>(vlr, vmu, vscale, bg, bv, bw);
  std::memcpy(w + i, bw, rest);
  if constexpr (Momentum) std::memcpy(v + i, bv, rest);
}

}  // namespace detail

// g,v,w:(count); v = μ·v + scale·g ; w −= lr·v   (μ = 0: w −= lr·(scale·g), v untouched)
// Both updates are single FMAs, so results may differ from the reference's separate multiply
// and add in the last bit.
template <class Arch, class T>
void sgd_update(Arch, std::size_t count, T lr, T momentum, T grad_scale, const T* g, T* v, T* w) {
  if (momentum == T(0))
    detail::sgd_loop<false, Arch>(count, lr, momentum, grad_scale, g, v, w);
  else
    detail::sgd_loop<true, Arch>(count, lr, momentum, grad_scale, g, v, w);
}

namespace detail {

// One batch of the Adam step at unaligned addresses (see adam_update).
template <class Arch, class T>
inline void adam_batch(const kernels::AdamStep<T>& s, T grad_scale, T decay, const T* grad, T* w,
                       T* m, T* v) {
  using B = xsimd::batch<T, Arch>;
  const B wb = B::load_unaligned(w);
  const B g = bpnn::simd::fma(B(grad_scale), B::load_unaligned(grad), B(decay) * wb);
  const B mb = bpnn::simd::fma(B(s.beta1), B::load_unaligned(m), B(s.one_minus_beta1) * g);
  const B vb = bpnn::simd::fma(B(s.beta2), B::load_unaligned(v), B(s.one_minus_beta2) * g * g);
  mb.store_unaligned(m);
  vb.store_unaligned(v);
  const B denom = xsimd::sqrt(vb) / B(s.bc2_sqrt) + B(s.eps);
  bpnn::simd::fnma(B(s.step_size), mb / denom, wb).store_unaligned(w);
}

}  // namespace detail

// grad,w,m,v:(count) → one Adam step (KernelTable::adam_update). Fused multiply-adds where the
// reference multiplies and adds, so results may differ from it in the last bits; the tail goes
// through the same vector code, so a value's result does not depend on where it sits.
template <class Arch, class T>
void adam_update(Arch, std::size_t count, const T* grad, T grad_scale, T decay,
                 const kernels::AdamStep<T>& s, T* w, T* m, T* v) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  std::size_t i = 0;
  for (; i + W <= count; i += W) detail::adam_batch<Arch>(s, grad_scale, decay, grad + i, w + i, m + i, v + i);
  if (i == count) return;
  const std::size_t rest = (count - i) * sizeof(T);
  T bg[W] = {}, bw[W] = {}, bm[W] = {}, bv[W] = {};
  std::memcpy(bg, grad + i, rest);
  std::memcpy(bw, w + i, rest);
  std::memcpy(bm, m + i, rest);
  std::memcpy(bv, v + i, rest);
  detail::adam_batch<Arch>(s, grad_scale, decay, bg, bw, bm, bv);
  std::memcpy(w + i, bw, rest);
  std::memcpy(m + i, bm, rest);
  std::memcpy(v + i, bv, rest);
}

}  // namespace bpnn::simd
