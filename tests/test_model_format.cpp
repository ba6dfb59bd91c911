// Model format version 2: the checksum covers every byte (every single-bit flip of a header is
// refused), version 1 files still load, the sizes metadata is checked against the file before
// anything is built, names and values are checked, and no header nesting can exhaust the stack.
#include <catch2/catch.hpp>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "io/crc32.hpp"
#include "io/model_file.hpp"
#include "io/model_metadata.hpp"
#include "io/safetensors.hpp"
#include "io_test_util.hpp"
#include "same_bits.hpp"

using bpnn::ErrorKind;
using bpnn::Network;
using bpnn::NetworkConfig;
using bpnn::Precision;
using bpnn_test::error_of;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Bytes = std::vector<unsigned char>;

using bpnn_test::same_bits;
namespace {

Network small_network(Precision precision) {
  NetworkConfig c;
  c.sizes = {3, 4, 2};
  c.hidden_act = bpnn::Activation::tanh;
  c.output_act = bpnn::Activation::softmax;
  c.loss = bpnn::Loss::xent;
  c.precision = precision;
  c.seed = 11;
  Network net(c);
  // Non-zero biases, so a flip that swaps bias values would show.
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    std::vector<double> b = net.bias(l);
    for (std::size_t j = 0; j < b.size(); ++j) b[j] = 0.125 * static_cast<double>(j + 1) - 0.3;
    net.set_layer(l, net.weights(l), b);
  }
  net.metadata()["input_names"] = R"(["a","b","c"])";
  net.metadata()["output_names"] = R"(["no","yes"])";
  net.metadata()["classes"] = R"(["no","yes"])";
  net.metadata()["label"] = "y";
  net.set_scaler({bpnn::Scaling::standard, {0.1, -2.5, 1e-7}, {3.0, 0.1 + 0.2, 1.0 / 3}});
  return net;
}

std::size_t buffer_start(const Bytes& bytes) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{bytes[static_cast<std::size_t>(i)]} << (8 * i);
  return 8 + static_cast<std::size_t>(n);
}

std::vector<double> predictions(const Network& net) {
  const std::vector<double> x = {0.5, -1, 2, 0, 0, 0, -3, 0.25, 1e-3, 7, 7, -7};
  std::vector<double> y(x.size() / net.n_inputs() * net.n_outputs());
  net.predict(x.data(), x.size() / net.n_inputs(), y.data());
  return y;
}

// A model file's SafetensorsFile, to edit a field and write it back sealed.
bpnn::SafetensorsFile decoded(const Bytes& bytes) { return bpnn::safetensors_decode(bytes, "m"); }
Bytes sealed(const bpnn::SafetensorsFile& file) {
  Bytes bytes = bpnn::safetensors_encode(file);
  REQUIRE(bpnn_test::model_bytes_seal(bytes));
  return bytes;
}

bpnn::Error decode_error(const Bytes& bytes) {
  auto e = error_of([&] { bpnn::model_decode(bytes, "m.st"); });
  CHECK(e.kind() == ErrorKind::format);
  return e;
}

}  // namespace

TEST_CASE("model format 2: the checksum covers the whole file as documented", "[io][model_format]") {
  for (Precision precision : {Precision::f32, Precision::f64}) {
    const Network net = small_network(precision);
    const Bytes bytes = bpnn::model_encode(net);
    const auto file = decoded(bytes);
    CHECK(file.metadata.at("format_version") == "2");
    CHECK(file.metadata.at("sizes") == "3,4,2");
    // Recomputed independently from the rule in io/model_file.hpp, the checksum agrees.
    Bytes resealed = bytes;
    REQUIRE(bpnn_test::model_bytes_seal(resealed));
    CHECK(resealed == bytes);
    // Still a plain safetensors file: 8-byte aligned buffer, tensors in layer order.
    CHECK(buffer_start(bytes) % 8 == 0);
    CHECK(file.tensors.size() == 4);
    CHECK(file.tensors[0].name == "0.weight");
    const Network back = bpnn::model_decode(bytes, "m");
    CHECK(same_bits(predictions(back), predictions(net)));
    CHECK(back.metadata() == net.metadata());
  }
}

