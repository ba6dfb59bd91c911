// bpnn::check_gradients: the engine's backward pass against central differences in f64.
#include "bpnn/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "bpnn/error.hpp"
#include "nn/network_impl.hpp"
#include "nn/random.hpp"

namespace bpnn {
namespace {

// Step of the difference quotient: a power of two, so w ± h and w ± 2h are exact in f64 for
// every |w| < 2^40 and the quotient divides by the step really taken.
constexpr double step = 0x1p-10;

struct Problem {
  std::vector<double> x, y;
  std::size_t n = 0;
};

// Inputs in (−1, 1); targets inside the output activation's range (probability rows for
// softmax), away from its edges so cross-entropy stays smooth.
Problem random_problem(const NetworkConfig& c, std::size_t n, Random& random) {
  Problem p;
  p.n = n;
  const std::size_t in = c.sizes.front(), k = c.sizes.back();
  for (std::size_t i = 0; i < n * in; ++i) p.x.push_back(2 * random.uniform01() - 1);
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<double> row(k);
    double sum = 0;
    for (double& v : row) {
      const double u = random.uniform01();
      switch (c.output_act) {
        case Activation::sigmoid:
        case Activation::softmax: v = 0.05 + 0.9 * u; break;
        case Activation::tanh: v = 1.8 * u - 0.9; break;
        case Activation::relu: v = 1.5 * u; break;
        case Activation::linear: v = 2 * u - 1; break;
      }
      sum += v;
    }
    for (double v : row) p.y.push_back(c.output_act == Activation::softmax ? v / sum : v);
  }
  return p;
}

template <class T>
double total_loss(const Mlp<T>& mlp, const T* x, const T* y, std::size_t n, Workspace<T>& ws) {
  mlp.forward(x, n, ws);
  return mlp.loss_and_output_delta(y, n, ws);
}

// Which ReLU units are on after the last forward pass: a step that changes this pattern crossed
// a kink, where E has no derivative for a difference quotient to approximate.
template <class T>
std::vector<bool> relu_pattern(const Mlp<T>& mlp, const Workspace<T>& ws, std::size_t n) {
  std::vector<bool> pattern;
  for (std::size_t l = 0; l < mlp.layers().size(); ++l)
    if (mlp.layers()[l].act == Activation::relu)
      for (std::size_t i = 0; i < n * mlp.layers()[l].out; ++i)
        pattern.push_back(ws.activations[l][i] > 0);
  return pattern;
}

// position[p] = the public index o·in + i of packed element p of layer l (or SIZE_MAX for
// padding), found by packing the indices themselves (exact in double).
std::vector<std::size_t> packed_positions(const Mlp<double>& mlp, std::size_t l) {
  const LayerSpec& s = mlp.layers()[l];
  std::vector<double> index(s.out * s.in);
  std::iota(index.begin(), index.end(), 1.0);
  std::vector<double> packed(mlp.kernels().packed_size(s.out, s.in), 0.0);
  mlp.kernels().pack(s.out, s.in, index.data(), packed.data());
  std::vector<std::size_t> public_to_packed(s.out * s.in);
  for (std::size_t p = 0; p < packed.size(); ++p)
    if (packed[p] != 0) public_to_packed[static_cast<std::size_t>(packed[p]) - 1] = p;
  return public_to_packed;
}

// The analytic gradient of Σ_rows E in T, in the public layout: per layer w:(out,in) then b:(out).
template <class T>
std::vector<std::vector<double>> analytic_gradient(const Mlp<T>& mlp, const Problem& p) {
  const std::vector<T> x(p.x.begin(), p.x.end()), y(p.y.begin(), p.y.end());
  Workspace<T> ws(mlp, p.n);
  std::vector<T> grad(mlp.arena().size(), T(0));
  total_loss(mlp, x.data(), y.data(), p.n, ws);
  mlp.backward(x.data(), p.n, ws, grad.data());
  std::vector<std::vector<double>> out;
  for (const LayerSpec& s : mlp.layers()) {
    std::vector<T> w(s.out * s.in);
    mlp.kernels().unpack(s.out, s.in, grad.data() + s.weight_offset, w.data());
    std::vector<double> layer(w.begin(), w.end());
    layer.insert(layer.end(), grad.begin() + s.bias_offset, grad.begin() + s.bias_offset + s.out);
    out.push_back(std::move(layer));
  }
  return out;
}

}  // namespace

