// The per-sample step of tiny networks in one kernel call (KernelTable::sample_sgd_tiny): bit for
// bit the layer-by-layer step of the same table, close to the scalar reference kernels, and no
// weight change when the loss is not finite.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ios>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernel_tables.hpp"
#include "kernels/kernels.hpp"
#include "nn/mlp.hpp"
#include "train/optimizer.hpp"

namespace {

using bpnn::Activation;

struct TinyCase {
  std::vector<std::size_t> sizes;
  Activation hidden, output;
};

const std::vector<TinyCase> tiny_cases = {
    {{2, 4, 1}, Activation::sigmoid, Activation::sigmoid},  // the seed network
    {{2, 2, 1}, Activation::tanh, Activation::sigmoid},
    {{3, 4, 2}, Activation::relu, Activation::linear},
    {{4, 3, 4, 2}, Activation::sigmoid, Activation::tanh},  // three layers, several outputs
    {{1, 1}, Activation::sigmoid, Activation::relu},
    {{4, 4, 4, 4}, Activation::tanh, Activation::sigmoid},
};

template <class T>
bpnn::NetworkConfig config_of(const TinyCase& c) {
  bpnn::NetworkConfig config;
  config.sizes = c.sizes;
  config.hidden_act = c.hidden;
  config.output_act = c.output;
  config.loss = bpnn::Loss::mse;
  config.precision = std::is_same_v<T, float> ? bpnn::Precision::f32 : bpnn::Precision::f64;
  return config;
}

// Every layer of `mlp` from one seeded generator (weights and biases in [−1, 1]).
template <class T>
void randomize(bpnn::Mlp<T>& mlp, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const auto& s = mlp.layers()[l];
    std::vector<T> w(s.in * s.out), b(s.out);
    for (T& v : w) v = static_cast<T>(u(rng));
    for (T& v : b) v = static_cast<T>(u(rng));
    mlp.set_layer(l, w.data(), b.data());
  }
}

// Every parameter in the public layout, layer by layer.
template <class T>
std::vector<T> parameters(const bpnn::Mlp<T>& mlp) {
  std::vector<T> all;
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const auto& s = mlp.layers()[l];
    std::vector<T> w(s.in * s.out), b(s.out);
    mlp.get_layer(l, w.data(), b.data());
    all.insert(all.end(), w.begin(), w.end());
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// The layer-by-layer step, as TrainerCore::sample_step takes it for networks that are not tiny.
template <class T>
double layered_step(bpnn::Mlp<T>& mlp, const T* x, const T* y, T lr, bpnn::Workspace<T>& ws) {
  mlp.forward(x, 0, 1, ws);
  const double loss = mlp.loss_and_output_delta(y, 0, 1, ws);
  bpnn::sgd_sample_in_place(mlp, x, ws, lr);
  return loss;
}

template <class T>
void check_tiny_path(const bpnn::kernels::KernelTable<T>& table, const TinyCase& c) {
  const bpnn::NetworkConfig config = config_of<T>(c);
  bpnn::Mlp<T> fused(config, table), layered(config, table),
      reference(config, bpnn::kernels::kernels_reference<T>());
  REQUIRE(fused.has_tiny_step());
  REQUIRE_FALSE(reference.has_tiny_step());
  randomize(fused, 7);
  randomize(layered, 7);
  randomize(reference, 7);
  bpnn::Workspace<T> ws_fused(fused, 1), ws_layered(layered, 1), ws_reference(reference, 1);
  const std::size_t in = c.sizes.front(), k = c.sizes.back();
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  const T lr = T(0.3);
  for (int step = 0; step < 50; ++step) {
    std::vector<T> x(in), y(k);
    for (T& v : x) v = static_cast<T>(u(rng));
    for (T& v : y) v = static_cast<T>(0.5 + 0.5 * u(rng));
    const double loss_fused = fused.sample_sgd_tiny(x.data(), y.data(), lr, ws_fused);
    const double loss_layered = layered_step(layered, x.data(), y.data(), lr, ws_layered);
    const double loss_reference = layered_step(reference, x.data(), y.data(), lr, ws_reference);
    INFO(table.arch << " step " << step);
    REQUIRE(std::memcmp(&loss_fused, &loss_layered, sizeof(double)) == 0);
    const std::vector<T> yhat_fused(ws_fused.activations.back().begin(),
                                    ws_fused.activations.back().begin() + k);
    const std::vector<T> yhat_layered(ws_layered.activations.back().begin(),
                                      ws_layered.activations.back().begin() + k);
    REQUIRE(same_bits(yhat_fused, yhat_layered));
    REQUIRE(same_bits(parameters(fused), parameters(layered)));
    // the packed arena too: padding lanes stay zero in both
    REQUIRE(same_bits(std::vector<T>(fused.arena().begin(), fused.arena().end()),
                      std::vector<T>(layered.arena().begin(), layered.arena().end())));
    const double tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-12;
    CHECK(loss_fused == Approx(loss_reference).epsilon(tolerance).margin(tolerance));
  }
  const std::vector<T> a = parameters(fused), r = parameters(reference);
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(static_cast<double>(a[i]) ==
          Approx(static_cast<double>(r[i])).margin(std::is_same_v<T, float> ? 1e-4 : 1e-12));
}

}  // namespace

