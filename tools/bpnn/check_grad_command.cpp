// bpnn check-grad --layers ... : back-propagation against central differences for a configuration
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bpnn/commands.hpp"
#include "bpnn/cli_values.hpp"
#include "bpnn/exit_codes.hpp"
#include "bpnn/gradient_check.hpp"
#include "bpnn/network.hpp"
#include "nn/size_check.hpp"

namespace bpnn::cli {
namespace {

struct CheckGradOptions {
  std::vector<std::size_t> layers;
  std::string hidden_act = "sigmoid", output_act = "sigmoid", loss = "mse", precision = "f64";
  double tolerance = -1;  // < 0: the precision's default
  GradientCheckOptions check;
};

int run_check_grad(const CheckGradOptions& o) {
  NetworkConfig config;
  config.sizes = o.layers;
  config.hidden_act = parse_activation(o.hidden_act);
  config.output_act = parse_activation(o.output_act);
  config.loss = parse_loss(o.loss);
  config.precision = parse_precision(o.precision);
  validate(config);
  const double tolerance =
      o.tolerance >= 0 ? o.tolerance : config.precision == Precision::f64 ? 1e-6 : 1e-2;
  const GradientCheck r = check_gradients(config, o.check);
  std::printf("# layer checked skipped worst_relative_error analytic numeric where\n");
  for (std::size_t l = 0; l < r.layers.size(); ++l) {
    const LayerGradientCheck& c = r.layers[l];
    const std::string where = c.worst_is_bias ? "bias[" + std::to_string(c.worst_row) + "]"
                                              : "weight[" + std::to_string(c.worst_row) + "," +
                                                    std::to_string(c.worst_column) + "]";
    std::printf("%zu %zu %zu %.3e %.17g %.17g %s\n", l, c.checked, c.skipped, c.worst, c.analytic,
                c.numeric, c.checked ? where.c_str() : "-");
  }
  const bool pass = r.worst <= tolerance;
  std::printf("%s: worst relative error %.3e, tolerance %.1e (%s)\n", pass ? "ok" : "FAILED", r.worst,
              tolerance, o.precision.c_str());
  std::fflush(stdout);
  return pass ? exit_ok : exit_check_failed;
}

}  // namespace

void check_grad_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CheckGradOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check-grad",
      "Check back-propagation against central differences on seeded random data; exit 0 within "
      "the tolerance, 8 otherwise");
  add_whole_list_option(*cmd, "--layers", o->layers, 2, max_layer_width,
                        "Layer widths, inputs first, e.g. 4,8,3")
      ->required();
  cmd->add_option("--hidden-act", o->hidden_act, "sigmoid|tanh|relu|linear")->capture_default_str();
  cmd->add_option("--output-act", o->output_act, "sigmoid|softmax|linear|tanh|relu")
      ->capture_default_str();
  cmd->add_option("--loss", o->loss, "mse|xent")->capture_default_str();
  cmd->add_option("--precision", o->precision, "f64|f32 (the backward pass checked)")
      ->capture_default_str();
  add_real_option(*cmd, "--tol", o->tolerance, RealRange{0, true, 1, false},
                  "Tolerance on |a-n|/max(|a|,|n|,1e-8) (default 1e-6 for f64, 1e-2 for f32)");
  add_whole_option(*cmd, "--rows", o->check.rows, 1, 100000, "Random samples in the checked batch");
  add_whole_option(*cmd, "--seed", o->check.seed, 0, UINT64_MAX, "Seed of weights and data");
  add_whole_option(*cmd, "--max-params", o->check.max_params_per_layer, 1, 100000000,
                   "Parameters checked per layer (a seeded sample beyond this)");
  cmd->callback([o, &exit_code] { exit_code = run_check_grad(*o); });
}

}  // namespace bpnn::cli
