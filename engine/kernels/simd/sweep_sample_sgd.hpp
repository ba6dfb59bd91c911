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
// A product whose only use is an addition goes through `rounded`, so that no build that allows
// contraction (this project compiles with -ffp-contract=off; the fuzz build, tests/fuzz, and
// other builds of these files may not) fuses the pair into an FMA that the single path does not
// do. Padding lanes (a group that K does not
// fill) and networks that diverged are masked by `keep`: their parameters never change.
#include <cmath>
#include <cstddef>
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

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

// One input k's NB weight vectors in a fused step: the previous step's pending update made
// (w = fma(a_prev_k, d_prev_j, w), kept where a masked lane did not train), stored, then the sum's
// FMA with the new weight.   w:(NB) vectors at wk, d, acc:(NB)
template <class Arch, class T, std::size_t NB, int Pending>
[[gnu::always_inline]] inline void sweep_fused_input(const xsimd::batch<T, Arch>& ak,
                                                     const xsimd::batch<T, Arch>& a_prev,
                                                     const xsimd::batch<T, Arch>* d,
                                                     const xsimd::batch_bool<T, Arch>& on_prev, T* wk,
                                                     xsimd::batch<T, Arch>* acc) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
#pragma GCC unroll 8
  for (std::size_t j = 0; j < NB; ++j) {
    const B old = B::load_aligned(wk + j * W);
    B next = bpnn::simd::fma(a_prev, d[j], old);
    if constexpr (Pending == sweep_pending_masked) next = xsimd::select(on_prev, next, old);
    next.store_aligned(wk + j * W);
    acc[j] = bpnn::simd::fma(ak, next, acc[j]);
  }
}

// Outputs [o0, o0 + NB) of one layer: y_o = act(Σ_k fma(a_k, w_ok, ·) + b_o), NB chains at once,
// making the previous step's pending update of these weights on the way (Pending not none:
// w_ok = fma(a_prev_k, d_prev_o, w_ok), selected by its lanes when masked, stored, then the sum's
// FMA with it).   a, a_prev:(in) w:(in, out) b, d_prev:(out) y:(out) vectors
template <class Arch, class T, std::size_t NB, int Pending>
[[gnu::always_inline]] inline void sweep_forward_block(const SweepLayer& s, std::size_t o0, const T* a,
                                                       const T* a_prev, const T* d_prev,
                                                       const xsimd::batch_bool<T, Arch>& on_prev, T* w,
                                                       const T* b, T* y) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  B acc[NB], d[NB];