TEMPLATE_TEST_CASE("the tiny per-sample step equals the layer-by-layer step bit for bit",
                   "[kernels][sample_path]", float, double) {
  for (const auto& t : bpnn::test::fast_tables<TestType>()) {
    // every table whose vectors hold a tiny layer (all but SSE2 f64) has the one-call step
    REQUIRE((t.table->sample_sgd_tiny != nullptr) == (t.lanes >= bpnn::kernels::tiny_max_width));
    if (!t.table->sample_sgd_tiny) continue;
    for (const TinyCase& c : tiny_cases) {
      std::string shape;
      for (std::size_t s : c.sizes) shape += std::to_string(s) + " ";
      INFO("sizes " << shape);
      check_tiny_path<TestType>(*t.table, c);
    }
  }
}

TEMPLATE_TEST_CASE("only tiny MSE networks take the one-call step", "[kernels][sample_path]",
                   float, double) {
  const auto& table = bpnn::kernels::kernels_select<TestType>();
  if (!table.sample_sgd_tiny) return;  // BPNN_ARCH=reference
  const auto takes = [&](std::vector<std::size_t> sizes, Activation out, bpnn::Loss loss) {
    bpnn::NetworkConfig c = config_of<TestType>({sizes, Activation::sigmoid, out});
    c.loss = loss;
    return bpnn::Mlp<TestType>(c, table).has_tiny_step();
  };
  CHECK(takes({2, 4, 1}, Activation::sigmoid, bpnn::Loss::mse));
  CHECK(takes({4, 4, 4, 4}, Activation::sigmoid, bpnn::Loss::mse));
  CHECK_FALSE(takes({2, 5, 1}, Activation::sigmoid, bpnn::Loss::mse));   // too wide
  CHECK_FALSE(takes({5, 4, 1}, Activation::sigmoid, bpnn::Loss::mse));   // too many inputs
  CHECK_FALSE(takes({2, 4, 4, 4, 1}, Activation::sigmoid, bpnn::Loss::mse));  // too deep
  CHECK_FALSE(takes({2, 4, 2}, Activation::softmax, bpnn::Loss::mse));
  CHECK_FALSE(takes({2, 4, 1}, Activation::sigmoid, bpnn::Loss::xent));
}

