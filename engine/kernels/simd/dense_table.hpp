#pragma once
// Builds the KernelTable of one instruction set from the dense templates; included only by the
// per-ISA translation units in engine/kernels/arch/.
#include "kernels/arch/elementwise.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd/dense_backward_data.hpp"
#include "kernels/simd/dense_backward_weights.hpp"
#include "kernels/simd/dense_forward.hpp"
#include "kernels/simd/pack.hpp"

namespace bpnn::kernels::simd {

// The dense kernels and packing for Arch; the elementwise kernels come from `elementwise`.
template <class Arch, class T>
constexpr KernelTable<T> dense_table(const char* name, const ElementwiseKernels<T>& elementwise) {
  return KernelTable<T>{
      name,
      dense_packed_size<Arch, T>,
      dense_pack<Arch, T>,
      dense_unpack<Arch, T>,
      dense_forward<Arch, T>,
      dense_backward_data<Arch, T>,
      dense_backward_weights<Arch, T>,
      elementwise.activation_backward,
      elementwise.sgd_update,
      elementwise.activation_forward,
      TileShape<Arch, T>::NR,  // whole panels: outputs [p·NR, …) start at packed_size(p·NR, in)
  };
}

}  // namespace bpnn::kernels::simd