#pragma GCC unroll 8
  for (std::size_t j = 0; j < NB; ++j) {
    acc[j] = B(T(0));
    if constexpr (Pending != sweep_pending_none) d[j] = B::load_aligned(d_prev + (o0 + j) * W);
  }
  for (std::size_t k = 0; k < s.in; ++k) {
    const B ak = B::load_aligned(a + k * W);
    T* wk = w + (k * s.out + o0) * W;
    if constexpr (Pending != sweep_pending_none) {
      sweep_fused_input<Arch, T, NB, Pending>(ak, B::load_aligned(a_prev + k * W), d, on_prev, wk, acc);
    } else {
#pragma GCC unroll 8
      for (std::size_t j = 0; j < NB; ++j) acc[j] = bpnn::simd::fma(ak, B::load_aligned(wk + j * W), acc[j]);
    }
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
      acc = bpnn::simd::fma(B::load_aligned(delta + o * W), B::load_aligned(wi + o * W), acc);
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
        p[l] = o0 + l < s.out ? bpnn::simd::fma(B::load_aligned(delta + (o0 + l) * W),
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

  // lane m of load_at(base, shift) = base[offset[m] + shift[m]], shift:(W)
  [[gnu::always_inline]] B load_at(const T* base, const std::int64_t* shift) const {
    if constexpr (index_regs > 0) {
      LaneRows shifted = *this;
#pragma GCC unroll 4
      for (std::size_t r = 0; r < index_regs; ++r)
        shifted.index[r] = index[r] + Index::load_unaligned(shift + r * Index::size);
      return shifted.load(base);
    } else {
      alignas(Arch::alignment()) T lanes[W];
#pragma GCC unroll 16
      for (std::size_t m = 0; m < W; ++m) lanes[m] = base[offset[m] + shift[m]];
      return B::load_aligned(lanes);
    }
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

// The step's loss E = ½e per lane into `loss`, and the lanes whose weights the step changes:
// those with a finite E, and (Masked) a nonzero keep; nullopt when unmasked and some E is not
// finite (the step changes nothing).   e:(W) keep:(W) → loss:(W), (W)
template <class Arch, class T, bool Masked>
std::optional<xsimd::batch_bool<T, Arch>> loss_store_and_lanes_stepping(const xsimd::batch<T, Arch>& e,
                                                                        const T* keep, T* loss) {
  using B = xsimd::batch<T, Arch>;
  const B e_half = B(T(0.5)) * e;
  e_half.store_aligned(loss);
  const auto finite = (e_half - e_half) == B(T(0));
  if constexpr (Masked) {
    return finite && (B::load_aligned(keep) != B(T(0)));
  } else {
    if (!xsimd::all(finite)) return std::nullopt;
    return finite;
  }
}

// Full groups (Fused) leave each step's weight update pending and make it in the next step's
// forward pass, as the narrow groups do (see sweep_sample_sgd_narrow); else they update at once,
// and Pending is none: on sse2 (whose FMA rounds twice, unlike sweep_pending_apply's std::fma:
// bpnn::simd::fma_rounds_once), and for the short-chain shapes,
// whose update is a dozen vectors (the seed network trained 10% slower fused, README "Many
// networks at once").
template <class Arch, class T, bool Masked, int Pending, bool Fused>
bool sweep_sample_sgd_lanes(const SweepNet& net, const T* rows, const std::int64_t* row_offset,
                            const T* lr, const T* keep, T* params, T* work, T* loss) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  static_assert(!Fused || bpnn::simd::fma_rounds_once<Arch>);
  static_assert(Fused || Pending == sweep_pending_none);
  constexpr bool pending = Pending != sweep_pending_none;
  const std::size_t L = net.layers;
  const std::size_t in0 = net.layer[0].in;
  T* pending_on = work + net.pending_offset;
  T* pending_state = pending_on + W;
  // the previous step's inputs are in set `old_set`; this step's go to the other one
  const std::size_t old_set = static_cast<std::size_t>(pending_state[1]);
  const std::size_t set = pending ? 1 - old_set : 0;
  const auto on_previous = B::load_aligned(pending_on) != B(T(0));
  const auto inputs_of = [&](std::size_t l, std::size_t in_set) {
    return work + in_set * net.alternate + (l == 0 ? net.input_offset : net.layer[l - 1].act_offset);
  };
  // each lane's inputs from its own row
  const LaneRows<Arch, T> lane_rows(row_offset);
  T* x = inputs_of(0, set);
  for (std::size_t i = 0; i < in0; ++i) lane_rows.load(rows + i).store_aligned(x + i * W);
  // forward, making the previous step's update on the way
  for (std::size_t l = 0; l < L; ++l) {
    const SweepLayer s = net.layer[l];  // a copy: the stores below cannot alias it
    const T* a = inputs_of(l, set);
    const T* a_prev = inputs_of(l, old_set);
    const T* d_prev = work + s.delta_offset;
    T* w = params + s.weight_offset;
    const T* b = params + s.bias_offset;
    T* out = l + 1 < L ? work + set * net.alternate + s.act_offset : work + s.act_offset;
    std::size_t o0 = 0;
    for (; o0 + 8 <= s.out; o0 += 8)
      sweep_forward_block<Arch, T, 8, Pending>(s, o0, a, a_prev, d_prev, on_previous, w, b, out);
    if (o0 < s.out)
      dispatch_count<7>(s.out - o0, [&](auto nb) {
        sweep_forward_block<Arch, T, decltype(nb)::value, Pending>(s, o0, a, a_prev, d_prev, on_previous,
                                                                   w, b, out);
      });
  }
  pending_state[0] = T(sweep_pending_none);  // made; this step's comes below, if it steps
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
  const auto stepping = loss_store_and_lanes_stepping<Arch, T, Masked>(e, keep, loss);
  if (!stepping) return false;
  const auto on = *stepping;
  const B minus_lr = -B::load_aligned(lr);
  // backward, top layer first, from the weights as they stand (the single path's of this step)
  for (std::size_t l = L; l-- > 0;) {
    const SweepLayer s = net.layer[l];
    T* delta = work + s.delta_offset;
    const T* w = params + s.weight_offset;
    T* b = params + s.bias_offset;
    if (l > 0) {
      const SweepLayer below = net.layer[l - 1];
      const T* a = inputs_of(l, set);
      T* dx = work + below.delta_offset;
      for (std::size_t i = 0; i < s.in; ++i)
        (sweep_backward_input<Arch, T>(s, i, delta, w) *
         activation_grad_apply<Arch, T>(below.act, B::load_aligned(a + i * W)))
            .store_aligned(dx + i * W);
    }
    // d = δ·(−lr), kept for the pending update; b += d
    for (std::size_t o = 0; o < s.out; ++o) {
      const B d = rounded<Arch, T>(B::load_aligned(delta + o * W) * minus_lr);
      d.store_aligned(delta + o * W);
      const B old = B::load_aligned(b + o * W);
      const B next = old + d;
      (Masked ? xsimd::select(on, next, old) : next).store_aligned(b + o * W);
    }
    if constexpr (!Fused) {  // w_oi = fma(a_i, d_o, w_oi) now
      const T* a = inputs_of(l, set);
      T* wu = params + s.weight_offset;
      for (std::size_t i = 0; i < s.in; ++i) {
        const B ai = B::load_aligned(a + i * W);
        T* wi = wu + i * s.out * W;
        for (std::size_t o = 0; o < s.out; ++o) {
          const B old = B::load_aligned(wi + o * W);
          const B next = bpnn::simd::fma(ai, B::load_aligned(delta + o * W), old);
          (Masked ? xsimd::select(on, next, old) : next).store_aligned(wi + o * W);
        }
      }
    }
  }
  if constexpr (Fused) {
    // w_oi = fma(a_i, d_o, w_oi) is pending: the next step's forward pass (or
    // sweep_pending_apply) makes it
    xsimd::select(on, B(T(1)), B(T(0))).store_aligned(pending_on);
    pending_state[0] = T(Masked ? sweep_pending_masked : sweep_pending_all);
    pending_state[1] = T(set);
  }
  return true;
}

// ---- Short chains in P vectors per value (SweepNet::lanes = P·W, P from 2 to
// sweep_short_chain_vectors):
// for shapes whose every layer has at most few_lanes inputs and outputs (the seed network 2-4-1),
// one step of W networks is one chain of dependent operations — two sigmoids deep, about 165
// cycles — with too little work on it to fill the vector ports (README "Many networks at once").
// Here a group is P·W networks, every value P vectors (network c in element c mod W of vector
// c / W: the full layout with P·W lanes), and each operation is made on the P vectors in turn, so
// that P independent chains advance together (P = 4 ran the seed network 1.1x faster than P = 2,
// 1.45x faster than one vector). The operations of each network are those of
// sweep_sample_sgd_lanes for these shapes (Pending none, not Fused) in the same order: the short
// input-gradient chain, the update at once.
template <class Arch, class T>
inline constexpr std::size_t sweep_short_chain_vectors = 4;  // P at most; 2, 3 or 4

template <class Arch, class T, bool Masked, std::size_t P>
bool sweep_sample_sgd_short(const SweepNet& net, const T* rows, const std::int64_t* row_offset,
                            const T* lr, const T* keep, T* params, T* work, T* loss) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size, V = P * W;
  constexpr std::size_t F = few_lanes<Arch, T>;  // at most F inputs and outputs per layer
  const std::size_t L = net.layers;
  const std::size_t in0 = net.layer[0].in;
  const auto lane_rows = [&]<std::size_t... p>(std::index_sequence<p...>) {
    return std::array<LaneRows<Arch, T>, P>{LaneRows<Arch, T>(row_offset + p * W)...};
  }(std::make_index_sequence<P>{});
  const auto inputs_of = [&](std::size_t l) {
    return work + (l == 0 ? net.input_offset : net.layer[l - 1].act_offset);
  };
  // each network's inputs from its own row
  T* x = inputs_of(0);
  for (std::size_t i = 0; i < in0; ++i)
#pragma GCC unroll 4
    for (std::size_t p = 0; p < P; ++p) lane_rows[p].load(rows + i).store_aligned(x + i * V + p * W);
  // forward: acc = Σ_k fma(a_k, w_ok, ·) from 0 in k order; y = act(acc + b)
  for (std::size_t l = 0; l < L; ++l) {
    const SweepLayer s = net.layer[l];  // a copy: the stores below cannot alias it
    const T* a = inputs_of(l);
    const T* w = params + s.weight_offset;
    const T* b = params + s.bias_offset;
    T* out = work + s.act_offset;
    B acc[F][P];
#pragma GCC unroll 4
    for (std::size_t o = 0; o < F; ++o)
#pragma GCC unroll 4
      for (std::size_t p = 0; p < P; ++p) acc[o][p] = B(T(0));
    for (std::size_t k = 0; k < s.in; ++k)
#pragma GCC unroll 4
      for (std::size_t o = 0; o < F; ++o)
        if (o < s.out)
#pragma GCC unroll 4
          for (std::size_t p = 0; p < P; ++p)
            acc[o][p] = bpnn::simd::fma(B::load_aligned(a + k * V + p * W),
                                   B::load_aligned(w + (k * s.out + o) * V + p * W), acc[o][p]);
#pragma GCC unroll 4
    for (std::size_t o = 0; o < F; ++o)
      if (o < s.out)
#pragma GCC unroll 4
        for (std::size_t p = 0; p < P; ++p)
          activation_apply<Arch, T>(s.act, acc[o][p] + B::load_aligned(b + o * V + p * W))
              .store_aligned(out + o * V + p * W);
  }
  // the MSE loss and δ_L
  const SweepLayer top = net.layer[L - 1];
  const T* yhat = work + top.act_offset;
  T* delta_top = work + top.delta_offset;
  B e[P];
#pragma GCC unroll 4
  for (std::size_t p = 0; p < P; ++p) e[p] = B(T(0));
  for (std::size_t j = 0; j < top.out; ++j)
#pragma GCC unroll 4
    for (std::size_t p = 0; p < P; ++p) {
      const B y = B::load_aligned(yhat + j * V + p * W);
      const B g = y - lane_rows[p].load(rows + in0 + j);
      e[p] = e[p] + rounded<Arch, T>(g * g);
      (g * output_derivative<Arch, T>(top.act, y)).store_aligned(delta_top + j * V + p * W);
    }
  // (unmasked: no network steps when one of the losses of any vector is not finite)
  xsimd::batch_bool<T, Arch> on[P];
  B minus_lr[P];
  bool stepping = true;
#pragma GCC unroll 4
  for (std::size_t p = 0; p < P; ++p) {
    const auto lanes = loss_store_and_lanes_stepping<Arch, T, Masked>(e[p], Masked ? keep + p * W : keep, loss + p * W);
    stepping = stepping && lanes.has_value();
    if (lanes) on[p] = *lanes;
    minus_lr[p] = -B::load_aligned(lr + p * W);
  }
  if (!stepping) return false;
  // backward, top layer first, from the weights as they stand; each layer updated after its δ
  for (std::size_t l = L; l-- > 0;) {
    const SweepLayer s = net.layer[l];
    T* delta = work + s.delta_offset;
    T* w = params + s.weight_offset;
    T* b = params + s.bias_offset;
    const T* a = inputs_of(l);
    if (l > 0) {  // dx_i = δ_0·w_0i, then FMAs in o order; ⊙ act'(a_i)
      const SweepLayer below = net.layer[l - 1];
      T* dx = work + below.delta_offset;
#pragma GCC unroll 4
      for (std::size_t i = 0; i < F; ++i)
        if (i < s.in)
#pragma GCC unroll 4
          for (std::size_t p = 0; p < P; ++p) {
            const auto dw = [&](std::size_t o) {
              return std::pair{B::load_aligned(delta + o * V + p * W), B::load_aligned(w + (i * s.out + o) * V + p * W)};
            };
            const auto [d0, w0] = dw(0);
            B acc = rounded<Arch, T>(d0 * w0);
            for (std::size_t o = 1; o < s.out; ++o) {
              const auto [d, wv] = dw(o);
              acc = bpnn::simd::fma(d, wv, acc);
            }
            (acc * activation_grad_apply<Arch, T>(below.act, B::load_aligned(a + i * V + p * W)))
                .store_aligned(dx + i * V + p * W);
          }
    }
    // d = δ·(−lr); b += d; w_oi = fma(a_i, d_o, w_oi)
    B d[F][P];
#pragma GCC unroll 4
    for (std::size_t o = 0; o < F; ++o)
#pragma GCC unroll 4
      for (std::size_t p = 0; p < P; ++p) d[o][p] = B(T(0));  // (only o < s.out are used)
#pragma GCC unroll 4
    for (std::size_t o = 0; o < F; ++o)
      if (o < s.out)
#pragma GCC unroll 4
        for (std::size_t p = 0; p < P; ++p) {
          d[o][p] = rounded<Arch, T>(B::load_aligned(delta + o * V + p * W) * minus_lr[p]);
          d[o][p].store_aligned(delta + o * V + p * W);
          const B old = B::load_aligned(b + o * V + p * W);
          const B next = old + d[o][p];
          (Masked ? xsimd::select(on[p], next, old) : next).store_aligned(b + o * V + p * W);
        }
    for (std::size_t i = 0; i < s.in; ++i)
#pragma GCC unroll 4
      for (std::size_t p = 0; p < P; ++p) {
        const B ai = B::load_aligned(a + i * V + p * W);
#pragma GCC unroll 4
        for (std::size_t o = 0; o < F; ++o)
          if (o < s.out) {
            T* wv = w + (i * s.out + o) * V + p * W;
            const B old = B::load_aligned(wv);
            const B next = bpnn::simd::fma(ai, d[o][p], old);
            (Masked ? xsimd::select(on[p], next, old) : next).store_aligned(wv);
          }
      }
  }
  return true;
}

// ---- Narrow groups (SweepNet::elements = E > 1): network m in the E elements of 128-bit lane m.
// The same per-network operations as above; what differs is where a value sits. A layer's outputs
// are in blocks of E (the forward sums of E outputs of each network advance in one vector), an
// input a_k is taken to all E elements of its network's lane by an in-lane permute, and the input
// gradient's W partial sums p[0..W) (AVX-512 f32: W = 16) are the E elements of the W / E product
// vectors of a block row: haddp's first two levels, (p[l] + p[l+8]) + (p[l+4] + p[l+12]), add
// whole vectors, and its last two, (s0 + s1) + (s2 + s3), are in-lane swaps, which leave the sum in
// all E elements. Padding outputs have zero weights, biases and δ (+0, so that a padded product is
// +0 as the single path's zero lanes are). Networks of 4 × 64-32-10 take 38.6 KB, which fits the
// L1 cache where 16 (154 KB) do not (README "Many networks at once").
template <class Arch, class T>
inline constexpr std::size_t sweep_narrow_elements_of =
    arch_is_avx512<Arch> && std::is_same_v<T, float> ? 4 : 1;

// element e of every 128-bit lane of v, in all of that lane's elements
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> splat_in_lane(xsimd::batch<T, Arch> v,
                                                                  std::size_t e) {
#if defined(__AVX512F__)
  if constexpr (arch_is_avx512<Arch> && std::is_same_v<T, float>)
    return xsimd::batch<T, Arch>(_mm512_permutevar_ps(v, _mm512_set1_epi32(static_cast<int>(e))));
#endif
  static_assert(sweep_narrow_elements_of<Arch, T> > 1, "no narrow groups on this instruction set");
  return v;
}

// v with the elements of each 128-bit lane permuted by imm (vpermilps)
template <class Arch, class T, int Imm>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> permute_in_lane(xsimd::batch<T, Arch> v) {
#if defined(__AVX512F__)
  if constexpr (arch_is_avx512<Arch> && std::is_same_v<T, float>)
    return xsimd::batch<T, Arch>(_mm512_permute_ps(v, Imm));
#endif
  return v;
}

// haddp's first two levels of Σ_o δ_o·w_oi for input i of a layer that is not the few-lanes
// chain: the W partial sums p_l (lane l of W outputs: o ≡ l mod W, in o order; a product when
// out ≤ W), as the E elements of W/E product vectors, then (p[l] + p[l+8]) + (p[l+4] + p[l+12])
// as whole vectors — s_l in element l of each network's lane.   delta:(blocks) w:(in, blocks)
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> narrow_first_levels(const SweepLayer& s, std::size_t i,
                                                                        const T* delta, const T* w) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  constexpr std::size_t E = sweep_narrow_elements_of<Arch, T>;
  constexpr std::size_t Q = W / E;  // product vectors of one row of W outputs
  static_assert(W == 16 && E == 4, "haddp's tree below is AVX-512 f32's");
  const T* wi = w + i * s.blocks * W;
  B p[Q];
  if (s.out <= W) {
#pragma GCC unroll 4
    for (std::size_t q = 0; q < Q; ++q)
      p[q] = q < s.blocks ? rounded<Arch, T>(B::load_aligned(delta + q * W) * B::load_aligned(wi + q * W))
                          : B(T(0));
  } else {
#pragma GCC unroll 4
    for (std::size_t q = 0; q < Q; ++q) p[q] = B(T(0));
    for (std::size_t b0 = 0; b0 < s.blocks; b0 += Q) {
#pragma GCC unroll 4
      for (std::size_t q = 0; q < Q; ++q)
        p[q] = b0 + q < s.blocks ? bpnn::simd::fma(B::load_aligned(delta + (b0 + q) * W),
                                              B::load_aligned(wi + (b0 + q) * W), p[q])
                                 : p[q] + B(T(0));
    }
  }
  return (p[0] + p[2]) + (p[1] + p[3]);
}

