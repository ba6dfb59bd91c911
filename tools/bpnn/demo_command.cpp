// bpnn demo: the seed tutorial's 3-4-1 network, traced and plotted, then real learning on iris.
#include <cstdio>
#include <memory>
#include <string>

#include "bpnn/cli_values.hpp"
#include "bpnn/commands.hpp"
#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/iris_data.hpp"
#include "bpnn/network.hpp"
#include "bpnn/svg_plot.hpp"
#include "bpnn/train.hpp"
#include "io/output_file.hpp"

namespace bpnn::cli {
namespace {

struct DemoOptions {
  std::string svg_path = "seed_demo.svg";
  std::size_t seed_epochs = 100;
  std::size_t iris_epochs = 200;
};

// The seed network: inputs (0.985, 0.211) and the −1 threshold input (a bias here), 4 sigmoid
// hidden units, 1 sigmoid output, zero init, learning rate 1, target 1, per-sample SGD, f64.
// Prints "epoch output error" with the output computed before that epoch's update.
void run_seed(const DemoOptions& options) {
  NetworkConfig config;
  config.sizes = {2, 4, 1};
  config.hidden_act = config.output_act = Activation::sigmoid;
  config.loss = Loss::mse;
  config.precision = Precision::f64;
  config.init = Init::zero;
  Network net(config);
  TrainConfig train;
  train.learning_rate = 1.0;
  train.batch = 1;
  train.shuffle = false;
  const double x[2] = {0.985, 0.211}, target[1] = {1.0};
  Trainer trainer(net, train, x, target, 1);

  std::printf("# The seed network: inputs (0.985, 0.211) and threshold input -1, 4 sigmoid hidden,\n"
              "# 1 sigmoid output, zero init, learning rate 1, target 1, E = 1/2 (y^ - y)^2.\n"
              "# epoch output error   (output before that epoch's update; error = |output - target|)\n");
  PlotSpec plot{"The seed network: 2(+threshold)-4-1 sigmoid, lr 1, target 1", "epoch",
                "value", {}, {{"output ŷ", "#1f77b4", {}}, {"error |ŷ − y|", "#d62728", {}}}};
  for (std::size_t epoch = 0; epoch < options.seed_epochs; ++epoch) {
    double output = 0;
    net.predict(x, 1, &output);
    const double error = std::abs(output - target[0]);
    std::printf("%zu %.17g %.17g\n", epoch, output, error);
    plot.x.push_back(static_cast<double>(epoch));
    plot.series[0].y.push_back(output);
    plot.series[1].y.push_back(error);
    trainer.run_epoch();
  }
  output_file_write(options.svg_path, svg_line_chart(plot));
  std::printf("# figure of output and error against epoch: %s\n", options.svg_path.c_str());
}

// Iris: 4 measurements → 8 sigmoid hidden → 3 softmax outputs, cross-entropy, trained on 80% of
// the flowers and tested on the other 20%.
void run_iris(const DemoOptions& options) {
  const CsvTable table = parse_csv(iris_csv(), "iris.csv", CsvOptions{"species"});
  const Dataset all = dataset_from_label(table, "species");
  const auto [train_set, test_set] = split_dataset(all, 0.2, 42);
  NetworkConfig config;
  config.sizes = {all.inputs, 8, all.outputs};
  config.output_act = Activation::softmax;
  config.loss = Loss::xent;
  config.precision = Precision::f32;
  config.init = Init::xavier;
  config.seed = 7;
  Network net(config);
  TrainConfig train;
  train.learning_rate = 0.02;
  train.momentum = 0.9;
  train.batch = 8;
  train.epochs = options.iris_epochs;
  train.seed = 7;
  std::printf("\n# Iris: %zu flowers (%zu to train, %zu to test), network %zu-8-%zu sigmoid/softmax, "
              "cross-entropy, batch 8, lr 0.02, momentum 0.9\n",
              all.n, train_set.n, test_set.n, all.inputs, all.outputs);
  std::printf("# epoch loss train_accuracy\n");
  bpnn::train(net, train, train_set, [&](const EpochStats& s) {
    if ((s.epoch + 1) % 20 == 0 || s.epoch == 0)
      std::printf("%zu %.6f %.4f\n", s.epoch + 1, s.loss, s.accuracy);
    return EpochAction::go_on;
  });
  std::vector<double> predicted(test_set.n * test_set.outputs);
  net.predict(test_set.x.data(), test_set.n, predicted.data());
  std::size_t correct = 0;
  for (std::size_t r = 0; r < test_set.n; ++r) {
    const auto row = [&](const std::vector<double>& v) { return v.begin() + r * test_set.outputs; };
    const auto best = std::max_element(row(predicted), row(predicted) + test_set.outputs) - row(predicted);
    const auto truth = std::max_element(row(test_set.y), row(test_set.y) + test_set.outputs) - row(test_set.y);
    correct += best == truth;
  }
  std::printf("iris test accuracy: %.4f (%zu of %zu)\n",
              static_cast<double>(correct) / static_cast<double>(test_set.n), correct, test_set.n);
}

}  // namespace

void demo_command_register(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Train the seed tutorial's 3-4-1 network (trace + SVG figure), then iris");
  cmd->add_option("--svg", options->svg_path, "Where to write the seed network's figure")
      ->capture_default_str();
  add_whole_option(*cmd, "--seed-epochs", options->seed_epochs, 1, max_epochs,
                   "Epochs of the seed network, 1 to 1e9");
  add_whole_option(*cmd, "--iris-epochs", options->iris_epochs, 1, max_epochs,
                   "Epochs of the iris network, 1 to 1e9");
  cmd->callback([options, &exit_code] {
    run_seed(*options);
    run_iris(*options);
    exit_code = 0;
  });
}

}  // namespace bpnn::cli
