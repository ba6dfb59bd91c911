// Names of the enums in bpnn/types.hpp, for the CLI, model files and messages.
#include "bpnn/types.hpp"

#include <array>
#include <string>
#include <utility>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

constexpr std::array<std::pair<Activation, std::string_view>, 5> activation_names{{
    {Activation::sigmoid, "sigmoid"},
    {Activation::tanh, "tanh"},
    {Activation::relu, "relu"},
    {Activation::linear, "linear"},
    {Activation::softmax, "softmax"},
}};
constexpr std::array<std::pair<Loss, std::string_view>, 2> loss_names{{
    {Loss::mse, "mse"},
    {Loss::xent, "xent"},
}};
constexpr std::array<std::pair<Precision, std::string_view>, 2> precision_names{{
    {Precision::f32, "f32"},
    {Precision::f64, "f64"},
}};
constexpr std::array<std::pair<Init, std::string_view>, 4> init_names{{
    {Init::zero, "zero"},
    {Init::uniform, "uniform"},
    {Init::xavier, "xavier"},
    {Init::he, "he"},
}};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E value) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return "?";
}

template <class E, std::size_t N>
E parse_name(const std::array<std::pair<E, std::string_view>, N>& names, std::string_view name,
             const char* what) {
  for (const auto& [v, n] : names)
    if (n == name) return v;
  std::string choices;
  for (const auto& [v, n] : names) choices += (choices.empty() ? "" : ", ") + std::string(n);
  throw Error(ErrorKind::argument,
              "unknown " + std::string(what) + " '" + std::string(name) + "' (choose " + choices + ")");
}

}  // namespace

std::string_view to_string(Activation a) { return name_of(activation_names, a); }
std::string_view to_string(Loss l) { return name_of(loss_names, l); }
std::string_view to_string(Precision p) { return name_of(precision_names, p); }
std::string_view to_string(Init i) { return name_of(init_names, i); }

Activation parse_activation(std::string_view name) {
  return parse_name(activation_names, name, "activation");
}
Loss parse_loss(std::string_view name) { return parse_name(loss_names, name, "loss"); }
Precision parse_precision(std::string_view name) {
  return parse_name(precision_names, name, "precision");
}
Init parse_init(std::string_view name) { return parse_name(init_names, name, "initialiser"); }

}  // namespace bpnn
