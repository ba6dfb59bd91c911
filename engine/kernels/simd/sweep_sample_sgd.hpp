#pragma once
// Per-sample SGD of W networks of one shape at once, network m in SIMD lane m (W = the vector
// width: 16 f32 networks in an AVX-512 register). A network's per-sample step is one chain of
// dependent operations that leaves most of a vector idle (README "The per-sample chain"); here
// every vector operation advances W independent chains. Each lane reads its own sample (every
// member has its own shuffle order): the kernel gathers the lanes' rows itself (LaneRows), one
// hardware gather per input and target vector, rather than the driver transposing every sample
// into lanes through memory.
//
// Bit for bit the single-network step of the same table, lane by lane: each lane repeats the
// operations of the layer-by-layer path (and so of sample_sgd_tiny, which repeats them too) in
// their order, with that path's vector sigmoid:
//   dense_forward (n = 1):      acc = Σ_k fma(a_k, w_ok, ·) from 0, in k order; y = act(acc + b)
//   output_loss_and_delta:      g = ŷ − y, E = ½Σ_j g_j² in T, δ = g·act'(ŷ) (scalar forms)
//   dense_backward_data (n = 1): out ≤ few_lanes and in ≤ few_lanes: dx_i = δ_0·w_0i then FMAs
//                               in o order; else W partial sums, P_l = Σ_{o ≡ l mod W} in o order
//                               (a product when out ≤ W), added by haddp's tree (sum_as_haddp);
//                               then dx_i ⊙= act'(a_i)
//   sgd_sample_in_place:        d = δ·(−lr); b += d; w_oi = fma(a_i, d_o, w_oi)
// A product whose only use is an addition goes through `rounded`, so that GCC cannot contract
// the pair into an FMA that the single path does not do. Padding lanes (a group that K does not
// fill) and networks that diverged are masked by `keep`: their parameters never change.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/kernels.hpp"
#include "kernels/simd/sample_sgd_tiny.hpp"
#include "kernels/simd/tile.hpp"
#include "kernels/simd/vector_math.hpp"

namespace bpnn::kernels::simd {

// v rounded as it stands: an empty asm makes the value opaque, so a product is not fused with
// the addition that uses it
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> rounded(xsimd::batch<T, Arch> v) {
  typename xsimd::batch<T, Arch>::register_type r = v;
  asm("" : "+v"(r));
  return xsimd::batch<T, Arch>(r);
}

// Σ p[0..W) in the order xsimd::haddp (reduce_rows) adds the W lanes of one row on Arch
// (xsimd 8.1; tests/test_sweep.cpp checks it against reduce_rows bit for bit)
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> sum_as_haddp(const xsimd::batch<T, Arch>* p) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  if constexpr (arch_is_avx512<Arch> && W == 16) {
    B s[4];
#pragma GCC unroll 4
    for (std::size_t l = 0; l < 4; ++l) s[l] = (p[l] + p[l + 8]) + (p[l + 4] + p[l + 12]);
    return (s[0] + s[1]) + (s[2] + s[3]);
  } else if constexpr (arch_is_avx512<Arch> && W == 8) {
    B r[4];
#pragma GCC unroll 4
    for (std::size_t l = 0; l < 4; ++l) r[l] = p[l] + p[l + 4];
    return (r[0] + r[2]) + (r[1] + r[3]);
  } else if constexpr (std::is_base_of_v<xsimd::avx, Arch> && W == 8) {
    return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  } else if constexpr (std::is_base_of_v<xsimd::avx, Arch> && W == 4) {
    return (p[0] + p[1]) + (p[2] + p[3]);
  } else if constexpr (W == 4) {  // sse2 f32
    return (p[0] + p[2]) + (p[1] + p[3]);
  } else {
    static_assert(W == 2, "an instruction set without a known haddp order");
    return p[0] + p[1];
  }
}

// Outputs [o0, o0 + NB) of one layer: y_o = act(Σ_k fma(a_k, w_ok, ·) + b_o), NB chains at once.
// a:(in) w:(in, out) b:(out) y:(out) vectors
template <class Arch, class T, std::size_t NB>
[[gnu::always_inline]] inline void sweep_forward_block(const SweepLayer& s, std::size_t o0,
                                                       const T* a, const T* w, const T* b, T* y) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  B acc[NB];
#pragma GCC unroll 8
  for (std::size_t j = 0; j < NB; ++j) acc[j] = B(T(0));
  for (std::size_t k = 0; k < s.in; ++k) {
    const B ak = B::load_aligned(a + k * W);
    const T* wk = w + (k * s.out + o0) * W;
#pragma GCC unroll 8
    for (std::size_t j = 0; j < NB; ++j) acc[j] = xsimd::fma(ak, B::load_aligned(wk + j * W), acc[j]);
  }
