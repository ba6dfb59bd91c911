#pragma once
// Input scaling fitted on the training rows and kept with the model: x' = (x − offset)·factor per
// input column. The model file stores it, and Network::predict applies it, so predict, eval, the
// C API and Python all see raw inputs.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpnn/export.hpp"

namespace bpnn {

enum class Scaling {
  none,      // x' = x
  standard,  // offset = mean, factor = 1/σ (population σ, as scikit-learn's StandardScaler)
  minmax,    // offset = min, factor = 1/(max − min): the training rows map onto [0, 1]
};
// A column with zero spread (σ = 0, or max = min) gets factor 1.

BPNN_API std::string_view to_string(Scaling s);
BPNN_API Scaling parse_scaling(std::string_view name);  // "none" | "standard" | "minmax"

struct InputScaler {
  Scaling kind = Scaling::none;
  std::vector<double> offset, factor;  // one per input column; empty for Scaling::none

  bool active() const { return kind != Scaling::none; }
};

// Fits a scaler of `kind` on x:(n, inputs), row-major (the training rows only), in double.
// Throws Error(argument) for n = 0 or a non-finite value.
BPNN_API InputScaler scaler_fit(Scaling kind, const double* x, std::size_t n, std::size_t inputs);

// x:(n, inputs) ← (x − offset)·factor in place. The scaler must have `inputs` columns.
BPNN_API void scaler_apply(const InputScaler& s, double* x, std::size_t n, std::size_t inputs);

// Throws Error(argument) naming what is wrong unless `s` can scale `inputs` columns: offsets and
// factors of that count, finite, factors non-zero.
BPNN_API void scaler_validate(const InputScaler& s, std::size_t inputs);

// A one-line hint when raw inputs look like they need scaling (a column with σ above 10 or a
// value beyond ±100), naming the first such column; nullopt otherwise. `names` may be empty.
BPNN_API std::optional<std::string> scaling_hint(const double* x, std::size_t n, std::size_t inputs,
                                                 const std::vector<std::string>& names = {});

}  // namespace bpnn
