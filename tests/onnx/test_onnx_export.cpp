// bpnn::onnx_export_model: the graph it writes, read back with ONNX's protobuf classes, and
// `bpnn export --onnx` from the command line. The runtimes' own checks are check_onnx.py and
// run_onnxruntime.js.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/onnx_export.hpp"
#include "bpnn/version.hpp"
#include "cli_run.hpp"

namespace {

bpnn::Network make_net(std::vector<std::size_t> sizes, bpnn::Activation hidden, bpnn::Activation output,
                       bpnn::Precision precision) {
  bpnn::NetworkConfig c;
  c.sizes = std::move(sizes);
  c.hidden_act = hidden;
  c.output_act = output;
  c.loss = output == bpnn::Activation::softmax ? bpnn::Loss::xent : bpnn::Loss::mse;
  c.precision = precision;
  c.seed = 7;
  bpnn::Network net(c);
  for (std::size_t i = 0; i < net.n_layers(); ++i) {
    std::vector<double> b(c.sizes[i + 1]);
    for (std::size_t j = 0; j < b.size(); ++j) b[j] = 0.1 * static_cast<double>(j + 1) - 0.25;
    net.set_layer(i, net.weights(i), b);
  }
  return net;
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(bytes));
  return m;
}

std::vector<std::string> op_types(const onnx::ModelProto& m) {
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  return ops;
}

const onnx::TensorProto& initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return t;
  FAIL("no initializer " << name);
  throw;  // not reached
}

std::vector<double> tensor_values(const onnx::TensorProto& t) {
  if (t.data_type() == onnx::TensorProto::FLOAT) return {t.float_data().begin(), t.float_data().end()};
  return {t.double_data().begin(), t.double_data().end()};
}

std::vector<std::int64_t> tensor_dims(const onnx::TensorProto& t) { return {t.dims().begin(), t.dims().end()}; }

std::map<std::string, std::string> metadata_props(const onnx::ModelProto& m) {
  std::map<std::string, std::string> props;
  for (const auto& p : m.metadata_props()) props[p.key()] = p.value();
  return props;
}

// "N x width" of a graph input or output, with its element type.
std::string io_signature(const onnx::ValueInfoProto& v) {
  const auto& t = v.type().tensor_type();
  std::string s = v.name() + ":" + std::to_string(t.elem_type());
  for (const auto& d : t.shape().dim()) s += " " + (d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return s;
}

std::int64_t int_attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  FAIL(n.name() << " has no attribute " << name);
  return 0;
}

}  // namespace

TEST_CASE("onnx export: a scaled f32 softmax network is Sub, Mul, then Gemm + activation per layer",
          "[onnx]") {
  bpnn::Network net = make_net({4, 6, 5, 3}, bpnn::Activation::tanh, bpnn::Activation::softmax,
                               bpnn::Precision::f32);
  const std::vector<double> x = {1, 10, -3, 0.5, 2, 14, -1, 0.25, 4, 12, 0, 1};
  net.set_scaler(bpnn::scaler_fit(bpnn::Scaling::standard, x.data(), 3, 4));
  const onnx::ModelProto m = parse(bpnn::onnx_export_model(net));
  onnx::checker::check_model(m);

  CHECK(m.ir_version() == 7);
  REQUIRE(m.opset_import_size() == 1);
  CHECK(m.opset_import(0).domain().empty());
  CHECK(m.opset_import(0).version() == 13);
  CHECK(m.producer_name() == "bpnn");
  CHECK(m.producer_version() == BPNN_VERSION_STRING);
  CHECK(op_types(m) == std::vector<std::string>{"Sub", "Mul", "Gemm", "Tanh", "Gemm", "Tanh", "Gemm", "Softmax"});
  const auto& g = m.graph();
  REQUIRE(g.input_size() == 1);
  REQUIRE(g.output_size() == 1);
  CHECK(io_signature(g.input(0)) == "input:1 N 4");  // 1 = FLOAT
  CHECK(io_signature(g.output(0)) == "output:1 N 3");

  // The data path: input → Sub → Mul → Gemm 0 → ... → Softmax → output.
  CHECK(g.node(0).input(0) == "input");
  CHECK(g.node(0).input(1) == "scaler.offset");
  CHECK(g.node(1).input(0) == g.node(0).output(0));
  CHECK(g.node(1).input(1) == "scaler.factor");
  CHECK(g.node(2).input(0) == g.node(1).output(0));
  for (int i = 2; i < g.node_size(); ++i) CHECK(g.node(i).input(0) == g.node(i - 1).output(0));
  CHECK(g.node(7).output(0) == "output");
  CHECK(int_attribute(g.node(7), "axis") == 1);
  std::vector<double> offset_f32;  // an f32 model's scaler constants are rounded to f32
  for (double v : net.scaler().offset) offset_f32.push_back(static_cast<float>(v));
  CHECK(tensor_values(initializer(m, "scaler.offset")) == offset_f32);

  for (int layer = 0; layer < 3; ++layer) {
    const onnx::NodeProto& gemm = g.node(2 + 2 * layer);
    const std::string prefix = std::to_string(layer);
    CHECK(gemm.input(1) == prefix + ".weight");
    CHECK(gemm.input(2) == prefix + ".bias");
    CHECK(int_attribute(gemm, "transB") == 1);
    const auto& w = initializer(m, prefix + ".weight");
    const auto& b = initializer(m, prefix + ".bias");
    CHECK(w.data_type() == onnx::TensorProto::FLOAT);
    CHECK(tensor_dims(w) == std::vector<std::int64_t>{static_cast<std::int64_t>(net.config().sizes[layer + 1]),
                                                      static_cast<std::int64_t>(net.config().sizes[layer])});
    CHECK(tensor_values(w) == net.weights(layer));  // f32 weights are exact in double
    CHECK(tensor_values(b) == net.bias(layer));
  }
}

