#pragma once
// The vocabulary of a network: activations, losses, precisions, initialisers.
#include <string>
#include <string_view>

#include "bpnn/export.hpp"

namespace bpnn {

enum class Activation {
  sigmoid,  // y = 1/(1+exp(-z))
  tanh,     // y = tanh(z)
  relu,     // y = max(0, z)
  linear,   // y = z
  softmax,  // y_j = exp(z_j)/Σ_k exp(z_k), output layer only
};

enum class Loss {
  mse,   // E = ½Σ_j (ŷ_j − y_j)²  (the seed's error)
  xent,  // softmax output: E = −Σ_j y_j log ŷ_j;
         // sigmoid output: E = −Σ_j [y_j log ŷ_j + (1−y_j) log(1−ŷ_j)]; both from the logits
};

enum class Precision { f32, f64 };

enum class Init {
  zero,     // every weight and bias 0 (the seed)
  uniform,  // weights U(−a, a) with a = TrainConfig/NetworkConfig::init_scale, biases 0
  xavier,   // Glorot uniform: U(−√(6/(in+out)), +√(6/(in+out))), biases 0
  he,       // He uniform: U(−√(6/in), +√(6/in)), biases 0
};

BPNN_API std::string_view to_string(Activation a);
BPNN_API std::string_view to_string(Loss l);
BPNN_API std::string_view to_string(Precision p);
BPNN_API std::string_view to_string(Init i);

// Parse the names above ("sigmoid", "mse", "f32", "xavier", ...); throw Error(argument) otherwise.
BPNN_API Activation parse_activation(std::string_view name);
BPNN_API Loss parse_loss(std::string_view name);
BPNN_API Precision parse_precision(std::string_view name);
BPNN_API Init parse_init(std::string_view name);

}  // namespace bpnn