// Σ_o δ_o·w_oi of each network for input i, in dense_backward_data_vec's order (see
// sweep_backward_input), in all E elements of the network's lane: the few-lanes chain, or
// haddp's tree — its first two levels (narrow_first_levels), then its last two, (s0 + s1) +
// (s2 + s3), by two in-lane swaps.   delta:(blocks) w:(in, blocks)
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> narrow_backward_input(const SweepLayer& s,
                                                                          std::size_t i,
                                                                          const T* delta,
                                                                          const T* w) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  if (s.out <= few_lanes<Arch, T> && s.in <= few_lanes<Arch, T>) {  // one block
    const T* wi = w + i * s.blocks * W;
    const B d = B::load_aligned(delta), wv = B::load_aligned(wi);
    B acc = rounded<Arch, T>(splat_in_lane<Arch, T>(d, 0) * splat_in_lane<Arch, T>(wv, 0));
    for (std::size_t o = 1; o < s.out; ++o)
      acc = bpnn::simd::fma(splat_in_lane<Arch, T>(d, o), splat_in_lane<Arch, T>(wv, o), acc);
    return acc;
  }
  const B sum = narrow_first_levels<Arch, T>(s, i, delta, w);      // s[l] in element l
  const B pairs = sum + permute_in_lane<Arch, T, 0xB1>(sum);        // s0 + s1, s2 + s3
  return pairs + permute_in_lane<Arch, T, 0x4E>(pairs);             // (s0 + s1) + (s2 + s3)
}

