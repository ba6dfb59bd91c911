#pragma once
// The named training workloads of bpnn's benchmarks, shared by bench/ and `bpnn bench`.
// All sigmoid hidden and output layers, MSE, plain SGD (lr 0.1), f32 unless stated, trained on
// synthetic data in file order (no shuffle) like the peers in shared/peers.
//
// Arithmetic counted per sample (what training needs, whatever the implementation does):
// forward 2·In·Out for every layer, weight gradient 2·In·Out for every layer, input gradient
// 2·In·Out for every layer but the first.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bpnn/network.hpp"
#include "bpnn/train.hpp"

namespace bpnn::bench {

struct Workload {
  std::string name;
  std::vector<std::size_t> sizes;
  std::size_t batch = 1;
  Precision precision = Precision::f32;
  int threads = 1;
  std::size_t samples = 0;  // one benchmark iteration = one epoch over this many samples
};

inline double workload_flops_per_sample(const std::vector<std::size_t>& sizes) {
  double flops = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l)
    flops += (l == 0 ? 4.0 : 6.0) * static_cast<double>(sizes[l] * sizes[l + 1]);
  return flops;
}

// Samples per epoch: 16 batches (as the peers cycle) — 4 for networks so big that 4 batches
// already take a good fraction of a second — and at least 4096 samples for tiny networks.
inline std::size_t workload_default_samples(const std::vector<std::size_t>& sizes, std::size_t batch) {
  const double flops = workload_flops_per_sample(sizes);
  std::size_t samples = (4 * batch * flops > 5e9 ? 4 : 16) * batch;
  while (samples < 4096 && static_cast<double>(samples) * flops < 2e8) samples *= 2;
  return samples;
}

// W0–W3 of the kernel issue, at `threads` threads.
inline std::vector<Workload> workloads_standard(int threads) {
  const auto make = [&](std::string name, std::vector<std::size_t> sizes, std::size_t batch,
                        Precision p, int t) {
    Workload w{std::move(name), std::move(sizes), batch, p, t, 0};
    w.samples = workload_default_samples(w.sizes, w.batch);
    return w;
  };
  return {
      make("seed_f64", {2, 4, 1}, 1, Precision::f64, 1),
      make("seed", {2, 4, 1}, 1, Precision::f32, 1),
      make("small", {64, 32, 10}, 1, Precision::f32, 1),
      make("mnist", {784, 256, 10}, 64, Precision::f32, threads),
      make("wide", {1024, 4096, 4096, 1024}, 256, Precision::f32, threads),
  };
}

// A network, its synthetic data and a trainer, ready to run epochs.
struct WorkloadRun {
  explicit WorkloadRun(const Workload& w) : net(config_for(w)) {
    std::mt19937 gen(1);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    x.resize(w.samples * w.sizes.front());
    y.resize(w.samples * w.sizes.back());
    for (float& v : x) v = u(gen);
    for (float& v : y) v = u(gen);
    TrainConfig t;
    t.learning_rate = 0.1;
    t.batch = w.batch;
    t.shuffle = false;
    t.threads = w.threads;
    trainer = std::make_unique<Trainer>(net, t, x.data(), y.data(), w.samples);
  }
  static NetworkConfig config_for(const Workload& w) {
    NetworkConfig c;
    c.sizes = w.sizes;
    c.precision = w.precision;
    c.init = Init::xavier;
    return c;
  }
  Network net;
  std::vector<float> x, y;
  std::unique_ptr<Trainer> trainer;
};

// Registers one Google Benchmark per workload, reporting samples/s, GFLOP/s and the fraction of
// `peak_gflops` (the FMA peak of the threads used, measured in the same run).
inline void workloads_register(const std::vector<Workload>& workloads, double peak_gflops_per_thread) {
  for (const Workload& w : workloads) {
    benchmark::RegisterBenchmark(("train/" + w.name).c_str(), [w, peak_gflops_per_thread](benchmark::State& state) {
      WorkloadRun run(w);
      run.trainer->run_epoch();  // warm up caches and pages
      for (auto _ : state) {
        const EpochStats stats = run.trainer->run_epoch();
        benchmark::DoNotOptimize(stats.loss);
      }
      const double samples = static_cast<double>(state.iterations() * w.samples);
      const double flops = samples * workload_flops_per_sample(w.sizes);
      state.counters["samples_per_s"] = benchmark::Counter(samples, benchmark::Counter::kIsRate);
      state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
      state.counters["peak_fraction"] = benchmark::Counter(
          flops / 1e9 / (peak_gflops_per_thread * w.threads), benchmark::Counter::kIsRate);
      state.counters["threads"] = w.threads;
      state.counters["batch"] = static_cast<double>(w.batch);
      state.SetLabel(run.net.kernel_arch());
    })->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

}  // namespace bpnn::bench
