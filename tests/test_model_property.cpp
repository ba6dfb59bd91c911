// Property: any valid network — random depth, widths, activations, loss, precision, parameters
// and metadata — comes back from save → load bit for bit. Seeded, so a failure repeats.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "io/model_file.hpp"
#include "io/model_metadata.hpp"
#include "io_test_util.hpp"
#include "same_bits.hpp"

using bpnn::Activation;
using bpnn::Loss;
using bpnn::Network;
using bpnn::NetworkConfig;
using bpnn::Precision;

using bpnn_test::same_bits;
namespace {

constexpr Activation activations[] = {Activation::sigmoid, Activation::tanh, Activation::relu, Activation::linear,
                                      Activation::softmax};
constexpr Loss losses[] = {Loss::mse, Loss::xent};

// A random valid UTF-8 string: ASCII (controls, quotes and backslashes included, NUL excluded),
// two-, three- and four-byte characters.
std::string random_text(std::mt19937_64& random, std::size_t max_chars) {
  static const std::vector<std::string> odd = {"\"", "\\", "\n", "\t", "\r", "\x01", "\x1f", "\x7f", "ü", "€",
                                               "日本", "😀", "\xF4\x8F\xBF\xBF", "{", "}", "[", "]", ",", ":",
                                               "\"crc32\":\"", "\\u0000", " "};
  std::string s;
  const std::size_t n = random() % (max_chars + 1);
  for (std::size_t i = 0; i < n; ++i) {
    if (random() % 3 == 0) s += odd[random() % odd.size()];
    else s += static_cast<char>(0x20 + random() % 95);
  }
  return s;
}

// A random double of the network's precision: any finite bit pattern, often small and plain.
double random_value(std::mt19937_64& random, Precision precision) {
  for (;;) {
    double v;
    if (random() % 2) v = std::ldexp(static_cast<double>(random() % 2001) - 1000, -static_cast<int>(random() % 12));
    else if (precision == Precision::f64) v = std::bit_cast<double>(random());
    else v = static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(random())));
    if (std::isfinite(v)) return v;
  }
}

}  // namespace

TEST_CASE("model property: random valid networks round-trip save → load bit for bit", "[io][model_io][property]") {
  std::mt19937_64 random(20240801);
  bpnn_test::TempDir dir;
  int cases = 0, configs_refused = 0;
  while (cases < 300) {
    NetworkConfig c;
    const std::size_t layers = 1 + random() % 4;
    for (std::size_t i = 0; i <= layers; ++i) c.sizes.push_back(1 + random() % 40);
    c.hidden_act = activations[random() % std::size(activations)];
    c.output_act = activations[random() % std::size(activations)];
    c.loss = losses[random() % std::size(losses)];
    c.precision = random() % 2 ? Precision::f64 : Precision::f32;
    c.init = bpnn::Init::zero;
    try {
      bpnn::validate(c);
    } catch (const bpnn::Error&) {
      ++configs_refused;  // e.g. softmax in a hidden layer: not a valid network to round-trip
      continue;
    }
    ++cases;
    Network net(c);
    for (std::size_t l = 0; l < net.n_layers(); ++l) {
      std::vector<double> w(c.sizes[l] * c.sizes[l + 1]), b(c.sizes[l + 1]);
      for (auto& v : w) v = random_value(random, c.precision);
      for (auto& v : b) v = random_value(random, c.precision);
      net.set_layer(l, w, b);
    }
    const std::size_t pairs = random() % 6;
    for (std::size_t i = 0; i < pairs; ++i) {
      std::string key = random_text(random, 12);
      if (bpnn::model_format_key(key) || key == "input_names" || key == "output_names") key += "_";
      net.metadata()[key] = random_text(random, 40);
    }
    if (random() % 2) {  // an input scaler with arbitrary finite statistics (factors non-zero)
      bpnn::InputScaler scaler{random() % 2 ? bpnn::Scaling::standard : bpnn::Scaling::minmax, {}, {}};
      for (std::size_t j = 0; j < c.sizes.front(); ++j) {
        scaler.offset.push_back(random_value(random, Precision::f64));
        double f = 0;
        while (f == 0) f = random_value(random, Precision::f64);
        scaler.factor.push_back(f);
      }
      net.set_scaler(scaler);
    }

    INFO("case " << cases << ": sizes " << bpnn::metadata_counts_format(c.sizes) << ", " << bpnn::to_string(c.precision));
    // Every tenth case through a file, the rest in memory (the same bytes).
    const Network back = cases % 10 == 0
                             ? (bpnn::save_model(net, dir.file("p.safetensors")), bpnn::load_model(dir.file("p.safetensors")))
                             : bpnn::model_decode(bpnn::model_encode(net), "p");
    REQUIRE(back.config().sizes == c.sizes);
    REQUIRE(back.config().hidden_act == c.hidden_act);
    REQUIRE(back.config().output_act == c.output_act);
    REQUIRE(back.config().loss == c.loss);
    REQUIRE(back.config().precision == c.precision);
    REQUIRE(back.metadata() == net.metadata());
    REQUIRE(back.scaler().kind == net.scaler().kind);
    REQUIRE(same_bits(back.scaler().offset, net.scaler().offset));
    REQUIRE(same_bits(back.scaler().factor, net.scaler().factor));
    for (std::size_t l = 0; l < net.n_layers(); ++l) {
      REQUIRE(same_bits(back.weights(l), net.weights(l)));
      REQUIRE(same_bits(back.bias(l), net.bias(l)));
    }
  }
  CHECK(configs_refused > 0);  // the generator does reach the combinations validate() refuses
}
