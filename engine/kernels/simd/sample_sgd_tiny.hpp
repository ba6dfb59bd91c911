#pragma once
// One per-sample SGD step of a tiny network (every layer ≤ tiny_max_width = 4 wide, ≤ 3 layers)
// in one call, with every activation, δ and weight in registers: the seed network's step is one
// chain of dependent operations (README "The per-sample chain"), and the layer-by-layer step adds
// a store-to-load round trip (about 6 cycles here) at every hand-over between kernels.
//
// Bit for bit the layer-by-layer step of the same table (tests/test_sample_path.cpp): per lane,
// the same operations in the same order as
//   dense_forward_vec (out ≤ W):       acc = Σ_k fma(a_k, w_k, ·) from 0, y = act(acc + b)
//   output_loss_and_delta (MSE):       g = ŷ − y, E = ½Σ_j g_j² in T, δ = g·act'(ŷ) (scalar forms)
//   dense_backward_data_vec (≤ 4 × 4): dx_i = (δ_0·w_i0 + Σ_{o>0} fma) · act'(a_i)
//   sgd_outputs_in_place:              δ ⊙= −lr; b += δ; w_i += a_i·δ (FMA)
// The weights change only after the loss is known to be finite.
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "kernels/kernels.hpp"
#include "kernels/simd/tile.hpp"
#include "kernels/simd/vector_math.hpp"

namespace bpnn::kernels::simd {

// The registers the step computes in. On AVX-512, ymm registers (simd::avx512_ymm, declared in
// avx512_ymm.hpp; 8 f32 or 4 f64 lanes): a tiny layer fits in 4 lanes, and on the chain the
// narrow forms are shorter — on the issue-11 Xeon an add takes 2 cycles against a zmm add's 3.7,
// rcp14 4 against 6, an FMA 4 against 4.3, a lane broadcast within 128 bits (vpermilps) 1
// against vpermps's 3 — so the sigmoid's chain measured 50.5 cycles instead of 57.2 (f32; f64
// 64.1 instead of 84.6, bench/latency_chain.cpp). Every lane computes the same instructions as
// in the zmm form, the f32 sigmoid included (simd::sigmoid takes its AVX-512 form on these
// registers too), so each element gets the same bits either way; f32 lanes 4–7 (past every tiny
// layer's width) compute on padding and are stored back as the zeros they were. Elsewhere: the
// table's own vectors.
template <class Arch, class T>
struct TinyArch {
  using type = Arch;
};
template <class Arch, class T>
inline constexpr bool tiny_avx512_lanes = false;
#if defined(__AVX512VL__) && defined(__AVX512DQ__)
template <class Arch, class T>
  requires std::is_base_of_v<xsimd::avx512dq, Arch>  // the tables whose f32 sigmoid is the table form
struct TinyArch<Arch, T> {
  using type = bpnn::simd::avx512_ymm;
};
template <class T>
inline constexpr bool tiny_avx512_lanes<bpnn::simd::avx512_ymm, T> = true;
#endif

// Lane k of v in every lane.
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> lane_broadcast(xsimd::batch<T, Arch> v,
                                                                   std::size_t k) {
  using B = xsimd::batch<T, Arch>;
#if defined(__AVX512F__)
  if constexpr (arch_is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      return B(_mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(k)), v));
    else
      return B(_mm512_permutexvar_pd(_mm512_set1_epi64(static_cast<long long>(k)), v));
  }
#endif
#if defined(__AVX512VL__)
  if constexpr (tiny_avx512_lanes<Arch, T>) {
    if constexpr (std::is_same_v<T, float>)  // k < 4: within the low 128 bits
      return B(_mm256_permutevar_ps(v, _mm256_set1_epi32(static_cast<int>(k))));
    else
      return B(_mm256_permutexvar_pd(_mm256_set1_epi64x(static_cast<long long>(k)), v));
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float> && std::is_base_of_v<xsimd::avx2, Arch> &&
                !arch_is_avx512<Arch>)
    return B(_mm256_permutevar8x32_ps(v, _mm256_set1_epi32(static_cast<int>(k))));
#endif
  alignas(Arch::alignment()) T lanes[B::size];
  v.store_aligned(lanes);
  return B(lanes[k]);
}

