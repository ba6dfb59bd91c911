#pragma once
// A network: a stack of dense layers over one parameter arena, in f32 or f64 chosen at run time.
//
// Bias and threshold: the seed tutorial gives every unit a threshold θ fed by a constant −1 input,
// z = Σ w·x − θ. bpnn stores a bias b instead, z = Σ w·x + b, so b = −θ: the same unit, the same
// gradient (∂E/∂b = −∂E/∂θ), and the same trained network.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bpnn/export.hpp"
#include "bpnn/scaler.hpp"
#include "bpnn/types.hpp"

namespace bpnn {

struct NetworkConfig {
  std::vector<std::size_t> sizes;  // layer widths, inputs first: {2, 4, 1} is the seed network
  Activation hidden_act = Activation::sigmoid;
  Activation output_act = Activation::sigmoid;
  Loss loss = Loss::mse;
  Precision precision = Precision::f32;
  Init init = Init::xavier;
  double init_scale = 0.5;  // a of Init::uniform
  std::uint64_t seed = 1;   // seeds the initialiser; the same seed gives the same weights everywhere
};

// Throws Error(argument) with a message naming the field when the config cannot make a network:
// fewer than two sizes, a zero width, softmax in a hidden layer, softmax with one output,
// cross-entropy without a sigmoid or softmax output.
BPNN_API void validate(const NetworkConfig& config);

// Thread-safety: any number of threads may call the const members (predict, weights, ...) on one
// shared Network at the same time; training needs the Network alone; distinct Networks are
// independent.
class BPNN_API Network {
 public:
  explicit Network(const NetworkConfig& config);  // validates, then initialises per config.init
  Network(const Network& other);
  Network& operator=(const Network& other);
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();

  const NetworkConfig& config() const;
  std::size_t n_inputs() const;
  std::size_t n_outputs() const;
  std::size_t n_layers() const;  // dense layers: config().sizes.size() − 1
  std::size_t n_params() const;  // weights and biases of all layers

  // x:(n, inputs) → y:(n, outputs), row-major. Either precision works with either network. Raw
  // inputs: the model's scaler, when it has one, is applied first (in double).
  void predict(const float* x, std::size_t n, float* y) const;
  void predict(const double* x, std::size_t n, double* y) const;

  // The activations of layer `layer`, counted as in config().sizes: 0 = the inputs after the
  // model's scaler, 1 = the first hidden layer, …, n_layers() = the outputs (what predict
  // gives). x:(n, inputs) raw → y:(n, width(layer)). For a 64-8-64 autoencoder, layer 1 is the
  // 8-number code. Error(argument) when layer > n_layers().
  void predict_layer(const float* x, std::size_t n, std::size_t layer, float* y) const;
  void predict_layer(const double* x, std::size_t n, std::size_t layer, double* y) const;
  std::size_t width(std::size_t layer) const;  // config().sizes[layer]

  // Layer i's weights, [out, in] row-major (PyTorch nn.Linear layout), and bias [out]. Values are
  // returned as double, which holds f32 weights exactly.
  std::vector<double> weights(std::size_t layer) const;
  std::vector<double> bias(std::size_t layer) const;
  // Replace layer i's parameters (rounded to the network's precision). Sizes must match.
  void set_layer(std::size_t layer, std::span<const double> weights, std::span<const double> bias);

  // The input scaling kept with the model (bpnn/scaler.hpp): predict applies it to raw inputs.
  // set_scaler validates it against the inputs (Error(argument)) and takes the busy flag.
  // Training takes raw inputs too: the trainer scales its copy of the data with this scaler.
  const InputScaler& scaler() const;
  void set_scaler(InputScaler scaler);

  // Free-form key/value pairs saved with the model (input column names, class labels, ...).
  std::map<std::string, std::string>& metadata();
  const std::map<std::string, std::string>& metadata() const;

  // Name of the kernel instruction set this network runs on ("avx512", "avx2", "sse2").
  std::string kernel_arch() const;

  struct Impl;  // defined inside the engine

 private:
  friend struct NetworkAccess;  // the engine's internal accessor (engine/nn/network_impl.hpp)
  std::unique_ptr<Impl> impl_;
};

}  // namespace bpnn