// narrow_backward_input for the E inputs i0 … i0 + E − 1 at once, input i0 + j in element j of
// the network's lane (not for the few-lanes chain): the same additions in the same order —
// haddp's first two levels per input (narrow_first_levels), then its last two, (s0 + s1) +
// (s2 + s3), for the four inputs together by two-source permutes that gather each level's
// operands into block order (they move values; the additions and their operands are
// narrow_backward_input's, so every sum has its bits) rather than two in-lane swaps per input
// and a select per element.   delta:(blocks) w:(in, blocks)
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> narrow_backward_block(const SweepLayer& s,
                                                                          std::size_t i0,
                                                                          const T* delta,
                                                                          const T* w) {
  using B = xsimd::batch<T, Arch>;
  const B s0 = narrow_first_levels<Arch, T>(s, i0, delta, w), s1 = narrow_first_levels<Arch, T>(s, i0 + 1, delta, w),
          s2 = narrow_first_levels<Arch, T>(s, i0 + 2, delta, w), s3 = narrow_first_levels<Arch, T>(s, i0 + 3, delta, w);
  // per lane: even elements of a then b, odd elements of a then b
  alignas(64) static constexpr std::int32_t even[16] = {0, 2, 16, 18, 4, 6, 20, 22, 8, 10, 24, 26, 12, 14, 28, 30};
  alignas(64) static constexpr std::int32_t odd[16] = {1, 3, 17, 19, 5, 7, 21, 23, 9, 11, 25, 27, 13, 15, 29, 31};
  const __m512i ev = _mm512_load_si512(even), od = _mm512_load_si512(odd);
  const auto pair_sums = [&](__m512 a, __m512 b) {  // per lane: a0+a1, a2+a3, b0+b1, b2+b3
    return _mm512_add_ps(_mm512_permutex2var_ps(a, ev, b), _mm512_permutex2var_ps(a, od, b));
  };
  // t01 per lane: input 0's s0+s1, s2+s3, input 1's s0+s1, s2+s3 (t23 for inputs 2 and 3); then
  // element j of each lane: input j's (s0 + s1) + (s2 + s3)
  return B(pair_sums(pair_sums(s0, s1), pair_sums(s2, s3)));
}

