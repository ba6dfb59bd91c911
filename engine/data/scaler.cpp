// Input scaling: fit on the training rows, apply per column, hint when raw inputs need it.
#include "bpnn/scaler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "data/message_quote.hpp"

namespace bpnn {
namespace {

// Mean and population variance of every column, by Welford's update (stable for large offsets),
// row by row so the data is read once in memory order; each column sees the same operations in
// the same order as a pass down that column alone would make.
// With `squares`, it also receives the sums of squared deviations, Σ(x − mean)².
void column_moments(const double* x, std::size_t n, std::size_t inputs, std::vector<double>& mean,
                    std::vector<double>& variance, std::vector<double>* squares = nullptr) {
  mean.assign(inputs, 0.0);
  std::vector<double> m2(inputs, 0.0);
  for (std::size_t r = 0; r < n; ++r) {
    const double* row = x + r * inputs;
    const double count = static_cast<double>(r + 1);
    for (std::size_t j = 0; j < inputs; ++j) {
      const double v = row[j], d = v - mean[j];
      mean[j] += d / count;
      m2[j] += d * (v - mean[j]);
    }
  }
  variance.resize(inputs);
  for (std::size_t j = 0; j < inputs; ++j) variance[j] = m2[j] / static_cast<double>(n);
  if (squares != nullptr) *squares = std::move(m2);
}

}  // namespace

std::string_view to_string(Scaling s) {
  switch (s) {
    case Scaling::none: return "none";
    case Scaling::standard: return "standard";
    case Scaling::minmax: return "minmax";
  }
  return "none";
}

Scaling parse_scaling(std::string_view name) {
  for (Scaling s : {Scaling::none, Scaling::standard, Scaling::minmax})
    if (name == to_string(s)) return s;
  throw Error(ErrorKind::argument,
              "scaling: \"" + std::string(name.substr(0, 40)) + "\" is not none, standard or minmax");
}

InputScaler scaler_fit(Scaling kind, const double* x, std::size_t n, std::size_t inputs) {
  InputScaler s;
  s.kind = kind;
  if (kind == Scaling::none) return s;
  if (n == 0 || x == nullptr) throw Error(ErrorKind::argument, "scaling: no rows to fit on");
  for (std::size_t i = 0; i < n * inputs; ++i)
    if (!std::isfinite(x[i]))
      throw Error(ErrorKind::argument, "scaling: input " + std::to_string(i % inputs) + " of row " +
                                           std::to_string(i / inputs) + " is not finite");
  s.offset.resize(inputs);
  s.factor.resize(inputs);
  if (kind == Scaling::standard) {
    std::vector<double> variance;
    column_moments(x, n, inputs, s.offset, variance);
    for (std::size_t j = 0; j < inputs; ++j) {
      const double sigma = std::sqrt(variance[j]);
      s.factor[j] = sigma > 0 ? 1 / sigma : 1.0;
    }
  } else {
    std::vector<double> hi(x, x + inputs);
    std::copy_n(x, inputs, s.offset.begin());
    for (std::size_t r = 1; r < n; ++r)
      for (std::size_t j = 0; j < inputs; ++j) {
        s.offset[j] = std::min(s.offset[j], x[r * inputs + j]);
        hi[j] = std::max(hi[j], x[r * inputs + j]);
      }
    for (std::size_t j = 0; j < inputs; ++j)
      s.factor[j] = hi[j] > s.offset[j] ? 1 / (hi[j] - s.offset[j]) : 1.0;
  }
  // 1/σ of a tiny σ can overflow; such a column is constant for every practical purpose.
  for (double& f : s.factor)
    if (!std::isfinite(f)) f = 1.0;
  return s;
}

ScalerPartial scaler_partial_fit(Scaling kind, const double* x, std::size_t n, std::size_t inputs) {
  ScalerPartial p;
  p.kind = kind;
  p.rows = static_cast<double>(n);
  if (kind == Scaling::none) return p;
  if (n > 0 && x == nullptr) throw Error(ErrorKind::argument, "scaling: null rows");
  for (std::size_t i = 0; i < n * inputs; ++i)
    if (!std::isfinite(x[i]))
      throw Error(ErrorKind::argument, "scaling: input " + std::to_string(i % inputs) + " of row " +
                                           std::to_string(i / inputs) + " is not finite");
  if (kind == Scaling::standard) {
    std::vector<double> variance;
    column_moments(x, n, inputs, p.first, variance, &p.second);
  } else {
    p.first.assign(inputs, std::numeric_limits<double>::infinity());
    p.second.assign(inputs, -std::numeric_limits<double>::infinity());
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t j = 0; j < inputs; ++j) {
        p.first[j] = std::min(p.first[j], x[r * inputs + j]);
        p.second[j] = std::max(p.second[j], x[r * inputs + j]);
      }
  }
  return p;
}

