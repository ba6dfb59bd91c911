#pragma once
// Seeded random training data and a network's parameters in one vector, for the tests that
// compare trainings bit for bit (thread counts, backends, optimizers).
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/network.hpp"

namespace bpnn_test {

struct TrainData {
  std::vector<double> x, y;
  std::size_t n;
};

// x:(n, in) uniform in (−1, 1), y:(n, out) uniform in (0, 1), from `seed`.
inline TrainData random_train_data(std::size_t n, std::size_t in, std::size_t out, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1), p(0, 1);
  TrainData d{{}, {}, n};
  for (std::size_t i = 0; i < n * in; ++i) d.x.push_back(u(gen));
  for (std::size_t i = 0; i < n * out; ++i) d.y.push_back(p(gen));
  return d;
}

// x:(n, in) uniform in (−1, 1) and one-hot targets over `classes` classes, from `seed`: noise
// (nothing to learn, so a fast learner overfits) unless `learnable`, where the class follows the
// first input, with noise.
inline bpnn::Dataset random_class_data(std::size_t n, std::size_t in, std::size_t classes,
                                       std::uint64_t seed, bool learnable) {
  const TrainData raw = random_train_data(n, in, 1, seed);
  bpnn::Dataset d;
  d.n = n;
  d.inputs = in;
  d.outputs = classes;
  d.x = raw.x;
  d.y.assign(n * classes, 0.0);
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t k = learnable ? (raw.x[r * in] + 0.3 * raw.y[r] > 0.1 ? 1 : 0) % classes
                                    : static_cast<std::size_t>(raw.y[r] * double(classes)) % classes;
    d.y[r * classes + k] = 1.0;
  }
  return d;
}

// Every parameter, layer by layer: weights [out, in] row-major, then biases.
inline std::vector<double> all_parameters(const bpnn::Network& net) {
  std::vector<double> all;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    const auto w = net.weights(l), b = net.bias(l);
    all.insert(all.end(), w.begin(), w.end());
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

}  // namespace bpnn_test
