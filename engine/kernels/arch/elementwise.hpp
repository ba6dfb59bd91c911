#pragma once
// The elementwise kernels (activations, their derivatives, the SGD update, exp) compiled once per
// instruction set, as tables of plain function pointers. The GEMM arch files take these pointers
// into their KernelTable; nothing here chooses an instruction set.
//
// Getting a table is safe on any CPU: each getter only returns the address of constant data
// (no code of that instruction set runs, no static initialiser). Calling a pointer from the
// table requires the CPU to support the set:
//   avx512: AVX-512 F, CD, DQ, BW and VL (xsimd::avx512bw; the TU is built with -mavx512{f,dq,bw,vl})
//   avx2:   AVX2 and FMA (xsimd::fma3<xsimd::avx2>)
//   sse2:   any x86-64 CPU (xsimd::sse2)
#include <cstddef>

#include "bpnn/types.hpp"
#include "kernels/kernels.hpp"

namespace bpnn::kernels {

template <class T>
struct ElementwiseKernels {
  const char* arch;  // "avx512", "avx2", "sse2"
  // x,y:(count); y = act(x) elementwise, x == y allowed; act is not softmax (treated as linear)
  void (*activation_forward)(Activation act, std::size_t count, const T* x, T* y);
  // y,delta:(count); delta ⊙= act'(y), the derivative from the activation's outputs
  void (*activation_backward)(Activation act, std::size_t count, const T* y, T* delta);
  // g,v,w:(count); v = μ·v + scale·g ; w −= lr·v   (μ = 0: w −= lr·scale·g, v untouched)
  void (*sgd_update)(std::size_t count, T lr, T momentum, T grad_scale, const T* g, T* v, T* w);
  // x,y:(count); y = e^x, x == y allowed
  void (*exp)(std::size_t count, const T* x, T* y);
  // one Adam step over (count) parameters: KernelTable::adam_update
  void (*adam_update)(std::size_t count, const T* grad, T grad_scale, T decay, const AdamStep<T>& step,
                      T* w, T* m, T* v);
};

// Returned by reference, not by value: copying the table out would run code of that instruction
// set (vector moves) inside the getter.
template <class T>
const ElementwiseKernels<T>& elementwise_avx512();
template <class T>
const ElementwiseKernels<T>& elementwise_avx2();
template <class T>
const ElementwiseKernels<T>& elementwise_sse2();

}  // namespace bpnn::kernels
