// bpnn::Network: validation, initialisation, prediction and parameter access over Mlp<T>.
#include "bpnn/network.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "bpnn/error.hpp"
#include "nn/network_impl.hpp"
#include "nn/random.hpp"
#include "nn/size_check.hpp"

namespace bpnn {
namespace {

std::variant<Mlp<float>, Mlp<double>> make_mlp(const NetworkConfig& config) {
  if (config.precision == Precision::f32)
    return Mlp<float>(config, kernels::kernels_select<float>());
  return Mlp<double>(config, kernels::kernels_select<double>());
}

// The half-width a of U(−a, a) for a layer's weights, per the initialiser.
double init_bound(const NetworkConfig& config, std::size_t in, std::size_t out) {
  switch (config.init) {
    case Init::zero: return 0;
    case Init::uniform: return config.init_scale;
    case Init::xavier: return std::sqrt(6.0 / static_cast<double>(in + out));
    case Init::he: return std::sqrt(6.0 / static_cast<double>(in));
  }
  return 0;
}

// Draws every layer's weights from U(−a, a) in the public order (row by row), in T, packing them
// a block of rows at a time so a big layer never exists twice in memory. Biases stay 0.
template <class T>
void init_weights(Mlp<T>& mlp, const NetworkConfig& config, Random& random) {
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const LayerSpec& s = mlp.layers()[l];
    const double a = init_bound(config, s.in, s.out);
    if (a == 0) continue;
    const std::size_t unit = mlp.kernels().out_block;
    const std::size_t block = unit == 0 ? s.out : std::max<std::size_t>(1, 16384 / (unit * s.in) + 1) * unit;
    std::vector<T> rows(std::min(block, s.out) * s.in);
    for (std::size_t first = 0; first < s.out; first += block) {
      const std::size_t count = std::min(block, s.out - first);
      for (std::size_t i = 0; i < count * s.in; ++i)
        rows[i] = static_cast<T>(a * (2 * random.uniform01() - 1));
      mlp.set_weight_rows(l, first, count, rows.data());
    }
  }
}

// Rows of predictions computed per workspace fill.
constexpr std::size_t predict_block_rows = 256;

// x:(n, in) raw → y:(n, k): the scaler (in double), then the network in T, a block at a time.
// x:(n, in) raw → y:(n, width of `layer`): layer 0 is the scaled input, layer L the output.
template <class T, class U>
void predict_rows(const Mlp<T>& mlp, const InputScaler& scaler, const U* x, std::size_t n, U* y,
                  std::size_t layer) {
  const std::size_t in = mlp.n_inputs(), layers = mlp.layers().size();
  const std::size_t k = layer == 0 ? in : mlp.layers()[layer - 1].out;
  Workspace<T> ws(mlp, std::min(n, predict_block_rows));
  AlignedVector<T> converted;
  std::vector<double> scaled;
  if (scaler.active()) scaled.resize(ws.capacity * in);
  if (scaler.active() || !std::is_same_v<T, U>) converted.resize(ws.capacity * in);
  for (std::size_t r = 0; r < n; r += ws.capacity) {
    const std::size_t rows = std::min(ws.capacity, n - r);
    const T* xin;
    if (scaler.active()) {
      std::copy(x + r * in, x + (r + rows) * in, scaled.begin());
      scaler_apply(scaler, scaled.data(), rows, in);
      std::transform(scaled.begin(), scaled.begin() + rows * in, converted.begin(),
                     [](double v) { return static_cast<T>(v); });
      xin = converted.data();
    } else if constexpr (std::is_same_v<T, U>) {
      xin = x + r * in;
    } else {
      std::transform(x + r * in, x + (r + rows) * in, converted.begin(),
                     [](U v) { return static_cast<T>(v); });
      xin = converted.data();
    }
    const T* out = xin;
    if (layer == layers) {
      mlp.forward(xin, rows, ws);
      out = ws.activations.back().data();
    } else if (layer > 0) {  // a hidden layer: stop there
      for (std::size_t l = 0; l < layer; ++l) mlp.forward_layer(l, xin, 0, rows, ws);
      out = ws.activations[layer - 1].data();
    }
    std::transform(out, out + rows * k, y + r * k, [](T v) { return static_cast<U>(v); });
  }
}

}  // namespace

