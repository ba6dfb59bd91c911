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
      acc = xsimd::fma(B(x[k]), B::load_unaligned(w + k * S::W), acc);
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

// The blocking of the forward GEMM, from the cache sizes and the layer's shape; only which tiles
// run when depends on it, never the order of an output's sum (see below):
//   kc inputs per K block, so that one panel's weights of a block (kc × NR) fill at most half of L1
//     and stay there while the row tiles read them; the K blocks of a layer are about equal
//     (rounded up to 8);
//   mc rows per row block, so that the rows' inputs of one K block (mc × kc, broadcast in place)
//     fill at most a quarter of L2;
//   pc panels per group, so that the outputs of a row block and a group (mc × pc·NR, the partial
//     sums each K block reads and writes back) fill at most a quarter of L2.
template <class Arch, class T>
struct ForwardBlocking {
  std::size_t kc, mc, pc;
  ForwardBlocking(std::size_t n, std::size_t in) {
    using S = TileShape<Arch, T>;
    const CacheSizes& cs = cache_sizes();
    const std::size_t kc_max = max_size(16, cs.l1d / 2 / (S::NR * sizeof(T)));
    const std::size_t kblocks = max_size(1, ceil_div(in, kc_max));
    kc = ceil_div(ceil_div(max_size(in, 1), kblocks), 8) * 8;
    mc = max_size(1, cs.l2 / 4 / (kc * sizeof(T)) / S::MR) * S::MR;
    pc = max_size(1, cs.l2 / 4 / (min_size(mc, max_size(n, 1)) * S::NR * sizeof(T)));
  }
};

// x:(N,In) w:packed(Out,In) b:(Out) -> y:(N,Out), panels [p_begin, p_end); the GEMM form. For each
// block of rows, group of panels and K block, one panel's block of weights (kc × NR) is loaded
// into L1 and every row tile of the row block runs over it, broadcasting x (from L2) in place; y
// holds the partial sums between K blocks and the last block applies bias and activation. Every
// output's sum runs over k = 0, 1, …, In−1 in order, whatever the blocks, so it is the sum the
// matrix-vector form above makes, in any batch and any panel range.
template <class Arch, class T, class Op>
void dense_forward_gemm(const DenseShape& s, Op op, const T* x, const T* w, const T* b, T* y,
                        std::size_t p_begin, std::size_t p_end) {
  using S = TileShape<Arch, T>;
  const PanelLayout<Arch, T> L{s.out, s.in};
  const ForwardBlocking<Arch, T> blk(s.n, s.in);
  for (std::size_t m0 = 0; m0 < s.n; m0 += blk.mc) {
    const std::size_t m1 = min_size(s.n, m0 + blk.mc);
    for (std::size_t p0 = p_begin; p0 < p_end; p0 += blk.pc) {
      const std::size_t p1 = min_size(p_end, p0 + blk.pc);
      for (std::size_t k0 = 0; k0 < s.in || k0 == 0; k0 += blk.kc) {
        const std::size_t kb = min_size(blk.kc, s.in - k0);
        const bool first = k0 == 0, last = k0 + kb >= s.in;
        for (std::size_t p = p0; p < p1; ++p) {
          const std::size_t o0 = L.first(p), wid = L.width(p);
          const T* bp = w + L.offset(p) + k0 * wid;
          for (std::size_t r0 = m0; r0 < m1; r0 += S::MR) {
            const std::size_t mr = min_size(S::MR, m1 - r0);
            const T* a = x + r0 * s.in + k0;
            T* c = y + r0 * s.out + o0;
            if (last)
              tile_any<Arch, T, false>(mr, wid / S::W, kb, a, s.in, bp, wid, c, s.out,
                                       L.count(p), !first, FinishBiasAct<Arch, T, Op>{b + o0, op});
            else
              tile_any<Arch, T, false>(mr, wid / S::W, kb, a, s.in, bp, wid, c, s.out,
                                       L.count(p), !first, FinishNone{});
          }
        }
        if (last) break;
      }
    }
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
