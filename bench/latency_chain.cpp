// bpnn_latency: the latency, in core cycles, of each instruction on the dependency chain of one
// per-sample SGD step of a tiny network (README "The per-sample chain"). Each instruction runs in
// a loop of 64 copies that each depend on the previous one; the core clock is measured the same
// way on a chain of 1-cycle register-register integer adds, so the figures are core cycles whatever the turbo or
// TSC frequency. Best of 201 short runs of each, in thread CPU time. Needs AVX-512 F and VL (it says so and exits otherwise).
// Not a Google Benchmark: one table, a few hundred milliseconds, no dependency.
// GCC 12.2 falsely reports the _mm512_undefined_* operands inside avx512fintrin.h as
// uninitialised once inlined (GCC PR 105593, fixed in GCC 13), as in dense_avx512.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <iterator>

#include "kernels/simd/sample_sgd_tiny.hpp"
#include "kernels/simd/vector_math.hpp"

namespace {

double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
constexpr long iterations = 2000;  // × 64 chained copies per iteration

#define BPNN_REP8(s) s s s s s s s s
#define BPNN_REP64(s) BPNN_REP8(BPNN_REP8(s))

// Seconds of this thread's CPU time per chained instruction, best of 201 short runs: CPU time
// leaves out the time the thread is preempted, and short runs make it likely that some run
// shares its core with nothing (a shared machine). `body` runs `iterations` iterations of 64 copies.
template <class Body>
double seconds_per_op(Body body) {
  double best = 1e9;
  for (int run = 0; run < 201; ++run) {
    const double t0 = thread_seconds();
    body();
    const double s = thread_seconds() - t0;
    best = std::min(best, s / (64.0 * iterations));
  }
  return best;
}

// A vector instruction chained through operand 0: "OP %0, %0, %0"-style templates, where
// %0 is both an input and the output. `text` is one instruction.
#define BPNN_CHAIN_XMM(name, text)                                            \
  {name, [] {                                                                 \
     __m128 v = _mm_set1_ps(1.0f);                                            \
     __m128 c = _mm_set1_ps(1.0f);                                            \
     for (long i = 0; i < iterations; ++i)                                    \
       __asm__ volatile(BPNN_REP64(text "\n\t") : "+v"(v) : "v"(c));          \
   }}
#define BPNN_CHAIN_YMM(name, text)                                            \
  {name, [] {                                                                 \
     __m256d v = _mm256_set1_pd(1.0);                                         \
     __m256d c = _mm256_set1_pd(1.0);                                         \
     for (long i = 0; i < iterations; ++i)                                    \
       __asm__ volatile(BPNN_REP64(text "\n\t") : "+v"(v) : "v"(c));          \
   }}
#define BPNN_CHAIN_ZMM(name, text)                                            \
  {name, [] {                                                                 \
     __m512 v = _mm512_set1_ps(1.0f);                                         \
     __m512 c = _mm512_set1_ps(1.0f);                                         \
     for (long i = 0; i < iterations; ++i)                                    \
       __asm__ volatile(BPNN_REP64(text "\n\t") : "+v"(v) : "v"(c));          \
   }}

struct Probe {
  const char* name;
  void (*run)();
};

// store → load forwarding: a vector stored and loaded back from the same line
void store_load_xmm() {
  alignas(64) float slot[16] = {};
  __m128 v = _mm_set1_ps(1.0f);
  for (long i = 0; i < iterations; ++i)
    __asm__ volatile(BPNN_REP64("vmovaps %0, %1\n\tvmovaps %1, %0\n\t")
                     : "+v"(v), "+m"(*reinterpret_cast<float(*)[4]>(slot)));
}

// bpnn's vector sigmoid (engine/kernels/simd/vector_math.hpp) chained on itself: x ← σ(x)
template <class T>
void sigmoid_chain() {
  using B = xsimd::batch<T, xsimd::avx512bw>;
  B v(T(0.25));
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 64
    for (int j = 0; j < 64; ++j) v = bpnn::simd::sigmoid<xsimd::avx512bw>(v);
    __asm__ volatile("" : "+v"(v));
  }
}

// The tiny per-sample step's sigmoid (engine/kernels/simd/sample_sgd_tiny.hpp): the same
// instructions on ymm registers, chained on itself
template <class T>
void sigmoid_chain_tiny() {
  using A = bpnn::simd::avx512_ymm;
  xsimd::batch<T, A> v(T(0.25));
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 64
    for (int j = 0; j < 64; ++j)
      v = bpnn::kernels::simd::activation_apply<A, T>(bpnn::Activation::sigmoid, v);
    __asm__ volatile("" : "+v"(v));
  }
}

