#pragma once
// Training: per-sample or mini-batch steps with one of six optimizers.
//
// One step takes a batch of samples, computes each sample's gradient with the weights from before
// the step and averages them into g = ∂(mean E)/∂θ; the optimizer then updates the parameters θ.
// With batch 1 and plain SGD this is exactly the seed's update w −= lr·∂E/∂w.
//
// The update rules (per parameter; t counts steps from 1; λ = l2, applied to weights, never to
// biases; g is first clipped when clip > 0):
//   sgd       g += λw; with μ > 0: v = μ·v + g (v₁ = g), g = v; w −= lr·g
//   momentum  the same with μ > 0 required (default 0.9)            PyTorch SGD(momentum=μ)
//   nesterov  g += λw; v = μ·v + g; w −= lr·(g + μ·v)               PyTorch SGD(nesterov=True)
//   adam      g += λw; m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²;
//             w −= lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps)             PyTorch Adam
//   adamw     w −= lr·λ·w, then adam's step without λ                PyTorch AdamW
//   irprop    iRPROP− (Igel & Hüsken 2000) on the full-batch gradient, g += λw: with the
//             previous step's g', Δ = min(1.2Δ, 50) when g·g' > 0, Δ = max(0.5Δ, 0) and g = 0
//             when g·g' < 0, Δ kept when g·g' = 0; w −= sign(g)·Δ; g' = g. Δ starts at 0.1.
//             The learning rate is not used.
// Clipping is PyTorch's clip_grad_norm_ over all parameters: g·min(1, clip/(‖g‖ + 1e-6)), before
// the weight decay.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string_view>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"

namespace bpnn {

struct Dataset;

enum class Backend { tbb, omp };

// The most epochs one training run accepts: a larger count is a wrapped negative number or a typo.
inline constexpr std::size_t max_epochs = 1'000'000'000;

enum class Optimizer { sgd, momentum, nesterov, adam, adamw, irprop };

BPNN_API std::string_view to_string(Optimizer o);
// "sgd", "momentum", "nesterov", "adam", "adamw", "irprop"; throws Error(argument) otherwise.
BPNN_API Optimizer parse_optimizer(std::string_view name);

// A hyper-parameter whose default depends on the optimizer holds NaN, spelled optimizer_default,
// until train_config_resolve (or the trainer) replaces it with the chosen optimizer's default.
// NaN rather than std::optional so that the C API and Python can carry the same "not given" in
// a plain double; as a consequence a NaN given by mistake also means the default.
inline constexpr double optimizer_default = std::numeric_limits<double>::quiet_NaN();

struct TrainConfig {
  Optimizer optimizer = Optimizer::sgd;
  // default: 0.1 for sgd, momentum and nesterov; 1e-3 for adam and adamw; irprop ignores it
  double learning_rate = optimizer_default;
  // μ in [0, 1); default 0 for sgd, 0.9 for momentum and nesterov (which need μ > 0); the other
  // optimizers accept only 0 or the default
  double momentum = optimizer_default;
  double beta1 = 0.9, beta2 = 0.999;  // adam, adamw: each in [0, 1)
  double eps = 1e-8;                  // adam, adamw: > 0, added outside the square root
  // λ ≥ 0, weights only: weight decay added to the gradient (PyTorch's weight_decay); adamw's is
  // the decoupled decay. Default 0.01 for adamw, 0 for the others.
  double l2 = optimizer_default;
  double clip = 0;  // > 0: clip the gradient's norm over all parameters to this; 0 = off
  // samples per step, averaged; 1 = per-sample steps. irprop takes the full batch: there batch
  // must be 1 (the default, read as "all samples") or at least the number of samples.
  std::size_t batch = 1;
  std::size_t epochs = 10;  // 1 … max_epochs
  bool shuffle = true;     // reshuffle the sample order every epoch (seeded); false keeps file order
  std::uint64_t seed = 1;  // seeds the shuffle
  int threads = 0;         // 0 = all cores (also the cap); results never depend on it
  Backend backend = Backend::tbb;
};

// The config with every optimizer_default replaced by its optimizer's value. Throws
// Error(argument) for a hyper-parameter out of its range. The trainer resolves its config itself.
BPNN_API TrainConfig train_config_resolve(const TrainConfig& config);

struct EpochStats {
  std::size_t epoch = 0;     // 0-based
  double loss = 0;           // mean per-sample E over the epoch, each from the weights before its step
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN unless the targets are classes
  double seconds = 0;
  double samples_per_s = 0;
};

struct TrainReport {
  std::size_t epochs_run = 0;
  double final_loss = std::numeric_limits<double>::quiet_NaN();
  bool stopped_by_callback = false;
  double seconds = 0;
};

// What an epoch callback asks for. An enum rather than a bool so that code written for a bool
// callback fails to compile instead of silently inverting: in C a non-zero return stops, in
// Python a true one does, and here EpochAction::stop does.
enum class EpochAction { go_on, stop };

// Called after every epoch; return EpochAction::stop to stop training.
using EpochCallback = std::function<EpochAction(const EpochStats&)>;

// While a Trainer lives it holds its network busy: a second Trainer, set_layer or load_weights on
// that network throws Error(busy) instead of racing.
// A trainer keeps its work buffers, optimizer state and shuffle generator between epochs, so a loop of
// trainer.run_epoch() is the same as one train() call with that many epochs.
// Throws Error(nonfinite) when the loss turns NaN or infinite; the network then keeps the weights
// from before the failing step.
class BPNN_API Trainer {
 public:
  // x:(n, inputs) y:(n, outputs) row-major. Data already in the network's precision is used in
  // place and must stay valid and unchanged while the trainer lives; data in the other precision
  // is converted into a copy. The network, too, must outlive the trainer.
  Trainer(Network& net, const TrainConfig& config, const double* x, const double* y, std::size_t n);
  Trainer(Network& net, const TrainConfig& config, const float* x, const float* y, std::size_t n);
  Trainer(Network& net, const TrainConfig& config, const Dataset& data);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  EpochStats run_epoch();
  TrainReport run(const EpochCallback& on_epoch = {});  // config.epochs epochs

 private:
  struct Impl;
  friend struct TrainerAccess;  // the engine's internal accessor
  std::unique_ptr<Impl> impl_;
};

BPNN_API TrainReport train(Network& net, const TrainConfig& config, const Dataset& data,
                           const EpochCallback& on_epoch = {});

}  // namespace bpnn