// act'(y) as output_loss_and_delta computes it (activation_derivative_scalar, compiled without
// FMA): tanh's 1 − y² rounds y² first, unlike TanhGradOp's single fnma. The product goes
// through an FMA with a zero addend (the same bits: y² is never −0) so that no build that allows
// contraction (this project's does not; the fuzz build's may) fuses it into the subtraction.
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> output_derivative(Activation act,
                                                                      xsimd::batch<T, Arch> y) {
  using B = xsimd::batch<T, Arch>;
  switch (act) {
    case Activation::sigmoid: return y * (B(T(1)) - y);
    case Activation::tanh: return B(T(1)) - bpnn::simd::fma(y, y, B(T(0)));
    case Activation::relu: return xsimd::select(y > B(T(0)), B(T(1)), B(T(0)));
    default: return B(T(1));
  }
}

// act(v) and act'(y) by the same functors as the dense kernels' epilogues, without
// with_activation's call through a lambda: that call kept the activations in memory.
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> activation_apply(Activation act,
                                                                     xsimd::batch<T, Arch> v) {
  switch (act) {
    case Activation::sigmoid: return bpnn::simd::SigmoidOp{}(v);
    case Activation::tanh: return bpnn::simd::TanhOp{}(v);
    case Activation::relu: return bpnn::simd::ReluOp{}(v);
    default: return bpnn::simd::LinearOp{}(v);
  }
}
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> activation_grad_apply(Activation act,
                                                                          xsimd::batch<T, Arch> y) {
  switch (act) {
    case Activation::sigmoid: return bpnn::simd::SigmoidGradOp{}(y);
    case Activation::tanh: return bpnn::simd::TanhGradOp{}(y);
    case Activation::relu: return bpnn::simd::ReluGradOp{}(y);
    default: return bpnn::simd::LinearGradOp{}(y);
  }
}

// One tiny layer's parameters in registers: rows[i] = the packed row of input i (outputs in
// lanes; rows W elements apart in the arena, the lanes of the table's vectors), cols[o] = column
// o (inputs in lanes, for δ back-propagation), bias (outputs in lanes, zero beyond out).
template <class Arch, class T>
struct TinyLayerRegs {
  using B = xsimd::batch<T, Arch>;
  B rows[tiny_max_width], cols[tiny_max_width], bias;
};

template <class Arch, class T, std::size_t W>
[[gnu::always_inline]] inline void tiny_layer_load(const TinyLayer& l, const T* params,
                                                   TinyLayerRegs<Arch, T>& r, bool need_cols) {
  using B = xsimd::batch<T, Arch>;
  const T* w = params + l.weight_offset;
#pragma GCC unroll 4
  for (std::size_t i = 0; i < tiny_max_width; ++i)
    r.rows[i] = i < l.in ? B::load_unaligned(w + i * W) : B(T(0));
  // cols[o] lane i = w(o, i): scalar loads, gathered like load_few
  alignas(Arch::alignment()) T col[B::size] = {};
#pragma GCC unroll 4
  for (std::size_t o = 0; o < tiny_max_width; ++o) {
    if (need_cols && o < l.out) {
      for (std::size_t i = 0; i < l.in; ++i) col[i] = w[i * W + o];
      r.cols[o] = B::load_aligned(col);
    } else {
      r.cols[o] = B(T(0));
    }
  }
  // the whole vector: the arena keeps each layer's biases in a block of 16 elements (≥ W), whose
  // lanes past out stay zero (their δ is zero), and a vector load of the vector this kernel
  // stored in the previous step is forwarded from the store, which scalar loads of it are not
  r.bias = B::load_unaligned(params + l.bias_offset);
}

// a:(in) lanes → act(a·wᵀ + b), as dense_forward_vec's one-panel branch
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> tiny_forward(const TinyLayer& l,
                                                                 const TinyLayerRegs<Arch, T>& r,
                                                                 xsimd::batch<T, Arch> a) {
  using B = xsimd::batch<T, Arch>;
  B acc(T(0));
#pragma GCC unroll 4
  for (std::size_t k = 0; k < tiny_max_width; ++k)
    if (k < l.in) acc = bpnn::simd::fma(lane_broadcast<Arch, T>(a, k), r.rows[k], acc);
  return activation_apply<Arch, T>(l.act, acc + r.bias);
}

