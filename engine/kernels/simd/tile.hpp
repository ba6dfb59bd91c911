#pragma once
// The register-tiled micro-kernel shared by the dense kernels, and the shape of the packed layout
// it reads. Everything is a template over the xsimd architecture so that each per-ISA translation
// unit gets its own copies (no inline function compiled with -mavx512f can be merged by the
// linker with a baseline one); non-template helpers live in an anonymous namespace for the same
// reason.
//
// One tile computes C[M × Vn·W] (+)= A[M × K] · B[K × Vn·W]:
//   A is read in place and broadcast, one scalar per (row, k);
//   B rows are Vn contiguous vectors (a packed weight panel or a small stack buffer);
//   C is row-major with leading dimension ldc, of which only `ncols` columns exist.
#include <cstddef>
#include <type_traits>
#include <utility>

#include <immintrin.h>

#include <xsimd/xsimd.hpp>

#include "kernels/simd/fma.hpp"

namespace bpnn::kernels::simd {
namespace {

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }
constexpr std::size_t min_size(std::size_t a, std::size_t b) { return a < b ? a : b; }
constexpr std::size_t max_size(std::size_t a, std::size_t b) { return a > b ? a : b; }

}  // namespace

#if defined(__AVX2__)
// lanes < cnt set, for _mm256_maskload/maskstore (a template on Arch, like everything here)
template <class Arch, class T>
inline __m256i avx2_lane_mask(std::size_t cnt) {
  if constexpr (std::is_same_v<T, float>)
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(cnt)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  else
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(cnt)),
                              _mm256_setr_epi64x(0, 1, 2, 3));
}
#endif

template <class Arch>
inline constexpr bool arch_is_avx512 = std::is_base_of_v<xsimd::avx512f, Arch>;

// The register tile and packed panel width for one architecture and precision.
//   avx512 (32 zmm): 6 rows × 4 vectors = 24 accumulators + 4 weight vectors.
//   avx2   (16 ymm): 6 rows × 2 vectors = 12 accumulators + 2 weight vectors + 1 broadcast.
//   sse2   (16 xmm, no FMA): 4 rows × 2 vectors, leaving room for the product temporaries.
template <class Arch, class T>
struct TileShape {
  using B = xsimd::batch<T, Arch>;
  static constexpr std::size_t W = B::size;                              // lanes per vector
  static constexpr std::size_t V = arch_is_avx512<Arch> ? 4 : 2;         // vectors per panel
  static constexpr std::size_t NR = V * W;                               // outputs per panel
  static constexpr std::size_t MR =
      std::is_base_of_v<xsimd::fma3<xsimd::avx2>, Arch> || arch_is_avx512<Arch> ? 6 : 4;
  // rows of a tile whose panel is one vector wide: MR rows would leave MR (6) accumulators,
  // fewer than the 8 FMAs in flight that 4 cycles of latency on 2 ports want; 8 rows fill them
  // (12 were slower: GCC ran out of general registers for the row addresses and spilled them)
  static constexpr std::size_t MR1 = MR + 2;
  static constexpr std::size_t align = Arch::alignment();
};

// v:(cnt ≤ W) from p, lanes ≥ cnt are zero; never reads past p[cnt-1] (AVX-512 and AVX2 use
// masked loads, which do not fault on the lanes they leave out)
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> load_n(const T* p, std::size_t cnt) {
  using B = xsimd::batch<T, Arch>;
  if (cnt >= B::size) return B::load_unaligned(p);
#if defined(__AVX512F__)
  if constexpr (arch_is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      return B(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << cnt) - 1), p));
    else
      return B(_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << cnt) - 1), p));
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && !arch_is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      return B(_mm256_maskload_ps(p, avx2_lane_mask<Arch, T>(cnt)));
    else
      return B(_mm256_maskload_pd(p, avx2_lane_mask<Arch, T>(cnt)));
  }
#endif
  alignas(Arch::alignment()) T tmp[B::size];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < B::size; ++i) tmp[i] = i < cnt ? p[i] : T(0);
  return B::load_aligned(tmp);
}