TEST_CASE("model format 2: every single-bit flip of the header is refused or harmless", "[io][model_format]") {
  const Network net = small_network(Precision::f32);
  const Bytes good = bpnn::model_encode(net);
  const std::vector<double> expected = predictions(net);
  const std::size_t header_end = buffer_start(good);
  std::size_t refused = 0, harmless = 0;
  std::vector<std::string> harmful;
  Bytes bad = good;
  for (std::size_t byte = 0; byte < header_end; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      bad[byte] ^= static_cast<unsigned char>(1u << bit);
      try {
        const Network back = bpnn::model_decode(bad, "m");
        if (same_bits(predictions(back), expected) && back.metadata() == net.metadata() &&
            back.config().sizes == net.config().sizes)
          ++harmless;
        else
          harmful.push_back("byte " + std::to_string(byte) + " bit " + std::to_string(bit));
      } catch (const bpnn::Error& e) {
        if (e.kind() == ErrorKind::format) ++refused;
        else harmful.push_back("byte " + std::to_string(byte) + " bit " + std::to_string(bit) + ": " + e.what());
      }
      bad[byte] = good[byte];
    }
  }
  INFO(refused << " refused, " << harmless << " harmless of " << header_end * 8 << " flips");
  CHECK(harmful == std::vector<std::string>{});
  CHECK(refused + harmless == header_end * 8);
  // A CRC-32 catches every single-bit error, so in fact none loads.
  CHECK(harmless == 0);

  // Flips in the buffer are refused too (a sample: every 7th bit).
  for (std::size_t bit = header_end * 8; bit < good.size() * 8; bit += 7) {
    bad[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    CHECK_THAT(decode_error(bad).what(), Contains("CRC mismatch"));
    bad[bit / 8] = good[bit / 8];
  }
}

TEST_CASE("model format 1: files written before version 2 still load", "[io][model_format]") {
  const std::string path = std::string(BPNN_TEST_DATA_DIR) + "/models/v1_xor_2_3_1_f32.safetensors";
  const Network net = bpnn::load_model(path);
  CHECK(net.config().sizes == std::vector<std::size_t>{2, 3, 1});
  CHECK(net.config().precision == Precision::f32);
  CHECK(net.metadata().at("input_names") == R"(["a","b"])");
  CHECK(net.metadata().count("format_version") == 0);
  const auto file = bpnn::safetensors_read(path);
  CHECK(file.metadata.at("format_version") == "1");
  CHECK(net.weights(0) == file.tensors[0].values);
  CHECK(net.bias(1) == file.tensors[3].values);
  // What `bpnn predict` printed for it when it was made (tests/data/models/README.md).
  const float x[2] = {0.25f, 0.75f};
  float y = 0;
  net.predict(x, 1, &y);
  CHECK(y == Approx(0.47296536f).epsilon(1e-6));
  // The version 1 checksum (the buffer alone) is still checked.
  Bytes bytes = bpnn_test::file_bytes(path);
  bytes[bytes.size() - 2] ^= 0x04;
  CHECK_THAT(decode_error(bytes).what(), Contains("CRC mismatch"));
  // A version 1 file saves back as version 2 with the same parameters.
  const Network again = bpnn::model_decode(bpnn::model_encode(net), "m");
  CHECK(same_bits(again.weights(0), net.weights(0)));
  CHECK(again.metadata() == net.metadata());
}

