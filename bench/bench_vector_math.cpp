// Throughput of the vectorised exp/sigmoid/tanh per instruction set and precision, over 4096
// elements (in L1) and 1M elements (memory).
// Counters: items_per_second, and elems_per_cycle = elements / cycles, where cycles = this thread's
// CPU time × the TSC frequency (calibrated once against steady_clock). CPU time rather than TSC
// deltas, so that time the thread spends preempted on a busy machine does not count. The TSC
// runs at the nominal frequency, not the boosted core clock: these are nominal cycles.
#include <time.h>
#include <x86intrin.h>

#include <chrono>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <xsimd/xsimd.hpp>

#include "kernels/arch/elementwise.hpp"

using bpnn::Activation;
using bpnn::kernels::ElementwiseKernels;

namespace {

enum class Fn { exp, sigmoid, tanh };

// TSC ticks per second, measured over 50 ms of spinning.
double tsc_hz() {
  static const double hz = [] {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const std::uint64_t c0 = __rdtsc();
    while (clock::now() - t0 < std::chrono::milliseconds(50)) {
    }
    const std::uint64_t c1 = __rdtsc();
    return static_cast<double>(c1 - c0) /
           std::chrono::duration<double>(clock::now() - t0).count();
  }();
  return hz;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <class T>
void bench_fn(benchmark::State& state, const ElementwiseKernels<T>* k, Fn f) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::mt19937 rng(1);
  std::uniform_real_distribution<T> u(-8, 8);  // typical pre-activations
  std::vector<T> x(n), y(n);
  for (auto& v : x) v = u(rng);
  const double hz = tsc_hz();
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    switch (f) {
      case Fn::exp: k->exp(n, x.data(), y.data()); break;
      case Fn::sigmoid: k->activation_forward(Activation::sigmoid, n, x.data(), y.data()); break;
      case Fn::tanh: k->activation_forward(Activation::tanh, n, x.data(), y.data()); break;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double cycles = (thread_cpu_seconds() - cpu0) * hz;
  const double elems = static_cast<double>(n) * static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(elems));
  state.counters["elems_per_cycle"] = elems / cycles;
  state.counters["tsc_ghz"] = hz * 1e-9;
}

template <class T>
void register_precision(const char* precision) {
  const auto cpu = xsimd::available_architectures();
  const std::pair<bool, const ElementwiseKernels<T>*> tables[] = {
      {cpu.avx512f && cpu.avx512cd && cpu.avx512dq && cpu.avx512bw,
       &bpnn::kernels::elementwise_avx512<T>()},
      {cpu.fma3_avx2 != 0, &bpnn::kernels::elementwise_avx2<T>()},
      {cpu.sse2 != 0, &bpnn::kernels::elementwise_sse2<T>()},
  };
  const std::pair<Fn, const char*> fns[] = {
      {Fn::sigmoid, "sigmoid"}, {Fn::exp, "exp"}, {Fn::tanh, "tanh"}};
  for (const auto& [supported, k] : tables) {
    if (!supported) continue;
    for (const auto& [f, name] : fns) {
      const std::string label = std::string("vecmath_") + name + "/" + precision + "/" + k->arch;
      benchmark::RegisterBenchmark(label.c_str(), bench_fn<T>, k, f)->Arg(4096)->Arg(1 << 20);
    }
  }
}

const int registered = [] {
  register_precision<float>("f32");
  register_precision<double>("f64");
  return 0;
}();

}  // namespace