GradientCheck check_gradients(const NetworkConfig& config, const GradientCheckOptions& options) {
  validate(config);
  if (options.rows == 0) throw Error(ErrorKind::argument, "gradient check: rows must be at least 1");
  Random random(options.seed);
  NetworkConfig c = config;
  c.init = Init::xavier;
  c.seed = options.seed;
  Network net(c);
  // Non-zero biases: with zero biases a ReLU unit fed all-zero inputs sits exactly on its kink.
  // The output layer's ReLU units get positive ones so the check has live outputs.
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    std::vector<double> bias(c.sizes[l + 1]);
    const bool relu_out = l + 1 == net.n_layers() && c.output_act == Activation::relu;
    for (double& b : bias) b = random.uniform01() - 0.5 + (relu_out ? 1.0 : 0.0);
    net.set_layer(l, net.weights(l), bias);
  }
  const Problem problem = random_problem(c, options.rows, random);

  // The reference: the same parameters in an f64 network, differentiated numerically.
  NetworkConfig c64 = c;
  c64.precision = Precision::f64;
  Network reference(c64);
  for (std::size_t l = 0; l < net.n_layers(); ++l)
    reference.set_layer(l, net.weights(l), net.bias(l));
  Mlp<double>& mlp64 = std::get<Mlp<double>>(NetworkAccess::impl(reference).mlp);

  const std::vector<std::vector<double>> analytic = std::visit(
      [&](const auto& mlp) { return analytic_gradient(mlp, problem); }, NetworkAccess::impl(net).mlp);

  Workspace<double> ws(mlp64, problem.n);
  const double* x = problem.x.data();
  const double* y = problem.y.data();
  total_loss(mlp64, x, y, problem.n, ws);
  const std::vector<bool> base_pattern = relu_pattern(mlp64, ws, problem.n);

  GradientCheck result;
  for (std::size_t l = 0; l < mlp64.layers().size(); ++l) {
    const LayerSpec& s = mlp64.layers()[l];
    const std::vector<std::size_t> packed_of = packed_positions(mlp64, l);
    const std::size_t count = s.out * s.in + s.out;
    std::vector<std::size_t> params(count);
    std::iota(params.begin(), params.end(), std::size_t{0});
    if (count > options.max_params_per_layer) {  // a seeded sample, in ascending order
      random.shuffle(params.begin(), count);
      params.resize(options.max_params_per_layer);
      std::sort(params.begin(), params.end());
    }
    LayerGradientCheck check;
    for (std::size_t i : params) {
      const bool is_bias = i >= s.out * s.in;
      double& param = mlp64.arena()[is_bias ? s.bias_offset + (i - s.out * s.in)
                                            : s.weight_offset + packed_of[i]];
      const double saved = param;
      double loss[4];
      bool kink = false;
      const double steps[4] = {step, -step, 2 * step, -2 * step};
      for (int k = 0; k < 4; ++k) {
        param = saved + steps[k];
        loss[k] = total_loss(mlp64, x, y, problem.n, ws);
        kink = kink || relu_pattern(mlp64, ws, problem.n) != base_pattern;
      }
      param = saved;
      if (kink) {
        ++check.skipped;
        continue;
      }
      // f'(w) = [8(E(w+h) − E(w−h)) − (E(w+2h) − E(w−2h))] / 12h + O(h⁴)
      const double numeric = (8 * (loss[0] - loss[1]) - (loss[2] - loss[3])) / (12 * step);
      const double a = analytic[l][i];
      const double error =
          std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), 1e-8});
      ++check.checked;
      if (error >= check.worst) {
        check.worst = error;
        check.analytic = a;
        check.numeric = numeric;
        check.worst_is_bias = is_bias;
        check.worst_row = is_bias ? i - s.out * s.in : i / s.in;
        check.worst_column = is_bias ? 0 : i % s.in;
      }
    }
    result.worst = std::max(result.worst, check.worst);
    result.layers.push_back(check);
  }
  return result;
}

}  // namespace bpnn
