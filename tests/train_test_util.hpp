#pragma once
// Seeded random training data and a network's parameters in one vector, for the tests that
// compare trainings bit for bit (thread counts, backends, optimizers).
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

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
