// The training history as CSV and as loss/accuracy curves; see training_history.hpp.
#include "bpnn/training_history.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "bpnn/svg_plot.hpp"
#include "io/output_file.hpp"

namespace bpnn::cli {
namespace {

constexpr const char* train_color = "#1f77b4";
constexpr const char* validation_color = "#ff7f0e";
constexpr const char* best_color = "#2ca02c";

// The shortest text that reads back to v; empty for NaN or an infinity.
void cell_append(std::string& out, double v) {
  if (!std::isfinite(v)) return;
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

bool any_finite(std::span<const EpochLine> epochs, double EpochLine::*field) {
  return std::any_of(epochs.begin(), epochs.end(), [&](const EpochLine& e) { return std::isfinite(e.*field); });
}

std::vector<double> column(std::span<const EpochLine> epochs, double EpochLine::*field) {
  std::vector<double> values;
  for (const EpochLine& e : epochs) values.push_back(e.*field);
  return values;
}

// Whether the losses ask for a log axis: all positive, spanning more than two decades.
bool loss_axis_log(std::span<const EpochLine> epochs) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const EpochLine& e : epochs)
    for (double v : {e.train_loss, e.val_loss}) {
      if (!std::isfinite(v)) continue;
      if (v <= 0) return false;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  return hi > 100 * lo;
}

}  // namespace

std::string training_history_csv(std::span<const EpochLine> epochs) {
  std::string out = "epoch,train_loss,val_loss,train_accuracy,val_accuracy,learning_rate,seconds\n";
  for (const EpochLine& e : epochs) {
    out += std::to_string(e.epoch);
    for (double v : {e.train_loss, e.val_loss, e.train_accuracy, e.val_accuracy, e.learning_rate, e.seconds}) {
      out += ',';
      cell_append(out, v);
    }
    out += '\n';
  }
  return out;
}

std::string training_history_svg(std::span<const EpochLine> epochs, const std::string& title) {
  std::vector<double> x;
  for (const EpochLine& e : epochs) x.push_back(static_cast<double>(e.epoch));
  const bool validation = any_finite(epochs, &EpochLine::val_loss);

  PlotSpec loss{"Loss", "epoch", "mean loss per sample", x, {}, loss_axis_log(epochs), true};
  if (loss.log_y) loss.y_label += " (log scale)";
  loss.series.push_back({"train", train_color, column(epochs, &EpochLine::train_loss)});
  if (validation) {
    loss.series.push_back({"validation", validation_color, column(epochs, &EpochLine::val_loss)});
    // The best epoch: the last one whose validation loss improved on all before it.
    const auto best = std::find_if(epochs.rbegin(), epochs.rend(), [](const EpochLine& e) {
      return e.best && std::isfinite(e.val_loss);
    });
    if (best != epochs.rend()) {
      std::vector<double> marked(epochs.size(), std::numeric_limits<double>::quiet_NaN());
      marked[static_cast<std::size_t>(epochs.rend() - best) - 1] = best->val_loss;
      loss.series.push_back({"best (epoch " + std::to_string(best->epoch) + ")", best_color, marked, true});
    }
  }
  std::vector<PlotSpec> panels{loss};

  const bool train_accuracy = any_finite(epochs, &EpochLine::train_accuracy);
  const bool val_accuracy = any_finite(epochs, &EpochLine::val_accuracy);
  if (train_accuracy || val_accuracy) {
    PlotSpec accuracy{"Accuracy", "epoch", "accuracy (fraction correct)", x, {}, false, true};
    if (train_accuracy)
      accuracy.series.push_back({"train", train_color, column(epochs, &EpochLine::train_accuracy)});
    if (val_accuracy)
      accuracy.series.push_back({"validation", validation_color, column(epochs, &EpochLine::val_accuracy)});
    panels.push_back(accuracy);
  }
  return svg_line_charts(title.empty() ? "Training history" : title, panels);
}

void TrainingHistory::csv_write(const std::string& path) const {
  output_file_write(path, training_history_csv(epochs_));
}

void TrainingHistory::svg_write(const std::string& path, const std::string& title) const {
  output_file_write(path, training_history_svg(epochs_, title));
}

}  // namespace bpnn::cli
