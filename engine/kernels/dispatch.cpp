// Chooses the kernel table once per network: the widest instruction set this CPU runs, unless
// BPNN_ARCH names another. Compiled for the baseline instruction set.
#include <cstdlib>
#include <string>
#include <string_view>

#include <xsimd/xsimd.hpp>

#include "bpnn/error.hpp"
#include "kernels/arch/dense_tables.hpp"
#include "kernels/isa.hpp"
#include "kernels/kernels.hpp"

namespace bpnn::kernels {

// xsimd 8.1 reads CPUID only; GCC's builtins also ask the OS (XGETBV) whether it saves the
// AVX / AVX-512 registers, and cover AVX-512VL, which the avx512 translation unit is built with.
bool cpu_runs(InstructionSet set) {
  const auto a = xsimd::available_architectures();
  switch (set) {
    case InstructionSet::avx512:
      return a.avx512f && a.avx512cd && a.avx512dq && a.avx512bw &&
             __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
    case InstructionSet::avx2:
      return a.fma3_avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case InstructionSet::sse2:
      return a.sse2;
  }
  return false;
}

template <class T>
const KernelTable<T>& kernels_of(InstructionSet set) {
  switch (set) {
    case InstructionSet::avx512: return kernels_avx512<T>();
    case InstructionSet::avx2: return kernels_avx2<T>();
    case InstructionSet::sse2: break;
  }
  return kernels_sse2<T>();
}

template <class T>
const KernelTable<T>& kernels_select() {
  const char* forced = std::getenv("BPNN_ARCH");
  if (forced && *forced) {
    const std::string_view name(forced);
    if (name == "reference") return kernels_reference<T>();
    const auto info = instruction_set_named(name);
    if (!info)
      throw Error(ErrorKind::argument, "BPNN_ARCH=" + std::string(name) +
                                           ": unknown instruction set (expected avx512, avx2, "
                                           "sse2 or reference)");
    if (!cpu_runs(info->set))
      throw Error(ErrorKind::argument,
                  "BPNN_ARCH=" + std::string(name) + ": this CPU does not support that instruction set");
    return kernels_of<T>(info->set);
  }
  for (const InstructionSetInfo& info : instruction_sets)
    if (cpu_runs(info.set)) return kernels_of<T>(info.set);
  return kernels_reference<T>();
}

template const KernelTable<float>& kernels_of<float>(InstructionSet);
template const KernelTable<double>& kernels_of<double>(InstructionSet);
template const KernelTable<float>& kernels_select<float>();
template const KernelTable<double>& kernels_select<double>();

}  // namespace bpnn::kernels
