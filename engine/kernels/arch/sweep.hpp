#pragma once
// The lane kernel of the sweep (KernelTable::sweep_sample_sgd and its sizes) compiled once per
// instruction set, in its own translation unit (sweep_avx512.cpp, sweep_avx2.cpp,
// sweep_sse2.cpp), apart from the dense tables: the sweep kernel and the GEMM kernels are each
// large, and an edit of one no longer recompiles the other. The dense arch files take these
// entries into their KernelTable; nothing here chooses an instruction set.
//
// Getting an entry is safe on any CPU (the address of constant data); calling its kernel needs
// the CPU to support the set (see elementwise.hpp).
#include <cstddef>
#include <cstdint>

#include "kernels/kernels.hpp"

namespace bpnn::kernels {

template <class T>
struct SweepKernel {
  // KernelTable::sweep_sample_sgd, sweep_lanes, sweep_narrow_elements, sweep_short_chain_lanes
  // and sweep_short_chain_width of the set
  std::size_t (*sweep_sample_sgd)(const SweepNet& net, std::size_t steps, const T* rows,
                                  const std::int64_t* row_offset, const T* lr, const T* keep,
                                  T* params, T* work, T* loss, double* loss_sum);
  std::size_t lanes;
  std::size_t narrow_elements;
  std::size_t short_chain_lanes, short_chain_width;
};

template <class T>
const SweepKernel<T>& sweep_kernel_avx512();
template <class T>
const SweepKernel<T>& sweep_kernel_avx2();
template <class T>
const SweepKernel<T>& sweep_kernel_sse2();

// Copies the entry into a table under construction.
template <class T>
void sweep_kernel_fill(const SweepKernel<T>& sweep, KernelTable<T>& table) {
  table.sweep_sample_sgd = sweep.sweep_sample_sgd;
  table.sweep_lanes = sweep.lanes;
  table.sweep_narrow_elements = sweep.narrow_elements;
  table.sweep_short_chain_lanes = sweep.short_chain_lanes;
  table.sweep_short_chain_width = sweep.short_chain_width;
}

}  // namespace bpnn::kernels
