// bpnn predict model.safetensors DATA.csv  → outputs as CSV on stdout
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/commands.hpp"
#include "bpnn/model_data.hpp"
#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"

namespace bpnn::cli {
namespace {

struct PredictOptions {
  std::string model_path, data_path;
};

void run_predict(const PredictOptions& o) {
  const Network net = load_model(o.model_path);
  std::vector<std::string> output_names = model_names(net, "classes", o.model_path);
  if (output_names.empty()) output_names = model_names(net, "output_names", o.model_path);
  if (output_names.size() != net.n_outputs()) {
    output_names.clear();
    for (std::size_t j = 0; j < net.n_outputs(); ++j) output_names.push_back("y" + std::to_string(j));
  }
  const CsvTable table = model_table_read(net, o.data_path);
  const Dataset data = model_inputs(net, table, o.model_path);
  std::vector<double> y(data.n * net.n_outputs());
  net.predict(data.x.data(), data.n, y.data());

  const bool f32 = net.config().precision == Precision::f32;
  std::string out;
  for (std::size_t j = 0; j < output_names.size(); ++j)
    out += (j ? "," : "") + nlohmann::json(output_names[j]).dump();
  out += '\n';
  char buf[40];
  for (std::size_t r = 0; r < data.n; ++r) {
    for (std::size_t j = 0; j < net.n_outputs(); ++j) {
      std::snprintf(buf, sizeof buf, f32 ? "%.9g" : "%.17g", y[r * net.n_outputs() + j]);
      if (j) out += ',';
      out += buf;
    }
    out += '\n';
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    throw Error(ErrorKind::io, "stdout: write failed");
}

}  // namespace

void predict_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Run a trained model over a CSV file; write its outputs as CSV to stdout");
  cmd->add_option("model", o->model_path, "Model file (.safetensors) written by bpnn train")
      ->required();
  cmd->add_option("data", o->data_path,
                  "CSV file holding the model's input columns (target columns are ignored)")
      ->required();
  cmd->callback([o, &exit_code] {
    run_predict(*o);
    exit_code = 0;
  });
}

}  // namespace bpnn::cli
