// Model files: save → load gives the same network bit for bit; damage and mismatches are clear
// errors; weights load from plain safetensors files such as PyTorch writes.
#include <catch2/catch.hpp>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "io/crc32.hpp"
#include "io/safetensors.hpp"
#include "io_test_util.hpp"
#include "same_bits.hpp"

using bpnn::Activation;
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

NetworkConfig config_of(std::vector<std::size_t> sizes, Precision precision) {
  NetworkConfig c;
  c.sizes = std::move(sizes);
  c.hidden_act = Activation::tanh;
  c.output_act = Activation::softmax;
  c.loss = bpnn::Loss::xent;
  c.precision = precision;
  c.init = bpnn::Init::xavier;
  c.seed = 7;
  return c;
}

void check_same_parameters(const Network& a, const Network& b) {
  REQUIRE(a.n_layers() == b.n_layers());
  for (std::size_t i = 0; i < a.n_layers(); ++i) {
    INFO("layer " << i);
    CHECK(same_bits(a.weights(i), b.weights(i)));
    CHECK(same_bits(a.bias(i), b.bias(i)));
  }
}

// Writes `file` as a version 2 model file with a valid checksum, as if bpnn had written it.
void file_put_sealed(const std::string& path, const bpnn::SafetensorsFile& file) {
  Bytes bytes = bpnn::safetensors_encode(file);
  REQUIRE(bpnn_test::model_bytes_seal(bytes));
  bpnn_test::file_put(path, bytes);
}

// Where the tensor buffer starts in a safetensors file.
std::size_t buffer_start(const Bytes& bytes) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{bytes[static_cast<std::size_t>(i)]} << (8 * i);
  return 8 + static_cast<std::size_t>(n);
}

}  // namespace

TEST_CASE("model_io: save then load gives the same network bit for bit", "[io][model_io]") {
  bpnn_test::TempDir dir;
  for (Precision precision : {Precision::f32, Precision::f64}) {
    INFO("precision " << bpnn::to_string(precision));
    Network net(config_of({4, 5, 3, 3}, precision));
    net.metadata()["input_names"] = "a,b,c,d";
    net.metadata()["classes"] = "x,y,z";
    const auto path = dir.file("model.safetensors");
    bpnn::save_model(net, path);
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});

    const Network back = bpnn::load_model(path);
    CHECK(back.config().sizes == net.config().sizes);
    CHECK(back.config().hidden_act == Activation::tanh);
    CHECK(back.config().output_act == Activation::softmax);
    CHECK(back.config().loss == bpnn::Loss::xent);
    CHECK(back.config().precision == precision);
    CHECK(back.metadata() == net.metadata());
    check_same_parameters(net, back);

    // The file holds what model_io.hpp promises.
    const auto file = bpnn::safetensors_read(path);
    CHECK(file.tensors.size() == 6);
    CHECK(file.tensors[0].name == "0.weight");
    CHECK(file.tensors[0].shape == std::vector<std::size_t>{5, 4});
    CHECK(file.tensors[0].dtype == (precision == Precision::f32 ? "F32" : "F64"));
    CHECK(file.tensors[5].name == "2.bias");
    CHECK(file.metadata.at("format") == "bpnn");
    CHECK(file.metadata.at("format_version") == "2");
    CHECK(file.metadata.at("sizes") == "4,5,3,3");
    CHECK(file.metadata.at("hidden_act") == "tanh");
    CHECK(file.metadata.at("output_act") == "softmax");
    CHECK(file.metadata.at("loss") == "xent");
    CHECK(file.metadata.at("crc32").size() == 8);
    Bytes resealed = bpnn_test::file_bytes(path);  // the checksum is the documented one
    REQUIRE(bpnn_test::model_bytes_seal(resealed));
    CHECK(resealed == bpnn_test::file_bytes(path));
  }
}

TEST_CASE("model_io: metadata keys of the format are reserved", "[io][model_io]") {
  bpnn_test::TempDir dir;
  Network net(config_of({2, 3, 2}, Precision::f32));
  net.metadata()["crc32"] = "mine";
  auto e = error_of([&] { bpnn::save_model(net, dir.file("m.safetensors")); });
  CHECK(e.kind() == ErrorKind::argument);
  CHECK_THAT(e.what(), Contains("metadata key \"crc32\" is reserved"));
  CHECK(dir.entries().empty());
}