#pragma GCC unroll 8
  for (std::size_t j = 0; j < NB; ++j)
    activation_apply<Arch, T>(s.act, acc[j] + B::load_aligned(b + (o0 + j) * W))
        .store_aligned(y + (o0 + j) * W);
}

// δ_{l−1} = (δ_l·W_l) ⊙ act'(a_{l−1}) for one input i, in dense_backward_data_vec's order
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> sweep_backward_input(const SweepLayer& s,
                                                                         std::size_t i,
                                                                         const T* delta,
                                                                         const T* w) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  const T* wi = w + i * s.out * W;
  const auto dw = [&](std::size_t o) {
    return B::load_aligned(delta + o * W) * B::load_aligned(wi + o * W);
  };
  if (s.out <= few_lanes<Arch, T> && s.in <= few_lanes<Arch, T>) {
    B acc = rounded<Arch, T>(dw(0));
    for (std::size_t o = 1; o < s.out; ++o)
      acc = xsimd::fma(B::load_aligned(delta + o * W), B::load_aligned(wi + o * W), acc);
    return acc;
  }
  B p[W];
  if (s.out <= W) {  // one vector of outputs: one product per lane, zero lanes beyond out
#pragma GCC unroll 16
    for (std::size_t l = 0; l < W; ++l) p[l] = l < s.out ? rounded<Arch, T>(dw(l)) : B(T(0));
  } else {  // vectors of W outputs, the last one zero-padded: lane l sums outputs o ≡ l mod W
#pragma GCC unroll 16
    for (std::size_t l = 0; l < W; ++l) p[l] = B(T(0));
    for (std::size_t o0 = 0; o0 < s.out; o0 += W) {
#pragma GCC unroll 16
      for (std::size_t l = 0; l < W; ++l)
        p[l] = o0 + l < s.out ? xsimd::fma(B::load_aligned(delta + (o0 + l) * W),
                                           B::load_aligned(wi + (o0 + l) * W), p[l])
                              : p[l] + B(T(0));
    }
  }
  return sum_as_haddp<Arch, T>(p);
}

// The lanes' own rows: lane m of load(base) = base[offset[m]], from the W element offsets of one
// step, held in index registers (one hardware gather per vector; scalar loads on SSE2)
template <class Arch, class T>
struct LaneRows {
  using B = xsimd::batch<T, Arch>;
  static constexpr std::size_t W = B::size;
#if defined(__AVX512F__)
  static constexpr bool zmm_index = arch_is_avx512<Arch>;
#else
  static constexpr bool zmm_index = false;
#endif
#if defined(__AVX2__)
  static constexpr bool ymm_index = !zmm_index && std::is_base_of_v<xsimd::avx2, Arch>;
#else
  static constexpr bool ymm_index = false;
#endif
  using Index = xsimd::batch<std::int64_t, Arch>;  // offsets of Index::size lanes
  static constexpr std::size_t index_regs = zmm_index || ymm_index ? W / Index::size : 0;
  Index index[index_regs == 0 ? 1 : index_regs];
  const std::int64_t* offset;  // for the scalar loads

  [[gnu::always_inline]] explicit LaneRows(const std::int64_t* offsets) : offset(offsets) {
#pragma GCC unroll 4
    for (std::size_t r = 0; r < index_regs; ++r) index[r] = Index::load_unaligned(offsets + r * Index::size);
  }

  [[gnu::always_inline]] B load(const T* base) const {
#if defined(__AVX512F__)
    if constexpr (zmm_index) {
      if constexpr (std::is_same_v<T, float>) {
        const __m256 lo = _mm512_i64gather_ps(index[0], base, 4);
        const __m256 hi = _mm512_i64gather_ps(index[1], base, 4);
        return B(_mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1));
      } else {
        return B(_mm512_i64gather_pd(index[0], base, 8));
      }
    }
#endif
#if defined(__AVX2__)
    if constexpr (ymm_index) {
      if constexpr (std::is_same_v<T, float>) {
        const __m128 lo = _mm256_i64gather_ps(base, index[0], 4);
        const __m128 hi = _mm256_i64gather_ps(base, index[1], 4);
        return B(_mm256_set_m128(hi, lo));
      } else {
        return B(_mm256_i64gather_pd(base, index[0], 8));
      }
    }
#endif
    if constexpr (!zmm_index && !ymm_index) {
      alignas(Arch::alignment()) T lanes[W];
#pragma GCC unroll 16
      for (std::size_t m = 0; m < W; ++m) lanes[m] = base[offset[m]];
      return B::load_aligned(lanes);
    }
  }
};

