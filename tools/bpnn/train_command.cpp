// bpnn train DATA.csv --layers ... -o model.safetensors
#include <cmath>
#include <cstdint>
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
#include "io/model_metadata.hpp"
#include "bpnn/data.hpp"
#include "bpnn/data_source.hpp"
#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/message_line.hpp"
#include "bpnn/output_paths.hpp"
#include "bpnn/train.hpp"
#include "io/output_file.hpp"
#include "nn/size_check.hpp"

namespace bpnn::cli {
namespace {

// Limits of the numeric options (README, "Command line"). A batch at least the data's size is
// full-batch, so 10^9 only keeps out typos; more threads than cores are capped to the cores.
constexpr std::uint64_t max_batch = 1'000'000'000;
constexpr std::uint64_t max_threads = 65'536;

struct TrainOptions {
  std::string data_path, model_path, init_from;
  std::vector<std::size_t> layers;
  std::string hidden_act = "sigmoid", output_act = "sigmoid", loss = "mse", init = "xavier",
              precision = "f32", backend = "tbb";
  std::optional<std::string> label;
  std::vector<std::string> classes;
  double init_scale = 0.5;
  TrainConfig train;
  std::string optimizer = "sgd", scale = "none", targets = "columns";
  bool no_shuffle = false;
  bool batch_given = false;
};

// A one-line hint when the targets lie outside what the output activation can produce (negative
// targets with a sigmoid output, class indices 0–9 in one sigmoid column), with the fix.
std::optional<std::string> target_range_hint(Activation out, const Dataset& data) {
  if (data.y.empty()) return std::nullopt;
  const auto [lo_it, hi_it] = std::minmax_element(data.y.begin(), data.y.end());
  const double lo = *lo_it, hi = *hi_it;
  char range[96];
  std::snprintf(range, sizeof range, "the targets lie in [%.6g, %.6g]", lo, hi);
  const bool whole = std::all_of(data.y.begin(), data.y.end(), [](double v) { return v == std::floor(v); });
  switch (out) {
    case Activation::sigmoid:
    case Activation::softmax:
      if (lo >= 0 && hi <= 1) return std::nullopt;
      if (data.outputs == 1 && whole && lo >= 0)
        return std::string(range) + ", class indices in one " + std::string(to_string(out)) +
               " column, whose outputs stay in [0, 1]; use --label COLUMN (one-hot classes) with "
               "--output-act softmax, or --output-act linear for a number";
      return std::string(range) + ", outside [0, 1] where a " + std::string(to_string(out)) +
             " output lives; use --output-act linear (or rescale the targets)";
    case Activation::tanh:
      if (lo >= -1 && hi <= 1) return std::nullopt;
      return std::string(range) + ", outside [-1, 1] where a tanh output lives; use --output-act linear";
    case Activation::relu:
      if (lo >= 0) return std::nullopt;
      return std::string(range) + ", below 0 where a relu output cannot go; use --output-act linear";
    case Activation::linear:
      return std::nullopt;
  }
  return std::nullopt;
}

void run_train(const TrainOptions& o) {
  std::vector<CommandFile> inputs{{"the training data", o.data_path}};
  if (!o.init_from.empty()) inputs.push_back({"--init-from", o.init_from});
  output_paths_check_distinct(inputs, {{"--output", o.model_path}});
  output_kind(o.model_path);  // a folder, a socket, a missing folder: exit 4 before any work
  // With -o /dev/stdout the model is the output: keep the progress lines out of it.
  const bool progress = !output_is_stdout(o.model_path);

  NetworkConfig config;
  config.sizes = o.layers;
  config.hidden_act = parse_activation(o.hidden_act);
  config.output_act = parse_activation(o.output_act);
  config.loss = parse_loss(o.loss);
  config.precision = parse_precision(o.precision);
  config.init = o.init_from.empty() ? parse_init(o.init) : Init::zero;
  config.init_scale = o.init_scale;
  config.seed = o.train.seed;
  validate(config);

  const bool autoencoder = o.targets == "inputs";
  TrainingData training = training_data_read(
      o.data_path, TrainingDataOptions{.label = o.label, .classes = o.classes, .inputs = config.sizes.front(),
                                       .outputs = config.sizes.back(), .autoencoder = autoencoder,
                                       .precision = config.precision, .rows = std::nullopt});
  Dataset& data = training.data;

  Network net(config);
  if (!o.init_from.empty()) load_weights(net, o.init_from);
  training_data_describe(training, autoencoder, net.metadata());

  TrainConfig train = o.train;
  train.optimizer = parse_optimizer(o.optimizer);
  if (train.optimizer == Optimizer::irprop && o.batch_given)
    throw Error(ErrorKind::argument, "--batch: irprop steps on the full batch; leave --batch out");
  train.shuffle = !o.no_shuffle;
  const Scaling scaling = parse_scaling(o.scale);
  if (scaling != Scaling::none) {
    net.set_scaler(scaler_fit(scaling, data.x.data(), data.n, data.inputs));
    // An autoencoder reproduces what its first layer sees: the scaled inputs.
    if (autoencoder) scaler_apply(net.scaler(), data.y.data(), data.n, data.outputs);
  }
  else if (const auto hint = scaling_hint(data.x.data(), data.n, data.inputs, data.input_names))
    std::fprintf(stderr, "bpnn: warning: %s\n", message_one_line(*hint).c_str());
  if (const auto hint = target_range_hint(config.output_act, data))
    std::fprintf(stderr, "bpnn: warning: %s\n", message_one_line(*hint).c_str());
  train.backend = o.backend == "omp" ? Backend::omp : Backend::tbb;
  if (progress)
    std::printf("# %zu samples, %zu inputs, %zu outputs; network %s on %s\n", data.n, data.inputs,
                data.outputs, std::to_string(net.n_params()).append(" parameters").c_str(),
                net.kernel_arch().c_str());
  bpnn::train(net, train, data, [progress](const EpochStats& s) {
    if (!progress) return EpochAction::go_on;
    if (std::isnan(s.accuracy))
      std::printf("epoch %zu loss %.9g samples/s %.4g\n", s.epoch + 1, s.loss, s.samples_per_s);
    else
      std::printf("epoch %zu loss %.9g accuracy %.4f samples/s %.4g\n", s.epoch + 1, s.loss,
                  s.accuracy, s.samples_per_s);
    std::fflush(stdout);
    return EpochAction::go_on;
  });
  save_model(net, o.model_path);
  if (progress) std::printf("# saved %s\n", o.model_path.c_str());
}

}  // namespace

void train_command_register(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a network on a CSV file and save it");
  cmd->add_option("data", o->data_path,
                  "CSV file: inputs, then targets (or a --label column); FILE.data or fann:FILE: FANN "
                  "data; idx:IMAGES,LABELS: an IDX pair (MNIST), plain or .gz")
      ->required();
  add_whole_list_option(*cmd, "--layers", o->layers, 2, max_layer_width,
                        "Layer widths, inputs first, comma-separated, e.g. 4,8,3")
      ->required();
  cmd->add_option("-o,--output", o->model_path, "Model file to write (.safetensors)")->required();
  cmd->add_option("--hidden-act", o->hidden_act, "sigmoid|tanh|relu|linear")->capture_default_str();
  cmd->add_option("--output-act", o->output_act, "sigmoid|softmax|linear|tanh|relu")
      ->capture_default_str();
  cmd->add_option("--loss", o->loss, "mse|xent")->capture_default_str();
  constexpr double infinity = std::numeric_limits<double>::infinity();
  cmd->add_option("--optimizer", o->optimizer, "sgd|momentum|nesterov|adam|adamw|irprop")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adam", "adamw", "irprop"}));
  add_real_option(*cmd, "--lr", o->train.learning_rate, {.low = 0, .high = infinity},
                  "Learning rate, finite and ≥ 0 (default 0.1 for the SGD family, 1e-3 for adam "
                  "and adamw; irprop ignores it)")
      ->default_str("");
  add_real_option(*cmd, "--momentum", o->train.momentum, {.low = 0, .high = 1, .high_open = true},
                  "Momentum in [0, 1) (default 0 for sgd, 0.9 for momentum and nesterov)")
      ->default_str("");
  cmd->add_option_function<std::string>(
         "--betas",
         [o](const std::string& text) {
           const auto comma = text.find(',');
           if (comma == std::string::npos || text.find(',', comma + 1) != std::string::npos)
             throw Error(ErrorKind::argument, "--betas " + quoted_value(text) + ": expected two numbers, B1,B2");
           const RealRange unit{.low = 0, .high = 1, .high_open = true};
           o->train.beta1 = parse_real("--betas", std::string_view(text).substr(0, comma), unit);
           o->train.beta2 = parse_real("--betas", std::string_view(text).substr(comma + 1), unit);
         },
         "adam, adamw: β1,β2 each in [0, 1)")
      ->type_name("B1,B2")
      ->default_str("0.9,0.999");
  add_real_option(*cmd, "--eps", o->train.eps, {.low = 0, .low_open = true, .high = infinity},
                  "adam, adamw: added outside the square root, > 0");
  add_real_option(*cmd, "--l2", o->train.l2, {.low = 0, .high = infinity},
                  "Weight decay on weights (not biases): PyTorch's weight_decay, decoupled for "
                  "adamw (default 0.01 for adamw, else 0)")
      ->default_str("");
  add_real_option(*cmd, "--clip", o->train.clip, {.low = 0, .high = infinity},
                  "Clip the gradient's norm over all parameters to this (clip_grad_norm_); 0 = off");
  cmd->add_option("--targets", o->targets,
                  "columns: the last columns (or --label) are the targets; inputs: the targets are "
                  "the (scaled) inputs, for an autoencoder such as --layers 64,8,64")
      ->capture_default_str()
      ->check(CLI::IsMember({"columns", "inputs"}));
  cmd->add_option("--scale", o->scale,
                  "Fit an input scaler on the training rows and keep it in the model: "
                  "none|standard|minmax")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "standard", "minmax"}));
  add_whole_option(*cmd, "--batch", o->train.batch, 1, max_batch,
                   "Samples per step, 1 to 1e9 (1 = per-sample SGD; ≥ the data = full batch)")
      ->each([o](const std::string&) { o->batch_given = true; });
  add_whole_option(*cmd, "--epochs", o->train.epochs, 1, max_epochs,
                   "Passes over the data, 1 to 1e9");
  cmd->add_option("--init", o->init, "zero|uniform|xavier|he")->capture_default_str();
  add_real_option(*cmd, "--init-scale", o->init_scale,
                  {.low = 0, .low_open = true, .high = infinity},
                  "a of --init uniform: U(-a, a), finite and > 0");
  cmd->add_option("--init-from", o->init_from,
                  "Start from the weights of a safetensors file ({i}.weight, {i}.bias)");
  add_whole_option(*cmd, "--seed", o->train.seed, 0, std::numeric_limits<std::uint64_t>::max(),
                   "Seed of the initialiser and the shuffle, 0 to 2^64-1");
  cmd->add_flag("--no-shuffle", o->no_shuffle, "Keep the file's sample order");
  cmd->add_option("--precision", o->precision, "f32|f64")->capture_default_str();
  cmd->add_option("--label", o->label,
                  "One-hot encode this class column (header name or 0-based index) as the targets");
  cmd->add_option("--classes", o->classes,
                  "Class names in order, comma-separated: the order of --label's classes, or the "
                  "names of IDX labels 0, 1, ...")
      ->delimiter(',');
  add_whole_option(*cmd, "--threads", o->train.threads, 0, max_threads,
                   "Threads, 0 to 65536 (0 = all cores; more than the cores = all cores)");
  cmd->add_option("--backend", o->backend, "tbb|omp")
      ->capture_default_str()
      ->check(CLI::IsMember({"tbb", "omp"}));
  cmd->callback([o, &exit_code] {
    run_train(*o);
    exit_code = 0;
  });
}

}  // namespace bpnn::cli