TEST_CASE("model_io: a damaged model file is an Error(format) that says what is wrong", "[io][model_io]") {
  bpnn_test::TempDir dir;
  Network net(config_of({3, 4, 2}, Precision::f32));
  const auto path = dir.file("m.safetensors");
  bpnn::save_model(net, path);
  const Bytes good = bpnn_test::file_bytes(path);
  auto load_error = [&](const Bytes& bytes) {
    bpnn_test::file_put(path, bytes);
    auto e = error_of([&] { bpnn::load_model(path); });
    CHECK(e.kind() == ErrorKind::format);
    return std::string(e.what());
  };

  SECTION("a flipped bit in the weights fails the CRC") {
    Bytes bad = good;
    bad[buffer_start(bad) + 5] ^= 0x10;
    const auto stored = bpnn::safetensors_read(dir.file("m.safetensors"));  // still the good file
    const std::string message = load_error(bad);
    CHECK_THAT(message, StartsWith(path + ": CRC mismatch: stored " + stored.metadata.at("crc32") + ", computed "));
    CHECK_THAT(message, Contains("the file is corrupt"));
  }
  SECTION("a truncated file") {
    Bytes bad(good.begin(), good.end() - 4);
    CHECK_THAT(load_error(bad), StartsWith(path + ": tensor "));
  }
  SECTION("a damaged header length") {
    Bytes bad = good;
    bad[1] ^= 0x40;
    CHECK_THAT(load_error(bad), StartsWith(path + ": header length "));
  }
  SECTION("a damaged header") {
    Bytes bad = good;
    bad[8] = '[';
    CHECK_THAT(load_error(bad), StartsWith(path + ": header is not valid JSON"));
  }
  SECTION("a tensor of the wrong shape") {
    // Rewrite the file with 0.weight as [2, 6], checksum recomputed.
    auto file = bpnn::safetensors_read(path);
    file.tensors[0].shape = {2, 6};
    file_put_sealed(path, file);
    auto e = error_of([&] { bpnn::load_model(path); });
    CHECK(e.kind() == ErrorKind::format);
    CHECK(std::string(e.what()) ==
          path + ": tensor \"0.weight\" has shape [2, 6], layer 0 of the network needs [4, 3]");
  }
  SECTION("a missing tensor") {
    auto file = bpnn::safetensors_read(path);
    file.tensors.pop_back();  // 1.bias
    file_put_sealed(path, file);
    CHECK_THAT(error_of([&] { bpnn::load_model(path); }).what(), StartsWith(path + ": no tensor \"1.bias\""));
  }
  SECTION("not a bpnn file, or a newer one") {
    auto file = bpnn::safetensors_read(path);
    file.metadata.erase("format");
    bpnn::safetensors_write(path, file);
    CHECK_THAT(error_of([&] { bpnn::load_model(path); }).what(), StartsWith(path + ": not a bpnn model file"));
    file.metadata["format"] = "bpnn";
    file.metadata["format_version"] = "3";
    file_put_sealed(path, file);
    CHECK_THAT(error_of([&] { bpnn::load_model(path); }).what(),
               StartsWith(path + ": format_version \"3\" is not supported"));
  }
  SECTION("metadata that cannot make a network") {
    auto file = bpnn::safetensors_read(path);
    file.metadata["hidden_act"] = "swish";
    file_put_sealed(path, file);
    auto e = error_of([&] { bpnn::load_model(path); });
    CHECK(e.kind() == ErrorKind::format);
    CHECK_THAT(e.what(), StartsWith(path + ": metadata \"hidden_act\" = \"swish\": "));
    file.metadata["hidden_act"] = "tanh";
    file.metadata["sizes"] = "3,,2";
    file_put_sealed(path, file);
    CHECK_THAT(error_of([&] { bpnn::load_model(path); }).what(), StartsWith(path + ": metadata \"sizes\" = \"3,,2\""));
  }
  SECTION("a file that cannot be opened is Error(io)") {
    auto e = error_of([&] { bpnn::load_model(dir.file("absent.safetensors")); });
    CHECK(e.kind() == ErrorKind::io);
  }
}

