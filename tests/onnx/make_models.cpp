// onnx_make_models BPNN_CLI OUTDIR: the test models of the ONNX runtime tests and their
// reference predictions, listed in OUTDIR/manifest.json for check_onnx.py and
// run_onnxruntime.js. Each network below goes two ways, each a manifest entry:
//   NAME      the library: onnx_export_model(net) → NAME.onnx, and net.predict (the function
//             `bpnn predict` runs) on NAME_inputs.csv → NAME_expected.csv;
//   NAME_cli  the CLI on the saved model: bpnn export NAME.safetensors --onnx NAME_cli.onnx and
//             bpnn predict NAME.safetensors NAME_inputs.csv > NAME_cli_expected.csv.
// The first keeps the in-memory scaler even where the model file does not (yet) store one.
// Between them the networks cover every activation in f32 and f64, softmax outputs, all three
// scalings and one to three layers.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/onnx_export.hpp"
#include "bpnn/scaler.hpp"

namespace {

struct ModelSpec {
  std::string name;
  std::vector<std::size_t> sizes;
  bpnn::Activation hidden, output;
  bpnn::Precision precision;
  bpnn::Scaling scaling;
};

const std::vector<ModelSpec> model_specs = {
    {"sigmoid_f32", {3, 5, 2}, bpnn::Activation::sigmoid, bpnn::Activation::sigmoid,
     bpnn::Precision::f32, bpnn::Scaling::none},
    {"tanh_softmax_f32", {4, 6, 5, 3}, bpnn::Activation::tanh, bpnn::Activation::softmax,
     bpnn::Precision::f32, bpnn::Scaling::standard},
    {"linear_relu_f32", {3, 4, 3}, bpnn::Activation::linear, bpnn::Activation::relu,
     bpnn::Precision::f32, bpnn::Scaling::minmax},
    {"relu_linear_f32", {5, 7, 6, 1}, bpnn::Activation::relu, bpnn::Activation::linear,
     bpnn::Precision::f32, bpnn::Scaling::standard},
    {"sigmoid_tanh_f64", {3, 5, 2}, bpnn::Activation::sigmoid, bpnn::Activation::tanh,
     bpnn::Precision::f64, bpnn::Scaling::minmax},
    {"relu_softmax_f64", {4, 6, 5, 3}, bpnn::Activation::relu, bpnn::Activation::softmax,
     bpnn::Precision::f64, bpnn::Scaling::standard},
    {"tanh_linear_f64", {5, 7, 1}, bpnn::Activation::tanh, bpnn::Activation::linear,
     bpnn::Precision::f64, bpnn::Scaling::none},
    {"linear_relu_f64", {2, 3}, bpnn::Activation::linear, bpnn::Activation::relu,
     bpnn::Precision::f64, bpnn::Scaling::standard},
};

constexpr std::size_t rows = 41;

// Raw inputs (rows, inputs): column c around 7c − 4 with spread 1 + c, so the scaler matters;
// f32 models get values that are exact in f32, as an f32 runtime will see them.
std::vector<double> raw_inputs(std::size_t inputs, bpnn::Precision p, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  std::vector<double> x(rows * inputs);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < inputs; ++c) {
      const double v = 7.0 * static_cast<double>(c) - 4.0 + (1.0 + static_cast<double>(c)) * u(rng);
      x[r * inputs + c] = p == bpnn::Precision::f32 ? static_cast<double>(static_cast<float>(v)) : v;
    }
  return x;
}

// prefix followed by the number i ("x3"); appended piece by piece (GCC 12's -Wrestrict misfires
// on chains of string temporaries).
std::string numbered(const char* prefix, std::size_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

bpnn::Network make_network(const ModelSpec& spec, const std::vector<double>& x, std::uint64_t seed,
                           std::mt19937_64& rng) {
  bpnn::NetworkConfig config;
  config.sizes = spec.sizes;
  config.hidden_act = spec.hidden;
  config.output_act = spec.output;
  config.loss = spec.output == bpnn::Activation::softmax ? bpnn::Loss::xent : bpnn::Loss::mse;
  config.precision = spec.precision;
  config.init = bpnn::Init::xavier;
  config.seed = seed;
  bpnn::Network net(config);
  // Non-zero biases, so a Gemm that dropped its C input would be caught.
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  for (std::size_t i = 0; i < net.n_layers(); ++i) {
    std::vector<double> b(spec.sizes[i + 1]);
    for (double& v : b) v = u(rng);
    net.set_layer(i, net.weights(i), b);
  }
  if (spec.scaling != bpnn::Scaling::none)
    net.set_scaler(bpnn::scaler_fit(spec.scaling, x.data(), rows, net.n_inputs()));

  std::vector<std::string> inputs, outputs;
  for (std::size_t c = 0; c < net.n_inputs(); ++c) inputs.push_back(numbered("x", c));
  for (std::size_t c = 0; c < net.n_outputs(); ++c) outputs.push_back(numbered("out ", c));
  net.metadata()["input_names"] = nlohmann::json(inputs).dump();
  net.metadata()["output_names"] = nlohmann::json(outputs).dump();
  if (spec.output == bpnn::Activation::softmax) {
    std::vector<std::string> classes;
    for (std::size_t c = 0; c < net.n_outputs(); ++c) classes.push_back(numbered("class \"", c) + '"');
    net.metadata()["classes"] = nlohmann::json(classes).dump();
  }
  return net;
}

void write_inputs_csv(const std::filesystem::path& path, const bpnn::Network& net,
                      const std::vector<double>& x) {
  const auto names = nlohmann::json::parse(net.metadata().at("input_names"));
  std::string text;
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (c) text += ',';
    text += names[c].get<std::string>();
  }
  text += '\n';
  char buf[40];
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < net.n_inputs(); ++c) {
      std::snprintf(buf, sizeof buf, "%.17g", x[r * net.n_inputs() + c]);
      if (c) text += ',';
      text += buf;
    }
    text += '\n';
  }
  std::ofstream(path, std::ios::binary) << text;
}