// The narrow step leaves its weight update pending (SweepNet) and makes the previous step's in
// its forward pass: per weight vector one load, w = fma(a_prev, d_prev, w) (selected by the
// previous step's lanes when Pending is masked), one store, and the sum's FMA with the new w —
// the previous step's update and this step's sum in the single path's order, one pass over the
// weights instead of two (README "Many networks at once"). δ is computed from the weights as they
// stand after that, the single path's weights of this step (its update comes after δ).
// next_row_offset: the next step's W offsets (its rows are prefetched), null at a call's last step.
template <class Arch, class T, bool Masked, int Pending>
bool sweep_sample_sgd_narrow(const SweepNet& net, const T* rows, const std::int64_t* row_offset,
                             const T* lr, const T* keep, T* params, T* work, T* loss,
                             const std::int64_t* next_row_offset) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = B::size;
  constexpr std::size_t E = sweep_narrow_elements_of<Arch, T>;
  constexpr bool pending = Pending != sweep_pending_none;
  alignas(Arch::alignment()) static constexpr T element_ids[16] = {0, 1, 2, 3, 0, 1, 2, 3,
                                                                   0, 1, 2, 3, 0, 1, 2, 3};
  static_assert(E == 4 && W == 16);
  const B element = B::load_aligned(element_ids);  // each value's place in its network's lane
  const std::size_t L = net.layers;
  const std::size_t in0 = net.layer[0].in;
  T* pending_on = work + net.pending_offset;
  T* pending_state = pending_on + W;
  // the previous step's inputs are in set `old_set`; this step's go to the other one
  const std::size_t old_set = static_cast<std::size_t>(pending_state[1]);
  const std::size_t set = pending ? 1 - old_set : 0;
  const auto on_previous = B::load_aligned(pending_on) != B(T(0));
  const LaneRows<Arch, T> lane_rows(row_offset);
  // the next step's rows (shuffled: no hardware prefetcher finds them) into L1 while this step
  // runs, each row's lines from its first to its last byte
  if (next_row_offset) {
    const std::size_t row_bytes = (in0 + net.layer[L - 1].out) * sizeof(T);
    for (std::size_t m = 0; m < W; m += E) {
      const char* first = reinterpret_cast<const char*>(rows + next_row_offset[m]);
      for (std::size_t c = 0; c < row_bytes; c += 64) _mm_prefetch(first + c, _MM_HINT_T0);
      _mm_prefetch(first + row_bytes - 1, _MM_HINT_T0);
    }
  }
  // gather shifts for a block of `count` ≤ E values of each network's row: element e reads value
  // min(e, count − 1), so that a last, partial block reads nothing past the row
  alignas(64) std::int64_t shift[W];
  const auto shifts_for = [&](std::size_t count) {
    for (std::size_t m = 0; m < W; ++m) shift[m] = static_cast<std::int64_t>(std::min(m % E, count - 1));
  };
  // E consecutive values of each network's row, from `first` on: one 128-bit load per network
  const auto row_block = [&](std::size_t first) {
    __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(rows + row_offset[0] + first));
    v = _mm512_insertf32x4(v, _mm_loadu_ps(rows + row_offset[E] + first), 1);
    v = _mm512_insertf32x4(v, _mm_loadu_ps(rows + row_offset[2 * E] + first), 2);
    v = _mm512_insertf32x4(v, _mm_loadu_ps(rows + row_offset[3 * E] + first), 3);
    return B(v);
  };
  // the inputs of layer l (x or a hidden layer's activations) in set `in_set`
  const auto inputs_of = [&](std::size_t l, std::size_t in_set) {
    return work + in_set * net.alternate + (l == 0 ? net.input_offset : net.layer[l - 1].act_offset);
  };
  // the inputs in blocks of E, as the activations; a last, partial block by a gather
  T* x = inputs_of(0, set);
  for (std::size_t ib = 0; ib * E < in0; ++ib) {
    if (in0 - ib * E >= E) {
      row_block(ib * E).store_aligned(x + ib * W);
    } else {
      shifts_for(in0 - ib * E);
      lane_rows.load_at(rows + ib * E, shift).store_aligned(x + ib * W);
    }
  }
  // forward, NB blocks of E outputs at a time, making the previous step's update on the way.
  // The inputs are read a block of E at a time: input a_k of every network, in all E elements
  // of its lane, is an in-lane permute by an immediate of block k / E (this step's and, for the
  // pending update, the previous step's), the pointers fixed per layer.
  for (std::size_t l = 0; l < L; ++l) {
    const SweepLayer s = net.layer[l];
    T* w = params + s.weight_offset;
    const T* b = params + s.bias_offset;
    const T* d_previous = work + s.delta_offset;  // the previous step's d = −lr·δ
    const T* a_now = inputs_of(l, set);
    const T* a_old = inputs_of(l, old_set);
    const std::size_t in = s.in, row = s.blocks * W;  // weights of one input: (blocks) vectors
    T* out = l + 1 < L ? work + set * net.alternate + s.act_offset : work + s.act_offset;
    const auto blocks = [&](std::size_t b0, auto nb_constant) {
      constexpr std::size_t NB = decltype(nb_constant)::value;
      B acc[NB], d[NB];
#pragma GCC unroll 8
      for (std::size_t j = 0; j < NB; ++j) {
        acc[j] = B(T(0));
        if constexpr (pending) d[j] = B::load_aligned(d_previous + (b0 + j) * W);
      }
      // input k: its splat now (and the previous step's), its NB weight vectors at wk
      const auto input_k = [&](const B& ak, const B& ak_old, T* wk) {
        if constexpr (pending) {
          sweep_fused_input<Arch, T, NB, Pending>(ak, ak_old, d, on_previous, wk, acc);
        } else {
#pragma GCC unroll 8
          for (std::size_t j = 0; j < NB; ++j) acc[j] = bpnn::simd::fma(ak, B::load_aligned(wk + j * W), acc[j]);
        }
      };
      T* wk = w + b0 * W;
      std::size_t k = 0;
      for (; k + E <= in; k += E, wk += E * row) {
        const B now = B::load_aligned(a_now + k * W / E);
        const B old = pending ? B::load_aligned(a_old + k * W / E) : now;
        input_k(permute_in_lane<Arch, T, 0x00>(now), permute_in_lane<Arch, T, 0x00>(old), wk);
        input_k(permute_in_lane<Arch, T, 0x55>(now), permute_in_lane<Arch, T, 0x55>(old), wk + row);
        input_k(permute_in_lane<Arch, T, 0xAA>(now), permute_in_lane<Arch, T, 0xAA>(old), wk + 2 * row);
        input_k(permute_in_lane<Arch, T, 0xFF>(now), permute_in_lane<Arch, T, 0xFF>(old), wk + 3 * row);
      }
      for (; k < in; ++k, wk += row) {  // a last, partial block of inputs
        const B now = B::load_aligned(a_now + (k / E) * W);
        const B old = pending ? B::load_aligned(a_old + (k / E) * W) : now;
        input_k(splat_in_lane<Arch, T>(now, k % E), splat_in_lane<Arch, T>(old, k % E), wk);
      }
#pragma GCC unroll 8
      for (std::size_t j = 0; j < NB; ++j)
        activation_apply<Arch, T>(s.act, acc[j] + B::load_aligned(b + (b0 + j) * W))
            .store_aligned(out + (b0 + j) * W);
    };
    std::size_t b0 = 0;
    for (; b0 + 8 <= s.blocks; b0 += 8) blocks(b0, std::integral_constant<std::size_t, 8>{});
    if (b0 < s.blocks) dispatch_count<7>(s.blocks - b0, [&](auto nb) { blocks(b0, nb); });
  }
  pending_state[0] = T(sweep_pending_none);  // made; this step's comes below, if it steps
  // the MSE loss and δ_L; padding outputs get g = +0
  const SweepLayer top = net.layer[L - 1];
  const T* yhat = work + top.act_offset;
  T* delta_top = work + top.delta_offset;
  B e(T(0));
  for (std::size_t b = 0; b < top.blocks; ++b) {
    const std::size_t count = std::min(E, top.out - b * E);
    const B p = B::load_aligned(yhat + b * W);
    B target;
    if (count == E) {
      target = row_block(in0 + b * E);
    } else {
      shifts_for(count);
      target = lane_rows.load_at(rows + in0 + b * E, shift);
    }
    const B g = xsimd::select(element < B(T(count)), p - target, B(T(0)));
    const B g2 = rounded<Arch, T>(g * g);
    for (std::size_t j = 0; j < count; ++j) e = e + splat_in_lane<Arch, T>(g2, j);
    (g * output_derivative<Arch, T>(top.act, p)).store_aligned(delta_top + b * W);
  }
  const auto stepping = loss_store_and_lanes_stepping<Arch, T, Masked>(e, keep, loss);
  if (!stepping) return false;
  const auto on = *stepping;
  const B minus_lr = -B::load_aligned(lr);
  for (std::size_t l = L; l-- > 0;) {
    const SweepLayer s = net.layer[l];
    T* delta = work + s.delta_offset;
    const T* w = params + s.weight_offset;
    T* b = params + s.bias_offset;
    if (l > 0) {  // δ_{l−1}, in blocks of E inputs; padding inputs +0
      const SweepLayer below = net.layer[l - 1];
      const T* a = inputs_of(l, set);
      T* dx = work + below.delta_offset;
      for (std::size_t ib = 0; ib < below.blocks; ++ib) {
        const std::size_t count = std::min(E, s.in - ib * E);
        B sums(T(0));
        if (count == E && !(s.out <= few_lanes<Arch, T> && s.in <= few_lanes<Arch, T>)) {
          sums = narrow_backward_block<Arch, T>(s, ib * E, delta, w);
        } else {
          for (std::size_t j = 0; j < count; ++j)
            sums = xsimd::select(element == B(T(j)), narrow_backward_input<Arch, T>(s, ib * E + j, delta, w), sums);
        }
        const B grad = sums * activation_grad_apply<Arch, T>(below.act, B::load_aligned(a + ib * W));
        xsimd::select(element < B(T(count)), grad, B(T(0))).store_aligned(dx + ib * W);
      }
    }
    // d = δ·(−lr), kept for the pending update; b += d
    for (std::size_t ob = 0; ob < s.blocks; ++ob) {
      const B d = rounded<Arch, T>(B::load_aligned(delta + ob * W) * minus_lr);
      d.store_aligned(delta + ob * W);
      const B old = B::load_aligned(b + ob * W);
      const B next = old + d;
      (Masked ? xsimd::select(on, next, old) : next).store_aligned(b + ob * W);
    }
  }
  // w_oi = fma(a_i, d_o, w_oi) is pending: the next step's forward pass (or sweep_pending_apply)
  // makes it
  xsimd::select(on, B(T(1)), B(T(0))).store_aligned(pending_on);
  pending_state[0] = T(Masked ? sweep_pending_masked : sweep_pending_all);
  pending_state[1] = T(set);
  return true;
}