TEST_CASE("model_io: load_weights reads a PyTorch-style file without metadata", "[io][model_io]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("torch.safetensors");
  // As torch's safetensors.save_file writes an nn.Sequential(Linear(2,3), Tanh(), Linear(3,1)):
  // F32, no __metadata__, and (here) the tensors in an order of our choosing in the buffer.
  const std::vector<double> w0 = {0.5, -0.25, 1.0, 2.0, -1.5, 0.125}, b0 = {0.1f, 0.2f, 0.3f};
  const std::vector<double> w1 = {1.0, -1.0, 0.5}, b1 = {-0.75};
  bpnn::SafetensorsFile torch;
  torch.tensors = {{"1.bias", "F32", {1}, b1},
                   {"0.weight", "F32", {3, 2}, w0},
                   {"1.weight", "F32", {1, 3}, w1},
                   {"0.bias", "F32", {3}, b0}};
  bpnn::safetensors_write(path, torch);
  REQUIRE(bpnn::safetensors_read(path).metadata.empty());

  for (Precision precision : {Precision::f32, Precision::f64}) {
    NetworkConfig c;
    c.sizes = {2, 3, 1};
    c.precision = precision;
    Network net(c);
    bpnn::load_weights(net, path);
    CHECK(net.weights(0) == w0);
    CHECK(net.bias(0) == b0);
    CHECK(net.weights(1) == w1);
    CHECK(net.bias(1) == b1);
  }

  SECTION("F64 tensors load into an f64 network exactly") {
    bpnn::SafetensorsFile f64 = torch;
    for (auto& t : f64.tensors) t.dtype = "F64";
    f64.tensors[1].values[0] = 0.1;  // not a float
    bpnn::safetensors_write(path, f64);
    NetworkConfig c;
    c.sizes = {2, 3, 1};
    c.precision = Precision::f64;
    Network net(c);
    bpnn::load_weights(net, path);
    CHECK(net.weights(0)[0] == 0.1);
  }
}

TEST_CASE("model_io: load_weights names the tensor that does not fit", "[io][model_io]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("w.safetensors");
  NetworkConfig c;
  c.sizes = {2, 3, 1};
  Network net(c);
  const Network before = net;
  auto weights_error = [&](const bpnn::SafetensorsFile& f) {
    bpnn::safetensors_write(path, f);
    auto e = error_of([&] { bpnn::load_weights(net, path); });
    CHECK(e.kind() == ErrorKind::format);
    check_same_parameters(net, before);  // nothing half-loaded
    return std::string(e.what());
  };
  bpnn::SafetensorsFile f;
  f.tensors = {{"0.weight", "F32", {3, 2}, std::vector<double>(6, 1.0)},
               {"0.bias", "F32", {3}, std::vector<double>(3, 1.0)},
               {"1.weight", "F32", {1, 3}, std::vector<double>(3, 1.0)},
               {"1.bias", "F32", {1}, std::vector<double>(1, 1.0)}};

  SECTION("wrong shape") {
    auto bad = f;
    bad.tensors[0].shape = {2, 3};
    CHECK(weights_error(bad) == path + ": tensor \"0.weight\" has shape [2, 3], layer 0 of the network needs [3, 2]");
  }
  SECTION("missing") {
    auto bad = f;
    bad.tensors.pop_back();
    CHECK_THAT(weights_error(bad), StartsWith(path + ": no tensor \"1.bias\" (the network has 2 layers"));
  }
  SECTION("extra tensors") {
    auto bad = f;
    bad.tensors.push_back({"2.weight", "F32", {1, 1}, {1.0}});
    bad.tensors.push_back({"running_mean", "F32", {1}, {0.0}});
    CHECK_THAT(weights_error(bad), StartsWith(path + ": tensors that belong to no layer of the network"));
    CHECK_THAT(weights_error(bad), Contains("\"2.weight\", \"running_mean\""));
  }
  SECTION("a bpnn file with a bad CRC") {
    auto bad = f;
    bad.metadata = {{"format", "bpnn"}, {"crc32", "00000000"}};
    CHECK_THAT(weights_error(bad), StartsWith(path + ": CRC mismatch: stored 00000000, computed "));
  }
  SECTION("the right file loads") {
    bpnn::safetensors_write(path, f);
    bpnn::load_weights(net, path);
    CHECK(net.weights(1) == std::vector<double>(3, 1.0));
  }
}