// x:(In) y:(K) params → yhat:(K) for a network of exactly L layers; computed in the registers of
// TinyArch, the weights rows W apart as the table (TableArch) packs them
template <class TableArch, class T, std::size_t L>
double sample_sgd_tiny_layers(const TinyNet& net, const T* x, const T* y, T lr, T* params,
                              T* yhat) {
  using Arch = typename TinyArch<TableArch, T>::type;
  using B = xsimd::batch<T, Arch>;
  constexpr std::size_t W = xsimd::batch<T, TableArch>::size;
  alignas(Arch::alignment()) static constexpr T lane_ids[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                                8, 9, 10, 11, 12, 13, 14, 15};
  const B lane = B::load_aligned(lane_ids);
  // Every loop has a compile-time trip count and constant indices after unrolling, and the layer
  // count is a template argument, so the arrays below stay in registers (the seed network's
  // need 20 of AVX-512's 32); a runtime index, or a call (store_few's memcpy), would put them on
  // the stack and the chain through memory.
  TinyLayerRegs<Arch, T> regs[L];
  B act[L + 1];  // act[0] = x, act[l + 1] = output of layer l
#pragma GCC unroll 3
  for (std::size_t l = 0; l < L; ++l) tiny_layer_load<Arch, T, W>(net.layer[l], params, regs[l], l > 0);
  act[0] = load_few<Arch>(x, net.layer[0].in);
#pragma GCC unroll 3
  for (std::size_t l = 0; l < L; ++l) act[l + 1] = tiny_forward<Arch, T>(net.layer[l], regs[l], act[l]);
  const B yhat_v = act[L];

  // the MSE loss and δ_L
  const TinyLayer& top = net.layer[L - 1];
  const std::size_t k = top.out;
  alignas(Arch::alignment()) T lanes[B::size];
  yhat_v.store_aligned(lanes);
#pragma GCC unroll 4
  for (std::size_t j = 0; j < tiny_max_width; ++j)
    if (j < k) yhat[j] = lanes[j];
  const B g = yhat_v - load_few<Arch>(y, k);
  (g * g).store_aligned(lanes);
  T e = 0;
#pragma GCC unroll 4
  for (std::size_t j = 0; j < tiny_max_width; ++j)
    if (j < k) e += lanes[j];
  const double loss = static_cast<double>(T(0.5) * e);
  if (!std::isfinite(loss)) return loss;

  B delta = xsimd::select(lane < B(T(k)), g * output_derivative<Arch, T>(top.act, yhat_v), B(T(0)));
  const B minus_lr(-lr);
#pragma GCC unroll 3
  for (std::size_t step = 0; step < L; ++step) {
    const std::size_t l = L - 1 - step;
    const TinyLayer& layer = net.layer[l];
    const TinyLayerRegs<Arch, T>& r = regs[l];
    B below(T(0));
    if (l > 0) {  // δ_{l−1} from the weights before this step
      B acc = lane_broadcast<Arch, T>(delta, 0) * r.cols[0];
#pragma GCC unroll 4
      for (std::size_t o = 1; o < tiny_max_width; ++o)
        if (o < layer.out) acc = bpnn::simd::fma(lane_broadcast<Arch, T>(delta, o), r.cols[o], acc);
      const B grad = activation_grad_apply<Arch, T>(net.layer[l - 1].act, act[l]);
      below = xsimd::select(lane < B(T(layer.in)), acc * grad, B(T(0)));
    }
    // δ ⊙= −lr; b += δ; row_i += a_i·δ
    const B d = delta * minus_lr;
    (r.bias + d).store_unaligned(params + layer.bias_offset);
    T* w = params + layer.weight_offset;
#pragma GCC unroll 4
    for (std::size_t i = 0; i < tiny_max_width; ++i)
      if (i < layer.in)
        bpnn::simd::fma(lane_broadcast<Arch, T>(act[l], i), d, r.rows[i]).store_unaligned(w + i * W);
    delta = below;
  }
  return loss;
}

// x:(In) y:(K) params → yhat:(K); see KernelTable::sample_sgd_tiny
template <class Arch, class T>
double sample_sgd_tiny(const TinyNet& net, const T* x, const T* y, T lr, T* params, T* yhat) {
  static_assert(tiny_max_layers == 3);
  switch (net.layers) {
    case 1: return sample_sgd_tiny_layers<Arch, T, 1>(net, x, y, lr, params, yhat);
    case 2: return sample_sgd_tiny_layers<Arch, T, 2>(net, x, y, lr, params, yhat);
    default: return sample_sgd_tiny_layers<Arch, T, 3>(net, x, y, lr, params, yhat);
  }
}

}  // namespace bpnn::kernels::simd
