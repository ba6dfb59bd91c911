// bpnn::evaluate: the loss and the classification or regression figures of a network on data.
#include "bpnn/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bpnn/error.hpp"
#include "nn/size_check.hpp"

namespace bpnn {
namespace {

// Rows predicted per block, so the outputs of a large data set never exist all at once.
constexpr std::size_t block_rows = 4096;

template <class T>
void check_finite(const T* v, std::size_t n, std::size_t width, const char* what) {
  for (std::size_t i = 0; i < n * width; ++i)
    if (!std::isfinite(v[i]))
      throw Error(ErrorKind::data, std::string("evaluation data: ") + what + " " +
                                       std::to_string(i % width) + " of row " +
                                       std::to_string(i / width) + " is not finite");
}

// log(p) with p kept off 0 by the smallest positive value of the network's precision, so a
// probability that underflowed costs a large finite loss instead of an infinite one.
double safe_log(double p, double floor) { return std::log(std::max(p, floor)); }

// E of one row, from the outputs (the training loss takes it from the logits; the two agree up
// to rounding except where a probability underflowed).
double row_loss(const NetworkConfig& c, const double* yhat, const double* y, std::size_t k,
                double floor) {
  double e = 0;
  if (c.loss == Loss::mse) {
    for (std::size_t j = 0; j < k; ++j) e += 0.5 * (yhat[j] - y[j]) * (yhat[j] - y[j]);
  } else if (c.output_act == Activation::softmax) {
    for (std::size_t j = 0; j < k; ++j)
      if (y[j] != 0) e -= y[j] * safe_log(yhat[j], floor);
  } else {  // sigmoid cross-entropy
    for (std::size_t j = 0; j < k; ++j)
      e -= y[j] * safe_log(yhat[j], floor) + (1 - y[j]) * safe_log(1 - yhat[j], floor);
  }
  return e;
}

std::size_t arg_max(const double* v, std::size_t k) {
  return static_cast<std::size_t>(std::max_element(v, v + k) - v);
}

bool is_01(double v) { return v == 0.0 || v == 1.0; }

// Whether (net, targets) score as a classifier: a softmax output, or a sigmoid output whose
// targets are all 0 or 1 (one-hot rows when there are several columns).
template <class T>
bool scores_as_classifier(const NetworkConfig& c, const T* y, std::size_t n, std::size_t k) {
  if (c.output_act == Activation::softmax) return true;
  if (c.output_act != Activation::sigmoid) return false;
  for (std::size_t r = 0; r < n; ++r) {
    std::size_t ones = 0;
    for (std::size_t j = 0; j < k; ++j) {
      if (!is_01(static_cast<double>(y[r * k + j]))) return false;
      ones += y[r * k + j] == T(1);
    }
    if (k > 1 && ones != 1) return false;
  }
  return true;
}

void finish_classifier(Evaluation& e) {
  const std::size_t m = e.n_classes;
  std::size_t correct = 0, present = 0;
  double f1_sum = 0;
  e.per_class.assign(m, {});
  for (std::size_t c = 0; c < m; ++c) {
    std::size_t predicted = 0, support = 0;
    for (std::size_t o = 0; o < m; ++o) {
      support += e.confusion[c * m + o];
      predicted += e.confusion[o * m + c];
    }
    const std::size_t hits = e.confusion[c * m + c];
    correct += hits;
    ClassScore& s = e.per_class[c];
    s.support = support;
    s.precision = predicted ? static_cast<double>(hits) / static_cast<double>(predicted) : 0.0;
    s.recall = support ? static_cast<double>(hits) / static_cast<double>(support) : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    if (support + predicted > 0) {
      ++present;
      f1_sum += s.f1;
    }
  }
  e.accuracy = static_cast<double>(correct) / static_cast<double>(e.n);
  e.macro_f1 = present ? f1_sum / static_cast<double>(present) : 0.0;
}

template <class T>
Evaluation evaluate_rows(const Network& net, const T* x, const T* y, std::size_t n) {
  if (n == 0) throw Error(ErrorKind::argument, "evaluation data: no rows");
  if (x == nullptr || y == nullptr) throw Error(ErrorKind::argument, "evaluation data: null x or y");
  const NetworkConfig& c = net.config();
  const std::size_t in = net.n_inputs(), k = net.n_outputs();
  checked_mul(n, in + k, "evaluation data");
  check_finite(x, n, in, "input");
  check_finite(y, n, k, "target");
  const double floor = c.precision == Precision::f32 ? std::numeric_limits<float>::denorm_min()
                                                    : std::numeric_limits<double>::denorm_min();

  Evaluation e;
  e.n = n;
  e.classifier = scores_as_classifier(c, y, n, k);
  if (e.classifier) {
    e.n_classes = evaluation_classes(net);
    e.confusion.assign(e.n_classes * e.n_classes, 0);
  }
  // Regression sums per output, in double: Σe², Σ|e|, Σy, Σy² (SS_tot from the latter two would
  // cancel badly, so a second pass over the targets computes it from the mean).
  std::vector<double> sq(k, 0), abs_err(k, 0), sum_y(k, 0);
  double loss = 0;
  std::vector<T> out(std::min(n, block_rows) * k);
  std::vector<double> yhat(k), target(k);
  for (std::size_t first = 0; first < n; first += block_rows) {
    const std::size_t rows = std::min(block_rows, n - first);
    net.predict(x + first * in, rows, out.data());
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t j = 0; j < k; ++j) {
        yhat[j] = static_cast<double>(out[r * k + j]);
        target[j] = static_cast<double>(y[(first + r) * k + j]);
      }
      loss += row_loss(c, yhat.data(), target.data(), k, floor);
      if (e.classifier) {
        const std::size_t truth = k == 1 ? (target[0] >= 0.5) : arg_max(target.data(), k);
        const std::size_t guess = k == 1 ? (yhat[0] >= 0.5) : arg_max(yhat.data(), k);
        e.confusion[truth * e.n_classes + guess]++;
      } else {
        for (std::size_t j = 0; j < k; ++j) {
          const double d = yhat[j] - target[j];
          sq[j] += d * d;
          abs_err[j] += std::abs(d);
          sum_y[j] += target[j];
        }
      }
    }
  }
  e.loss = loss / static_cast<double>(n);
  if (e.classifier) {
    finish_classifier(e);
    return e;
  }
  std::vector<double> ss_tot(k, 0);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t j = 0; j < k; ++j) {
      const double d = static_cast<double>(y[r * k + j]) - sum_y[j] / static_cast<double>(n);
      ss_tot[j] += d * d;
    }
  const double rows = static_cast<double>(n);
  double sq_all = 0, abs_all = 0, r2_sum = 0;
  e.per_output.resize(k);
  for (std::size_t j = 0; j < k; ++j) {
    OutputScore& s = e.per_output[j];
    s.rmse = std::sqrt(sq[j] / rows);
    s.mae = abs_err[j] / rows;
    s.r2 = ss_tot[j] > 0 ? 1 - sq[j] / ss_tot[j] : (sq[j] == 0 ? 1.0 : 0.0);
    sq_all += sq[j];
    abs_all += abs_err[j];
    r2_sum += s.r2;
  }
  e.rmse = std::sqrt(sq_all / (rows * static_cast<double>(k)));
  e.mae = abs_all / (rows * static_cast<double>(k));
  e.r2 = r2_sum / static_cast<double>(k);
  return e;
}

}  // namespace

std::size_t evaluation_classes(const Network& net) {
  return net.n_outputs() == 1 ? 2 : net.n_outputs();
}

Evaluation evaluate(const Network& net, const double* x, const double* y, std::size_t n) {
  return evaluate_rows(net, x, y, n);
}
Evaluation evaluate(const Network& net, const float* x, const float* y, std::size_t n) {
  return evaluate_rows(net, x, y, n);
}

}  // namespace bpnn