void scaler_partial_merge(ScalerPartial& into, const ScalerPartial& next) {
  if (into.kind != next.kind || into.first.size() != next.first.size() || into.second.size() != next.second.size())
    throw Error(ErrorKind::argument, "scaling: partial statistics of another kind or width");
  if (next.rows == 0) return;
  if (into.rows == 0) {
    into = next;
    return;
  }
  const double rows = into.rows + next.rows;
  for (std::size_t j = 0; j < into.first.size(); ++j) {
    if (into.kind == Scaling::standard) {  // Chan, Golub and LeVeque's pairwise update
      const double d = next.first[j] - into.first[j];
      into.first[j] += d * (next.rows / rows);
      into.second[j] += next.second[j] + d * d * (into.rows * next.rows / rows);
    } else {
      into.first[j] = std::min(into.first[j], next.first[j]);
      into.second[j] = std::max(into.second[j], next.second[j]);
    }
  }
  into.rows = rows;
}

InputScaler scaler_from_partial(const ScalerPartial& p) {
  InputScaler s;
  s.kind = p.kind;
  if (p.kind == Scaling::none) return s;
  if (p.rows == 0) throw Error(ErrorKind::argument, "scaling: no rows to fit on");
  s.offset = p.first;
  s.factor.resize(p.first.size());
  for (std::size_t j = 0; j < p.first.size(); ++j) {
    if (p.kind == Scaling::standard) {
      const double sigma = std::sqrt(p.second[j] / p.rows);
      s.factor[j] = sigma > 0 ? 1 / sigma : 1.0;
    } else {
      s.factor[j] = p.second[j] > p.first[j] ? 1 / (p.second[j] - p.first[j]) : 1.0;
    }
    if (!std::isfinite(s.factor[j])) s.factor[j] = 1.0;  // as scaler_fit: a tiny σ
  }
  return s;
}

void scaler_apply(const InputScaler& s, double* x, std::size_t n, std::size_t inputs) {
  if (!s.active()) return;
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t j = 0; j < inputs; ++j)
      x[r * inputs + j] = (x[r * inputs + j] - s.offset[j]) * s.factor[j];
}

void scaler_validate(const InputScaler& s, std::size_t inputs) {
  if (!s.active()) {
    if (!s.offset.empty() || !s.factor.empty())
      throw Error(ErrorKind::argument, "scaler: 'none' carries no offsets or factors");
    return;
  }
  if (s.offset.size() != inputs || s.factor.size() != inputs)
    throw Error(ErrorKind::argument, "scaler: " + std::to_string(s.offset.size()) + " offsets and " +
                                         std::to_string(s.factor.size()) + " factors for " +
                                         std::to_string(inputs) + " inputs");
  for (std::size_t j = 0; j < inputs; ++j)
    if (!std::isfinite(s.offset[j]) || !std::isfinite(s.factor[j]) || s.factor[j] == 0)
      throw Error(ErrorKind::argument,
                  "scaler: column " + std::to_string(j) + " has a non-finite offset or a zero or non-finite factor");
}

std::optional<std::string> scaling_hint(const double* x, std::size_t n, std::size_t inputs,
                                        const std::vector<std::string>& names) {
  if (n == 0) return std::nullopt;
  std::vector<double> mean, variance, extreme(inputs, 0.0);
  column_moments(x, n, inputs, mean, variance);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t j = 0; j < inputs; ++j) extreme[j] = std::max(extreme[j], std::abs(x[r * inputs + j]));
  for (std::size_t j = 0; j < inputs; ++j) {
    if (std::sqrt(variance[j]) > 10 || extreme[j] > 100) {
      const std::string name = j < names.size() ? message_quote(names[j]) : std::to_string(j);
      char detail[96];
      std::snprintf(detail, sizeof detail, " (σ %.3g, largest |value| %.3g)", std::sqrt(variance[j]), extreme[j]);
      return "input column " + name + detail +
             " is far from unit scale; training usually goes better with --scale standard";
    }
  }
  return std::nullopt;
}

}  // namespace bpnn
