#pragma once
// The scalar reference of KernelTable::sweep_sample_sgd: each lane in turn, by the reference
// table's formulas (reference_kernels.cpp, nn/output_layer.hpp) in their order, so that it is
// also bit for bit the single-network step of the reference table (BPNN_ARCH=reference).
#include <cstddef>
#include <cstdint>

#include "kernels/kernels.hpp"

namespace bpnn::kernels {

// The same contract as KernelTable::sweep_sample_sgd, for any net.lanes ≥ 1 and any
// net.elements that divides it.
template <class T>
std::size_t sweep_sample_sgd_reference(const SweepNet& net, std::size_t steps, const T* rows,
                                       const std::int64_t* row_offset, const T* lr, const T* keep,
                                       T* params, T* work, T* loss, double* loss_sum);

}  // namespace bpnn::kernels
