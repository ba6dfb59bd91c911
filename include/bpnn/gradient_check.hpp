#pragma once
// Back-propagation checked against finite differences, for any network configuration: the
// gradient the engine computes (in the network's precision) against a fourth-order central
// difference of the loss computed in f64, on seeded random data.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"

namespace bpnn {

struct GradientCheckOptions {
  std::size_t rows = 7;                    // random samples in the batch whose loss is checked
  std::uint64_t seed = 1;                  // seeds the weights, biases and data
  std::size_t max_params_per_layer = 2000; // a larger layer is checked on a seeded sample
};

struct LayerGradientCheck {
  std::size_t checked = 0;  // parameters compared
  std::size_t skipped = 0;  // parameters whose step moved a ReLU across its kink (no derivative)
  // The worst relative error |a − n| / max(|a|, |n|, 1e-8) over the checked parameters, with
  // the analytic (a) and numeric (n) derivative where it occurred.
  double worst = 0;
  double analytic = 0, numeric = 0;
  bool worst_is_bias = false;
  std::size_t worst_row = 0, worst_column = 0;  // weight (row = output, column = input) or bias
};

struct GradientCheck {
  std::vector<LayerGradientCheck> layers;  // one per dense layer
  double worst = 0;                        // the worst over all layers
};

// Builds a network from `config` (its initialiser and seed replaced by uniform weights and
// non-zero biases drawn from options.seed), draws inputs and targets that suit its output
// activation, and compares ∂E/∂θ of the summed loss over the rows, parameter by parameter.
// Throws Error(argument) for a config validate() refuses.
BPNN_API GradientCheck check_gradients(const NetworkConfig& config,
                                       const GradientCheckOptions& options = {});

}  // namespace bpnn
