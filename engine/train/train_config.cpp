// The optimizer's names and the resolution of a TrainConfig's optimizer-dependent defaults.
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "bpnn/error.hpp"
#include "bpnn/train.hpp"

namespace bpnn {
namespace {

constexpr std::array<std::pair<Optimizer, std::string_view>, 6> optimizer_names{{
    {Optimizer::sgd, "sgd"},
    {Optimizer::momentum, "momentum"},
    {Optimizer::nesterov, "nesterov"},
    {Optimizer::adam, "adam"},
    {Optimizer::adamw, "adamw"},
    {Optimizer::irprop, "irprop"},
}};

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorKind::argument, what); }

bool is_adam(Optimizer o) { return o == Optimizer::adam || o == Optimizer::adamw; }
bool uses_momentum(Optimizer o) {
  return o == Optimizer::sgd || o == Optimizer::momentum || o == Optimizer::nesterov;
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

}  // namespace

std::string_view to_string(Optimizer o) {
  for (const auto& [v, name] : optimizer_names)
    if (v == o) return name;
  return "?";
}

Optimizer parse_optimizer(std::string_view name) {
  for (const auto& [v, n] : optimizer_names)
    if (n == name) return v;
  fail("unknown optimizer '" + std::string(name) +
       "' (choose sgd, momentum, nesterov, adam, adamw, irprop)");
}

TrainConfig train_config_resolve(const TrainConfig& config) {
  TrainConfig c = config;
  const std::string name(to_string(c.optimizer));
  if (name == "?") fail("optimizer: not one of sgd, momentum, nesterov, adam, adamw, irprop");

  if (std::isnan(c.learning_rate)) c.learning_rate = is_adam(c.optimizer) ? 1e-3 : 0.1;
  if (!(std::isfinite(c.learning_rate) && c.learning_rate >= 0))
    fail("learning rate: must be a finite number ≥ 0, not " + number(c.learning_rate));

  if (std::isnan(c.momentum))
    c.momentum = c.optimizer == Optimizer::momentum || c.optimizer == Optimizer::nesterov ? 0.9 : 0.0;
  if (!(std::isfinite(c.momentum) && c.momentum >= 0 && c.momentum < 1))
    fail("momentum: must be in [0, 1), not " + number(c.momentum));
  if ((c.optimizer == Optimizer::momentum || c.optimizer == Optimizer::nesterov) && c.momentum == 0)
    fail("momentum: " + name + " needs a momentum > 0 (default 0.9; sgd takes 0)");
  if (!uses_momentum(c.optimizer) && c.momentum != 0)
    fail("momentum: " + name + " has no momentum (only sgd, momentum and nesterov)");

  for (const auto& [beta, what] : {std::pair{c.beta1, "beta1"}, std::pair{c.beta2, "beta2"}})
    if (!(beta >= 0 && beta < 1))
      fail(std::string(what) + ": must be in [0, 1), not " + number(beta));
  if (!(std::isfinite(c.eps) && c.eps > 0)) fail("eps: must be a finite number > 0, not " + number(c.eps));

  if (std::isnan(c.l2)) c.l2 = c.optimizer == Optimizer::adamw ? 0.01 : 0.0;
  if (!(std::isfinite(c.l2) && c.l2 >= 0)) fail("l2: must be a finite number ≥ 0, not " + number(c.l2));
  if (!(std::isfinite(c.clip) && c.clip >= 0))
    fail("clip: must be a finite number ≥ 0 (0 = off), not " + number(c.clip));
  return c;
}

}  // namespace bpnn