// Throughput, not latency: S 64-byte stores to L1 (a 32 KB ring) and F independent FMAs on
// registers (12 chains) per iteration, 64 iterations per `iterations` — what per-sample SGD's
// fused weight pass does per weight vector (one store, two FMAs) without its loads
template <int S, int F>
void store_fma_mix() {
  static float* ring = static_cast<float*>(std::aligned_alloc(64, 32768));
  __m512 acc[12];
  for (int c = 0; c < 12; ++c) acc[c] = _mm512_set1_ps(1.0f + static_cast<float>(c));
  const __m512 m = _mm512_set1_ps(0.9999999f), add = _mm512_set1_ps(1e-7f);
  long slot = 0;
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 64
    for (int u = 0; u < 64; ++u) {
      float* at = ring + ((slot + u) * 16 * S & 8191);
#pragma GCC unroll 4
      for (int st = 0; st < S; ++st) _mm512_store_ps(at + st * 16, acc[(u + st) % 12]);
#pragma GCC unroll 4
      for (int f = 0; f < F; ++f) acc[(u * F + f) % 12] = _mm512_fmadd_ps(acc[(u * F + f) % 12], m, add);
    }
    slot += 64;
  }
  for (int c = 0; c < 12; ++c) __asm__ volatile("" : : "v"(acc[c]) : "memory");
}

}  // namespace