TEST_CASE("model format 2: a damaged or missing checksum field is refused", "[io][model_format]") {
  const Bytes good = bpnn::model_encode(small_network(Precision::f32));
  SECTION("no checksum") {
    auto file = decoded(good);
    file.metadata.erase("crc32");
    CHECK_THAT(decode_error(bpnn::safetensors_encode(file)).what(), StartsWith("m.st: metadata lacks \"crc32\""));
  }
  SECTION("uppercase digits") {
    auto file = decoded(good);
    std::string crc = file.metadata.at("crc32");
    for (auto& c : crc) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    file.metadata["crc32"] = crc == file.metadata.at("crc32") ? "ABCDEF01" : crc;
    CHECK_THAT(decode_error(bpnn::safetensors_encode(file)).what(), Contains("not eight lowercase hex digits"));
  }
  SECTION("a second \"crc32\":\" in the header") {
    std::string header(good.begin() + 8, good.begin() + static_cast<std::ptrdiff_t>(buffer_start(good)));
    const auto at = header.find("\"label\":\"y\"");
    REQUIRE(at != std::string::npos);
    header.replace(at, 11, "\"crc32\":\"y\"");  // a duplicate key: the parser keeps one
    Bytes bytes(good.begin(), good.begin() + 8);
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.insert(bytes.end(), good.begin() + static_cast<std::ptrdiff_t>(buffer_start(good)), good.end());
    CHECK_THAT(decode_error(bytes).what(), Contains("holds \"crc32\" more than once"));
  }
  SECTION("load_weights checks a version 2 checksum too") {
    bpnn_test::TempDir dir;
    Bytes bad = good;
    const auto at = std::string(bad.begin(), bad.end()).find("\"label\":\"y\"");
    REQUIRE(at != std::string::npos);
    bad[at + 9] = 'z';
    bpnn_test::file_put(dir.file("m.st"), bad);
    Network net = small_network(Precision::f32);
    auto e = error_of([&] { bpnn::load_weights(net, dir.file("m.st")); });
    CHECK(e.kind() == ErrorKind::format);
    CHECK_THAT(e.what(), Contains("CRC mismatch"));
  }
  SECTION("a newer version") {
    auto file = decoded(good);
    file.metadata["format_version"] = "3";
    CHECK_THAT(decode_error(sealed(file)).what(), StartsWith("m.st: format_version \"3\" is not supported"));
  }
}

TEST_CASE("model format: sizes are checked against the tensors in the file before building", "[io][model_format]") {
  NetworkConfig c;
  c.sizes = {2, 1};
  const Bytes good = bpnn::model_encode(Network(c));
  for (const std::string sizes : {"30000,30000,1", "1000000000,1000000000,1", "2,1,1", "2,1000000"}) {
    INFO(sizes);
    auto file = decoded(good);
    file.metadata["sizes"] = sizes;
    const Bytes bytes = sealed(file);
    CHECK(bytes.size() < 1024);
    const auto start = std::chrono::steady_clock::now();
    const auto e = decode_error(bytes);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Refused by the file's own tensors, not by trying to build the network it claims.
    const std::string message = e.what();
    CHECK((message.find("has shape") != std::string::npos || message.find("no tensor") != std::string::npos));
    CHECK_THAT(message, !Contains("cannot make a network"));
    CHECK(seconds < 0.5);
  }
}

