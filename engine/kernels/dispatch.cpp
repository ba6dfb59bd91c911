// Chooses the kernel table once per network: the widest instruction set this CPU runs, unless
// BPNN_ARCH names another. Compiled for the baseline instruction set.
#include <cstdlib>
#include <string>
#include <string_view>

#include <xsimd/xsimd.hpp>

#include "bpnn/error.hpp"
#include "kernels/arch/dense_tables.hpp"
#include "kernels/kernels.hpp"

namespace bpnn::kernels {
namespace {

// xsimd 8.1 reads CPUID only; GCC's builtins also ask the OS (XGETBV) whether it saves the
// AVX / AVX-512 registers, and cover AVX-512VL, which the avx512 translation unit is built with.
bool cpu_runs_avx512() {
  const auto a = xsimd::available_architectures();
  return a.avx512f && a.avx512cd && a.avx512dq && a.avx512bw && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

bool cpu_runs_avx2() {
  const auto a = xsimd::available_architectures();
  return a.fma3_avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpu_runs_sse2() { return xsimd::available_architectures().sse2; }

}  // namespace

template <class T>
const KernelTable<T>& kernels_select() {
  const char* forced = std::getenv("BPNN_ARCH");
  if (forced && *forced) {
    const std::string_view name(forced);
    if (name == "reference") return kernels_reference<T>();
    bool known = true, runs = false;
    if (name == "avx512")
      runs = cpu_runs_avx512();
    else if (name == "avx2")
      runs = cpu_runs_avx2();
    else if (name == "sse2")
      runs = cpu_runs_sse2();
    else
      known = false;
    if (!known)
      throw Error(ErrorKind::argument, "BPNN_ARCH=" + std::string(name) +
                                           ": unknown instruction set (expected avx512, avx2, "
                                           "sse2 or reference)");
    if (!runs)
      throw Error(ErrorKind::argument,
                  "BPNN_ARCH=" + std::string(name) + ": this CPU does not support that instruction set");
    if (name == "avx512") return kernels_avx512<T>();
    if (name == "avx2") return kernels_avx2<T>();
    return kernels_sse2<T>();
  }
  if (cpu_runs_avx512()) return kernels_avx512<T>();
  if (cpu_runs_avx2()) return kernels_avx2<T>();
  if (cpu_runs_sse2()) return kernels_sse2<T>();
  return kernels_reference<T>();
}

template const KernelTable<float>& kernels_select<float>();
template const KernelTable<double>& kernels_select<double>();

}  // namespace bpnn::kernels