TEST_CASE("onnx export: an f64 network is DOUBLE throughout and bit-exact", "[onnx]") {
  bpnn::Network net = make_net({3, 5, 2}, bpnn::Activation::relu, bpnn::Activation::sigmoid,
                               bpnn::Precision::f64);
  const std::vector<double> x = {0.1, 2, 3, 4, 5.5, 6, 7, 8, 9.25};
  net.set_scaler(bpnn::scaler_fit(bpnn::Scaling::minmax, x.data(), 3, 3));
  const onnx::ModelProto m = parse(bpnn::onnx_export_model(net));
  CHECK(op_types(m) == std::vector<std::string>{"Sub", "Mul", "Gemm", "Relu", "Gemm", "Sigmoid"});
  CHECK(io_signature(m.graph().input(0)) == "input:11 N 3");  // 11 = DOUBLE
  CHECK(io_signature(m.graph().output(0)) == "output:11 N 2");
  for (const auto& t : m.graph().initializer()) CHECK(t.data_type() == onnx::TensorProto::DOUBLE);
  CHECK(tensor_values(initializer(m, "0.weight")) == net.weights(0));
  CHECK(tensor_values(initializer(m, "1.bias")) == net.bias(1));
  CHECK(tensor_values(initializer(m, "scaler.factor")) == net.scaler().factor);
}

TEST_CASE("onnx export: linear layers add no node and no scaler adds no Sub/Mul", "[onnx]") {
  const bpnn::Network net = make_net({2, 3, 4, 1}, bpnn::Activation::linear, bpnn::Activation::linear,
                                     bpnn::Precision::f32);
  const onnx::ModelProto m = parse(bpnn::onnx_export_model(net));
  CHECK(op_types(m) == std::vector<std::string>{"Gemm", "Gemm", "Gemm"});
  CHECK(m.graph().node(0).input(0) == "input");
  CHECK(m.graph().node(2).output(0) == "output");
  CHECK(metadata_props(m).empty());

  const bpnn::Network tanh_out = make_net({2, 3}, bpnn::Activation::relu, bpnn::Activation::tanh,
                                          bpnn::Precision::f64);
  CHECK(op_types(parse(bpnn::onnx_export_model(tanh_out))) == std::vector<std::string>{"Gemm", "Tanh"});
}

TEST_CASE("onnx export: names and classes go to metadata_props, malformed ones are left out",
          "[onnx]") {
  bpnn::Network net = make_net({2, 4, 3}, bpnn::Activation::sigmoid, bpnn::Activation::softmax,
                               bpnn::Precision::f32);
  net.metadata()["input_names"] = R"(["sepal length", "petal \"width\""])";
  net.metadata()["classes"] = R"(["setosa", 2, "virginica"])";
  net.metadata()["output_names"] = "not json";
  auto props = metadata_props(parse(bpnn::onnx_export_model(net)));
  CHECK(props.count("output_names") == 0);
  REQUIRE(props.count("input_names") == 1);
  CHECK(nlohmann::json::parse(props["input_names"]) ==
        nlohmann::json(std::vector<std::string>{"sepal length", "petal \"width\""}));
  CHECK(nlohmann::json::parse(props["classes"]) ==
        nlohmann::json(std::vector<std::string>{"setosa", "2", "virginica"}));

  net.metadata()["input_names"] = R"(["only one"])";      // the wrong length
  net.metadata()["classes"] = R"({"a": 1})";              // not a list
  net.metadata()["output_names"] = R"(["a", ["b"], "c"])";  // not names
  props = metadata_props(parse(bpnn::onnx_export_model(net)));
  CHECK(props.empty());
}

TEST_CASE("bpnn export --onnx writes the exporter's bytes, errors are one line with the CLI's codes",
          "[onnx][cli]") {
  bpnn_test::ScratchDir dir;
  bpnn::Network net = make_net({3, 4, 2}, bpnn::Activation::tanh, bpnn::Activation::sigmoid,
                               bpnn::Precision::f64);
  net.metadata()["output_names"] = R"(["a", "b"])";
  bpnn::save_model(net, (dir.path / "model.safetensors").string());

  auto run = bpnn_test::cli_run(dir.path, "export model.safetensors --onnx model.onnx");
  CHECK(run.exit_code == 0);
  CHECK(run.err.empty());
  CHECK(bpnn_test::file_text(dir.path / "model.onnx") ==
        bpnn::onnx_export_model(bpnn::load_model((dir.path / "model.safetensors").string())));

  run = bpnn_test::cli_run(dir.path, "export missing.safetensors --onnx out.onnx");
  CHECK(run.exit_code == 4);
  CHECK(run.err.rfind("bpnn: ", 0) == 0);
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
  CHECK_FALSE(std::filesystem::exists(dir.path / "out.onnx"));

  dir.write("corrupt.safetensors", "this is not a model");
  run = bpnn_test::cli_run(dir.path, "export corrupt.safetensors --onnx out.onnx");
  CHECK(run.exit_code == 5);
  CHECK_FALSE(std::filesystem::exists(dir.path / "out.onnx"));

  run = bpnn_test::cli_run(dir.path, "export model.safetensors --onnx no/such/folder/out.onnx");
  CHECK(run.exit_code == 4);
  CHECK(run.err.find("no/such/folder/out.onnx") != std::string::npos);

  run = bpnn_test::cli_run(dir.path, "export model.safetensors");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--onnx") != std::string::npos);
}