TEST_CASE("model format: input and output names must fit the network", "[io][model_format]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("names.safetensors");
  const Bytes good = bpnn::model_encode(small_network(Precision::f32));
  auto load_error = [&](const std::string& key, const std::string& value) {
    // save_model refuses such metadata ...
    Network net = small_network(Precision::f32);
    net.metadata()[key] = value;
    auto refused = error_of([&] { bpnn::save_model(net, path); });
    CHECK(refused.kind() == ErrorKind::argument);
    CHECK_THAT(refused.what(), StartsWith("save_model: metadata \"" + key + "\""));
    // ... and load_model refuses a file that holds it anyway.
    auto file = decoded(good);
    file.metadata[key] = value;
    bpnn_test::file_put(path, sealed(file));
    auto e = error_of([&] { bpnn::load_model(path); });
    CHECK(e.kind() == ErrorKind::format);
    return std::string(e.what());
  };
  CHECK(load_error("input_names", R"(["a","b"])") ==
        path + ": metadata \"input_names\" lists 2 names, but the network has 3 inputs");
  CHECK(load_error("input_names", R"(["a","c","c"])") ==
        path + ": metadata \"input_names\" names \"c\" twice; each input needs its own column");
  CHECK(load_error("output_names", R"(["x"])") ==
        path + ": metadata \"output_names\" lists 1 name, but the network has 2 outputs");
  CHECK_THAT(load_error("input_names", R"(["a",["b"],"c"])"), StartsWith(path + ": metadata \"input_names\" = "));
  CHECK_THAT(load_error("input_names", R"(["a",1,"c"])"), Contains("name 1 is not a string"));
  // Free text (not a JSON array) is the caller's business and loads as it was saved.
  Network net = small_network(Precision::f32);
  net.metadata()["input_names"] = "a,b,c";
  bpnn::save_model(net, path);
  CHECK(bpnn::load_model(path).metadata().at("input_names") == "a,b,c");
}

TEST_CASE("model format: NaN and infinite weights are refused at load", "[io][model_format]") {
  const Bytes good = bpnn::model_encode(small_network(Precision::f64));
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    auto file = decoded(good);
    file.tensors[3].values[1] = bad;  // 1.bias
    const std::string message = decode_error(sealed(file)).what();
    CHECK_THAT(message, StartsWith("m.st: tensor \"1.bias\" value 1 is "));
    CHECK_THAT(message, Contains("a model holds finite weights"));
  }
  // load_weights too, and an F64 value beyond float's range into an f32 network.
  bpnn_test::TempDir dir;
  const auto path = dir.file("w.safetensors");
  bpnn::SafetensorsFile f;
  f.tensors = {{"0.weight", "F64", {1, 2}, {1.0, std::numeric_limits<double>::quiet_NaN()}},
               {"0.bias", "F64", {1}, {0.0}}};
  bpnn::safetensors_write(path, f);
  NetworkConfig c;
  c.sizes = {2, 1};
  Network net(c);
  auto e = error_of([&] { bpnn::load_weights(net, path); });
  CHECK(e.kind() == ErrorKind::format);
  CHECK_THAT(e.what(), StartsWith(path + ": tensor \"0.weight\" value 1 is NaN"));
  f.tensors[0].values[1] = 1e300;
  bpnn::safetensors_write(path, f);
  e = error_of([&] { bpnn::load_weights(net, path); });
  CHECK(e.kind() == ErrorKind::format);
  CHECK_THAT(e.what(), StartsWith(path + ": layer 0: "));
}

TEST_CASE("model format: a NUL in metadata is refused, never cut short", "[io][model_format]") {
  const Bytes good = bpnn::model_encode(small_network(Precision::f32));
  auto file = decoded(good);
  file.metadata["note"] = std::string("before\0after", 12);
  const Bytes bytes = sealed(file);
  CHECK(std::string(bytes.begin(), bytes.end()).find("before\\u0000after") != std::string::npos);
  CHECK_THAT(decode_error(bytes).what(), Contains("\"note\" contains a NUL character"));
  file.metadata.erase("note");
  file.metadata[std::string("k\0ey", 4)] = "v";
  CHECK_THAT(decode_error(sealed(file)).what(), Contains("contains a NUL character"));

  Network net = small_network(Precision::f32);
  net.metadata()["note"] = std::string("a\0b", 3);
  auto e = error_of([&] { bpnn::model_encode(net); });
  CHECK(e.kind() == ErrorKind::argument);
  CHECK_THAT(e.what(), Contains("NUL"));
}

