// The dense kernels of the table kernels_select() picks (BPNN_ARCH to force one), on the GEMM
// shapes of the benchmark networks, in f32:
//   784-256-10 at batch 64, 1024-4096-4096-1024 at batch 256 and the odd 100-300-7 at batch 37,
//   each kernel of each layer;
//   a whole step's dense kernels of both (forward all layers, input gradient of all but the
//   first, weight gradient of all);
//   one-sample steps of 64-32-10 and 3-4-1 (the matrix-vector paths, with the SGD update).
// Counters: GFLOPS (needed arithmetic: 2·n·in·out per kernel) and peak_fraction, the share of
// the single-core FMA peak measured in the same run (bench/fma_peak.hpp); samples/s for steps.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "fma_peak.hpp"
#include "kernels/kernels.hpp"

using bpnn::Activation;
using bpnn::kernels::DenseShape;
using bpnn::kernels::KernelTable;

namespace {

// f32 FMA peak of this core in GFLOP/s, measured once per run.
double peak_gflops() {
  static const double peak = bpnn::bench::fma_peak_measure().gflops_f32;
  return peak;
}

enum class Kernel { forward, backward_data, backward_weights };

std::vector<float> random_floats(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& e : v) e = u(rng);
  return v;
}

// One layer's buffers, weights packed for the table.
struct LayerData {
  DenseShape s;
  std::vector<float> x, w, b, y, dy, dx, dw, db;
  LayerData(const KernelTable<float>& k, DenseShape shape)
      : s(shape),
        x(random_floats(s.n * s.in, 0.01f, 0.99f, 1)),
        w(k.packed_size(s.out, s.in)),
        b(random_floats(s.out, -0.1f, 0.1f, 3)),
        y(s.n * s.out),
        dy(random_floats(s.n * s.out, -1, 1, 4)),
        dx(s.n * s.in),
        dw(k.packed_size(s.out, s.in)),
        db(s.out) {
    const auto rowmajor = random_floats(s.out * s.in, -0.05f, 0.05f, 2);
    k.pack(s.out, s.in, rowmajor.data(), w.data());
  }
};

void run(const KernelTable<float>& k, Kernel kernel, LayerData& d) {
  switch (kernel) {
    case Kernel::forward:
      k.dense_forward(d.s, Activation::sigmoid, d.x.data(), d.w.data(), d.b.data(), d.y.data());
      break;
    case Kernel::backward_data:
      k.dense_backward_data(d.s, Activation::sigmoid, d.dy.data(), d.w.data(), d.x.data(),
                            d.dx.data());
      break;
    case Kernel::backward_weights:
      k.dense_backward_weights(d.s, d.dy.data(), d.x.data(), d.dw.data(), d.db.data());
      break;
  }
}

// Times the loop body on the wall clock and reports GFLOPS and peak_fraction for `flops` per
// iteration (wall clock, as the peak is measured).
template <class F>
void timed_loop(benchmark::State& state, double flops, F&& body) {
  const double peak = peak_gflops();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) body();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double gflops = flops * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["GFLOPS"] = gflops;  // wall-clock rate, like peak_fraction
  state.counters["peak_fraction"] = gflops / peak;
  state.counters["peak_GFLOPS"] = peak;
}

void bm_layer(benchmark::State& state, Kernel kernel, DenseShape s) {
  const KernelTable<float>& k = bpnn::kernels::kernels_select<float>();
  state.SetLabel(k.arch);
  LayerData d(k, s);
  timed_loop(state, 2.0 * double(s.n) * double(s.in) * double(s.out), [&] {
    run(k, kernel, d);
    benchmark::ClobberMemory();
  });
}

// The dense kernels of one training step of `sizes` at `batch` rows.
void bm_step(benchmark::State& state, std::vector<std::size_t> sizes, std::size_t batch) {
  const KernelTable<float>& k = bpnn::kernels::kernels_select<float>();
  state.SetLabel(k.arch);
  std::vector<LayerData> layers;
  double flops = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    layers.emplace_back(k, DenseShape{batch, sizes[l], sizes[l + 1]});
    flops += (l == 0 ? 4.0 : 6.0) * double(batch) * double(sizes[l]) * double(sizes[l + 1]);
  }
  timed_loop(state, flops, [&] {
    for (auto& d : layers) run(k, Kernel::forward, d);
    for (std::size_t l = layers.size(); l-- > 0;) {
      if (l > 0) run(k, Kernel::backward_data, layers[l]);
      run(k, Kernel::backward_weights, layers[l]);
    }
    benchmark::ClobberMemory();
  });
}