TEMPLATE_TEST_CASE("the tiny step leaves the weights alone when the loss is not finite",
                   "[kernels][sample_path]", float, double) {
  const auto& table = bpnn::kernels::kernels_select<TestType>();
  if (!table.sample_sgd_tiny) return;
  bpnn::Mlp<TestType> mlp(config_of<TestType>({{2, 4, 1}, Activation::relu, Activation::linear}),
                          table);
  REQUIRE(mlp.has_tiny_step());
  randomize(mlp, 3);
  // weights so large that ŷ overflows: E = inf
  const TestType big = std::numeric_limits<TestType>::max() / 4;
  const std::vector<TestType> w0(8, big), b0(4, big), w1(4, big), b1(1, big);
  mlp.set_layer(0, w0.data(), b0.data());
  mlp.set_layer(1, w1.data(), b1.data());
  const std::vector<TestType> before = parameters(mlp);
  bpnn::Workspace<TestType> ws(mlp, 1);
  const TestType x[2] = {1, 1}, y[1] = {0};
  const double loss = mlp.sample_sgd_tiny(x, y, TestType(0.1), ws);
  CHECK_FALSE(std::isfinite(loss));
  CHECK(same_bits(parameters(mlp), before));
}

// The tiny step computes in narrower registers than the dense kernels on AVX-512 (ymm, whose
// chain is shorter; sample_sgd_tiny.hpp) with the same instructions per lane. A 1-1 network with
// w = 1, b = 0 and lr = 0 makes its ŷ = act(x) for any x: compared bit for bit with the dense
// forward pass's act(x), sigmoid and tanh, for every 1031st f32 from 2^-26 (below it both give
// σ = 0.5, tanh = x) to 200 (past the sigmoid's clamp at 104 and tanh's at 10) of either sign and
// every 31st f32 in [−110, −86] (subnormal sigmoids); f64 likewise from 2^-55 to 800 (past its
// clamp at 746), [−750, −700] finer.
TEMPLATE_TEST_CASE("the tiny step's activations give the dense forward pass's bits over the range",
                   "[kernels][sample_path]", float, double) {
  using T = TestType;
  constexpr bool f32 = std::is_same_v<T, float>;
  using Bits = std::conditional_t<f32, std::uint32_t, std::uint64_t>;
  const auto from_bits = [](Bits u) { return std::bit_cast<T>(u); };
  const auto to_bits = [](T x) { return std::bit_cast<Bits>(x); };
  for (const auto& t : bpnn::test::fast_tables<T>()) {
    if (!t.table->sample_sgd_tiny) continue;
    for (const Activation act : {Activation::sigmoid, Activation::tanh}) {
      INFO(t.table->arch << " " << bpnn::to_string(act));
      const TinyCase c{{1, 1}, act, act};
      bpnn::Mlp<T> fused(config_of<T>(c), *t.table), layered(config_of<T>(c), *t.table);
      const T one = 1, zero = 0;
      fused.set_layer(0, &one, &zero);
      layered.set_layer(0, &one, &zero);
      bpnn::Workspace<T> ws_fused(fused, 1), ws_layered(layered, 1);
      const T y = T(0.5);
      std::size_t compared = 0, differ = 0;
      const auto check = [&](T x) {
        fused.sample_sgd_tiny(&x, &y, T(0), ws_fused);
        layered.forward(&x, 1, ws_layered);
        const T a = ws_fused.activations.back()[0], b = ws_layered.activations.back()[0];
        ++compared;
        if (to_bits(a) != to_bits(b) && ++differ <= 5)
          FAIL_CHECK(std::hexfloat << "x = " << x << ": tiny " << a << ", dense " << b);
      };
      const Bits sign = Bits(1) << (8 * sizeof(T) - 1);
      const Bits coarse = f32 ? 1031 : (Bits(1) << 40) + 4099;
      for (Bits u = to_bits(f32 ? T(0x1p-26) : T(0x1p-55)); u <= to_bits(f32 ? T(200) : T(800)); u += coarse) {
        check(from_bits(u));
        check(from_bits(u | sign));
      }
      const Bits fine = f32 ? 31 : (Bits(1) << 32) + 31;
      for (Bits u = to_bits(f32 ? T(86) : T(700)); u <= to_bits(f32 ? T(110) : T(750)); u += fine)
        check(from_bits(u | sign));
      CHECK(differ == 0);
      CHECK(compared > 300000);
      std::vector<T> w(1), b(1);
      fused.get_layer(0, w.data(), b.data());
      CHECK((w[0] == one && b[0] == zero));  // lr = 0 left the parameters alone
    }
  }
}
