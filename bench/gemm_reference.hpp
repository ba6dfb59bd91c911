#pragma once
// The forward GEMM of each layer of a workload, in bpnn's kernel and, when CMake found it, in
// OpenBLAS's sgemm at the same shape, side by side (`bpnn bench --compare-blas`):
//   x:(M=batch, K=in) · w:(N=out, K)ᵀ → y:(M, N), f32, on the workload's threads.
// bpnn carries its own GEMM kernels rather than calling a BLAS because training needs what a
// BLAS call cannot give: the bias and activation fused into the forward epilogue, the activation
// derivative fused into backward-data, batch-1 (matrix-vector) paths with the SGD update fused
// in, and sums whose order depends only on the shapes, never on the thread count, so a trained
// model is bit for bit the same on any number of threads. This comparison keeps that choice
// honest: it shows what a tuned BLAS does with the bare GEMM.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fma_peak.hpp"
#include "kernels/kernels.hpp"
#include "workloads.hpp"

#ifdef BPNN_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace bpnn::bench {

// Whether this build can run OpenBLAS's sgemm.
inline constexpr bool gemm_have_openblas =
#ifdef BPNN_HAVE_OPENBLAS
    true;
#else
    false;
#endif

// Records which OpenBLAS ran: its core type (OPENBLAS_CORETYPE in the environment silently picks
// e.g. Haswell AVX2 kernels on an AVX-512 machine) and build configuration.
inline void gemm_describe_openblas() {
#ifdef BPNN_HAVE_OPENBLAS
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  benchmark::AddCustomContext("openblas_corename", openblas_get_corename());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_coretype_env", forced != nullptr ? forced : "(unset)");
  // On a virtual machine whose CPU model OpenBLAS does not know, DYNAMIC_ARCH falls back to its
  // SSE3 "Prescott" kernels even where AVX-512 runs.
  const std::string core = openblas_get_corename();
  __builtin_cpu_init();
  if ((core == "Prescott" || core == "Core2" || core == "Nehalem") && __builtin_cpu_supports("avx2"))
    std::fprintf(stderr, "bpnn: warning: OpenBLAS chose its %s kernels on a CPU with AVX2%s; set "
                         "OPENBLAS_CORETYPE=%s for a fair comparison\n",
                 core.c_str(), __builtin_cpu_supports("avx512f") ? " and AVX-512" : "",
                 __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
#endif
}

struct GemmShape {
  std::string workload;
  std::size_t layer, m, n, k;  // y:(m, n) = x:(m, k) · w:(n, k)ᵀ
  int threads;
};

inline std::vector<GemmShape> gemm_shapes(const std::vector<Workload>& workloads) {
  std::vector<GemmShape> shapes;
  for (const Workload& w : workloads) {
    if (w.precision != Precision::f32) continue;
    for (std::size_t l = 0; l + 1 < w.sizes.size(); ++l)
      shapes.push_back({w.name, l, w.batch, w.sizes[l + 1], w.sizes[l], w.threads});
  }
  return shapes;
}

inline std::vector<float> gemm_random(std::size_t count, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(count);
  for (float& e : v) e = u(gen);
  return v;
}

// Sets the counters and the label (the kernel's name, with peak_suspect=true when the fraction
// exceeds 1).
inline void gemm_report(benchmark::State& state, double seconds, const GemmShape& g,
                        const FmaPeak& peak, const std::string& kernel) {
  const double flops = 2.0 * static_cast<double>(g.m * g.n * g.k) * static_cast<double>(state.iterations());
  const double gflops = flops / seconds / 1e9;
  state.counters["GFLOPS"] = gflops;
  state.counters["peak_fraction"] = gflops / (peak.gflops_f32 * g.threads);
  state.counters["threads"] = g.threads;
  state.SetLabel(kernel + (gflops / (peak.gflops_f32 * g.threads) > 1.0 ? " peak_suspect=true" : ""));
}

// Registers gemm/bpnn/... and (with OpenBLAS) gemm/openblas/... for every layer of every f32
// workload. bpnn's side is its dense forward kernel with a linear activation and zero bias (the
// bare GEMM plus the bias add the epilogue always does), on one thread: the kernels themselves
// are single-threaded and the trainer splits the batch. OpenBLAS runs on the workload's threads.
inline void gemm_register(const std::vector<Workload>& workloads,
                          const std::shared_ptr<PeakTracker>& peak) {
  for (const GemmShape& g : gemm_shapes(workloads)) {
    const std::string shape = g.workload + "/layer" + std::to_string(g.layer) + "/" +
                              std::to_string(g.m) + "x" + std::to_string(g.n) + "x" +
                              std::to_string(g.k);
    if (g.threads == 1)
      benchmark::RegisterBenchmark(("gemm/bpnn/" + shape).c_str(), [g, peak](benchmark::State& state) {
        const FmaPeak& best = peak->update();
        const kernels::KernelTable<float>& k = kernels::kernels_select<float>();
        const std::vector<float> x = gemm_random(g.m * g.k, 1), w = gemm_random(g.n * g.k, 2);
        std::vector<float> packed(k.packed_size(g.n, g.k)), b(g.n, 0.f), y(g.m * g.n);
        k.pack(g.n, g.k, w.data(), packed.data());
        const kernels::DenseShape s{g.m, g.k, g.n};
        const auto start = std::chrono::steady_clock::now();
        for (auto _ : state) {
          k.dense_forward(s, Activation::linear, x.data(), packed.data(), b.data(), y.data());
          benchmark::DoNotOptimize(y.data());
        }
        gemm_report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                    g, best, k.arch);
      })->UseRealTime();
#ifdef BPNN_HAVE_OPENBLAS
    benchmark::RegisterBenchmark(
        ("gemm/openblas/" + shape + "/threads:" + std::to_string(g.threads)).c_str(),
        [g, peak](benchmark::State& state) {
          const FmaPeak& best = peak->update();
          openblas_set_num_threads(g.threads);
          const std::vector<float> x = gemm_random(g.m * g.k, 1), w = gemm_random(g.n * g.k, 2);
          std::vector<float> y(g.m * g.n);
          const auto start = std::chrono::steady_clock::now();
          for (auto _ : state) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(g.m),
                        static_cast<int>(g.n), static_cast<int>(g.k), 1.f, x.data(),
                        static_cast<int>(g.k), w.data(), static_cast<int>(g.k), 0.f, y.data(),
                        static_cast<int>(g.n));
            benchmark::DoNotOptimize(y.data());
          }
          gemm_report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                      g, best, std::string("openblas ") + openblas_get_corename());
        })->UseRealTime();
#endif
  }
}

}  // namespace bpnn::bench
