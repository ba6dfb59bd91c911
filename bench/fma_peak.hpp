#pragma once
// The machine's FMA peak on one core, measured: 16 independent chains of fused multiply-adds
// on the widest vectors the CPU runs (AVX-512, else AVX2+FMA, else SSE2 multiply + add), so the
// FMA units never wait on a dependency. Benchmarks report their fraction of it, measured in the
// same run, so the ratio holds on a noisy shared machine.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "train/parallel.hpp"

namespace bpnn::bench {

struct FmaPeak {
  double gflops_f32;  // single-precision FLOP/s of one core, in 1e9 (an FMA counts 2)
  double gflops_f64;
  std::string isa;
};

namespace detail {

// Runs `iterations` rounds of 16 independent FMAs on vectors of V; returns a value that depends
// on every result so the compiler keeps them.
#define BPNN_FMA_CHAINS(V, SET1, FMA, ADDALL)                                           \
  V a0 = SET1(1.0), a1 = SET1(1.1), a2 = SET1(1.2), a3 = SET1(1.3), a4 = SET1(1.4),    \
    a5 = SET1(1.5), a6 = SET1(1.6), a7 = SET1(1.7), a8 = SET1(1.8), a9 = SET1(1.9),    \
    a10 = SET1(2.0), a11 = SET1(2.1), a12 = SET1(2.2), a13 = SET1(2.3), a14 = SET1(2.4), \
    a15 = SET1(2.5);                                                                    \
  const V m = SET1(0.999999), c = SET1(1e-7);                                           \
  for (std::int64_t i = 0; i < iterations; ++i) {                                       \
    a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);     \
    a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);     \
    a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c); \
    a12 = FMA(a12, m, c); a13 = FMA(a13, m, c); a14 = FMA(a14, m, c); a15 = FMA(a15, m, c); \
  }                                                                                     \
  V s = ADDALL;                                                                         \
  return reduce(s);

#define BPNN_ADD16(ADD) \
  ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))), \
      ADD(ADD(ADD(a8, a9), ADD(a10, a11)), ADD(ADD(a12, a13), ADD(a14, a15))))

__attribute__((target("avx512f"))) inline double chains_avx512_f32(std::int64_t iterations) {
  const auto reduce = [](__m512 v) __attribute__((target("avx512f"))) {
    alignas(64) float f[16];
    _mm512_store_ps(f, v);
    return static_cast<double>(f[0] + f[5] + f[10] + f[15]);
  };
  BPNN_FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, BPNN_ADD16(_mm512_add_ps))
}
__attribute__((target("avx512f"))) inline double chains_avx512_f64(std::int64_t iterations) {
  const auto reduce = [](__m512d v) __attribute__((target("avx512f"))) {
    alignas(64) double f[8];
    _mm512_store_pd(f, v);
    return f[0] + f[3] + f[7];
  };
  BPNN_FMA_CHAINS(__m512d, _mm512_set1_pd, _mm512_fmadd_pd, BPNN_ADD16(_mm512_add_pd))
}
__attribute__((target("avx2,fma"))) inline double chains_avx2_f32(std::int64_t iterations) {
  const auto reduce = [](__m256 v) __attribute__((target("avx2,fma"))) {
    alignas(32) float f[8];
    _mm256_store_ps(f, v);
    return static_cast<double>(f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7]);
  };
  BPNN_FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, BPNN_ADD16(_mm256_add_ps))
}
__attribute__((target("avx2,fma"))) inline double chains_avx2_f64(std::int64_t iterations) {
  const auto reduce = [](__m256d v) __attribute__((target("avx2,fma"))) {
    alignas(32) double f[4];
    _mm256_store_pd(f, v);
    return f[0] + f[1] + f[2] + f[3];
  };
  BPNN_FMA_CHAINS(__m256d, _mm256_set1_pd, _mm256_fmadd_pd, BPNN_ADD16(_mm256_add_pd))
}
inline __m128 sse_madd_ps(__m128 a, __m128 b, __m128 c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
inline __m128d sse_madd_pd(__m128d a, __m128d b, __m128d c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
inline double chains_sse2_f32(std::int64_t iterations) {
  const auto reduce = [](__m128 v) {
    alignas(16) float f[4];
    _mm_store_ps(f, v);
    return static_cast<double>(f[0] + f[1] + f[2] + f[3]);
  };
  BPNN_FMA_CHAINS(__m128, _mm_set1_ps, sse_madd_ps, BPNN_ADD16(_mm_add_ps))
}
inline double chains_sse2_f64(std::int64_t iterations) {
  const auto reduce = [](__m128d v) {
    alignas(16) double f[2];
    _mm_store_pd(f, v);
    return f[0] + f[1];
  };
  BPNN_FMA_CHAINS(__m128d, _mm_set1_pd, sse_madd_pd, BPNN_ADD16(_mm_add_pd))
}
#undef BPNN_FMA_CHAINS
#undef BPNN_ADD16

// Best GFLOP/s of a few timed runs of `chains` with `lanes` elements per vector.
template <class F>
double best_gflops(F chains, int lanes) {
  const std::int64_t iterations = 4'000'000;
  volatile double sink = chains(iterations / 10);  // warm up, raise the clock
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const auto start = std::chrono::steady_clock::now();
    sink = sink + chains(iterations);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 16.0 * 2.0 * lanes * static_cast<double>(iterations) / s / 1e9);
  }
  return best;
}

}  // namespace detail