void validate(const NetworkConfig& c) {
  if (c.sizes.size() < 2)
    throw Error(ErrorKind::argument, "network sizes: need at least an input and an output width");
  for (std::size_t i = 0; i < c.sizes.size(); ++i) {
    if (c.sizes[i] == 0)
      throw Error(ErrorKind::argument, "network sizes: width " + std::to_string(i) + " is zero");
    if (c.sizes[i] > max_layer_width)
      throw Error(ErrorKind::argument, "network sizes: width " + std::to_string(i) + " = " +
                                           std::to_string(c.sizes[i]) + " is larger than " +
                                           std::to_string(max_layer_width));
  }
  std::string sizes;
  for (std::size_t w : c.sizes) sizes += (sizes.empty() ? "" : ",") + std::to_string(w);
  check_fits_in_memory(
      arena_bytes_bound(c.sizes, c.precision == Precision::f64 ? sizeof(double) : sizeof(float)),
      "network sizes " + sizes + ": the parameters alone");
  if (c.hidden_act == Activation::softmax)
    throw Error(ErrorKind::argument, "hidden activation: softmax is only for the output layer");
  if (c.output_act == Activation::softmax && c.sizes.back() < 2)
    throw Error(ErrorKind::argument, "output activation: softmax needs at least two outputs");
  if (c.loss == Loss::xent && c.output_act != Activation::softmax &&
      c.output_act != Activation::sigmoid)
    throw Error(ErrorKind::argument,
                "loss: cross-entropy needs a sigmoid or softmax output, not " +
                    std::string(to_string(c.output_act)));
  if (c.init == Init::uniform && !(std::isfinite(c.init_scale) && c.init_scale > 0))
    throw Error(ErrorKind::argument, "init scale: must be a positive finite number");
}

Network::Network(const NetworkConfig& config)
    : impl_(std::make_unique<Impl>(Impl{config, {}, make_mlp(config), {}, {}})) {
  Random random(config.seed);
  std::visit([&](auto& mlp) { init_weights(mlp, config, random); }, impl_->mlp);
}

