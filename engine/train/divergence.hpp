#pragma once
// Divergence the loss does not show: an update that makes a weight NaN or infinite while every
// step's loss stays finite (a sigmoid output saturates; or the epoch's last step overflows and no
// later step computes a loss). bpnn::train checks the parameters after every epoch, and
// train_many every member's after every epoch, so such a run ends as a diverged one (exit 6 in
// the CLI) instead of failing later when its model is saved.
#include <cmath>
#include <cstddef>
#include <string>

namespace bpnn {

// Whether p[0, n) are all finite.
template <class T>
bool all_finite(const T* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// Why a run whose parameters are not finite after epoch `epoch` (1-based) stopped.
inline std::string weights_diverged_message(std::size_t epoch) {
  return "training diverged: a weight became NaN or infinite in epoch " + std::to_string(epoch) +
         " while the loss stayed finite (try a smaller learning rate)";
}

}  // namespace bpnn
