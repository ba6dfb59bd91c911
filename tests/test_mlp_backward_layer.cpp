// Mlp::backward_data_layer (nn/mlp.hpp): the δ pass one layer at a time, as the data-parallel step
// takes it (every shard's δ of layer l, then of layer l − 1, ...), gives backward_data's bits.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "kernels/kernels.hpp"
#include "nn/mlp.hpp"

namespace {

template <class T>
bpnn::NetworkConfig layered_config(std::vector<std::size_t> sizes) {
  bpnn::NetworkConfig config;
  config.sizes = std::move(sizes);
  config.hidden_act = bpnn::Activation::tanh;
  config.output_act = bpnn::Activation::softmax;
  config.loss = bpnn::Loss::xent;
  config.precision = std::is_same_v<T, float> ? bpnn::Precision::f32 : bpnn::Precision::f64;
  return config;
}

}  // namespace

TEMPLATE_TEST_CASE("backward_data_layer, layer by layer over shards, gives backward_data's bits", "[mlp][exchange]",
                   float, double) {
  using T = TestType;
  // mixed widths, wider and narrower than a kernel block; shards of 1, 5 and 13 rows
  bpnn::Mlp<T> mlp(layered_config<T>({7, 33, 5, 20, 17, 4}), bpnn::kernels::kernels_select<T>());
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const bpnn::LayerSpec& s = mlp.layers()[l];
    std::vector<T> w(s.in * s.out), b(s.out);
    for (T& v : w) v = static_cast<T>(u(rng));
    for (T& v : b) v = static_cast<T>(u(rng));
    mlp.set_layer(l, w.data(), b.data());
  }
  const std::vector<std::pair<std::size_t, std::size_t>> shards = {{0, 5}, {5, 1}, {6, 13}};
  const std::size_t rows = 19, in = mlp.n_inputs(), k = mlp.n_outputs();
  std::vector<T> x(rows * in), y(rows * k, T(0));
  for (T& v : x) v = static_cast<T>(u(rng));
  for (std::size_t r = 0; r < rows; ++r) y[r * k + r % k] = T(1);

  bpnn::Workspace<T> whole(mlp, rows), layered(mlp, rows);
  for (const auto& [first, n] : shards)
    for (bpnn::Workspace<T>* ws : {&whole, &layered}) {
      mlp.forward(x.data(), first, n, *ws);
      mlp.loss_and_output_delta(y.data(), first, n, *ws);
    }
  for (const auto& [first, n] : shards) mlp.backward_data(first, n, whole);
  for (std::size_t l = mlp.layers().size() - 1; l > 0; --l)
    for (const auto& [first, n] : shards) mlp.backward_data_layer(l, first, n, layered);

  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    INFO("layer " << l);
    const std::size_t count = rows * mlp.layers()[l].out;
    REQUIRE(std::memcmp(whole.deltas[l].data(), layered.deltas[l].data(), count * sizeof(T)) == 0);
  }
  // and the δ are not trivially equal: every layer's are non-zero
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    bool any = false;
    for (std::size_t i = 0; i < rows * mlp.layers()[l].out; ++i) any = any || layered.deltas[l][i] != T(0);
    CHECK(any);
  }
}
