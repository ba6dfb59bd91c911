// Real learning: XOR (pattern recognition) and sin(x) on [−π, π] (function approximation).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "bpnn/network.hpp"
#include "bpnn/train.hpp"

TEST_CASE("a 2-4-1 sigmoid network learns XOR", "[learning]") {
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
    bpnn::NetworkConfig c;
    c.sizes = {2, 4, 1};
    c.precision = precision;
    c.init = bpnn::Init::uniform;
    c.init_scale = 1.0;
    c.seed = 3;
    bpnn::Network net(c);
    const double x[] = {0, 0, 0, 1, 1, 0, 1, 1}, y[] = {0, 1, 1, 0};
    bpnn::TrainConfig t;
    t.learning_rate = 2.0;
    t.momentum = 0.5;
    t.batch = 1;
    t.epochs = 3000;
    bpnn::Trainer trainer(net, t, x, y, 4);
    const bpnn::TrainReport report = trainer.run();
    double out[4];
    net.predict(x, 4, out);
    INFO(bpnn::to_string(precision) << ": outputs " << out[0] << " " << out[1] << " " << out[2]
                                    << " " << out[3] << ", final loss " << report.final_loss);
    CHECK(out[0] < 0.5);
    CHECK(out[1] > 0.5);
    CHECK(out[2] > 0.5);
    CHECK(out[3] < 0.5);
  }
}

TEST_CASE("a tanh network approximates sin(x) on [-pi, pi] to MSE <= 1e-3", "[learning]") {
  const std::size_t n = 256;
  std::vector<double> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = -M_PI + 2 * M_PI * static_cast<double>(i) / (n - 1);
    y[i] = std::sin(x[i]);
  }
  bpnn::NetworkConfig c;
  c.sizes = {1, 16, 1};
  c.hidden_act = bpnn::Activation::tanh;
  c.output_act = bpnn::Activation::linear;
  c.precision = bpnn::Precision::f32;
  c.seed = 11;
  bpnn::Network net(c);
  bpnn::TrainConfig t;
  t.learning_rate = 0.05;
  t.momentum = 0.9;
  t.batch = 8;
  t.epochs = 600;
  bpnn::Trainer trainer(net, t, x.data(), y.data(), n);
  trainer.run();
  std::vector<double> out(n);
  net.predict(x.data(), n, out.data());
  double mse = 0;
  for (std::size_t i = 0; i < n; ++i) mse += (out[i] - y[i]) * (out[i] - y[i]);
  mse /= n;
  INFO("mean squared error " << mse);
  CHECK(mse <= 1e-3);
}