// loss_sum:(W) += (double)loss for the lanes the step updated (keep ≠ 0 or keep null, and a
// finite E); true when a lane that trains had a non-finite E. The conversion is exact and the
// additions are bpnn::train's, one per lane, so the sums have its bits.   loss, keep:(W)
template <class Arch, class T>
[[gnu::always_inline]] inline bool loss_sum_add(const T* loss, const T* keep, double* loss_sum) {
  constexpr std::size_t W = xsimd::batch<T, Arch>::size;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  if constexpr (arch_is_avx512<Arch>) {
    const auto add = [&](std::size_t c, __m512d v, __mmask8 on) {
      _mm512_store_pd(loss_sum + c, _mm512_mask_add_pd(_mm512_load_pd(loss_sum + c), on,
                                                       _mm512_load_pd(loss_sum + c), v));
    };
    if constexpr (std::is_same_v<T, float>) {
      const __m512 l = _mm512_load_ps(loss);
      const __mmask16 finite = _mm512_cmp_ps_mask(_mm512_sub_ps(l, l), _mm512_setzero_ps(), _CMP_EQ_OQ);
      const __mmask16 trains =
          keep ? _mm512_cmp_ps_mask(_mm512_load_ps(keep), _mm512_setzero_ps(), _CMP_NEQ_UQ) : 0xFFFF;
      const __mmask16 on = finite & trains;
      add(0, _mm512_cvtps_pd(_mm512_castps512_ps256(l)), static_cast<__mmask8>(on));
      add(8, _mm512_cvtps_pd(_mm512_extractf32x8_ps(l, 1)), static_cast<__mmask8>(on >> 8));
      return (trains & ~finite) != 0;
    } else {
      const __m512d l = _mm512_load_pd(loss);
      const __mmask8 finite = _mm512_cmp_pd_mask(_mm512_sub_pd(l, l), _mm512_setzero_pd(), _CMP_EQ_OQ);
      const __mmask8 trains =
          keep ? _mm512_cmp_pd_mask(_mm512_load_pd(keep), _mm512_setzero_pd(), _CMP_NEQ_UQ) : 0xFF;
      add(0, l, static_cast<__mmask8>(finite & trains));
      return (trains & ~finite) != 0;
    }
  }
#endif
  bool failed = false;
  for (std::size_t c = 0; c < W; ++c) {
    if (keep && keep[c] == T(0)) continue;
    if (std::isfinite(loss[c]))
      loss_sum[c] += static_cast<double>(loss[c]);
    else
      failed = true;
  }
  return failed;
}