int main() {
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl")) {
    std::printf("bpnn_latency: this CPU lacks AVX-512 F/VL; nothing measured\n");
    return 0;
  }
  // the clock: a chain of 1-cycle integer adds (register operands: Golden Cove folds
  // add-immediate chains at rename), measured again after the probes; the faster one counts
  const auto add_chain = [] {
    long a = 1, b = 1;
    for (long i = 0; i < iterations; ++i)
      __asm__ volatile(BPNN_REP64("add %1, %0\n\t") : "+r"(a) : "r"(b));
  };
  double cycle = seconds_per_op(add_chain);
  const Probe probes[] = {
      BPNN_CHAIN_XMM("vfmadd231ps xmm", "vfmadd231ps %1, %1, %0"),
      BPNN_CHAIN_XMM("vaddps xmm", "vaddps %1, %0, %0"),
      BPNN_CHAIN_XMM("vsubps xmm", "vsubps %1, %0, %0"),
      BPNN_CHAIN_XMM("vmulps xmm", "vmulps %1, %0, %0"),
      BPNN_CHAIN_XMM("vdivps xmm", "vdivps %1, %0, %0"),
      BPNN_CHAIN_XMM("vdivss", "vdivss %1, %0, %0"),
      BPNN_CHAIN_XMM("vrcp14ps xmm", "vrcp14ps %0, %0"),
      BPNN_CHAIN_XMM("vscalefps xmm", "vscalefps %1, %0, %0"),
      BPNN_CHAIN_XMM("vrndscaleps xmm", "vrndscaleps $0, %0, %0"),
      BPNN_CHAIN_XMM("vpslld xmm (shift)", "vpslld $1, %0, %0"),
      BPNN_CHAIN_XMM("vpaddd xmm", "vpaddd %1, %0, %0"),
      BPNN_CHAIN_XMM("vandps xmm", "vandps %1, %0, %0"),
      BPNN_CHAIN_XMM("vmaxps xmm", "vmaxps %1, %0, %0"),
      BPNN_CHAIN_XMM("vblendvps xmm", "vblendvps %0, %1, %0, %0"),
      BPNN_CHAIN_XMM("vshufps xmm", "vshufps $0x4e, %0, %0, %0"),
      BPNN_CHAIN_XMM("vpermilps xmm", "vpermilps $0x4e, %0, %0"),
      BPNN_CHAIN_XMM("vbroadcastss xmm", "vbroadcastss %0, %0"),
      BPNN_CHAIN_XMM("vcvtdq2ps xmm", "vcvtdq2ps %0, %0"),
      BPNN_CHAIN_XMM("vfmadd231ss", "vfmadd231ss %1, %1, %0"),
      BPNN_CHAIN_YMM("vfmadd231pd ymm", "vfmadd231pd %1, %1, %0"),
      BPNN_CHAIN_YMM("vaddpd ymm", "vaddpd %1, %0, %0"),
      BPNN_CHAIN_YMM("vmulpd ymm", "vmulpd %1, %0, %0"),
      BPNN_CHAIN_YMM("vdivpd ymm", "vdivpd %1, %0, %0"),
      BPNN_CHAIN_YMM("vdivsd", "vdivsd %x1, %x0, %x0"),
      BPNN_CHAIN_YMM("vrcp14pd ymm", "vrcp14pd %0, %0"),
      BPNN_CHAIN_YMM("vscalefpd ymm", "vscalefpd %1, %0, %0"),
      BPNN_CHAIN_YMM("vpsllq ymm (shift)", "vpsllq $1, %0, %0"),
      BPNN_CHAIN_YMM("vpermpd ymm", "vpermpd $0x4e, %0, %0"),
      BPNN_CHAIN_YMM("vbroadcastsd ymm", "vbroadcastsd %x0, %0"),
      BPNN_CHAIN_YMM("vfmadd231ps ymm", "vfmadd231ps %1, %1, %0"),
      BPNN_CHAIN_YMM("vaddps ymm", "vaddps %1, %0, %0"),
      BPNN_CHAIN_YMM("vrcp14ps ymm", "vrcp14ps %0, %0"),
      BPNN_CHAIN_YMM("vscalefps ymm", "vscalefps %1, %0, %0"),
      BPNN_CHAIN_YMM("vpermilps ymm (lane broadcast)", "vpermilps %1, %0, %0"),
      BPNN_CHAIN_YMM("vpermpd ymm (lane broadcast)", "vpermpd %0, %1, %0"),
      BPNN_CHAIN_ZMM("vfmadd231ps zmm", "vfmadd231ps %1, %1, %0"),
      BPNN_CHAIN_ZMM("vdivps zmm", "vdivps %1, %0, %0"),
      BPNN_CHAIN_ZMM("vaddps zmm", "vaddps %1, %0, %0"),
      BPNN_CHAIN_ZMM("vrcp14ps zmm", "vrcp14ps %0, %0"),
      BPNN_CHAIN_ZMM("vscalefps zmm", "vscalefps %1, %0, %0"),
      BPNN_CHAIN_ZMM("vrangeps zmm", "vrangeps $0x0e, %1, %0, %0"),
      BPNN_CHAIN_ZMM("vpermps zmm (table, index chained)", "vpermps %1, %0, %0"),
      BPNN_CHAIN_ZMM("vshuff32x4 zmm", "vshuff32x4 $0x4e, %0, %0, %0"),
      BPNN_CHAIN_ZMM("vpermps zmm (lane broadcast)", "vpermps %0, %1, %0"),
      {"store→load forward xmm (pair)", store_load_xmm},
      {"bpnn sigmoid f32 zmm", sigmoid_chain<float>},
      {"bpnn sigmoid f64 zmm", sigmoid_chain<double>},
      {"bpnn sigmoid f32 ymm (tiny step)", sigmoid_chain_tiny<float>},
      {"bpnn sigmoid f64 ymm (tiny step)", sigmoid_chain_tiny<double>},
  };
  const Probe mixes[] = {
      {"1 store", store_fma_mix<1, 0>},         {"2 FMA", store_fma_mix<0, 2>},
      {"1 store + 1 FMA", store_fma_mix<1, 1>}, {"1 store + 2 FMA", store_fma_mix<1, 2>},
      {"1 store + 4 FMA", store_fma_mix<1, 4>}, {"2 stores + 4 FMA", store_fma_mix<2, 4>},
  };
  double seconds[std::size(probes)], mix_seconds[std::size(mixes)];
  for (std::size_t i = 0; i < std::size(mixes); ++i) mix_seconds[i] = seconds_per_op(mixes[i].run);
  for (std::size_t i = 0; i < std::size(probes); ++i) seconds[i] = seconds_per_op(probes[i].run);
  cycle = std::min(cycle, seconds_per_op(add_chain));
  std::printf("core clock: %.2f GHz (1-cycle add chain)\n", 1e-9 / cycle);
  std::printf("%-32s %s\n", "instruction (dependent chain)", "latency, cycles");
  for (std::size_t i = 0; i < std::size(probes); ++i)
    std::printf("%-32s %5.2f\n", probes[i].name, seconds[i] / cycle);
  std::printf("\n%-32s %s\n", "zmm stores beside FMAs", "throughput, cycles per iteration");
  for (std::size_t i = 0; i < std::size(mixes); ++i)
    std::printf("%-32s %5.2f\n", mixes[i].name, mix_seconds[i] / cycle);
  return 0;
}