// Measures the peak of the calling thread's core (about 0.1-0.3 s): the best of 5 timed runs.
inline FmaPeak fma_peak_measure() {
  using namespace detail;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return {best_gflops(chains_avx512_f32, 16), best_gflops(chains_avx512_f64, 8), "avx512"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {best_gflops(chains_avx2_f32, 8), best_gflops(chains_avx2_f64, 4), "avx2"};
  return {best_gflops(chains_sse2_f32, 4), best_gflops(chains_sse2_f64, 2), "sse2"};
}

// The f32 FMA peak of `threads` cores running the chains at the same time, in GFLOP/s in all
// (about 0.2 s): each thread waits until all have started (at most 200 ms), warms up, then runs 5
// timed rounds; the flops of all threads over the time from the first thread's start to the last
// thread's end — so threads that did not overlap count as slower, never as faster. NaN when a
// thread found itself alone after the wait (a worker that never came, or the calling thread
// taking a late worker's task: ParallelFor::run_pinned). On a virtual machine two cores need not
// give twice one core's peak while both run — the host's other tenants on their sibling
// hyperthreads, a lower clock with more cores busy: on this 2-vCPU machine 255–348 GFLOP/s
// against 2 × 110–175 within a minute — and no step on those cores can scale past what they give
// together, so `bpnn bench` measures it in the same run, right before each benchmark of more
// than one thread. The threads are the trainer's (ParallelFor: oneTBB, one task per lane; capped
// at the cores the process may use, as the trainer's are).
inline double fma_peak_together_f32(int threads) {
  using namespace detail;
  using Clock = std::chrono::steady_clock;
  __builtin_cpu_init();
  double (*chains)(std::int64_t) = chains_sse2_f32;
  int lanes = 4;
  if (__builtin_cpu_supports("avx512f")) {
    chains = chains_avx512_f32;
    lanes = 16;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    chains = chains_avx2_f32;
    lanes = 8;
  }
  ParallelFor parallel(Backend::tbb, threads);
  const std::size_t count = static_cast<std::size_t>(parallel.threads());
  const std::int64_t iterations = 4'000'000;
  std::vector<Clock::time_point> starts(count), ends(count);
  std::atomic<std::size_t> started{0};
  std::atomic<bool> alone{false};
  parallel.run_pinned(count, [](std::size_t i) { return i; }, [&](std::size_t i) {
    started.fetch_add(1);
    const auto wait_from = Clock::now();
    while (started.load() < count) {
      if (Clock::now() - wait_from > std::chrono::milliseconds(200)) {
        alone = true;
        break;
      }
    }
    volatile double sink = chains(iterations / 10);
    starts[i] = Clock::now();
    for (int run = 0; run < 5; ++run) sink = sink + chains(iterations);
    ends[i] = Clock::now();
  });
  if (alone) return std::numeric_limits<double>::quiet_NaN();
  const double seconds =
      std::chrono::duration<double>(*std::max_element(ends.begin(), ends.end()) -
                                    *std::min_element(starts.begin(), starts.end()))
          .count();
  return static_cast<double>(count) * 5 * 16.0 * 2.0 * lanes * static_cast<double>(iterations) / seconds / 1e9;
}

// The FMA peak a benchmark run divides by: the best of short measurements taken through the run
// (one at the start and one before each benchmark, so a core that was slowed at the start by a
// neighbour or a low clock is measured again), or a value fixed by the user (`--peak`). A fixed
// or stale peak can make a fraction exceed 1; benchmarks then report peak_suspect = 1 instead
// of clamping.
class PeakTracker {
 public:
  PeakTracker() : best_(fma_peak_measure()), measurements_(1) {}
  explicit PeakTracker(const FmaPeak& fixed) : best_(fixed), fixed_(true) {}

  // The best peak so far, after one more measurement unless the peak is fixed.
  const FmaPeak& update() {
    if (fixed_) return best_;
    const FmaPeak now = fma_peak_measure();
    best_.gflops_f32 = std::max(best_.gflops_f32, now.gflops_f32);
    best_.gflops_f64 = std::max(best_.gflops_f64, now.gflops_f64);
    ++measurements_;
    return best_;
  }
  const FmaPeak& best() const { return best_; }
  bool fixed() const { return fixed_; }
  int measurements() const { return measurements_; }

 private:
  FmaPeak best_;
  bool fixed_ = false;
  int measurements_ = 0;
};

}  // namespace bpnn::bench
