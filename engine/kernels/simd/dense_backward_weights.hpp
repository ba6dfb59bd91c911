#pragma once
// Dense backward to the weights: dw += dyᵀ·x accumulated straight into the packed layout, and
// db += Σ_rows dy.
#include <cstddef>

#include "kernels/cache_info.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd/pack.hpp"
#include "kernels/simd/tile.hpp"

namespace bpnn::kernels::simd {

// dy:(N,Out) -> db:(Out) += Σ_rows dy
template <class Arch, class T>
void dense_bias_grad(const DenseShape& s, const T* dy, T* db) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  std::size_t o = 0;
  for (; o + W <= s.out; o += W) {
    B acc = B::load_unaligned(db + o);
    for (std::size_t r = 0; r < s.n; ++r) acc += B::load_unaligned(dy + r * s.out + o);
    acc.store_unaligned(db + o);
  }
  for (; o < s.out; ++o) {
    T acc = db[o];
    for (std::size_t r = 0; r < s.n; ++r) acc += dy[r * s.out + o];
    db[o] = acc;
  }
}

// dy:(Out) x:(In) -> dw:packed(Out,In) += dy ⊗ x; the outer product for one row
template <class Arch, class T, std::size_t Vn>
inline void dense_backward_weights_panel_vec(std::size_t in, const T* dy, std::size_t cnt,
                                             const T* x, T* dwp, std::size_t wid) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  B d[Vn];
#pragma GCC unroll 4
  for (std::size_t j = 0; j < Vn; ++j) d[j] = load_n<Arch>(dy + j * W, cnt - j * W);
  for (std::size_t i = 0; i < in; ++i) {
    const B xi(x[i]);
    T* row = dwp + i * wid;
#pragma GCC unroll 4
    for (std::size_t j = 0; j < Vn; ++j)
      bpnn::simd::fma(xi, d[j], B::load_unaligned(row + j * W)).store_unaligned(row + j * W);
  }
}

// dy:(N,Out) x:(N,In) -> dw:packed(Out,In) += dyᵀ·x; the GEMM form with K = rows. For each
// panel, Kr rows of dy are copied (zero-padded to the panel width) into an L1-sized stack
// buffer, and tiles of MR inputs × panel width accumulate into dw, broadcasting x in place.
template <class Arch, class T>
void dense_backward_weights_gemm(const DenseShape& s, const T* dy, const T* x, T* dw) {
  using S = TileShape<Arch, T>;
  constexpr std::size_t NR = S::NR, W = S::W;
  constexpr std::size_t KR = 64;  // rows per block: KR × NR elements = 16 KiB
  const PanelLayout<Arch, T> L{s.out, s.in};
  alignas(S::align) T buf[KR * NR];
  for (std::size_t p = 0; p < L.panels(); ++p) {
    const std::size_t wid = L.width(p), cnt = L.count(p), o0 = L.first(p);
    T* dwp = dw + L.offset(p);
    for (std::size_t r0 = 0; r0 < s.n; r0 += KR) {
      const std::size_t kr = min_size(KR, s.n - r0);
      // by vectors (GCC made each row a rep movsq: 1.5% of the profile at mnist's shape)
      for (std::size_t r = 0; r < kr; ++r) {
        const T* src = dy + (r0 + r) * s.out + o0;
        for (std::size_t j = 0; j < wid; j += W)
          load_n<Arch>(src + j, cnt - j).store_aligned(buf + r * NR + j);  // j < cnt
      }
      // inputs per tile: MR, or MR1 for a panel one vector wide (enough accumulators)
      const std::size_t step = wid == W ? S::MR1 : S::MR;
      for (std::size_t i0 = 0; i0 < s.in; i0 += step) {
        const std::size_t mi = min_size(step, s.in - i0);
        // the gradient rows two tiles ahead, from memory for wide layers, into L2
        if (i0 + 3 * step <= s.in) {
          const char* ahead = reinterpret_cast<const char*>(dwp + (i0 + 2 * step) * wid);
          for (std::size_t b = 0; b < step * wid * sizeof(T); b += 64)
            __builtin_prefetch(ahead + b, 1, 2);
        }
        if (wid == W)
          tile_one_vector<Arch, T, true>(mi, kr, x + r0 * s.in + i0, s.in, buf, NR,
                                         dwp + i0 * wid, wid, wid, true, FinishNone{});
        else
          tile_any<Arch, T, true>(mi, wid / W, kr, x + r0 * s.in + i0, s.in, buf, NR,
                                  dwp + i0 * wid, wid, wid, true, FinishNone{});
      }
    }
  }
}

// dy:(N,Out) x:(N,In) -> dw:packed(Out,In) += dyᵀ·x ; db:(Out) += Σ_rows dy
template <class Arch, class T>
void dense_backward_weights(const DenseShape& s, const T* dy, const T* x, T* dw, T* db) {
  using S = TileShape<Arch, T>;
  if (s.n == 0 || s.out == 0) return;
  if (s.n == 1 && s.out <= S::W) {
    // one vector of outputs: db and every packed row updated with one (masked) vector each
    using B = xsimd::batch<T, Arch>;
    const B d = load_small<Arch>(dy, s.out);
    if (s.out <= few_lanes<Arch, T>) {
      for (std::size_t o = 0; o < s.out; ++o) db[o] += dy[o];
    } else {
      store_n<Arch>(db, load_n<Arch>(db, s.out) + d, s.out);
    }
    for (std::size_t i = 0; i < s.in; ++i) {
      T* row = dw + i * S::W;
      bpnn::simd::fma(B(x[i]), d, B::load_unaligned(row)).store_unaligned(row);
    }
    return;
  }
  dense_bias_grad<Arch, T>(s, dy, db);
  if (s.in == 0) return;
  if (s.n == 1) {
    const PanelLayout<Arch, T> L{s.out, s.in};
    for (std::size_t p = 0; p < L.panels(); ++p) {
      const std::size_t wid = L.width(p);
      dispatch_count<S::V>(wid / S::W, [&](auto vc) {
        dense_backward_weights_panel_vec<Arch, T, decltype(vc)::value>(
            s.in, dy + L.first(p), L.count(p), x, dw + L.offset(p), wid);
      });
    }
    return;
  }
  dense_backward_weights_gemm<Arch, T>(s, dy, x, dw);
}

}  // namespace bpnn::kernels::simd