Network::Network(const Network& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
Network& Network::operator=(const Network& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

const NetworkConfig& Network::config() const { return impl_->config; }
std::size_t Network::n_inputs() const { return impl_->config.sizes.front(); }
std::size_t Network::n_outputs() const { return impl_->config.sizes.back(); }
std::size_t Network::n_layers() const { return impl_->config.sizes.size() - 1; }
std::size_t Network::n_params() const {
  std::size_t total = 0;
  for (std::size_t l = 0; l < n_layers(); ++l)
    total += (impl_->config.sizes[l] + 1) * impl_->config.sizes[l + 1];
  return total;
}

void Network::predict(const float* x, std::size_t n, float* y) const {
  if (n == 0) return;
  std::visit([&](const auto& mlp) { predict_rows(mlp, impl_->scaler, x, n, y, n_layers()); },
             impl_->mlp);
}
void Network::predict(const double* x, std::size_t n, double* y) const {
  if (n == 0) return;
  std::visit([&](const auto& mlp) { predict_rows(mlp, impl_->scaler, x, n, y, n_layers()); },
             impl_->mlp);
}

namespace {

template <class U>
void predict_layer_rows(const Network::Impl& impl, std::size_t n_layers, const U* x, std::size_t n,
                        std::size_t layer, U* y) {
  if (layer > n_layers)
    throw Error(ErrorKind::argument, "layer " + std::to_string(layer) + " out of range (0 = the "
                                     "scaled inputs … " + std::to_string(n_layers) + " = the outputs)");
  if (n == 0) return;
  std::visit([&](const auto& mlp) { predict_rows(mlp, impl.scaler, x, n, y, layer); }, impl.mlp);
}

}  // namespace

std::size_t Network::width(std::size_t layer) const {
  if (layer > n_layers())
    throw Error(ErrorKind::argument, "layer " + std::to_string(layer) + " out of range");
  return impl_->config.sizes[layer];
}

void Network::predict_layer(const float* x, std::size_t n, std::size_t layer, float* y) const {
  predict_layer_rows(*impl_, n_layers(), x, n, layer, y);
}
void Network::predict_layer(const double* x, std::size_t n, std::size_t layer, double* y) const {
  predict_layer_rows(*impl_, n_layers(), x, n, layer, y);
}

std::vector<double> Network::weights(std::size_t layer) const {
  if (layer >= n_layers())
    throw Error(ErrorKind::argument, "layer " + std::to_string(layer) + " out of range");
  return std::visit(
      [&](const auto& mlp) {
        using T = typename std::decay_t<decltype(mlp.arena())>::value_type;
        const LayerSpec& s = mlp.layers()[layer];
        std::vector<T> w(s.in * s.out), b(s.out);
        mlp.get_layer(layer, w.data(), b.data());
        return std::vector<double>(w.begin(), w.end());
      },
      impl_->mlp);
}

std::vector<double> Network::bias(std::size_t layer) const {
  if (layer >= n_layers())
    throw Error(ErrorKind::argument, "layer " + std::to_string(layer) + " out of range");
  return std::visit(
      [&](const auto& mlp) {
        const LayerSpec& s = mlp.layers()[layer];
        const auto* b = mlp.arena().data() + s.bias_offset;
        return std::vector<double>(b, b + s.out);
      },
      impl_->mlp);
}

void Network::set_layer(std::size_t layer, std::span<const double> weights,
                        std::span<const double> bias) {
  if (layer >= n_layers())
    throw Error(ErrorKind::argument, "layer " + std::to_string(layer) + " out of range");
  const std::size_t in = impl_->config.sizes[layer], out = impl_->config.sizes[layer + 1];
  if (weights.size() != in * out || bias.size() != out)
    throw Error(ErrorKind::argument,
                "layer " + std::to_string(layer) + ": expected " + std::to_string(out) + "x" +
                    std::to_string(in) + " weights and " + std::to_string(out) + " biases, got " +
                    std::to_string(weights.size()) + " and " + std::to_string(bias.size()));
  const auto not_finite = [](double v) { return !std::isfinite(v); };
  if (const auto it = std::find_if(weights.begin(), weights.end(), not_finite); it != weights.end())
    throw Error(ErrorKind::argument, "layer " + std::to_string(layer) + ": weight " +
                                         std::to_string(it - weights.begin()) + " is not finite");
  if (const auto it = std::find_if(bias.begin(), bias.end(), not_finite); it != bias.end())
    throw Error(ErrorKind::argument, "layer " + std::to_string(layer) + ": bias " +
                                         std::to_string(it - bias.begin()) + " is not finite");
  BusyLock lock(impl_->busy, "set_layer");
  std::visit(
      [&](auto& mlp) {
        using T = typename std::decay_t<decltype(mlp.arena())>::value_type;
        std::vector<T> w(weights.begin(), weights.end()), b(bias.begin(), bias.end());
        const auto overflowed = [](T v) { return !std::isfinite(v); };
        if (std::any_of(w.begin(), w.end(), overflowed) || std::any_of(b.begin(), b.end(), overflowed))
          throw Error(ErrorKind::argument, "layer " + std::to_string(layer) +
                                               ": a weight or bias overflows the network's precision");
        mlp.set_layer(layer, w.data(), b.data());
      },
      impl_->mlp);
}

const InputScaler& Network::scaler() const { return impl_->scaler; }

void Network::set_scaler(InputScaler scaler) {
  scaler_validate(scaler, n_inputs());
  BusyLock lock(impl_->busy, "set_scaler");
  impl_->scaler = std::move(scaler);
}

std::map<std::string, std::string>& Network::metadata() { return impl_->metadata; }
const std::map<std::string, std::string>& Network::metadata() const { return impl_->metadata; }

std::string Network::kernel_arch() const {
  return std::visit([](const auto& mlp) { return std::string(mlp.kernels().arch); }, impl_->mlp);
}

}  // namespace bpnn
