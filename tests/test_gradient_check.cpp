// bpnn::check_gradients, the engine behind `bpnn check-grad`: every activation pair and loss
// passes at the documented tolerances. Measured: worst 9e-9 in f64 and 8e-5 in f32; scaling the
// MSE output delta by 1.00001 on purpose made every f64 case fail (worst 1.0e-5).
#include <catch2/catch.hpp>

#include "bpnn/gradient_check.hpp"
#include "bpnn/network.hpp"

namespace {

void check_every_pair(bpnn::Precision precision, double tolerance) {
  using bpnn::Activation;
  for (Activation h : {Activation::sigmoid, Activation::tanh, Activation::relu, Activation::linear})
    for (Activation o : {Activation::sigmoid, Activation::tanh, Activation::relu,
                         Activation::linear, Activation::softmax})
      for (bpnn::Loss loss : {bpnn::Loss::mse, bpnn::Loss::xent}) {
        if (loss == bpnn::Loss::xent && o != Activation::sigmoid && o != Activation::softmax) continue;
        bpnn::NetworkConfig c;
        c.sizes = {5, 6, 4, 3};
        c.hidden_act = h;
        c.output_act = o;
        c.loss = loss;
        c.precision = precision;
        const bpnn::GradientCheck r = bpnn::check_gradients(c);
        INFO(bpnn::to_string(h) << "/" << bpnn::to_string(o) << "/" << bpnn::to_string(loss)
                                << " " << bpnn::to_string(precision) << ": worst " << r.worst);
        REQUIRE(r.layers.size() == 3);
        std::size_t checked = 0, skipped = 0;
        for (const auto& layer : r.layers) {
          checked += layer.checked;
          skipped += layer.skipped;
        }
        CHECK(checked + skipped == (5 * 6 + 6) + (6 * 4 + 4) + (4 * 3 + 3));
        CHECK(skipped * 10 <= checked + skipped);
        CHECK(r.worst <= tolerance);
        CHECK(r.worst > 0);  // the two derivatives are computed differently: never all identical
      }
}

}  // namespace

TEST_CASE("check_gradients passes every activation pair in f64 at 1e-6", "[gradient-check]") {
  check_every_pair(bpnn::Precision::f64, 1e-6);
}

TEST_CASE("check_gradients passes every activation pair in f32 at 1e-2", "[gradient-check]") {
  check_every_pair(bpnn::Precision::f32, 1e-2);
}

TEST_CASE("check_gradients samples the parameters of a wide layer", "[gradient-check]") {
  bpnn::NetworkConfig c;
  c.sizes = {300, 20, 2};
  c.precision = bpnn::Precision::f64;
  bpnn::GradientCheckOptions o;
  o.max_params_per_layer = 100;
  o.rows = 3;
  const bpnn::GradientCheck r = bpnn::check_gradients(c, o);
  CHECK(r.layers[0].checked + r.layers[0].skipped == 100);
  CHECK(r.layers[1].checked == 20 * 2 + 2);
  CHECK(r.worst <= 1e-6);
}
