#pragma once
// Buffers aligned for the widest vectors (64 bytes: one AVX-512 register, one cache line).
#include <vector>

#include <xsimd/xsimd.hpp>

namespace bpnn {

template <class T>
using AlignedVector = std::vector<T, xsimd::aligned_allocator<T, 64>>;

}  // namespace bpnn
