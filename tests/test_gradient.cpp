// Every backward pass against central finite differences: all hidden activations × output
// activations × losses, random nets with 2–3 hidden layers, f64 and f32.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "bpnn/network.hpp"
#include "nn/network_impl.hpp"

namespace {

using bpnn::Activation;
using bpnn::Loss;

template <class T>
struct Problem {
  std::vector<T> x, y;
  std::size_t n;
};

template <class T>
Problem<T> random_problem(const bpnn::NetworkConfig& c, std::size_t n, std::mt19937_64& gen) {
  std::uniform_real_distribution<double> u(-1, 1), p(0.05, 0.95);
  Problem<T> pr{{}, {}, n};
  for (std::size_t i = 0; i < n * c.sizes.front(); ++i) pr.x.push_back(T(u(gen)));
  const std::size_t k = c.sizes.back();
  for (std::size_t r = 0; r < n; ++r) {
    double sum = 0;
    std::vector<double> row(k);
    for (auto& v : row) sum += (v = p(gen));
    for (auto& v : row) pr.y.push_back(T(c.output_act == Activation::softmax ? v / sum : v));
  }
  return pr;
}

// Σ_rows E for the network's current parameters
template <class T>
double total_loss(const bpnn::Mlp<T>& mlp, const Problem<T>& pr, bpnn::Workspace<T>& ws) {
  mlp.forward(pr.x.data(), pr.n, ws);
  return mlp.loss_and_output_delta(pr.y.data(), pr.n, ws);
}

// Which ReLU units are active after the last forward: a perturbation that changes this pattern
// crossed a kink, where E has no derivative for central differences to approximate.
template <class T>
std::vector<bool> relu_pattern(const bpnn::Mlp<T>& mlp, const bpnn::Workspace<T>& ws, std::size_t n) {
  std::vector<bool> pattern;
  for (std::size_t l = 0; l < mlp.layers().size(); ++l)
    if (mlp.layers()[l].act == Activation::relu)
      for (std::size_t i = 0; i < n * mlp.layers()[l].out; ++i) pattern.push_back(ws.activations[l][i] > T(0));
  return pattern;
}

// ‖g − g_fd‖ / max(‖g‖, ‖g_fd‖) over every weight and bias, in the public layout
template <class T>
double gradient_error(bpnn::Network& net, const Problem<T>& pr, double eps) {
  auto& mlp = std::get<bpnn::Mlp<T>>(bpnn::NetworkAccess::impl(net).mlp);
  bpnn::Workspace<T> ws(mlp, pr.n);
  std::vector<T> grad(mlp.arena().size(), T(0));
  total_loss(mlp, pr, ws);
  mlp.backward(pr.x.data(), pr.n, ws, grad.data());

  double diff2 = 0, g2 = 0, fd2 = 0;
  std::size_t skipped = 0, total = 0;
  for (std::size_t l = 0; l < mlp.layers().size(); ++l) {
    const bpnn::LayerSpec& s = mlp.layers()[l];
    std::vector<T> w(s.in * s.out), b(s.out), gw(s.in * s.out);
    mlp.get_layer(l, w.data(), b.data());
    mlp.kernels().unpack(s.out, s.in, grad.data() + s.weight_offset, gw.data());
    std::vector<T> analytic(gw);
    analytic.insert(analytic.end(), grad.begin() + s.bias_offset, grad.begin() + s.bias_offset + s.out);
    for (std::size_t i = 0; i < analytic.size(); ++i, ++total) {
      T& param = i < w.size() ? w[i] : b[i - w.size()];
      const T saved = param;
      param = saved + T(eps);
      mlp.set_layer(l, w.data(), b.data());
      const double up = total_loss(mlp, pr, ws);
      const std::vector<bool> pattern_up = relu_pattern(mlp, ws, pr.n);
      param = saved - T(eps);
      mlp.set_layer(l, w.data(), b.data());
      const double down = total_loss(mlp, pr, ws);
      if (relu_pattern(mlp, ws, pr.n) != pattern_up) {  // crossed a ReLU kink: no derivative here
        param = saved;
        mlp.set_layer(l, w.data(), b.data());
        ++skipped;
        continue;
      }
      param = saved;
      mlp.set_layer(l, w.data(), b.data());
      const double h = double(saved + T(eps)) - double(saved - T(eps));  // the step really taken
      const double fd = (up - down) / h;
      diff2 += (fd - analytic[i]) * (fd - analytic[i]);
      g2 += double(analytic[i]) * analytic[i];
      fd2 += fd * fd;
    }
  }
  CHECK(skipped * 10 <= total);  // the check still covers at least 90% of the parameters
  return std::sqrt(diff2) / std::max({std::sqrt(g2), std::sqrt(fd2), 1e-12});
}

template <class T>
void check_all_pairs(bpnn::Precision precision, double eps, double tolerance) {
  std::mt19937_64 gen(2024);
  const Activation hidden[] = {Activation::sigmoid, Activation::tanh, Activation::relu,
                               Activation::linear};
  const Activation outputs[] = {Activation::sigmoid, Activation::tanh, Activation::relu,
                                Activation::linear, Activation::softmax};
  int case_index = 0;
  for (Activation h : hidden)
    for (Activation o : outputs)
      for (Loss loss : {Loss::mse, Loss::xent}) {
        if (loss == Loss::xent && o != Activation::sigmoid && o != Activation::softmax) continue;
        bpnn::NetworkConfig c;
        const std::size_t depth = 2 + case_index++ % 2;  // 2 or 3 hidden layers
        c.sizes = {5};
        for (std::size_t d = 0; d < depth; ++d) c.sizes.push_back(4 + d * 3);
        c.sizes.push_back(3);
        c.hidden_act = h;
        c.output_act = o;
        c.loss = loss;
        c.precision = precision;
        c.init = bpnn::Init::uniform;
        c.init_scale = 0.8;
        c.seed = static_cast<std::uint64_t>(case_index);
        bpnn::Network net(c);
        // Random non-zero biases: with zero biases a ReLU unit whose inputs are all zero sits
        // exactly on its kink, where central differences see half the slope. The output layer's
        // ReLU units get positive biases so the check has live outputs to look at.
        std::uniform_real_distribution<double> bias_draw(-0.5, 0.5);
        for (std::size_t l = 0; l < net.n_layers(); ++l) {
          std::vector<double> bias(c.sizes[l + 1]);
          for (double& v : bias) v = bias_draw(gen) + (l + 1 == net.n_layers() && o == Activation::relu ? 1.0 : 0.0);
          net.set_layer(l, net.weights(l), bias);
        }
        const auto pr = random_problem<T>(c, 7, gen);
        const double err = gradient_error<T>(net, pr, eps);
        INFO("hidden " << bpnn::to_string(h) << ", output " << bpnn::to_string(o) << ", loss "
                       << bpnn::to_string(loss) << ", " << bpnn::to_string(precision)
                       << ", relative error " << err);
        CHECK(err <= tolerance);
      }
}

}  // namespace

TEST_CASE("backward matches central differences in f64", "[gradient]") {
  check_all_pairs<double>(bpnn::Precision::f64, 1e-6, 1e-6);
}

TEST_CASE("backward matches central differences in f32", "[gradient]") {
  check_all_pairs<float>(bpnn::Precision::f32, 1e-3, 1e-2);
}