template <class Arch, class T, bool Masked>
bool sweep_sample_sgd_lanes(const SweepNet& net, const T* rows, const std::int64_t* row_offset,
                            const T* lr, const T* keep, T* params, T* work, T* loss) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  const std::size_t L = net.layers;
  const std::size_t in0 = net.layer[0].in;
  // each lane's inputs from its own row
  const LaneRows<Arch, T> lane_rows(row_offset);
  T* x = work + net.input_offset;
  for (std::size_t i = 0; i < in0; ++i) lane_rows.load(rows + i).store_aligned(x + i * W);
  // forward
  for (std::size_t l = 0; l < L; ++l) {
    const SweepLayer s = net.layer[l];  // a copy: the stores below cannot alias it
    const T* a = l == 0 ? x : work + net.layer[l - 1].act_offset;
    const T* w = params + s.weight_offset;
    const T* b = params + s.bias_offset;
    T* out = work + s.act_offset;
    std::size_t o0 = 0;
    for (; o0 + 8 <= s.out; o0 += 8) sweep_forward_block<Arch, T, 8>(s, o0, a, w, b, out);
    if (o0 < s.out)
      dispatch_count<7>(s.out - o0, [&](auto nb) {
        sweep_forward_block<Arch, T, decltype(nb)::value>(s, o0, a, w, b, out);
      });
  }
  // the MSE loss and δ_L
  const SweepLayer top = net.layer[L - 1];
  const T* yhat = work + top.act_offset;
  T* delta_top = work + top.delta_offset;
  B e(T(0));
  for (std::size_t j = 0; j < top.out; ++j) {
    const B p = B::load_aligned(yhat + j * W);
    const B g = p - lane_rows.load(rows + in0 + j);
    e = e + rounded<Arch, T>(g * g);
    (g * output_derivative<Arch, T>(top.act, p)).store_aligned(delta_top + j * W);
  }
  const B e_half = B(T(0.5)) * e;
  e_half.store_aligned(loss);
  const auto finite = (e_half - e_half) == B(T(0));
  if constexpr (!Masked) {
    if (!xsimd::all(finite)) return false;
  }
  const auto on = [&] {
    if constexpr (Masked)
      return finite && (B::load_aligned(keep) != B(T(0)));
    else
      return finite;
  }();
  const B minus_lr = -B::load_aligned(lr);
  // backward and update, top layer first; layer l's weights change only after δ_{l−1}
  for (std::size_t l = L; l-- > 0;) {
    const SweepLayer s = net.layer[l];
    T* delta = work + s.delta_offset;
    T* w = params + s.weight_offset;
    T* b = params + s.bias_offset;
    if (l > 0) {
      const SweepLayer below = net.layer[l - 1];
      const T* a = work + below.act_offset;
      T* dx = work + below.delta_offset;
      for (std::size_t i = 0; i < s.in; ++i)
        (sweep_backward_input<Arch, T>(s, i, delta, w) *
         activation_grad_apply<Arch, T>(below.act, B::load_aligned(a + i * W)))
            .store_aligned(dx + i * W);
    }
    // d = δ·(−lr); b += d
    for (std::size_t o = 0; o < s.out; ++o) {
      const B d = rounded<Arch, T>(B::load_aligned(delta + o * W) * minus_lr);
      d.store_aligned(delta + o * W);
      const B old = B::load_aligned(b + o * W);
      const B next = old + d;
      (Masked ? xsimd::select(on, next, old) : next).store_aligned(b + o * W);
    }
    // w_oi = fma(a_i, d_o, w_oi)
    const T* a = l == 0 ? x : work + net.layer[l - 1].act_offset;
    for (std::size_t i = 0; i < s.in; ++i) {
      const B ai = B::load_aligned(a + i * W);
      T* wi = w + i * s.out * W;
      for (std::size_t o = 0; o < s.out; ++o) {
        const B old = B::load_aligned(wi + o * W);
        const B next = xsimd::fma(ai, B::load_aligned(delta + o * W), old);
        (Masked ? xsimd::select(on, next, old) : next).store_aligned(wi + o * W);
      }
    }
  }
  return true;
}

// see KernelTable::sweep_sample_sgd; net.lanes must be W
template <class Arch, class T>
bool sweep_sample_sgd(const SweepNet& net, const T* rows, const std::int64_t* row_offset,
                      const T* lr, const T* keep, T* params, T* work, T* loss) {
  if (keep)
    return sweep_sample_sgd_lanes<Arch, T, true>(net, rows, row_offset, lr, keep, params, work, loss);
  return sweep_sample_sgd_lanes<Arch, T, false>(net, rows, row_offset, lr, keep, params, work, loss);
}

}  // namespace bpnn::kernels::simd
