// The scalar reference kernels: straightforward loops over row-major [out, in] weights.
// Every fast kernel is tested against these.
#include <cmath>
#include <cstring>

#include "kernels/activation_scalar.hpp"
#include "kernels/kernels.hpp"

namespace bpnn::kernels {
namespace {

// The reference layout is the public one: (out, in) row-major, no padding.
std::size_t ref_packed_size(std::size_t out, std::size_t in) { return out * in; }

template <class T>
void ref_copy(std::size_t out, std::size_t in, const T* src, T* dst) {
  if (out * in != 0) std::memcpy(dst, src, out * in * sizeof(T));
}

// x:(N,In) w:(Out,In) b:(Out) -> outputs [o0, o1) of y:(N,Out)
template <class T>
void ref_dense_forward_outputs(const DenseShape& s, Activation act, std::size_t o0,
                               std::size_t o1, const T* x, const T* w, const T* b, T* y) {
  for (std::size_t r = 0; r < s.n; ++r)
    for (std::size_t o = o0; o < o1; ++o) {
      T z = b[o];
      for (std::size_t i = 0; i < s.in; ++i) z += x[r * s.in + i] * w[o * s.in + i];
      y[r * s.out + o] = activation_scalar(act, z);
    }
}

// dy:(N,Out) w:(Out,In) x:(N,In) -> inputs [i0, i1) of dx:(N,In)
template <class T>
void ref_dense_backward_data_inputs(const DenseShape& s, Activation act, std::size_t i0,
                                    std::size_t i1, const T* dy, const T* w, const T* x, T* dx) {
  for (std::size_t r = 0; r < s.n; ++r)
    for (std::size_t i = i0; i < i1; ++i) {
      T sum = 0;
      for (std::size_t o = 0; o < s.out; ++o) sum += dy[r * s.out + o] * w[o * s.in + i];
      dx[r * s.in + i] = sum * activation_derivative_scalar(act, x[r * s.in + i]);
    }
}

// x:(N,In) w:(Out,In) b:(Out) -> y:(N,Out); y = act(x·wᵀ + b)
template <class T>
void ref_dense_forward(const DenseShape& s, Activation act, const T* x, const T* w, const T* b,
                       T* y) {
  ref_dense_forward_outputs(s, act, 0, s.out, x, w, b, y);
}

// dy:(N,Out) w:(Out,In) x:(N,In) -> dx:(N,In); dx = (dy·w) ⊙ act'(x)
template <class T>
void ref_dense_backward_data(const DenseShape& s, Activation act, const T* dy, const T* w,
                             const T* x, T* dx) {
  ref_dense_backward_data_inputs(s, act, 0, s.in, dy, w, x, dx);
}

// dy:(N,Out) x:(N,In) -> dw:(Out,In) += dyᵀ·x ; db:(Out) += Σ_rows dy
template <class T>
void ref_dense_backward_weights(const DenseShape& s, const T* dy, const T* x, T* dw, T* db) {
  for (std::size_t r = 0; r < s.n; ++r)
    for (std::size_t o = 0; o < s.out; ++o) {
      const T d = dy[r * s.out + o];
      db[o] += d;
      for (std::size_t i = 0; i < s.in; ++i) dw[o * s.in + i] += d * x[r * s.in + i];
    }
}

// y:(count) delta:(count) -> delta ⊙= act'(y)
template <class T>
void ref_activation_backward(Activation act, std::size_t count, const T* y, T* delta) {
  for (std::size_t i = 0; i < count; ++i) delta[i] *= activation_derivative_scalar(act, y[i]);
}

// x,y:(count); y = act(x)
template <class T>
void ref_activation_forward(Activation act, std::size_t count, const T* x, T* y) {
  for (std::size_t i = 0; i < count; ++i) y[i] = activation_scalar(act, x[i]);
}

// v = μ·v + scale·g ; w −= lr·v
template <class T>
void ref_sgd_update(std::size_t count, T lr, T momentum, T grad_scale, const T* g, T* v, T* w) {
  if (momentum == T(0)) {
    for (std::size_t i = 0; i < count; ++i) w[i] -= lr * (grad_scale * g[i]);
    return;
  }
  for (std::size_t i = 0; i < count; ++i) {
    v[i] = momentum * v[i] + grad_scale * g[i];
    w[i] -= lr * v[i];
  }
}

// g = scale·G + decay·w ; m = β₁m + (1−β₁)g ; v = β₂v + (1−β₂)g² ; w −= step·m/(√v/bc2 + eps)
template <class T>
void ref_adam_update(std::size_t count, const T* grad, T grad_scale, T decay, const AdamStep<T>& s,
                     T* w, T* m, T* v) {
  for (std::size_t i = 0; i < count; ++i) {
    const T g = grad_scale * grad[i] + decay * w[i];
    m[i] = s.beta1 * m[i] + s.one_minus_beta1 * g;
    v[i] = s.beta2 * v[i] + s.one_minus_beta2 * g * g;
    w[i] -= s.step_size * (m[i] / (std::sqrt(v[i]) / s.bc2_sqrt + s.eps));
  }
}

template <class T>
constexpr KernelTable<T> reference_table{
    .arch = "reference",
    .packed_size = ref_packed_size,
    .pack = ref_copy<T>,
    .unpack = ref_copy<T>,
    .dense_forward = ref_dense_forward<T>,
    .dense_backward_data = ref_dense_backward_data<T>,
    .dense_forward_outputs = ref_dense_forward_outputs<T>,
    .dense_backward_data_inputs = ref_dense_backward_data_inputs<T>,
    .dense_backward_weights = ref_dense_backward_weights<T>,
    .activation_backward = ref_activation_backward<T>,
    .sgd_update = ref_sgd_update<T>,
    .adam_update = ref_adam_update<T>,
    .activation_forward = ref_activation_forward<T>,
    .out_block = 1,
    .sample_sgd_tiny = nullptr,  // the layer-by-layer step is the reference
};

}  // namespace

template <class T>
const KernelTable<T>& kernels_reference() {
  return reference_table<T>;
}

template const KernelTable<float>& kernels_reference<float>();
template const KernelTable<double>& kernels_reference<double>();

}  // namespace bpnn::kernels
