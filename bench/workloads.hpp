#pragma once
// The named training workloads of bpnn's benchmarks, shared by bench/ and `bpnn bench`.
// All sigmoid hidden and output layers, MSE, plain SGD (lr 0.1), f32 unless stated, trained on
// synthetic data in file order (no shuffle) like the peers in shared/peers.
//
// Arithmetic counted per sample (what training needs, whatever the implementation does):
// forward 2·In·Out for every layer, weight gradient 2·In·Out for every layer, input gradient
// 2·In·Out for every layer but the first.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/network.hpp"
#include "bpnn/sweep.hpp"
#include "bpnn/train.hpp"
#include "fma_peak.hpp"

namespace bpnn::bench {

struct Workload {
  std::string name;
  std::vector<std::size_t> sizes;
  std::size_t batch = 1;
  Precision precision = Precision::f32;
  int threads = 1;
  std::size_t samples = 0;  // one benchmark iteration = one epoch over this many samples
  // > 0: a sweep of this many networks of the shape (seeds 1…members) trained together by
  // train_many; one iteration = sweep_epochs epochs of all of them, and samples_per_s counts
  // member-samples (members × samples per second)
  std::size_t members = 0;
};

inline constexpr std::size_t sweep_epochs = 4;

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

// W0–W3 of the kernel issue: the per-sample ones on one thread, the mini-batch ones on each
// of `threads` (e.g. {1, 2}).
inline std::vector<Workload> workloads_standard(const std::vector<int>& threads) {
  const auto make = [](std::string name, std::vector<std::size_t> sizes, std::size_t batch,
                       Precision p, int t) {
    Workload w{std::move(name), std::move(sizes), batch, p, t, 0};
    w.samples = workload_default_samples(w.sizes, w.batch);
    return w;
  };
  std::vector<Workload> all;
  for (int t : threads) {
    all.push_back(make("seed_f64", {2, 4, 1}, 1, Precision::f64, t));
    all.push_back(make("seed", {2, 4, 1}, 1, Precision::f32, t));
    all.push_back(make("small", {64, 32, 10}, 1, Precision::f32, t));
    all.push_back(make("mnist", {784, 256, 10}, 64, Precision::f32, t));
    all.push_back(make("wide", {1024, 4096, 4096, 1024}, 256, Precision::f32, t));
    all.push_back(make("seed_sweep", {2, 4, 1}, 1, Precision::f32, t));
    all.back().members = 64;  // issue 11: ≥ 200 M member-samples/s on one thread
    all.push_back(make("small_sweep", {64, 32, 10}, 1, Precision::f32, t));
    all.back().members = 16;  // issue 11: ≥ 60% of the one-core FMA peak
  }
  return all;
}

// Shapes beyond the named workloads for the thread-scaling check of issue 11 (`bpnn bench
// --workload scaling`): every one a mini-batch step of 20 MFLOP or more, where 2 threads should
// reach 1.8x one thread — deep, wide and shallow, a small batch, a large input, and the shape
// whose phase 1 the row cut left on one core (784-512-512-10 at batch 128).
inline std::vector<Workload> workloads_scaling(const std::vector<int>& threads) {
  const auto make = [](std::string name, std::vector<std::size_t> sizes, std::size_t batch, int t) {
    Workload w{std::move(name), std::move(sizes), batch, Precision::f32, t, 0};
    w.samples = workload_default_samples(w.sizes, w.batch);
    return w;
  };
  std::vector<Workload> all;
  for (int t : threads) {
    all.push_back(make("deep", {256, 256, 256, 256, 256, 10}, 64, t));
    all.push_back(make("shallow", {2048, 4096, 10}, 32, t));
    all.push_back(make("small_batch", {784, 1024, 10}, 16, t));
    all.push_back(make("large_input", {8192, 512, 10}, 64, t));
    all.push_back(make("mlp512", {784, 512, 512, 10}, 128, t));
  }
  return all;
}

// Bytes training cannot do without: parameters, their gradients and the activations of a batch
// (plain SGD keeps no optimiser state).
inline double workload_essential_bytes(const Workload& w) {
  double params = 0, activations = 0;
  for (std::size_t l = 0; l + 1 < w.sizes.size(); ++l) {
    params += static_cast<double>((w.sizes[l] + 1) * w.sizes[l + 1]);
    activations += static_cast<double>(w.batch * w.sizes[l + 1]);
  }
  const double scalar = w.precision == Precision::f32 ? 4 : 8;
  return (2 * params + activations) * scalar;
}

// Largest resident set of this process so far, in bytes.
inline double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

// Rows [first, end) of a workload's synthetic data, x:(end − first, inputs) and
// y:(end − first, outputs). One sequential generator draws the inputs of every row, then the
// targets of every row, uniform in [0, 1) as floats; a part of the rows (a rank's, under mpirun)
// is that stream with the other values drawn and dropped, so it holds the values the whole data
// holds there.
template <class T>
void workload_rows_fill(const Workload& w, std::size_t first, std::size_t end, std::vector<T>& x, std::vector<T>& y) {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const auto draw = [&](std::vector<T>& kept, std::size_t width, std::size_t drawn_rows) {
    kept.resize((end - first) * width);
    for (std::size_t i = 0; i < drawn_rows * width; ++i) {
      const float v = u(gen);
      if (i >= first * width && i < end * width) kept[i - first * width] = v;
    }
  };
  draw(x, w.sizes.front(), w.samples);
  draw(y, w.sizes.back(), end);  // nothing is drawn after the targets
}

// The training config of a workload: plain SGD at lr 0.1, its batch and threads, file order.
inline TrainConfig workload_train_config(const Workload& w) {
  TrainConfig t;
  t.learning_rate = 0.1;
  t.batch = w.batch;
  t.shuffle = false;
  t.threads = w.threads;
  return t;
}

// A network, its synthetic data and a trainer, ready to run epochs.
struct WorkloadRun {
  explicit WorkloadRun(const Workload& w) : net(config_for(w)) {
    workload_rows_fill(w, 0, w.samples, x, y);
    trainer = std::make_unique<Trainer>(net, workload_train_config(w), x.data(), y.data(), w.samples);
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

// A sweep workload: its members (seeds 1…members, the workload's settings) and the data, the
// same synthetic rows as WorkloadRun's.
struct SweepRun {
  explicit SweepRun(const Workload& w) {
    std::mt19937 gen(1);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    data.n = w.samples;
    data.inputs = w.sizes.front();
    data.outputs = w.sizes.back();
    data.x.resize(w.samples * data.inputs);
    data.y.resize(w.samples * data.outputs);
    for (double& v : data.x) v = u(gen);
    for (double& v : data.y) v = u(gen);
    for (std::size_t m = 0; m < w.members; ++m) {
      SweepMember member;
      member.network = WorkloadRun::config_for(w);
      member.network.seed = m + 1;
      member.train.learning_rate = 0.1;
      member.train.batch = w.batch;
      member.train.shuffle = false;
      member.train.epochs = sweep_epochs;
      member.train.seed = m + 1;
      members.push_back(member);
    }
    options.threads = w.threads;
  }
  double run() const { return train_many(members, data, options).front().report.final_loss; }
  Dataset data;
  std::vector<SweepMember> members;
  SweepOptions options;
};

// What the counters mean, written into the JSON context and `bpnn bench --help`.
inline constexpr const char* cores_peak_definition =
    "cores_peak_gflops = the f32 FMA peak of all the benchmark's threads running FMA chains at the "
    "same time (their flops over the span from the first start to the last end; omitted when they did not "
    "all start together), measured right before a benchmark of more than one thread, capped at the cores "
    "the process may use (not with --peak); "
    "cores_peak_ratio = cores_peak_gflops / (threads x the best one-core f32 peak so far): below 1 "
    "when the cores do not give threads x one core's peak together (shared or throttled cores), "
    "and no step on them can scale past it";
inline constexpr const char* peak_fraction_definition =
    "GFLOPS / (peak GFLOP/s of one core in the workload's precision x threads); GFLOPS counts "
    "the arithmetic training needs per sample (forward 2*in*out per layer, weight gradient "
    "2*in*out per layer, input gradient 2*in*out per layer but the first) x samples/s; the peak "
    "is the best of the FMA-chain measurements taken so far in the same run (or --peak)";
inline constexpr const char* rss_ratio_definition =
    "peak resident set of the whole process so far / (bytes of parameters + their gradients + "
    "one batch of activations); cumulative over the process, so read it with one workload per "
    "run";

// Adds the peak's description and the counters' definitions to Google Benchmark's context.
inline void workloads_describe(const PeakTracker& peak) {
  benchmark::AddCustomContext("fma_peak_isa", peak.best().isa);
  benchmark::AddCustomContext("fma_peak_source",
                              peak.fixed() ? "fixed by --peak"
                                           : "measured: best of 5 FMA-chain runs at the start and "
                                             "again before each benchmark");
  benchmark::AddCustomContext("fma_peak_gflops_f32_per_core_at_start",
                              std::to_string(peak.best().gflops_f32));
  benchmark::AddCustomContext("fma_peak_gflops_f64_per_core_at_start",
                              std::to_string(peak.best().gflops_f64));
  benchmark::AddCustomContext("peak_fraction", peak_fraction_definition);
  benchmark::AddCustomContext("peak_suspect", "the label says peak_suspect=true when "
                                              "peak_fraction > 1: the peak is too low (fixed, or "
                                              "measured while the core was slowed)");
  benchmark::AddCustomContext("rss_ratio", rss_ratio_definition);
  benchmark::AddCustomContext("cores_peak_ratio", cores_peak_definition);
}

// Registers one Google Benchmark per workload, named train/NAME/threads:N, reporting samples/s,
// GFLOP/s, the fraction of the FMA peak of the threads used (peak_gflops_per_core: the best
// measured so far in this run, re-measured before each benchmark; the label says
// peak_suspect=true when the fraction exceeds 1), and the
// process's peak RSS against the essential bytes (meaningful when the workload runs alone).
inline void workloads_register(const std::vector<Workload>& workloads,
                               const std::shared_ptr<PeakTracker>& peak) {
  for (const Workload& w : workloads) {
    const std::string name = "train/" + w.name + "/threads:" + std::to_string(w.threads);
    benchmark::RegisterBenchmark(name.c_str(), [w, peak](benchmark::State& state) {
      const FmaPeak& best = peak->update();
      const double core_peak = w.precision == Precision::f32 ? best.gflops_f32 : best.gflops_f64;
      // what the threads' cores give together now (fma_peak_together_f32), against threads ×
      // the best one core: the most this benchmark's threads can scale at this moment
      const double together = w.threads > 1 && !peak->fixed() ? fma_peak_together_f32(w.threads) : 0.0;
      std::optional<WorkloadRun> run;
      std::optional<SweepRun> sweep;
      if (w.members > 0) {
        sweep.emplace(w);
        benchmark::DoNotOptimize(sweep->run());  // warm up caches and pages
      } else {
        run.emplace(w);
        run->trainer->run_epoch();  // warm up caches and pages
      }
      const auto start = std::chrono::steady_clock::now();
      for (auto _ : state) {
        if (sweep) {
          benchmark::DoNotOptimize(sweep->run());
        } else {
          const EpochStats stats = run->trainer->run_epoch();
          benchmark::DoNotOptimize(stats.loss);
        }
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double per_iteration =
          w.members > 0 ? static_cast<double>(w.members * w.samples * sweep_epochs)
                        : static_cast<double>(w.samples);
      const double samples_per_s = static_cast<double>(state.iterations()) * per_iteration / seconds;
      const double gflops = samples_per_s * workload_flops_per_sample(w.sizes) / 1e9;
      const double fraction = gflops / (core_peak * w.threads);
      state.counters["samples_per_s"] = samples_per_s;
      state.counters["GFLOPS"] = gflops;
      state.counters["peak_gflops_per_core"] = core_peak;
      state.counters["peak_fraction"] = fraction;  // never clamped
      state.counters["threads"] = w.threads;
      state.counters["batch"] = static_cast<double>(w.batch);
      state.counters["rss_MiB"] = peak_rss_bytes() / (1 << 20);
      state.counters["rss_ratio"] = peak_rss_bytes() / workload_essential_bytes(w);
      if (w.members > 0) state.counters["members"] = static_cast<double>(w.members);
      if (together > 0) {  // not NaN: the threads ran together (fma_peak_together_f32)
        state.counters["cores_peak_gflops"] = together;
        state.counters["cores_peak_ratio"] = together / (best.gflops_f32 * w.threads);
      }
      const std::string arch = run ? run->net.kernel_arch() : Network(WorkloadRun::config_for(w)).kernel_arch();
      state.SetLabel(arch + (fraction > 1.0 ? " peak_suspect=true" : ""));
    })->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

// Shrinks workloads to one step of at most 8 samples per epoch, for a smoke run that only
// checks they still work.
inline void workloads_make_smoke(std::vector<Workload>& workloads) {
  for (Workload& w : workloads) w.samples = w.batch = std::min<std::size_t>(w.batch, 8);
}

}  // namespace bpnn::bench