// p[0..cnt) = first cnt lanes of v; never writes past p[cnt-1]
template <class Arch, class T>
[[gnu::always_inline]] inline void store_n(T* p, const xsimd::batch<T, Arch>& v, std::size_t cnt) {
  using B = xsimd::batch<T, Arch>;
  if (cnt >= B::size) {
    v.store_unaligned(p);
    return;
  }
#if defined(__AVX512F__)
  if constexpr (arch_is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << cnt) - 1), v);
    else
      _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << cnt) - 1), v);
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && !arch_is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      _mm256_maskstore_ps(p, avx2_lane_mask<Arch, T>(cnt), v);
    else
      _mm256_maskstore_pd(p, avx2_lane_mask<Arch, T>(cnt), v);
    return;
  }
#endif
  alignas(Arch::alignment()) T tmp[B::size];
  v.store_aligned(tmp);
#pragma GCC unroll 16
  for (std::size_t i = 0; i < B::size; ++i)
    if (i < cnt) p[i] = tmp[i];
}

// Few-lane loads and stores for the per-sample (n == 1) paths, whose operands were usually
// written a few instructions earlier by scalar code, or by the previous kernel. A vector load
// that covers several recent scalar stores, or a load that reads a masked store, cannot be served
// by store-to-load forwarding and waits for the stores to retire; scalar loads and stores can.
// (at most 4, and never more than one vector holds)
template <class Arch, class T>
inline constexpr std::size_t few_lanes =
    xsimd::batch<T, Arch>::size < 4 ? xsimd::batch<T, Arch>::size : 4;

// v:(cnt ≤ few_lanes<Arch, T>) from p by scalar loads, lanes ≥ cnt are zero
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> load_few(const T* p, std::size_t cnt) {
  using B = xsimd::batch<T, Arch>;
  alignas(Arch::alignment()) static constexpr T lane_ids[16] = {
      T(0), T(1), T(2), T(3), T(4),  T(5),  T(6),  T(7),
      T(8), T(9), T(10), T(11), T(12), T(13), T(14), T(15)};
  const B lane = B::load_aligned(lane_ids);
  B v(T(0));
  for (std::size_t j = 0; j < cnt; ++j) v = xsimd::select(lane == B(T(j)), B(p[j]), v);
  return v;
}

// p[0..cnt) = first cnt ≤ few_lanes lanes of v, by scalar stores
template <class Arch, class T>
[[gnu::always_inline]] inline void store_few(T* p, const xsimd::batch<T, Arch>& v,
                                             std::size_t cnt) {
  alignas(Arch::alignment()) T tmp[xsimd::batch<T, Arch>::size];
  v.store_aligned(tmp);
  for (std::size_t j = 0; j < cnt; ++j) p[j] = tmp[j];
}

// load_n / store_n, by scalars when cnt ≤ few_lanes
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> load_small(const T* p, std::size_t cnt) {
  return cnt <= few_lanes<Arch, T> ? load_few<Arch>(p, cnt) : load_n<Arch>(p, cnt);
}
template <class Arch, class T>
[[gnu::always_inline]] inline void store_small(T* p, const xsimd::batch<T, Arch>& v,
                                               std::size_t cnt) {
  if (cnt <= few_lanes<Arch, T>)
    store_few<Arch>(p, v, cnt);
  else
    store_n<Arch>(p, v, cnt);
}

// Lane j = Σ lanes of rows[j], for j < W, by xsimd::haddp. xsimd 8.1's avx512 float haddp
// returns the sums of rows 2,3 in lanes 4,5 and of rows 10,11 in lanes 12,13 and vice versa,
// so the rows are handed to it in that (self-inverse) order.
template <class Arch, class T>
inline xsimd::batch<T, Arch> reduce_rows(const xsimd::batch<T, Arch>* rows) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (arch_is_avx512<Arch> && std::is_same_v<T, float>) {
    const B swapped[16] = {rows[0],  rows[1],  rows[4],  rows[5], rows[2],  rows[3],
                           rows[6],  rows[7],  rows[8],  rows[9], rows[12], rows[13],
                           rows[10], rows[11], rows[14], rows[15]};
    return xsimd::haddp(swapped);
  } else {
    return xsimd::haddp(rows);
  }
}

// The finishing step that leaves C untouched before the store: partial sums.
struct FinishNone {
  static constexpr bool identity = true;
  template <class Batch>
  Batch operator()(std::size_t, std::size_t, std::size_t, const Batch& acc) const {
    return acc;
  }
};

