// bpnn eval MODEL DATA [--json]: the model's loss and its classification or regression scores
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/commands.hpp"
#include "bpnn/confusion_plot.hpp"
#include "bpnn/error.hpp"
#include "bpnn/evaluate.hpp"
#include "bpnn/model_data.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/output_paths.hpp"

namespace bpnn::cli {
namespace {

struct EvalOptions {
  std::string model_path, data_path;
  std::string plot_path;  // --plot: the confusion matrix as an SVG heat map
  bool json = false;
};

// The class names of a classifier: the model's recorded classes, else its output names, else
// "0", "1", … (one sigmoid column: "0" and "1").
std::vector<std::string> class_names(const Network& net, const Evaluation& e, const std::string& model_path) {
  std::vector<std::string> names = model_names(net, "classes", model_path);
  if (names.size() != e.n_classes) names = model_names(net, "output_names", model_path);
  if (names.size() != e.n_classes) {
    names.clear();
    for (std::size_t c = 0; c < e.n_classes; ++c) names.push_back(std::to_string(c));
  }
  return names;
}

nlohmann::json report_json(const Evaluation& e, const std::vector<std::string>& names) {
  nlohmann::json j = {{"n", e.n}, {"loss", e.loss}};
  if (e.classifier) {
    j["accuracy"] = e.accuracy;
    j["classes"] = names;
    nlohmann::json per_class = nlohmann::json::array(), confusion = nlohmann::json::array();
    for (std::size_t c = 0; c < e.n_classes; ++c) {
      const ClassScore& s = e.per_class[c];
      per_class.push_back({{"class", names[c]}, {"precision", s.precision}, {"recall", s.recall},
                           {"f1", s.f1}, {"support", s.support}});
      confusion.push_back(std::vector<std::size_t>(e.confusion.begin() + static_cast<std::ptrdiff_t>(c * e.n_classes),
                                                   e.confusion.begin() + static_cast<std::ptrdiff_t>((c + 1) * e.n_classes)));
    }
    j["per_class"] = per_class;
    j["confusion"] = confusion;
    j["macro_f1"] = e.macro_f1;
  } else {
    j["rmse"] = e.rmse;
    j["mae"] = e.mae;
    j["r2"] = e.r2;
    nlohmann::json per_output = nlohmann::json::array();
    for (std::size_t o = 0; o < e.per_output.size(); ++o)
      per_output.push_back({{"output", names[o]}, {"rmse", e.per_output[o].rmse},
                            {"mae", e.per_output[o].mae}, {"r2", e.per_output[o].r2}});
    j["per_output"] = per_output;
  }
  return j;
}

std::string report_text(const Evaluation& e, const std::vector<std::string>& names) {
  std::string out;
  char line[256];
  const auto add = [&](const char* format, auto... args) {
    std::snprintf(line, sizeof line, format, args...);
    out += line;
  };
  add("rows %zu\nloss %.9g\n", e.n, e.loss);
  if (!e.classifier) {
    add("rmse %.9g\nmae %.9g\nr2 %.9g\n", e.rmse, e.mae, e.r2);
    out += "# output rmse mae r2\n";
    for (std::size_t o = 0; o < e.per_output.size(); ++o)
      add("%s %.9g %.9g %.9g\n", nlohmann::json(names[o]).dump().c_str(), e.per_output[o].rmse,
          e.per_output[o].mae, e.per_output[o].r2);
    return out;
  }
  add("accuracy %.6f (%zu of %zu)\nmacro_f1 %.6f\n", e.accuracy,
      static_cast<std::size_t>(e.accuracy * static_cast<double>(e.n) + 0.5), e.n, e.macro_f1);
  out += "# class precision recall f1 support\n";
  for (std::size_t c = 0; c < e.n_classes; ++c)
    add("%s %.6f %.6f %.6f %zu\n", nlohmann::json(names[c]).dump().c_str(), e.per_class[c].precision,
        e.per_class[c].recall, e.per_class[c].f1, e.per_class[c].support);
  out += "# confusion: rows = true class, columns = predicted, in the order above\n";
  for (std::size_t t = 0; t < e.n_classes; ++t) {
    for (std::size_t p = 0; p < e.n_classes; ++p) add(p ? " %zu" : "%zu", e.confusion[t * e.n_classes + p]);
    out += '\n';
  }
  return out;
}

void run_eval(const EvalOptions& o) {
  const Network net = load_model(o.model_path);
  const Dataset data = model_labelled(net, model_table_read(net, o.data_path, o.model_path, false), o.model_path);
  const Evaluation e = evaluate(net, data.x.data(), data.y.data(), data.n);
  std::vector<std::string> names;
  if (e.classifier) {
    names = class_names(net, e, o.model_path);
  } else {
    names = model_names(net, "output_names", o.model_path);
    if (names.size() != net.n_outputs()) {
      names.clear();
      for (std::size_t j = 0; j < net.n_outputs(); ++j) names.push_back("y" + std::to_string(j));
    }
  }
  if (!o.plot_path.empty()) {
    output_paths_check_distinct({{"the model", o.model_path}, {"the data", o.data_path}}, {{"--plot", o.plot_path}});
    char accuracy[64];
    std::snprintf(accuracy, sizeof accuracy, ", accuracy %.2f%% of %zu rows", 100 * e.accuracy, e.n);
    confusion_plot_write(o.plot_path, e, names, "Confusion matrix: " + o.model_path + " on " + o.data_path + accuracy);
  }
  const std::string out = o.json ? report_json(e, names).dump(2) + "\n" : report_text(e, names);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    throw Error(ErrorKind::io, "stdout: write failed");
}

}  // namespace

void eval_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Score a trained model on labelled data: loss, and accuracy, per-class precision/recall/F1, "
      "macro F1 and the confusion matrix for a classifier, or RMSE, MAE and R² for regression");
  cmd->add_option("model", o->model_path, "Model file (.safetensors) written by bpnn train")->required();
  cmd->add_option("data", o->data_path,
                  "CSV file with the model's input columns and its targets (the --label column, "
                  "the output columns by name, else the last columns); FILE.data or fann:FILE: FANN "
                  "data; idx:IMAGES,LABELS: an IDX pair, plain or .gz")
      ->required();
  cmd->add_flag("--json", o->json,
                "Write the scores as JSON: n, loss, and accuracy, classes, per_class, confusion, "
                "macro_f1 or rmse, mae, r2, per_output");
  cmd->add_option("--plot", o->plot_path,
                  "Draw a classifier's confusion matrix as an SVG heat map with the counts")
      ->type_name("FILE.svg");
  cmd->callback([o, &exit_code] {
    run_eval(*o);
    exit_code = 0;
  });
}

}  // namespace bpnn::cli
