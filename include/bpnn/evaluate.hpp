#pragma once
// Scoring a trained network on labelled data: the loss, and either classification figures
// (accuracy, per-class precision/recall/F1/support, macro F1, the confusion matrix) or
// regression figures (RMSE, MAE, R², overall and per output), as scikit-learn defines them.
#include <cstddef>
#include <limits>
#include <vector>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"

namespace bpnn {

struct ClassScore {
  std::size_t support = 0;  // rows whose true class this is
  double precision = 0;     // true positives / predicted positives; 0/0 counts as 0
  double recall = 0;        // true positives / support; 0/0 counts as 0
  double f1 = 0;            // 2PR/(P+R); 0 when P + R = 0
};

struct OutputScore {
  double rmse = 0, mae = 0;
  double r2 = 0;  // 1 − SS_res/SS_tot; a constant target scores 1 when predicted exactly, else 0
};

struct Evaluation {
  static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  std::size_t n = 0;    // rows scored
  double loss = nan;    // mean per-row loss E of the network's loss function
  bool classifier = false;

  // A classifier (softmax output, or sigmoid output with 0/1 targets): the true class of a row
  // is its target's arg-max (one sigmoid column: target ≥ 0.5), the predicted one the output's
  // arg-max (one sigmoid column: output ≥ 0.5; classes 0 and 1).
  std::size_t n_classes = 0;           // the outputs, or 2 for one sigmoid column
  double accuracy = nan;
  std::vector<std::size_t> confusion;  // n_classes × n_classes: row = true, column = predicted
  std::vector<ClassScore> per_class;
  double macro_f1 = nan;  // mean F1 over the classes that occur as truth or as prediction

  // Otherwise a regression model: figures over all outputs (R² averaged uniformly over outputs)
  // and per output.
  double rmse = nan, mae = nan, r2 = nan;
  std::vector<OutputScore> per_output;
};

// How many classes a network's outputs score as (its outputs, or 2 for one output column).
BPNN_API std::size_t evaluation_classes(const Network& net);

// Scores net on x:(n, inputs), y:(n, outputs), row-major, n ≥ 1. Whether it scores as a
// classifier follows from the output activation and the targets (see Evaluation). Throws
// Error(argument) for n = 0 or null data, Error(data) for a NaN or infinite value.
BPNN_API Evaluation evaluate(const Network& net, const double* x, const double* y, std::size_t n);
BPNN_API Evaluation evaluate(const Network& net, const float* x, const float* y, std::size_t n);

}  // namespace bpnn
