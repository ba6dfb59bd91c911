#pragma once
// The x86-64 instruction sets bpnn has kernel tables for, and whether this CPU runs them: the one
// answer shared by the dispatcher (dispatch.cpp) and the tests that walk every table.
#include <cstddef>
#include <optional>
#include <string_view>

#include "kernels/kernels.hpp"

namespace bpnn::kernels {

enum class InstructionSet { avx512, avx2, sse2 };

struct InstructionSetInfo {
  InstructionSet set;
  std::string_view name;     // as BPNN_ARCH and KernelTable::arch spell it
  std::size_t vector_bytes;  // bytes in one SIMD register of the set's kernels
};

// Widest first, the order kernels_select tries them in.
inline constexpr InstructionSetInfo instruction_sets[] = {
    {InstructionSet::avx512, "avx512", 64},
    {InstructionSet::avx2, "avx2", 32},
    {InstructionSet::sse2, "sse2", 16},
};

// The set spelled `name` ("avx512", "avx2", "sse2"), or none.
constexpr std::optional<InstructionSetInfo> instruction_set_named(std::string_view name) {
  for (const InstructionSetInfo& info : instruction_sets)
    if (info.name == name) return info;
  return std::nullopt;
}

// Whether this CPU runs the kernels compiled for `set`: it has every extension that set's
// translation units are built with (avx512: AVX-512 F/CD/DQ/BW/VL; avx2: AVX2 + FMA; sse2: the
// x86-64 baseline) and the OS saves the registers (XGETBV).
bool cpu_runs(InstructionSet set);

// The kernel table of `set`; call it only when cpu_runs(set).
template <class T>
const KernelTable<T>& kernels_of(InstructionSet set);

}  // namespace bpnn::kernels