void run_command(const std::string& command) {
  const int status = std::system(command.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("command failed (status " + std::to_string(status) + "): " + command);
}

// net.predict over the rows of x, as CSV with a header, every value to 17 digits.
void write_predictions_csv(const std::filesystem::path& path, const bpnn::Network& net,
                           const std::vector<double>& x) {
  std::vector<double> y(rows * net.n_outputs());
  net.predict(x.data(), rows, y.data());
  std::string text;
  for (std::size_t j = 0; j < net.n_outputs(); ++j) {
    if (j) text += ',';
    text += 'y';
    text += std::to_string(j);
  }
  text += '\n';
  char buf[40];
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < net.n_outputs(); ++j) {
      std::snprintf(buf, sizeof buf, "%.17g", y[r * net.n_outputs() + j]);
      if (j) text += ',';
      text += buf;
    }
    text += '\n';
  }
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

nlohmann::json manifest_entry(const std::string& name, const bpnn::Network& net,
                              const std::filesystem::path& onnx, const std::filesystem::path& inputs,
                              const std::filesystem::path& expected) {
  nlohmann::json metadata = nlohmann::json::object();
  for (const char* key : {"input_names", "output_names", "classes"}) {
    const auto it = net.metadata().find(key);
    if (it != net.metadata().end()) metadata[key] = it->second;
  }
  return {{"name", name},
          {"precision", std::string(bpnn::to_string(net.config().precision))},
          {"onnx", onnx.string()},
          {"inputs", inputs.string()},
          {"expected", expected.string()},
          {"n_inputs", net.n_inputs()},
          {"n_outputs", net.n_outputs()},
          {"scaled", net.scaler().active()},
          {"metadata", metadata}};
}

std::string shell_quoted(const std::filesystem::path& p) {
  std::string s = "'";
  s += p.string();
  s += '\'';
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: onnx_make_models BPNN_CLI OUTDIR\n");
    return 2;
  }
  try {
    const std::string cli = argv[1];
    const std::filesystem::path dir = argv[2];
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::mt19937_64 rng(20261129);
    nlohmann::json manifest = nlohmann::json::array();
    std::uint64_t seed = 1;
    for (const ModelSpec& spec : model_specs) {
      const std::vector<double> x = raw_inputs(spec.sizes.front(), spec.precision, rng);
      const bpnn::Network net = make_network(spec, x, seed++, rng);
      const auto model = dir / (spec.name + ".safetensors");
      const auto inputs = dir / (spec.name + "_inputs.csv");
      write_inputs_csv(inputs, net, x);

      const auto onnx = dir / (spec.name + ".onnx");
      const auto expected = dir / (spec.name + "_expected.csv");
      write_bytes(onnx, bpnn::onnx_export_model(net));
      write_predictions_csv(expected, net, x);
      manifest.push_back(manifest_entry(spec.name, net, onnx, inputs, expected));

      const auto cli_onnx = dir / (spec.name + "_cli.onnx");
      const auto cli_expected = dir / (spec.name + "_cli_expected.csv");
      bpnn::save_model(net, model.string());
      run_command(shell_quoted(cli) + " export " + shell_quoted(model) + " --onnx " + shell_quoted(cli_onnx));
      run_command(shell_quoted(cli) + " predict " + shell_quoted(model) + " " + shell_quoted(inputs) +
                  " > " + shell_quoted(cli_expected));
      manifest.push_back(manifest_entry(spec.name + "_cli", bpnn::load_model(model.string()), cli_onnx,
                                        inputs, cli_expected));
    }
    std::ofstream(dir / "manifest.json") << manifest.dump(2) << '\n';
    std::printf("wrote %zu models and their reference predictions to %s\n", manifest.size(),
                dir.string().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onnx_make_models: %s\n", e.what());
    return 1;
  }
}
