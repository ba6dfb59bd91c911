#pragma once
// Dense backward to the inputs: dx = (dy·w) ⊙ act'(x), act' taken from the stored outputs x of
// the previous layer and applied in the tile epilogue.
#include <cstddef>

#include "kernels/kernels.hpp"
#include "kernels/simd/pack.hpp"
#include "kernels/simd/tile.hpp"
#include "kernels/simd/vector_math.hpp"

namespace bpnn::kernels::simd {

// Finishing step of the last K block: acc ⊙ act'(x)
template <class Arch, class T, class GradOp>
struct FinishActGrad {
  const T* x;  // x of the tile's first row and column
  std::size_t ldx;
  GradOp gop;
  [[gnu::always_inline]] xsimd::batch<T, Arch> operator()(std::size_t m, std::size_t col,
                                                          std::size_t cnt,
                                                          const xsimd::batch<T, Arch>& acc) const {
    return acc * gop(load_n<Arch>(x + m * ldx + col, cnt));
  }
};

// dy:(Out) w:packed(Out,In) x:(In) -> dx:(In), inputs [i_begin, i_end); the matrix-vector form
// for one row. The panel rows are contiguous along outputs, so each dx[i] is a dot product of dy
// with a panel row.
template <class Arch, class T, class GradOp>
void dense_backward_data_vec(const DenseShape& s, GradOp gop, const T* dy, const T* w,
                             const T* x, T* dx, std::size_t i_begin, std::size_t i_end) {
  using B = xsimd::batch<T, Arch>;
  using S = TileShape<Arch, T>;
  constexpr std::size_t W = S::W;
  if (s.out <= few_lanes<Arch, T> && s.in <= few_lanes<Arch, T>) {
    // a handful of each: the (single) panel's columns gathered by scalar loads, inputs in lanes,
    // dx = (dy_0·col_0 + Σ_{o>0} fma(dy_o, col_o, ·)) ⊙ act'(x); no reduction tree. Explicit
    // FMAs, so the operations are fixed (sample_sgd_tiny.hpp repeats them), not left to the
    // compiler's contraction of scalar code
    alignas(S::align) T col[W] = {};
    const auto column = [&](std::size_t o) {
      for (std::size_t i = 0; i < s.in; ++i) col[i] = w[i * W + o];
      return B::load_aligned(col);
    };
    B acc = B(dy[0]) * column(0);
    for (std::size_t o = 1; o < s.out; ++o) acc = bpnn::simd::fma(B(dy[o]), column(o), acc);
    store_few<Arch>(dx, acc * gop(load_few<Arch>(x, s.in)), s.in);
    return;
  }
  const PanelLayout<Arch, T> L{s.out, s.in};
  const std::size_t np = L.panels();
  // W inputs at a time (the last block holds in % W of them, the other rows stay zero): row j of
  // acc is Σ over the outputs of dy ⊙ (panel row of input i0 + j), and one reduction tree sums
  // all W rows at once into the W lanes of dx
  for (std::size_t i0 = i_begin; i0 < i_end; i0 += W) {
    const std::size_t ni = min_size(W, i_end - i0);
    B acc[W];
#pragma GCC unroll 16
    for (std::size_t j = 0; j < W; ++j) acc[j] = B(T(0));
    if (s.out <= W) {
      // one panel, one vector wide
      const B d = load_small<Arch>(dy, s.out);
      const T* wp = w + i0 * W;
      // (fully unrolled with constant indices, so that acc stays in registers)
#pragma GCC unroll 16
      for (std::size_t j = 0; j < W; ++j)
        if (j < ni) acc[j] = d * B::load_unaligned(wp + j * W);
    } else {
      for (std::size_t p = 0; p < np; ++p) {
        const std::size_t wid = L.width(p), cnt = L.count(p);
        const T* wp = w + L.offset(p) + i0 * wid;
        for (std::size_t v = 0; v * W < wid; ++v) {
          const B d = load_n<Arch>(dy + L.first(p) + v * W, cnt - v * W);
#pragma GCC unroll 16
          for (std::size_t j = 0; j < W; ++j)
            if (j < ni) acc[j] = bpnn::simd::fma(d, B::load_unaligned(wp + j * wid + v * W), acc[j]);
        }
      }
    }
    store_small<Arch>(dx + i0, reduce_rows<Arch, T>(acc) * gop(load_small<Arch>(x + i0, ni)),
                      ni);
  }
}

// dy:(N,Out) w:packed(Out,In) x:(N,In) -> dx:(N,In), inputs [i_begin, i_end); the GEMM form.
// Each panel's block of NR outputs × NR inputs is transposed once into a stack buffer (rows =
// outputs, contiguous along inputs) and then reused by every row tile, so the same broadcast-dy
// tile as the forward runs with K = outputs; dx holds partial sums between panels and the last
// one applies act'(x). Blocks of NR inputs are independent. dx must not alias x.
template <class Arch, class T, class GradOp>
void dense_backward_data_gemm(const DenseShape& s, GradOp gop, const T* dy, const T* w,
                              const T* x, T* dx, std::size_t i_begin, std::size_t i_end) {
  using S = TileShape<Arch, T>;
  constexpr std::size_t NR = S::NR, W = S::W;
  const PanelLayout<Arch, T> L{s.out, s.in};
  const std::size_t np = L.panels();
  alignas(S::align) T buf[NR * NR];
  for (std::size_t i0 = i_begin; i0 < i_end; i0 += NR) {
    const std::size_t ni = min_size(NR, i_end - i0), vi = ceil_div(ni, W);
    for (std::size_t p = 0; p < np; ++p) {
      const std::size_t wid = L.width(p), ko = L.count(p);
      const T* src = w + L.offset(p) + i0 * wid;
      // buf[o][i] = w(o, i0 + i)
      for (std::size_t i = 0; i < ni; ++i)
        for (std::size_t o = 0; o < ko; ++o) buf[o * NR + i] = src[i * wid + o];
      for (std::size_t o = 0; o < ko; ++o)
        for (std::size_t i = ni; i < vi * W; ++i) buf[o * NR + i] = T(0);
      const bool first = p == 0, last = p + 1 == np;
      // the next block of weights (contiguous) is fetched into L2 while this one is in use,
      // spread over the row tiles
      const bool more_p = p + 1 < np, more_i = i0 + NR < i_end;
      const T* next = more_p ? w + L.offset(p + 1) + i0 * L.width(p + 1)
                      : more_i ? w + (i0 + NR) * L.width(0) : nullptr;
      const std::size_t next_bytes =
          more_p   ? ni * L.width(p + 1) * sizeof(T)
          : more_i ? min_size(NR, i_end - i0 - NR) * L.width(0) * sizeof(T) : 0;
      const std::size_t lines_per_tile = ceil_div(ceil_div(next_bytes, 64), ceil_div(s.n, S::MR));
      std::size_t line = 0;
      for (std::size_t r0 = 0; r0 < s.n; r0 += S::MR) {
        const std::size_t mr = min_size(S::MR, s.n - r0);
        for (std::size_t l = 0; l < lines_per_tile && line * 64 < next_bytes; ++l, ++line)
          __builtin_prefetch(reinterpret_cast<const char*>(next) + line * 64, 0, 2);
        const T* a = dy + r0 * s.out + L.first(p);
        T* c = dx + r0 * s.in + i0;
        if (last)
          tile_any<Arch, T, false>(mr, vi, ko, a, s.out, buf, NR, c, s.in, ni, !first,
                                   FinishActGrad<Arch, T, GradOp>{x + r0 * s.in + i0, s.in, gop});
        else
          tile_any<Arch, T, false>(mr, vi, ko, a, s.out, buf, NR, c, s.in, ni, !first,
                                   FinishNone{});
      }
    }
  }
}

// dy:(N,Out) w:packed(Out,In) x:(N,In) -> inputs [i0, i1) of dx:(N,In); dx = (dy·w) ⊙ act'(x).
// i0 is a multiple of NR and i1 one too or In: whole blocks of inputs, each computed exactly as
// dense_backward_data computes it, so disjoint ranges may run on different threads with the same
// bits.
template <class Arch, class T>
void dense_backward_data_inputs(const DenseShape& s, Activation act, std::size_t i0,
                                std::size_t i1, const T* dy, const T* w, const T* x, T* dx) {
  if (s.n == 0 || i1 <= i0) return;
  bpnn::simd::with_activation_grad(act, [&](auto gop) {
    if (s.out == 0) {
      // no outputs: dx = 0
      for (std::size_t r = 0; r < s.n; ++r)
        for (std::size_t i = i0; i < i1; ++i) dx[r * s.in + i] = T(0);
    } else if (s.n < 4) {
      for (std::size_t r = 0; r < s.n; ++r)
        dense_backward_data_vec<Arch, T>({1, s.in, s.out}, gop, dy + r * s.out, w,
                                         x + r * s.in, dx + r * s.in, i0, i1);
    } else {
      dense_backward_data_gemm<Arch, T>(s, gop, dy, w, x, dx, i0, i1);
    }
  });
}

// dy:(N,Out) w:packed(Out,In) x:(N,In) -> dx:(N,In); dx = (dy·w) ⊙ act'(x)
template <class Arch, class T>
void dense_backward_data(const DenseShape& s, Activation act, const T* dy, const T* w,
                         const T* x, T* dx) {
  dense_backward_data_inputs<Arch, T>(s, act, 0, s.in, dy, w, x, dx);
}

}  // namespace bpnn::kernels::simd
