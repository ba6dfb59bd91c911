#pragma once
// Builds the KernelTable of one instruction set from the dense templates; included only by the
// per-ISA translation units in engine/kernels/arch/.
#include "kernels/arch/elementwise.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd/dense_backward_data.hpp"
#include "kernels/simd/dense_backward_weights.hpp"
#include "kernels/simd/dense_forward.hpp"
#include "kernels/simd/pack.hpp"
#include "kernels/simd/sample_sgd_tiny.hpp"

namespace bpnn::kernels::simd {

// The tiny per-sample step where a vector holds a tiny layer (not SSE2 f64, 2 lanes), else null.
template <class Arch, class T>
constexpr auto sample_sgd_tiny_of() {
  using Fn = double (*)(const TinyNet&, const T*, const T*, T, T*, T*);
  if constexpr (xsimd::batch<T, Arch>::size >= tiny_max_width)
    return Fn{sample_sgd_tiny<Arch, T>};
  else
    return Fn{nullptr};
}

// The dense kernels and packing for Arch; the elementwise kernels come from `elementwise`.
template <class Arch, class T>
constexpr KernelTable<T> dense_table(const char* name, const ElementwiseKernels<T>& elementwise) {
  return KernelTable<T>{
      .arch = name,
      .packed_size = dense_packed_size<Arch, T>,
      .pack = dense_pack<Arch, T>,
      .unpack = dense_unpack<Arch, T>,
      .dense_forward = dense_forward<Arch, T>,
      .dense_backward_data = dense_backward_data<Arch, T>,
      .dense_forward_outputs = dense_forward_outputs<Arch, T>,
      .dense_backward_data_inputs = dense_backward_data_inputs<Arch, T>,
      .dense_backward_weights = dense_backward_weights<Arch, T>,
      .activation_backward = elementwise.activation_backward,
      .sgd_update = elementwise.sgd_update,
      .adam_update = elementwise.adam_update,
      .activation_forward = elementwise.activation_forward,
      // whole panels: outputs [p·NR, …) start at packed_size(p·NR, in)
      .out_block = TileShape<Arch, T>::NR,
      .sample_sgd_tiny = sample_sgd_tiny_of<Arch, T>(),
  };
}

}  // namespace bpnn::kernels::simd