// The steps of one call in one variant (narrow or full groups, masked or not, fused or not: the
// same for every step of a call): the first step makes the pending update the work buffer holds
// (any kind), every later one the kind its predecessor left (all, or masked when Masked). Chosen
// once per call rather than per step.
template <class Arch, class T, bool Masked, bool Narrow, bool Fused, std::size_t Short = 0>
std::size_t sweep_steps(const SweepNet& net, std::size_t steps, const T* rows,
                        const std::int64_t* row_offset, const T* lr, const T* keep, T* params,
                        T* work, T* loss, double* loss_sum) {
  constexpr std::size_t W = xsimd::batch<T, Arch>::size;
  const auto step = [&](auto pending, std::size_t s) {
    constexpr int P = decltype(pending)::value;
    if constexpr (Short)
      return sweep_sample_sgd_short<Arch, T, Masked, Short>(net, rows, row_offset + s * net.lanes, lr, keep, params,
                                                      work, loss);
    else if constexpr (Narrow)
      return sweep_sample_sgd_narrow<Arch, T, Masked, P>(net, rows, row_offset + s * W, lr, keep, params, work, loss,
                                                         s + 1 < steps ? row_offset + (s + 1) * W : nullptr);
    else
      return sweep_sample_sgd_lanes<Arch, T, Masked, P, Fused>(net, rows, row_offset + s * W, lr, keep, params,
                                                               work, loss);
  };
  using none = std::integral_constant<int, sweep_pending_none>;
  using all = std::integral_constant<int, sweep_pending_all>;
  using masked = std::integral_constant<int, sweep_pending_masked>;
  if (steps == 0) return 0;
  bool made;
  if constexpr (Narrow || Fused) {
    switch (static_cast<int>(work[net.pending_offset + net.lanes])) {
      case sweep_pending_all: made = step(all{}, 0); break;
      case sweep_pending_masked: made = step(masked{}, 0); break;
      default: made = step(none{}, 0); break;
    }
  } else {
    sweep_pending_apply(net, params, work);  // none, unless a caller mixed kernels
    made = step(none{}, 0);
  }
  // loss_sum += loss of the lanes the step updated, vector by vector; true when one that trains
  // had a non-finite loss
  const auto sums_add = [&] {
    bool failed = false;
    for (std::size_t v = 0; v < net.lanes; v += W)
      failed = loss_sum_add<Arch, T>(loss + v, keep ? keep + v : nullptr, loss_sum + v) || failed;
    return failed;
  };
  if (!made) return 0;
  sweep_yhat_log(net, 0, work);
  if (sums_add()) return 1;
  using steady = std::conditional_t<Narrow || Fused, std::conditional_t<Masked, masked, all>, none>;
  for (std::size_t s = 1; s < steps; ++s) {
    if (!step(steady{}, s)) return s;
    sweep_yhat_log(net, s, work);
    if (sums_add()) return s + 1;
  }
  return steps;
}

