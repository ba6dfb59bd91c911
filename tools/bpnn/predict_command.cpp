// bpnn predict model.safetensors DATA.csv  → outputs as CSV on stdout
#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/cli_values.hpp"
#include "bpnn/commands.hpp"
#include "bpnn/output_paths.hpp"
#include "io/output_file.hpp"
#include "nn/size_check.hpp"
#include "bpnn/model_data.hpp"
#include "bpnn/data_source.hpp"
#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"

namespace bpnn::cli {
namespace {

constexpr std::size_t no_layer = std::numeric_limits<std::size_t>::max();

struct PredictOptions {
  std::string model_path, data_path, output_path;
  std::size_t layer = no_layer;  // --layer K: that layer's activations instead of the outputs
  bool labels = false;               // --labels: the predicted class name per row
};

// The predicted class of each row of outputs y:(n, k): the arg-max, or for one sigmoid column
// output ≥ 0.5.
std::vector<std::size_t> predicted_classes(const std::vector<double>& y, std::size_t n, std::size_t k) {
  std::vector<std::size_t> classes(n);
  for (std::size_t r = 0; r < n; ++r) {
    const double* row = y.data() + r * k;
    classes[r] = k == 1 ? (row[0] >= 0.5) : static_cast<std::size_t>(std::max_element(row, row + k) - row);
  }
  return classes;
}

void run_predict(const PredictOptions& o) {
  const Network net = load_model(o.model_path);
  if (!o.output_path.empty()) {
    std::vector<CommandFile> inputs = data_spec_files(data_spec_parse(o.data_path, true), "the data");
    inputs.push_back({"the model", o.model_path});
    output_paths_check_distinct(inputs, {{"--output", o.output_path}});
    output_kind(o.output_path);  // exit 4 before any work for a folder or a missing folder
  }
  const bool hidden = o.layer != no_layer;
  const std::size_t layer = hidden ? o.layer : net.n_layers();
  if (layer > net.n_layers())
    throw Error(ErrorKind::argument, "--layer " + std::to_string(layer) + ": the model has layers 0 (its "
                                     "scaled inputs) to " + std::to_string(net.n_layers()) + " (its outputs)");
  const bool classifier = net.config().output_act == Activation::softmax ||
                          net.config().output_act == Activation::sigmoid;
  if (o.labels && (hidden || !classifier))
    throw Error(ErrorKind::argument, hidden ? "--labels: not with --layer (a hidden layer has no classes)"
                                             : "--labels: the model's outputs are not classes (its output "
                                               "activation is " + std::string(to_string(net.config().output_act)) + ")");
  const std::size_t width = net.width(layer);
  std::vector<std::string> names;
  if (layer == net.n_layers()) {
    names = model_names(net, "classes", o.model_path);
    if (names.size() != width) names = model_names(net, "output_names", o.model_path);
  } else if (layer == 0) {
    names = model_names(net, "input_names", o.model_path);
  }
  if (names.size() != width) {
    names.clear();
    const std::string prefix = layer == net.n_layers() ? "y" : layer == 0 ? "x" : "h" + std::to_string(layer) + "_";
    for (std::size_t j = 0; j < width; ++j) names.push_back(prefix + std::to_string(j));
  }
  const DataTable table = model_table_read(net, o.data_path, o.model_path, true);
  const Dataset data = model_inputs(net, table, o.model_path);
  std::vector<double> y(data.n * width);
  net.predict_layer(data.x.data(), data.n, layer, y.data());

  const bool f32 = net.config().precision == Precision::f32;
  std::string out;
  if (o.labels) {
    std::vector<std::string> classes = model_names(net, "classes", o.model_path);
    const std::size_t n_classes = width == 1 ? 2 : width;
    if (classes.size() != n_classes) {
      classes.clear();
      for (std::size_t c = 0; c < n_classes; ++c) classes.push_back(std::to_string(c));
    }
    out += "label\n";
    for (std::size_t c : predicted_classes(y, data.n, width)) out += nlohmann::json(classes[c]).dump() + '\n';
  } else {
    for (std::size_t j = 0; j < names.size(); ++j) out += (j ? "," : "") + nlohmann::json(names[j]).dump();
    out += '\n';
    char buf[40];
    for (std::size_t r = 0; r < data.n; ++r) {
      for (std::size_t j = 0; j < width; ++j) {
        std::snprintf(buf, sizeof buf, f32 ? "%.9g" : "%.17g", y[r * width + j]);
        if (j) out += ',';
        out += buf;
      }
      out += '\n';
    }
  }
  if (!o.output_path.empty()) {
    output_file_write(o.output_path, std::string_view(out));
    return;
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    throw Error(ErrorKind::io, "stdout: write failed");
}

}  // namespace

void predict_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Run a trained model over a data file; write its outputs as CSV to stdout");
  cmd->add_option("model", o->model_path, "Model file (.safetensors) written by bpnn train")
      ->required();
  cmd->add_option("data", o->data_path,
                  "CSV file holding the model's input columns (target columns are ignored); "
                  "FILE.data or fann:FILE: FANN data; idx:IMAGES[,LABELS]: IDX images, plain or .gz")
      ->required();
  cmd->add_option("-o,--output", o->output_path, "Write the CSV here instead of stdout");
  add_whole_option(*cmd, "--layer", o->layer, 0, max_layer_width,
                   "Write the activations of layer K instead: 0 = the inputs after the model's "
                   "scaler, 1 = the first hidden layer, …, the last = the outputs")
      ->default_str("the outputs");
  cmd->add_flag("--labels", o->labels, "Write the predicted class name of each row instead");
  cmd->callback([o, &exit_code] {
    run_predict(*o);
    exit_code = 0;
  });
}

}  // namespace bpnn::cli
