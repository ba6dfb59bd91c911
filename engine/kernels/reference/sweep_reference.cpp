// The scalar reference of the lane-parallel per-sample step; see sweep_reference.hpp.
#include "kernels/reference/sweep_reference.hpp"

#include <cmath>

#include "kernels/activation_scalar.hpp"

namespace bpnn::kernels {
namespace {

// Lane m of one network's forward pass and MSE loss: a:(in) → y = act(b + Σ_i a_i·w_oi), then
// E = ½Σ_j (ŷ_j − y_j)² and δ_L = (ŷ − y)·act'(ŷ), as ref_dense_forward and output_loss_and_delta.
template <class T>
T lane_forward_loss(const SweepNet& net, std::size_t m, const T* row, const T* params, T* work) {
  const std::size_t W = net.lanes;
  const T* x = work + net.input_offset;
  const std::size_t in0 = net.layer[0].in;
  for (std::size_t i = 0; i < in0; ++i) work[net.input_offset + i * W + m] = row[i];
  for (std::size_t l = 0; l < net.layers; ++l) {
    const SweepLayer& s = net.layer[l];
    const T* a = l == 0 ? x : work + net.layer[l - 1].act_offset;
    for (std::size_t o = 0; o < s.out; ++o) {
      T z = params[s.bias_offset + o * W + m];
      for (std::size_t i = 0; i < s.in; ++i)
        z += a[i * W + m] * params[s.weight_offset + (i * s.out + o) * W + m];
      work[s.act_offset + o * W + m] = activation_scalar(s.act, z);
    }
  }
  const SweepLayer& top = net.layer[net.layers - 1];
  T e = 0;
  for (std::size_t j = 0; j < top.out; ++j) {
    const T p = work[top.act_offset + j * W + m];
    const T g = p - row[in0 + j];
    e += g * g;
    work[top.delta_offset + j * W + m] = g * activation_derivative_scalar(top.act, p);
  }
  return T(0.5) * e;
}

// Lane m's backward sweep and update, as ref_dense_backward_data, then δ ⊙= −lr and
// ref_dense_backward_weights with n = 1, layer by layer from the top.
template <class T>
void lane_backward_update(const SweepNet& net, std::size_t m, T lr, T* params, T* work) {
  const std::size_t W = net.lanes;
  const T* x = work + net.input_offset;
  for (std::size_t l = net.layers; l-- > 0;) {
    const SweepLayer& s = net.layer[l];
    T* delta = work + s.delta_offset;
    T* w = params + s.weight_offset;
    if (l > 0) {
      const SweepLayer& below = net.layer[l - 1];
      for (std::size_t i = 0; i < s.in; ++i) {
        T sum = 0;
        for (std::size_t o = 0; o < s.out; ++o) sum += delta[o * W + m] * w[(i * s.out + o) * W + m];
        work[below.delta_offset + i * W + m] =
            sum * activation_derivative_scalar(below.act, work[below.act_offset + i * W + m]);
      }
    }
    const T* a = l == 0 ? x : work + net.layer[l - 1].act_offset;
    for (std::size_t o = 0; o < s.out; ++o) {
      const T d = delta[o * W + m] * -lr;
      params[s.bias_offset + o * W + m] += d;
      for (std::size_t i = 0; i < s.in; ++i) w[(i * s.out + o) * W + m] += d * a[i * W + m];
    }
  }
}

}  // namespace

template <class T>
bool sweep_sample_sgd_reference(const SweepNet& net, const T* rows, const std::int64_t* row_offset,
                                const T* lr, const T* keep, T* params, T* work, T* loss) {
  bool all_finite = true;
  for (std::size_t m = 0; m < net.lanes; ++m) {
    loss[m] = lane_forward_loss(net, m, rows + row_offset[m], params, work);
    all_finite = all_finite && std::isfinite(loss[m]);
  }
  if (!keep && !all_finite) return false;
  for (std::size_t m = 0; m < net.lanes; ++m)
    if ((!keep || keep[m] != T(0)) && std::isfinite(loss[m]))
      lane_backward_update(net, m, lr[m], params, work);
  return true;
}

template bool sweep_sample_sgd_reference<float>(const SweepNet&, const float*, const std::int64_t*,
                                                const float*, const float*, float*, float*, float*);
template bool sweep_sample_sgd_reference<double>(const SweepNet&, const double*, const std::int64_t*,
                                                 const double*, const double*, double*, double*,
                                                 double*);

}  // namespace bpnn::kernels
