// The C API is a thin layer: a network made, trained and predicted through bpnn.h gives the same
// bits as one made through the C++ API with the same settings.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "bpnn.h"
#include "bpnn/capi.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "same_bits.hpp"

using bpnn_test::same_bits;
namespace {

// Every layer of the C++ network equals the C network's, bit for bit.
void require_same_weights(const bpnn::Network& cpp, const bpnn_net* c) {
  REQUIRE(bpnn_net_n_layers(c) == cpp.n_layers());
  for (std::size_t l = 0; l < cpp.n_layers(); ++l) {
    std::vector<double> w(bpnn_net_width(c, l) * bpnn_net_width(c, l + 1)), b(bpnn_net_width(c, l + 1));
    bpnn::capi::check(bpnn_net_get_layer_f64(c, l, w.data(), w.size(), b.data(), b.size()));
    INFO("layer " << l);
    CHECK(same_bits(cpp.weights(l), w));
    CHECK(same_bits(cpp.bias(l), b));
  }
}

template <class T>
void check_equivalence(bpnn::Precision precision) {
  // Data: a smooth 5 → 3 mapping with one-hot-free targets in (0, 1).
  const std::size_t n = 97, in = 5, out = 3;
  std::vector<T> x(n * in), y(n * out);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(((i * 29) % 83) / 41.0 - 1.0);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t k = 0; k < out; ++k)
      y[r * out + k] = static_cast<T>(0.5 + 0.4 * (x[r * in + k] * x[r * in + k + 1] - 0.2));

  const std::size_t sizes[] = {in, 9, 7, out};
  bpnn::NetworkConfig cc;
  cc.sizes.assign(sizes, sizes + 4);
  cc.hidden_act = bpnn::Activation::tanh;
  cc.output_act = bpnn::Activation::sigmoid;
  cc.loss = bpnn::Loss::xent;
  cc.precision = precision;
  cc.init = bpnn::Init::he;
  cc.seed = 11;
  bpnn::Network cpp(cc);

  bpnn_net_config c;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 4;
  c.hidden_act = BPNN_ACT_TANH;
  c.output_act = BPNN_ACT_SIGMOID;
  c.loss = BPNN_LOSS_XENT;
  c.precision = precision == bpnn::Precision::f64 ? BPNN_F64 : BPNN_F32;
  c.init = BPNN_INIT_HE;
  c.seed = 11;
  bpnn::capi::Net net = bpnn::capi::Net::create(c);
  require_same_weights(cpp, net.get());

  auto c_predict = [&](const bpnn_net* handle, std::vector<T>& yhat) {
    if constexpr (std::is_same_v<T, float>)
      bpnn::capi::check(bpnn_net_predict_f32(handle, x.data(), n, yhat.data()));
    else
      bpnn::capi::check(bpnn_net_predict_f64(handle, x.data(), n, yhat.data()));
  };
  std::vector<T> y_cpp(n * out), y_c(n * out);
  cpp.predict(x.data(), n, y_cpp.data());
  c_predict(net.get(), y_c);
  CHECK(std::memcmp(y_cpp.data(), y_c.data(), y_c.size() * sizeof(T)) == 0);

  // Train both the same way: mini-batches, momentum, a seeded shuffle.
  bpnn::TrainConfig tc;
  tc.learning_rate = 0.3;
  tc.momentum = 0.6;
  tc.batch = 8;
  tc.epochs = 7;
  tc.seed = 5;
  bpnn::Trainer trainer(cpp, tc, x.data(), y.data(), n);
  const bpnn::TrainReport cpp_report = trainer.run();

  bpnn_train_config t;
  bpnn_train_config_init(&t);
  t.learning_rate = 0.3;
  t.momentum = 0.6;
  t.batch = 8;
  t.epochs = 7;
  t.seed = 5;
  bpnn_train_report report;
  bpnn_train_report_init(&report);
  if constexpr (std::is_same_v<T, float>)
    bpnn::capi::check(bpnn_net_train_f32(net.get(), &t, x.data(), y.data(), n, &report));
  else
    bpnn::capi::check(bpnn_net_train_f64(net.get(), &t, x.data(), y.data(), n, &report));
  CHECK(report.epochs_run == cpp_report.epochs_run);
  CHECK(std::memcmp(&report.final_loss, &cpp_report.final_loss, sizeof(double)) == 0);
  require_same_weights(cpp, net.get());

  cpp.predict(x.data(), n, y_cpp.data());
  c_predict(net.get(), y_c);
  CHECK(std::memcmp(y_cpp.data(), y_c.data(), y_c.size() * sizeof(T)) == 0);

  // A model saved through C loads through C++ with the same weights, and the reverse.
  const std::string path = "capi_equivalence_" + std::string(bpnn::to_string(precision)) + ".safetensors";
  bpnn::capi::check(bpnn_net_save(net.get(), path.c_str()));
  require_same_weights(bpnn::load_model(path), net.get());
  bpnn::save_model(cpp, path);
  require_same_weights(cpp, bpnn::capi::Net::load(path).get());
  std::remove(path.c_str());
}

}  // namespace

TEST_CASE("the C API creates, predicts and trains bit for bit like the C++ API", "[capi]") {
  SECTION("f32") { check_equivalence<float>(bpnn::Precision::f32); }
  SECTION("f64") { check_equivalence<double>(bpnn::Precision::f64); }
}

TEST_CASE("capi::Net frees its network and capi::check carries the status", "[capi]") {
  bpnn::capi::Net empty;
  CHECK(!empty);
  try {
    bpnn::capi::Net::load("no_such_file.safetensors");
    FAIL("load of a missing file succeeded");
  } catch (const bpnn::capi::Error& e) {
    CHECK(e.status() == BPNN_ERR_IO);
    CHECK(std::string(e.what()).find("no_such_file.safetensors") != std::string::npos);
  }
  bpnn_net_config c;
  bpnn_net_config_init(&c);
  const std::size_t sizes[] = {2, 1};
  c.sizes = sizes;
  c.n_sizes = 2;
  bpnn::capi::Net a = bpnn::capi::Net::create(c);
  bpnn::capi::Net b = a.clone();
  CHECK(a.get() != b.get());
  b = std::move(a);  // frees b's own network
  CHECK(!a);
  CHECK(bpnn_net_n_inputs(b.get()) == 2);
  bpnn_net* raw = b.release();
  CHECK(!b);
  bpnn_net_free(raw);
}