// see KernelTable::sweep_sample_sgd; net.lanes must be W, net.elements 1 or sweep_narrow_elements_of,
// or net.lanes = sweep_short_chain_vectors·W with elements 1 for a short-chain shape
template <class Arch, class T>
std::size_t sweep_sample_sgd(const SweepNet& net, std::size_t steps, const T* rows,
                             const std::int64_t* row_offset, const T* lr, const T* keep, T* params,
                             T* work, T* loss, double* loss_sum) {
  const auto run = [&](auto masked, auto narrow, auto fused) {
    return sweep_steps<Arch, T, decltype(masked)::value, decltype(narrow)::value, decltype(fused)::value>(
        net, steps, rows, row_offset, lr, keep, params, work, loss, loss_sum);
  };
  const auto masked_or_not = [&](auto narrow, auto fused) {
    return keep ? run(std::true_type{}, narrow, fused) : run(std::false_type{}, narrow, fused);
  };
  if constexpr (sweep_narrow_elements_of<Arch, T> > 1) {
    if (net.elements > 1) return masked_or_not(std::true_type{}, std::false_type{});
  }
  if (net.lanes > xsimd::batch<T, Arch>::size) {  // a short chain in P vectors per value
    const auto short_chain = [&](auto vectors) {
      constexpr std::size_t P = decltype(vectors)::value;
      return keep ? sweep_steps<Arch, T, true, false, false, P>(net, steps, rows, row_offset, lr, keep, params,
                                                                 work, loss, loss_sum)
                  : sweep_steps<Arch, T, false, false, false, P>(net, steps, rows, row_offset, lr, keep, params,
                                                                  work, loss, loss_sum);
    };
    static_assert(sweep_short_chain_vectors<Arch, T> == 4);
    switch (net.lanes / xsimd::batch<T, Arch>::size) {
      case 2: return short_chain(std::integral_constant<std::size_t, 2>{});
      case 3: return short_chain(std::integral_constant<std::size_t, 3>{});
      default: return short_chain(std::integral_constant<std::size_t, 4>{});
    }
  }
  // full groups: fused, but for the short-chain shapes and where the FMA rounds twice
  bool short_chain = true;
  for (std::size_t l = 0; l < net.layers; ++l)
    short_chain = short_chain && net.layer[l].in <= few_lanes<Arch, T> && net.layer[l].out <= few_lanes<Arch, T>;
  if constexpr (bpnn::simd::fma_rounds_once<Arch>) {
    if (!short_chain) return masked_or_not(std::false_type{}, std::true_type{});
  }
  return masked_or_not(std::false_type{}, std::false_type{});
}

}  // namespace bpnn::kernels::simd
