// The scalar reference of the lane-parallel per-sample step; see sweep_reference.hpp.
#include "kernels/reference/sweep_reference.hpp"

#include <cmath>

#include "kernels/activation_scalar.hpp"

namespace bpnn::kernels {
namespace {

// Where network m's value j of a (blocks) or (in, blocks) array sits (SweepNet::elements).
struct Place {
  std::size_t W, E, m;
  std::size_t operator()(std::size_t j) const { return (j / E) * W + m * E + j % E; }
};

// Network m's forward pass and MSE loss: a:(in) → y = act(b + Σ_i a_i·w_oi), then
// E = ½Σ_j (ŷ_j − y_j)² and δ_L = (ŷ − y)·act'(ŷ), as ref_dense_forward and output_loss_and_delta.
template <class T>
T network_forward_loss(const SweepNet& net, const Place& at, const T* row, const T* params, T* work) {
  const std::size_t W = net.lanes;
  const std::size_t in0 = net.layer[0].in;
  for (std::size_t i = 0; i < in0; ++i) work[net.input_offset + at(i)] = row[i];
  const auto input = [&](std::size_t l, std::size_t i) {
    return work[(l == 0 ? net.input_offset : net.layer[l - 1].act_offset) + at(i)];
  };
  for (std::size_t l = 0; l < net.layers; ++l) {
    const SweepLayer& s = net.layer[l];
    for (std::size_t o = 0; o < s.out; ++o) {
      T z = params[s.bias_offset + at(o)];
      for (std::size_t i = 0; i < s.in; ++i)
        z += input(l, i) * params[s.weight_offset + i * s.blocks * W + at(o)];
      work[s.act_offset + at(o)] = activation_scalar(s.act, z);
    }
  }
  const SweepLayer& top = net.layer[net.layers - 1];
  T e = 0;
  for (std::size_t j = 0; j < top.out; ++j) {
    const T p = work[top.act_offset + at(j)];
    const T g = p - row[in0 + j];
    e += g * g;
    work[top.delta_offset + at(j)] = g * activation_derivative_scalar(top.act, p);
  }
  return T(0.5) * e;
}

// Network m's backward sweep and update, as ref_dense_backward_data, then δ ⊙= −lr and
// ref_dense_backward_weights with n = 1, layer by layer from the top.
template <class T>
void network_backward_update(const SweepNet& net, const Place& at, T lr, T* params, T* work) {
  const std::size_t W = net.lanes;
  for (std::size_t l = net.layers; l-- > 0;) {
    const SweepLayer& s = net.layer[l];
    T* delta = work + s.delta_offset;
    T* w = params + s.weight_offset;
    if (l > 0) {
      const SweepLayer& below = net.layer[l - 1];
      for (std::size_t i = 0; i < s.in; ++i) {
        T sum = 0;
        for (std::size_t o = 0; o < s.out; ++o) sum += delta[at(o)] * w[i * s.blocks * W + at(o)];
        work[below.delta_offset + at(i)] =
            sum * activation_derivative_scalar(below.act, work[below.act_offset + at(i)]);
      }
    }
    for (std::size_t o = 0; o < s.out; ++o) {
      const T d = delta[at(o)] * -lr;
      params[s.bias_offset + at(o)] += d;
      for (std::size_t i = 0; i < s.in; ++i) {
        const T a = work[(l == 0 ? net.input_offset : net.layer[l - 1].act_offset) + at(i)];
        w[i * s.blocks * W + at(o)] += d * a;
      }
    }
  }
}

// One step; false when keep is null and some E is not finite (nothing made).
template <class T>
bool reference_step(const SweepNet& net, const T* rows, const std::int64_t* row_offset, const T* lr,
                    const T* keep, T* params, T* work, T* loss) {
  const std::size_t E = net.elements, networks = net.lanes / E;
  bool all_finite = true;
  for (std::size_t m = 0; m < networks; ++m) {
    const T e = network_forward_loss(net, Place{net.lanes, E, m}, rows + row_offset[m * E], params, work);
    for (std::size_t k = 0; k < E; ++k) loss[m * E + k] = e;
    all_finite = all_finite && std::isfinite(e);
  }
  if (!keep && !all_finite) return false;
  for (std::size_t m = 0; m < networks; ++m)
    if ((!keep || keep[m * E] != T(0)) && std::isfinite(loss[m * E]))
      network_backward_update(net, Place{net.lanes, E, m}, lr[m * E], params, work);
  return true;
}

}  // namespace

template <class T>
std::size_t sweep_sample_sgd_reference(const SweepNet& net, std::size_t steps, const T* rows,
                                       const std::int64_t* row_offset, const T* lr, const T* keep,
                                       T* params, T* work, T* loss, double* loss_sum) {
  sweep_pending_apply(net, params, work);  // this kernel leaves none; a fast one may have
  const std::size_t W = net.lanes;
  for (std::size_t s = 0; s < steps; ++s) {
    if (!reference_step(net, rows, row_offset + s * W, lr, keep, params, work, loss)) return s;
    sweep_yhat_log(net, s, work);
    bool failed = false;
    for (std::size_t c = 0; c < W; ++c) {
      if (keep && keep[c] == T(0)) continue;
      if (std::isfinite(loss[c]))
        loss_sum[c] += static_cast<double>(loss[c]);
      else
        failed = true;
    }
    if (failed) return s + 1;
  }
  return steps;
}

template std::size_t sweep_sample_sgd_reference<float>(const SweepNet&, std::size_t, const float*,
                                                       const std::int64_t*, const float*, const float*,
                                                       float*, float*, float*, double*);
template std::size_t sweep_sample_sgd_reference<double>(const SweepNet&, std::size_t, const double*,
                                                        const std::int64_t*, const double*,
                                                        const double*, double*, double*, double*,
                                                        double*);

}  // namespace bpnn::kernels
