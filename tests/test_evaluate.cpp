// bpnn::evaluate against figures worked out by hand on networks whose outputs are known exactly:
// a 1-1 linear network with w = 1, b = 0 predicts ŷ = x; a 2-2 softmax network with identity
// weights predicts the class of the larger input.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "bpnn/error.hpp"
#include "bpnn/evaluate.hpp"
#include "bpnn/network.hpp"

namespace {

bpnn::Network identity_net(std::size_t k, bpnn::Activation out, bpnn::Loss loss) {
  bpnn::NetworkConfig c;
  c.sizes = {k, k};
  c.output_act = out;
  c.loss = loss;
  c.precision = bpnn::Precision::f64;
  bpnn::Network net(c);
  std::vector<double> w(k * k, 0.0), b(k, 0.0);
  for (std::size_t i = 0; i < k; ++i) w[i * k + i] = 1;
  net.set_layer(0, w, b);
  return net;
}

}  // namespace

TEST_CASE("regression figures: RMSE, MAE, R² and the MSE loss", "[evaluate]") {
  bpnn::Network net = identity_net(1, bpnn::Activation::linear, bpnn::Loss::mse);
  const double x[] = {1, 2, 3, 4}, y[] = {1, 2, 2, 6};  // errors 0, 0, 1, −2
  const bpnn::Evaluation e = bpnn::evaluate(net, x, y, 4);
  CHECK_FALSE(e.classifier);
  CHECK(e.n == 4);
  CHECK(e.loss == Approx((0.5 * 1 + 0.5 * 4) / 4).epsilon(1e-15));
  CHECK(e.rmse == Approx(std::sqrt(5.0 / 4)).epsilon(1e-15));
  CHECK(e.mae == Approx(3.0 / 4).epsilon(1e-15));
  // mean y = 2.75; SS_tot = 3.0625 + 0.5625 + 0.5625 + 10.5625 = 14.75; SS_res = 5
  CHECK(e.r2 == Approx(1 - 5 / 14.75).epsilon(1e-15));
  REQUIRE(e.per_output.size() == 1);
  CHECK(e.per_output[0].r2 == e.r2);
  CHECK(std::isnan(e.accuracy));
  CHECK(e.confusion.empty());
}

TEST_CASE("R² averages outputs uniformly, a constant target scores 1 only when exact", "[evaluate]") {
  bpnn::Network net = identity_net(2, bpnn::Activation::linear, bpnn::Loss::mse);
  const double x[] = {1, 5, 2, 5, 3, 6}, y[] = {1, 5, 2, 5, 3, 5};
  const bpnn::Evaluation e = bpnn::evaluate(net, x, y, 3);
  REQUIRE(e.per_output.size() == 2);
  CHECK(e.per_output[0].r2 == 1.0);
  CHECK(e.per_output[1].r2 == 0.0);  // constant target, one miss
  CHECK(e.r2 == 0.5);
  CHECK(e.per_output[1].mae == Approx(1.0 / 3));
  CHECK(e.mae == Approx(1.0 / 6));
}

TEST_CASE("classification figures: confusion, precision, recall, F1, macro F1", "[evaluate]") {
  bpnn::Network net = identity_net(3, bpnn::Activation::softmax, bpnn::Loss::xent);
  // truth:    0 0 0 1 1 2
  // predicted 0 0 1 1 0 0   (the largest input)
  const double x[] = {3, 0, 0, 2, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0};
  const double y[] = {1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1};
  const bpnn::Evaluation e = bpnn::evaluate(net, x, y, 6);
  REQUIRE(e.classifier);
  REQUIRE(e.n_classes == 3);
  CHECK(e.confusion == std::vector<std::size_t>{2, 1, 0, 1, 1, 0, 1, 0, 0});
  CHECK(e.accuracy == Approx(3.0 / 6));
  CHECK(e.per_class[0].precision == Approx(2.0 / 4));
  CHECK(e.per_class[0].recall == Approx(2.0 / 3));
  CHECK(e.per_class[0].f1 == Approx(2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3)));
  CHECK(e.per_class[1].precision == Approx(0.5));
  CHECK(e.per_class[1].recall == Approx(0.5));
  CHECK(e.per_class[2].support == 1);
  CHECK(e.per_class[2].precision == 0.0);  // 0/0 counts as 0
  CHECK(e.per_class[2].f1 == 0.0);
  CHECK(e.macro_f1 == Approx((e.per_class[0].f1 + 0.5 + 0.0) / 3));
  // cross-entropy: −log softmax(x)[truth], row by row
  double loss = 0;
  const int truth[] = {0, 0, 0, 1, 1, 2};
  for (int r = 0; r < 6; ++r) {
    double z = 0;
    for (int j = 0; j < 3; ++j) z += std::exp(x[r * 3 + j]);
    loss -= std::log(std::exp(x[r * 3 + truth[r]]) / z);
  }
  CHECK(e.loss == Approx(loss / 6).epsilon(1e-12));
  CHECK(std::isnan(e.rmse));
}

TEST_CASE("one sigmoid column with 0/1 targets scores as two classes at 0.5", "[evaluate]") {
  bpnn::Network net = identity_net(1, bpnn::Activation::sigmoid, bpnn::Loss::xent);
  const double x[] = {-1, 2, 0.5, -3}, y[] = {0, 1, 0, 1};  // ŷ ≥ 0.5 ⇔ x ≥ 0
  const bpnn::Evaluation e = bpnn::evaluate(net, x, y, 4);
  REQUIRE(e.classifier);
  CHECK(e.n_classes == 2);
  CHECK(e.confusion == std::vector<std::size_t>{1, 1, 1, 1});
  CHECK(e.accuracy == 0.5);
  // targets that are not 0/1 make the same network a regression model
  const double y2[] = {0.2, 0.9, 0.4, 0.1};
  CHECK_FALSE(bpnn::evaluate(net, x, y2, 4).classifier);
}

TEST_CASE("a class that never occurs does not count in macro F1", "[evaluate]") {
  bpnn::Network net = identity_net(3, bpnn::Activation::softmax, bpnn::Loss::xent);
  const double x[] = {1, 0, 0, 0, 1, 0}, y[] = {1, 0, 0, 0, 1, 0};
  const bpnn::Evaluation e = bpnn::evaluate(net, x, y, 2);
  CHECK(e.accuracy == 1.0);
  CHECK(e.macro_f1 == 1.0);
  CHECK(e.per_class[2].support == 0);
}

TEST_CASE("evaluate refuses empty, null and non-finite data", "[evaluate]") {
  bpnn::Network net = identity_net(1, bpnn::Activation::linear, bpnn::Loss::mse);
  const double x[] = {1, NAN}, y[] = {1, 2};
  CHECK_THROWS_WITH(bpnn::evaluate(net, x, y, 0), Catch::Contains("no rows"));
  CHECK_THROWS_WITH(bpnn::evaluate(net, x, y, 2), Catch::Contains("input 0 of row 1"));
  CHECK_THROWS_WITH(bpnn::evaluate(net, y, x, 2), Catch::Contains("target 0 of row 1"));
  CHECK_THROWS_AS(bpnn::evaluate(net, static_cast<const double*>(nullptr), y, 1), bpnn::Error);
}