TEST_CASE("safetensors: nesting 100 000 levels deep is refused without exhausting the stack", "[io][model_format]") {
  const std::size_t depth = 100'000;
  const std::string deep = std::string(depth, '[') + "1" + std::string(depth, ']');
  const std::string tensor_end = R"(,"data_offsets":[0,4]}})";
  const std::vector<std::pair<const char*, std::string>> headers = {
      {"shape", R"({"w":{"dtype":"F32","shape":)" + deep + tensor_end},
      {"data_offsets", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":)" + deep + "}}"},
      {"metadata", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"format":)" + deep + "}}"},
      {"a string holding brackets is not nesting, but depth 4 is",
       R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"x":"[[[[[[","y":[[]]}})"},
  };
  for (const auto& [what, header] : headers) {
    INFO(what);
    const Bytes bytes = bpnn_test::safetensors_craft(header, Bytes(4, 0));
    const std::string message = decode_error(bytes).what();
    CHECK_THAT(message, Contains("nests objects and arrays more than 3 levels deep"));
    CHECK(message.size() < 200);
  }
}

TEST_CASE("safetensors: messages quote a short prefix of a value, control bytes escaped", "[io][model_format]") {
  std::string list = "[";
  for (int i = 0; i < 20000; ++i) list += std::to_string(i) + ",";
  list += "1]";
  const std::string name = "evil\n\x1b[31mRED" + std::string(500, 'x');
  const std::vector<std::string> headers = {
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"n":)" + list + "}}",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":)" + list + "}}",
      R"({"evil\n\u001b[31mRED)" + std::string(500, 'x') + R"(":{"dtype":"I8","shape":[1],"data_offsets":[0,4]}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":")" + std::string(50000, 'z') + "\x01\"}}",
  };
  for (const auto& header : headers) {
    const Bytes bytes = bpnn_test::safetensors_craft(header, Bytes(4, 0));
    auto e = error_of([&] { bpnn::safetensors_decode(bytes, "m.st"); });
    CHECK(e.kind() == ErrorKind::format);
    const std::string message = e.what();
    INFO(message);
    CHECK(message.size() < 400);
    CHECK(std::none_of(message.begin(), message.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
  }
  CHECK(bpnn::name_quote(name) == "\"evil\\n\\x1b[31mRED" + std::string(60 - 13, 'x') + "\"…");
}

TEST_CASE("model format: metadata messages stay one short line", "[io][model_format]") {
  const Bytes good = bpnn::model_encode(small_network(Precision::f32));
  for (const std::string key : {"hidden_act", "loss", "sizes", "format_version"}) {
    INFO(key);
    auto file = decoded(good);
    file.metadata[key] = "tanh\n\x1b[31m" + std::string(100000, 'x');
    const std::string message = decode_error(sealed(file)).what();
    CHECK(message.size() < 400);
    CHECK(std::none_of(message.begin(), message.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
  }
}

TEST_CASE("model metadata: numbers are exact in their %.17g text form", "[io][model_format]") {
  std::mt19937_64 random(2024);
  std::vector<double> values = {0.1, -0.0, 1.0 / 3.0, std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::max(), -std::numeric_limits<double>::min(), 1e-300, 42};
  for (int i = 0; i < 2000; ++i) {
    double v = std::bit_cast<double>(random());
    if (std::isfinite(v)) values.push_back(v);
  }
  const std::string text = bpnn::metadata_numbers_format(values, "k");
  CHECK(text.find(' ') == std::string::npos);
  CHECK(text.substr(0, 24) == "0.10000000000000001,-0,0");
  const std::vector<double> back = bpnn::metadata_numbers_parse(text, "m", "k");
  CHECK(same_bits(back, values));
  CHECK(bpnn::metadata_numbers_parse("", "m", "k").empty());

  for (const std::string bad : {"1,,2", "nan", "inf", "1e999", " 1", "1 ", "+1", "0x10", "1;2", ","}) {
    INFO(bad);
    auto e = error_of([&] { bpnn::metadata_numbers_parse(bad, "m", "scaler.mean"); });
    CHECK(e.kind() == ErrorKind::format);
    CHECK_THAT(e.what(), StartsWith("m: metadata \"scaler.mean\" = "));
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(error_of([&] { bpnn::metadata_numbers_format(std::vector<double>{1, nan}, "k"); }).kind() == ErrorKind::argument);

  bpnn::Metadata m;
  bpnn::metadata_numbers_set(m, "scaler.mean", std::vector<double>{0.5, -2});
  CHECK(m.at("scaler.mean") == "0.5,-2");
  CHECK(*bpnn::metadata_numbers_get(m, "scaler.mean", "m") == std::vector<double>{0.5, -2});
  CHECK(!bpnn::metadata_numbers_get(m, "absent", "m"));
  bpnn::metadata_names_set(m, "classes", {"a", "b \"c\"", "ü"});
  CHECK(m.at("classes") == R"(["a","b \"c\"","ü"])");
  CHECK(*bpnn::metadata_names_get(m, "classes", "m") == std::vector<std::string>{"a", "b \"c\"", "ü"});
  CHECK(bpnn::metadata_counts_parse("2,40,1", "m", "sizes") == std::vector<std::size_t>{2, 40, 1});
  for (const std::string bad : {"2,04,1", "-1", "2,,1", "18446744073709551616"})
    CHECK(error_of([&] { bpnn::metadata_counts_parse(bad, "m", "sizes"); }).kind() == ErrorKind::format);

  // Such values survive a model file (under a key of the network's own; "scaler." keys are the
  // format's).
  Network net = small_network(Precision::f32);
  bpnn::metadata_numbers_set(net.metadata(), "my.values", values);
  const Network back_net = bpnn::model_decode(bpnn::model_encode(net), "m");
  CHECK(same_bits(*bpnn::metadata_numbers_get(back_net.metadata(), "my.values", "m"), values));
}

TEST_CASE("model format: the input scaler round-trips exactly and is checked at load", "[io][model_format]") {
  for (auto precision : {Precision::f32, Precision::f64}) {
    const Network net = small_network(precision);
    const Network back = bpnn::model_decode(bpnn::model_encode(net), "m");
    CHECK(back.scaler().kind == bpnn::Scaling::standard);
    CHECK(back.scaler().offset == net.scaler().offset);  // bit for bit: %.17g round-trips
    CHECK(back.scaler().factor == net.scaler().factor);
    CHECK(same_bits(predictions(back), predictions(net)));
    CHECK(back.metadata().count("scaler.kind") == 0);  // the scaler is not free metadata
  }
  const Bytes good = bpnn::model_encode(small_network(Precision::f32));
  const auto with = [&](const std::string& key, const std::optional<std::string>& value) {
    bpnn::SafetensorsFile file = decoded(good);
    if (value)
      file.metadata[key] = *value;
    else
      file.metadata.erase(key);
    return sealed(file);
  };
  CHECK_THAT(decode_error(with("scaler.kind", "zscore")).what(), Contains("scaler.kind"));
  CHECK_THAT(decode_error(with("scaler.kind", "none")).what(), Contains("no scaler at all"));
  CHECK_THAT(decode_error(with("scaler.offset", "1,2")).what(), Contains("2 offsets and 3 factors"));
  CHECK_THAT(decode_error(with("scaler.factor", "1,0,1")).what(), Contains("column 1"));
  CHECK_THAT(decode_error(with("scaler.factor", "1,nan,1")).what(), Contains("scaler.factor"));
  CHECK_THAT(decode_error(with("scaler.factor", std::nullopt)).what(), Contains("without scaler.offset"));
  CHECK_THAT(decode_error(with("scaler.kind", std::nullopt)).what(), Contains("without \"scaler.kind\""));
  Network user = small_network(Precision::f32);
  user.metadata()["scaler.mine"] = "1";
  CHECK(error_of([&] { bpnn::model_encode(user); }).kind() == ErrorKind::argument);
}
