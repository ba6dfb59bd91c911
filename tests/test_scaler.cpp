// Input scaling: fitted statistics against values worked out by hand, zero-spread columns,
// application by Network::predict, and the hint for raw inputs far from unit scale.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/scaler.hpp"

TEST_CASE("standard scaling uses the mean and the population standard deviation", "[scaler]") {
  // column 0: 1, 2, 3, 6 → mean 3, population variance (4 + 1 + 0 + 9)/4 = 3.5
  // column 1: constant 7 → factor 1
  const double x[] = {1, 7, 2, 7, 3, 7, 6, 7};
  const bpnn::InputScaler s = bpnn::scaler_fit(bpnn::Scaling::standard, x, 4, 2);
  CHECK(s.offset[0] == 3);
  CHECK(s.factor[0] == Approx(1 / std::sqrt(3.5)).epsilon(1e-15));
  CHECK(s.offset[1] == 7);
  CHECK(s.factor[1] == 1);
  std::vector<double> y(x, x + 8);
  bpnn::scaler_apply(s, y.data(), 4, 2);
  double mean = 0, sq = 0;
  for (int r = 0; r < 4; ++r) mean += y[r * 2] / 4;
  for (int r = 0; r < 4; ++r) sq += (y[r * 2] - mean) * (y[r * 2] - mean) / 4;
  CHECK(mean == Approx(0).margin(1e-15));
  CHECK(sq == Approx(1).epsilon(1e-14));
  CHECK(y[1] == 0);
}

TEST_CASE("standard scaling stays accurate far from the origin", "[scaler]") {
  std::vector<double> x;
  for (int i = 0; i < 1000; ++i) x.push_back(1e9 + (i % 2 ? 1 : -1));
  const bpnn::InputScaler s = bpnn::scaler_fit(bpnn::Scaling::standard, x.data(), x.size(), 1);
  CHECK(s.offset[0] == 1e9);
  CHECK(s.factor[0] == Approx(1.0).epsilon(1e-9));
}

TEST_CASE("minmax scaling maps the training rows onto [0, 1]", "[scaler]") {
  const double x[] = {-2, 5, 0, 5, 6, 5};
  const bpnn::InputScaler s = bpnn::scaler_fit(bpnn::Scaling::minmax, x, 3, 2);
  std::vector<double> y(x, x + 6);
  bpnn::scaler_apply(s, y.data(), 3, 2);
  CHECK(y == std::vector<double>{0, 0, 0.25, 0, 1, 0});
}

TEST_CASE("none fits nothing, names parse, bad scalers are refused", "[scaler]") {
  const double x[] = {1, 2};
  CHECK_FALSE(bpnn::scaler_fit(bpnn::Scaling::none, x, 1, 2).active());
  CHECK(bpnn::parse_scaling("standard") == bpnn::Scaling::standard);
  CHECK(bpnn::to_string(bpnn::Scaling::minmax) == "minmax");
  CHECK_THROWS_WITH(bpnn::parse_scaling("zscore"), Catch::Contains("not none, standard or minmax"));
  const double bad[] = {1, NAN};
  CHECK_THROWS_WITH(bpnn::scaler_fit(bpnn::Scaling::standard, bad, 1, 2),
                    Catch::Contains("input 1 of row 0"));
  bpnn::InputScaler s{bpnn::Scaling::standard, {0, 0}, {1, 0}};
  CHECK_THROWS_WITH(bpnn::scaler_validate(s, 2), Catch::Contains("column 1"));
  CHECK_THROWS_WITH(bpnn::scaler_validate(s, 3), Catch::Contains("for 3 inputs"));
}

TEST_CASE("Network::predict applies the model's scaler to raw inputs", "[scaler]") {
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
    bpnn::NetworkConfig c;
    c.sizes = {2, 1};
    c.output_act = bpnn::Activation::linear;
    c.precision = precision;
    bpnn::Network net(c);
    net.set_layer(0, std::vector<double>{1, 10}, std::vector<double>{0.5});
    net.set_scaler({bpnn::Scaling::standard, {100, -4}, {0.5, 0.25}});
    const double x[] = {104, 0, 100, -4};
    double y[2];
    net.predict(x, 2, y);
    CHECK(y[0] == (104 - 100) * 0.5 + 10 * (0 + 4) * 0.25 + 0.5);
    CHECK(y[1] == 0.5);
    float xf[] = {104, 0}, yf[1];
    net.predict(xf, 1, yf);
    CHECK(yf[0] == 12.5f);
    CHECK_THROWS_AS(net.set_scaler({bpnn::Scaling::standard, {1}, {1}}), bpnn::Error);
    bpnn::Network copy = net;
    CHECK(copy.scaler().offset == std::vector<double>{100, -4});
  }
}

TEST_CASE("the hint names a column far from unit scale", "[scaler]") {
  const double small[] = {0.1, 1, 0.5, -1};
  CHECK_FALSE(bpnn::scaling_hint(small, 2, 2).has_value());
  const double pixels[] = {0.5, 0, 0.1, 16, 0.2, 255};
  const auto hint = bpnn::scaling_hint(pixels, 3, 2, {"a", "pixel"});
  REQUIRE(hint.has_value());
  CHECK_THAT(*hint, Catch::Contains("\"pixel\"") && Catch::Contains("--scale standard"));
}

TEST_CASE("predict_layer gives the scaled inputs, each hidden layer and the outputs", "[scaler]") {
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
    bpnn::NetworkConfig c;
    c.sizes = {3, 5, 4, 2};
    c.hidden_act = bpnn::Activation::tanh;
    c.output_act = bpnn::Activation::softmax;
    c.loss = bpnn::Loss::xent;
    c.precision = precision;
    bpnn::Network net(c);
    net.set_scaler({bpnn::Scaling::minmax, {1, 2, 3}, {0.5, 0.25, 2}});
    const double x[] = {1, 2, 3, 3, 6, 4};
    std::vector<double> scaled(6), h1(10), h2(8), out(4), direct(4);
    net.predict_layer(x, 2, 0, scaled.data());
    CHECK(scaled == std::vector<double>{0, 0, 0, 1, 1, 2});
    net.predict_layer(x, 2, 1, h1.data());
    net.predict_layer(x, 2, 2, h2.data());
    net.predict_layer(x, 2, 3, out.data());
    net.predict(x, 2, direct.data());
    CHECK(out == direct);
    // layer 2 from layer 1 by hand: tanh(h1·w2ᵀ + b2)
    const std::vector<double> w2 = net.weights(1), b2 = net.bias(1);
    for (int r = 0; r < 2; ++r)
      for (int o = 0; o < 4; ++o) {
        double z = b2[o];
        for (int i = 0; i < 5; ++i) z += h1[r * 5 + i] * w2[o * 5 + i];
        CHECK(h2[r * 4 + o] == Approx(std::tanh(z)).epsilon(precision == bpnn::Precision::f32 ? 1e-5 : 1e-12));
      }
    CHECK(net.width(1) == 5);
    CHECK_THROWS_WITH(net.predict_layer(x, 2, 4, out.data()), Catch::Contains("out of range"));
  }
}