// One-sample SGD steps of `sizes`: forward, backward, weight gradient and the update of every
// layer; samples/s.
void bm_sample(benchmark::State& state, std::vector<std::size_t> sizes) {
  const KernelTable<float>& k = bpnn::kernels::kernels_select<float>();
  state.SetLabel(k.arch);
  std::vector<LayerData> layers;
  double flops = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    layers.emplace_back(k, DenseShape{1, sizes[l], sizes[l + 1]});
    flops += (l == 0 ? 4.0 : 6.0) * double(sizes[l]) * double(sizes[l + 1]);
  }
  std::vector<std::vector<float>> momentum;
  for (auto& d : layers) momentum.emplace_back(d.w.size());
  timed_loop(state, flops, [&] {
    for (auto& d : layers) run(k, Kernel::forward, d);
    for (std::size_t l = layers.size(); l-- > 0;) {
      auto& d = layers[l];
      if (l > 0) run(k, Kernel::backward_data, d);
      std::fill(d.dw.begin(), d.dw.end(), 0.0f);
      run(k, Kernel::backward_weights, d);
      k.sgd_update(d.w.size(), 1e-3f, 0.9f, 1.0f, d.dw.data(), momentum[l].data(), d.w.data());
    }
    benchmark::ClobberMemory();
  });
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

constexpr auto fwd = Kernel::forward;
constexpr auto bwd_data = Kernel::backward_data;
constexpr auto bwd_weights = Kernel::backward_weights;

}  // namespace

// 784-256-10, batch 64
BENCHMARK_CAPTURE(bm_layer, mnist_l1_forward, fwd, DenseShape{64, 784, 256});
BENCHMARK_CAPTURE(bm_layer, mnist_l1_backward_weights, bwd_weights, DenseShape{64, 784, 256});
BENCHMARK_CAPTURE(bm_layer, mnist_l2_forward, fwd, DenseShape{64, 256, 10});
BENCHMARK_CAPTURE(bm_layer, mnist_l2_backward_data, bwd_data, DenseShape{64, 256, 10});
BENCHMARK_CAPTURE(bm_layer, mnist_l2_backward_weights, bwd_weights, DenseShape{64, 256, 10});
BENCHMARK_CAPTURE(bm_step, mnist_784_256_10_b64, std::vector<std::size_t>{784, 256, 10}, 64);

// 1024-4096-4096-1024, batch 256
BENCHMARK_CAPTURE(bm_layer, wide_l1_forward, fwd, DenseShape{256, 1024, 4096});
BENCHMARK_CAPTURE(bm_layer, wide_l1_backward_weights, bwd_weights, DenseShape{256, 1024, 4096});
BENCHMARK_CAPTURE(bm_layer, wide_l2_forward, fwd, DenseShape{256, 4096, 4096});
BENCHMARK_CAPTURE(bm_layer, wide_l2_backward_data, bwd_data, DenseShape{256, 4096, 4096});
BENCHMARK_CAPTURE(bm_layer, wide_l2_backward_weights, bwd_weights, DenseShape{256, 4096, 4096});
BENCHMARK_CAPTURE(bm_layer, wide_l3_forward, fwd, DenseShape{256, 4096, 1024});
BENCHMARK_CAPTURE(bm_layer, wide_l3_backward_data, bwd_data, DenseShape{256, 4096, 1024});
BENCHMARK_CAPTURE(bm_layer, wide_l3_backward_weights, bwd_weights, DenseShape{256, 4096, 1024});
BENCHMARK_CAPTURE(bm_step, wide_1024_4096_4096_1024_b256,
                  std::vector<std::size_t>{1024, 4096, 4096, 1024}, 256);

// an odd shape, 100-300-7 at batch 37: remainder rows in every tile column, a last panel of 3
// vectors (300 = 4·64 + 44) and one of a single vector (7 outputs)
BENCHMARK_CAPTURE(bm_layer, odd_l1_forward, fwd, DenseShape{37, 100, 300});
BENCHMARK_CAPTURE(bm_layer, odd_l1_backward_weights, bwd_weights, DenseShape{37, 100, 300});
BENCHMARK_CAPTURE(bm_layer, odd_l2_forward, fwd, DenseShape{37, 300, 7});
BENCHMARK_CAPTURE(bm_layer, odd_l2_backward_data, bwd_data, DenseShape{37, 300, 7});
BENCHMARK_CAPTURE(bm_layer, odd_l2_backward_weights, bwd_weights, DenseShape{37, 300, 7});
BENCHMARK_CAPTURE(bm_step, odd_100_300_7_b37, std::vector<std::size_t>{100, 300, 7}, 37);

// one sample at a time
BENCHMARK_CAPTURE(bm_sample, sample_64_32_10, std::vector<std::size_t>{64, 32, 10});
BENCHMARK_CAPTURE(bm_sample, sample_3_4_1, std::vector<std::size_t>{3, 4, 1});
