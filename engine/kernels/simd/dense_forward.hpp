#pragma once
// Dense forward: y = act(x·wᵀ + b), bias and activation applied in the tile epilogue.
#include <cstddef>

#include "kernels/cache_info.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd/pack.hpp"
#include "kernels/simd/tile.hpp"
#include "kernels/simd/vector_math.hpp"

namespace bpnn::kernels::simd {

// Finishing step of the last K block: act(acc + b)
template <class Arch, class T, class Op>
struct FinishBiasAct {
  const T* bias;  // b of the tile's first column
  Op op;
  [[gnu::always_inline]] xsimd::batch<T, Arch> operator()(std::size_t, std::size_t col,
                                                          std::size_t cnt,
                                                          const xsimd::batch<T, Arch>& acc) const {
    return op(acc + load_n<Arch>(bias + col, cnt));
  }
};

// x:(In) w:packed(Out,In) b:(Out) -> y:(Out), panels [p_begin, p_end); the matrix-vector form for
// one row: one tile row per panel over all of In, no blocking. It adds in the same order as the
// GEMM form, so a row's outputs do not depend on the batch it is computed in.
template <class Arch, class T, class Op>
void dense_forward_vec(const DenseShape& s, Op op, const T* x, const T* w, const T* b, T* y,
                       std::size_t p_begin, std::size_t p_end) {
  using S = TileShape<Arch, T>;
  using B = xsimd::batch<T, Arch>;
  if (s.out <= S::W) {
    // one panel of one vector: the tile below with M = Vn = 1, without its loops and dispatch
    B acc(T(0));
    for (std::size_t k = 0; k < s.in; ++k)
      acc = bpnn::simd::fma(B(x[k]), B::load_unaligned(w + k * S::W), acc);
    store_small<Arch>(y, op(acc + load_small<Arch>(b, s.out)), s.out);
    return;
  }
  const PanelLayout<Arch, T> L{s.out, s.in};
  for (std::size_t p = p_begin; p < p_end; ++p) {
    const std::size_t wid = L.width(p), o0 = L.first(p);
    dispatch_count<S::V>(wid / S::W, [&](auto vc) {
      tile<Arch, T, 1, decltype(vc)::value, false>(s.in, x, 0, w + L.offset(p), wid, y + o0, 0,
                                                   L.count(p), false,
                                                   FinishBiasAct<Arch, T, Op>{b + o0, op});
    });
  }
}

// x:(N,In) w:packed(Out,In) b:(Out) -> y:(N,Out), panels [p_begin, p_end); the GEMM form. Blocks
// of Kc inputs keep a tile's rows of x (MR×Kc) in L1 while Pc panels of weights (Kc × Pc·NR) stay
// in L2; y holds the partial sums between K blocks and the last block applies bias and
// activation. The K blocks depend on In alone, so an output's sum does not depend on the panel
// range it is computed in.
template <class Arch, class T, class Op>
void dense_forward_gemm(const DenseShape& s, Op op, const T* x, const T* w, const T* b, T* y,
                        std::size_t p_begin, std::size_t p_end) {
  using S = TileShape<Arch, T>;
  const PanelLayout<Arch, T> L{s.out, s.in};
  const CacheSizes& cs = cache_sizes();
  const std::size_t kc_max = max_size(64, cs.l1d / 4 / (S::MR * sizeof(T)));
  const std::size_t kblocks = max_size(1, ceil_div(s.in, kc_max));
  const std::size_t kc = ceil_div(ceil_div(s.in, kblocks), 16) * 16;
  const std::size_t pc = max_size(1, cs.l2 / 2 / (kc * S::NR * sizeof(T)));
  for (std::size_t k0 = 0; k0 < s.in || k0 == 0; k0 += kc) {
    const std::size_t kb = min_size(kc, s.in - k0);
    const bool first = k0 == 0, last = k0 + kb >= s.in;
    for (std::size_t p0 = p_begin; p0 < p_end; p0 += pc) {
      const std::size_t p1 = min_size(p_end, p0 + pc);
      // a last panel one vector wide runs in tiles of MR1 rows, after the others
      const bool narrow_last = L.width(p1 - 1) == S::W;
      const std::size_t p1_wide = narrow_last ? p1 - 1 : p1;
      for (std::size_t r0 = 0; r0 < s.n; r0 += S::MR) {
        const std::size_t mr = min_size(S::MR, s.n - r0);
        for (std::size_t p = p0; p < p1_wide; ++p) {
          const std::size_t o0 = L.first(p), wid = L.width(p);
          const T* a = x + r0 * s.in + k0;
          const T* bp = w + L.offset(p) + k0 * wid;
          T* c = y + r0 * s.out + o0;
          if (last)
            tile_any<Arch, T, false>(mr, wid / S::W, kb, a, s.in, bp, wid, c, s.out, L.count(p),
                                     !first, FinishBiasAct<Arch, T, Op>{b + o0, op});
          else
            tile_any<Arch, T, false>(mr, wid / S::W, kb, a, s.in, bp, wid, c, s.out, L.count(p),
                                     !first, FinishNone{});
        }
      }
      if (narrow_last) {
        const std::size_t p = p1 - 1, o0 = L.first(p);
        const T* bp = w + L.offset(p) + k0 * S::W;
        for (std::size_t r0 = 0; r0 < s.n; r0 += S::MR1) {
          const std::size_t mr = min_size(S::MR1, s.n - r0);
          const T* a = x + r0 * s.in + k0;
          T* c = y + r0 * s.out + o0;
          if (last)
            tile_one_vector<Arch, T, false>(mr, kb, a, s.in, bp, S::W, c, s.out, L.count(p),
                                            !first, FinishBiasAct<Arch, T, Op>{b + o0, op});
          else
            tile_one_vector<Arch, T, false>(mr, kb, a, s.in, bp, S::W, c, s.out, L.count(p),
                                            !first, FinishNone{});
        }
      }
    }
    if (last) break;
  }
}

// x:(N,In) w:packed(Out,In) b:(Out) -> outputs [o0, o1) of y:(N,Out); y = act(x·wᵀ + b). o0 is a
// multiple of NR and o1 one too or Out: whole panels, each computed exactly as dense_forward
// computes it, so disjoint ranges may run on different threads with the same bits.
template <class Arch, class T>
void dense_forward_outputs(const DenseShape& s, Activation act, std::size_t o0, std::size_t o1,
                           const T* x, const T* w, const T* b, T* y) {
  using S = TileShape<Arch, T>;
  if (s.n == 0 || o1 <= o0) return;
  const std::size_t p_begin = o0 / S::NR, p_end = ceil_div(o1, S::NR);
  bpnn::simd::with_activation(act, [&](auto op) {
    if (s.n == 1)
      dense_forward_vec<Arch, T>(s, op, x, w, b, y, p_begin, p_end);
    else
      dense_forward_gemm<Arch, T>(s, op, x, w, b, y, p_begin, p_end);
  });
}

// x:(N,In) w:packed(Out,In) b:(Out) -> y:(N,Out); y = act(x·wᵀ + b)
template <class Arch, class T>
void dense_forward(const DenseShape& s, Activation act, const T* x, const T* w, const T* b,
                   T* y) {
  dense_forward_outputs<Arch, T>(s, act, 0, s.out, x, w, b, y);
}

}  // namespace bpnn::kernels::simd