// C[m, j·W + lane] for m < M, j < Vn, (j·W + lane) < ncols:
//   C = fin(m, j·W, cols, (load_c ? C : 0) + Σ_k A(m,k)·B[k, j·W + lane])
// where A(m,k) = a[m·sm + k] (ACol = false) or a[m + k·sk] (ACol = true).
// Requires ncols > (Vn−1)·W and B rows to hold Vn full vectors.
template <class Arch, class T, std::size_t M, std::size_t Vn, bool ACol, class Fin>
inline void tile(std::size_t K, const T* a, std::size_t astride, const T* b, std::size_t ldb,
                 T* c, std::size_t ldc, std::size_t ncols, bool load_c, const Fin& fin) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  B acc[M][Vn];
  if (load_c) {
#pragma GCC unroll 8
    for (std::size_t m = 0; m < M; ++m)
#pragma GCC unroll 4
      for (std::size_t j = 0; j < Vn; ++j)
        acc[m][j] = j + 1 < Vn ? B::load_unaligned(c + m * ldc + j * W)
                               : load_n<Arch>(c + m * ldc + j * W, ncols - j * W);
  } else {
#pragma GCC unroll 8
    for (std::size_t m = 0; m < M; ++m)
#pragma GCC unroll 4
      for (std::size_t j = 0; j < Vn; ++j) acc[m][j] = B(T(0));
  }
  for (std::size_t k = 0; k < K; ++k) {
    B bv[Vn];
#pragma GCC unroll 4
    for (std::size_t j = 0; j < Vn; ++j) bv[j] = B::load_unaligned(b + k * ldb + j * W);
#pragma GCC unroll 8
    for (std::size_t m = 0; m < M; ++m) {
      const B am(ACol ? a[m + k * astride] : a[m * astride + k]);
#pragma GCC unroll 4
      for (std::size_t j = 0; j < Vn; ++j) acc[m][j] = bpnn::simd::fma(am, bv[j], acc[m][j]);
    }
  }
#pragma GCC unroll 8
  for (std::size_t m = 0; m < M; ++m)
#pragma GCC unroll 4
    for (std::size_t j = 0; j < Vn; ++j) {
      const std::size_t cnt = ncols - j * W;
      const B r = fin(m, j * W, cnt, acc[m][j]);
      if (j + 1 < Vn)
        r.store_unaligned(c + m * ldc + j * W);
      else
        store_n<Arch>(c + m * ldc + j * W, r, cnt);
    }
}

// Calls f(std::integral_constant<size_t, m>) for the run-time m in [1, Max].
template <std::size_t Max, class F, std::size_t... I>
inline void dispatch_count_impl(std::size_t m, F&& f, std::index_sequence<I...>) {
  (void)((m == I + 1 ? (f(std::integral_constant<std::size_t, I + 1>{}), true) : false) || ...);
}
template <std::size_t Max, class F>
inline void dispatch_count(std::size_t m, F&& f) {
  dispatch_count_impl<Max>(m, std::forward<F>(f), std::make_index_sequence<Max>{});
}

// tile() with run-time M ≤ MR1 and Vn = 1.
template <class Arch, class T, bool ACol, class Fin>
inline void tile_one_vector(std::size_t M, std::size_t K, const T* a, std::size_t astride,
                            const T* b, std::size_t ldb, T* c, std::size_t ldc, std::size_t ncols,
                            bool load_c, const Fin& fin) {
  using S = TileShape<Arch, T>;
  dispatch_count<S::MR1>(M, [&](auto mc) {
    tile<Arch, T, decltype(mc)::value, 1, ACol>(K, a, astride, b, ldb, c, ldc, ncols, load_c, fin);
  });
}

// tile() with run-time M ≤ MR and Vn ≤ V.
template <class Arch, class T, bool ACol, class Fin>
inline void tile_any(std::size_t M, std::size_t Vn, std::size_t K, const T* a,
                     std::size_t astride, const T* b, std::size_t ldb, T* c, std::size_t ldc,
                     std::size_t ncols, bool load_c, const Fin& fin) {
  using S = TileShape<Arch, T>;
  if (M == S::MR && Vn == S::V) {
    tile<Arch, T, S::MR, S::V, ACol>(K, a, astride, b, ldb, c, ldc, ncols, load_c, fin);
    return;
  }
  dispatch_count<S::MR>(M, [&](auto mc) {
    dispatch_count<S::V>(Vn, [&](auto vc) {
      tile<Arch, T, decltype(mc)::value, decltype(vc)::value, ACol>(K, a, astride, b, ldb, c,
                                                                     ldc, ncols, load_c, fin);
    });
  });
}

}  // namespace bpnn::kernels::simd
