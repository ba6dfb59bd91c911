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
#include <string>
#include <string_view>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"

namespace bpnn {

struct Dataset;

enum class Backend { tbb, omp };

// The most epochs one training run accepts: a larger count is a wrapped negative number or a typo.
inline constexpr std::size_t max_epochs = 1'000'000'000;
inline constexpr int max_plan_threads = 4096;  // TrainConfig::plan_threads

enum class Optimizer { sgd, momentum, nesterov, adam, adamw, irprop };

BPNN_API std::string_view to_string(Optimizer o);
// "sgd", "momentum", "nesterov", "adam", "adamw", "irprop"; throws Error(argument) otherwise.
BPNN_API Optimizer parse_optimizer(std::string_view name);

// How the learning rate changes from epoch to epoch (e counts epochs from 0, E = config.epochs,
// lr₀ = the config's learning rate):
//   constant  lr₀
//   step      lr₀·gamma^⌊e/step_epochs⌋                      PyTorch StepLR
//   cosine    lr₀·½(1 + cos(π·e/E))                          PyTorch CosineAnnealingLR, eta_min 0
//   plateau   PyTorch ReduceLROnPlateau(mode=min, threshold=1e-4 relative, cooldown 0, min_lr 0)
//             on the validation loss (the training loss without validation data): after an
//             epoch whose loss is not below best·(1 − 1e-4) for more than `patience` epochs in a
//             row, lr ×= factor.
// irprop has no learning rate: a schedule changes nothing there.
enum class ScheduleKind { constant, step, cosine, plateau };

struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  std::size_t step_epochs = 1;  // step: ≥ 1
  double gamma = 0.1;           // step: in (0, 1]
  std::size_t patience = 10;    // plateau: ≥ 0
  double factor = 0.1;          // plateau: in (0, 1)
  bool operator==(const Schedule&) const = default;
};

// "constant", "step:EPOCHS:GAMMA", "cosine", "plateau:PATIENCE:FACTOR"; Error(argument) otherwise.
BPNN_API Schedule parse_schedule(std::string_view text);
// The same spelling back, with numbers that parse to the same values.
BPNN_API std::string to_string(const Schedule& schedule);

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
  Schedule schedule;       // the learning rate per epoch
  // Validation: a fraction in [0, 1) of the training samples held out (a seeded split by `seed`,
  // stratified when the targets are classes: split_dataset_stratified) when no validation data is
  // given to the trainer; 0 = none. Every epoch is then scored on the validation data.
  double val_split = 0;
  // Early stopping: stop when the validation loss has not been strictly below its best for this
  // many epochs, and leave the network with the best epoch's weights; 0 = off. Needs validation
  // data (val_split or the trainer's validation set), else Error(argument).
  std::size_t early_stop = 0;
  int threads = 0;         // 0 = all cores (also the cap); results never depend on it
  // The thread count the step's tiles are cut for (0: the threads it runs on). Results never
  // depend on it either; it lets a machine with few cores run, and test, the cut of a larger one.
  int plan_threads = 0;  // 0 … max_plan_threads
  Backend backend = Backend::tbb;
  // Trainer::run writes a checkpoint (Trainer::checkpoint_save) to this path every
  // checkpoint_every epochs (0 = only at the end) and after the last epoch; empty = none.
  std::string checkpoint;
  std::size_t checkpoint_every = 0;
};

// The config with every optimizer_default replaced by its optimizer's value. Throws
// Error(argument) for a hyper-parameter out of its range. The trainer resolves its config itself.
BPNN_API TrainConfig train_config_resolve(const TrainConfig& config);

struct EpochStats {
  std::size_t epoch = 0;     // 0-based
  double loss = 0;           // mean per-sample E over the epoch, each from the weights before its step
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN unless the targets are classes
  double seconds = 0;        // the epoch's training steps (validation not included)
  double samples_per_s = 0;
  double learning_rate = 0;  // the rate this epoch's steps used (NaN for irprop)
  // With validation data: mean per-sample E and accuracy on it with the weights after the epoch;
  // NaN without (accuracy also NaN unless the targets are classes).
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  bool best = false;  // with validation data: the validation loss is below every earlier epoch's
};

struct TrainReport {
  std::size_t epochs_run = 0;  // this run's epochs (a resumed run counts from its checkpoint)
  double final_loss = std::numeric_limits<double>::quiet_NaN();
  bool stopped_by_callback = false;
  bool stopped_early = false;  // early stopping ended the run
  // With validation data: the best epoch (0-based, counted over the whole run including any
  // checkpointed part) and its validation loss; with early stopping the network holds its weights.
  std::size_t best_epoch = 0;
  double best_val_loss = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
};

// What an epoch callback asks for. An enum rather than a bool so that code written for a bool
// callback fails to compile instead of silently inverting: in C a non-zero return stops, in
// Python a true one does, and here EpochAction::stop does.
enum class EpochAction { go_on, stop };

// Called after every epoch, on the training thread; return EpochAction::stop to stop training.
// Training is paused while it runs, so it may read the network (predict, evaluate, weights): the
// weights are those after the epoch (before early stopping restores the best ones at the end).
using EpochCallback = std::function<EpochAction(const EpochStats&)>;

// Progress within an epoch, for a progress bar: the epoch (0-based), the samples done and in all
// this epoch, and the mean loss over the samples done. Called on the training thread: once as the
// epoch starts (0 samples done, loss NaN), then between steps at most about 100 times an epoch
// and after its last step. The training threads are let go for the call, so it may run OpenMP
// or oneTBB work of its own.
using BatchCallback = std::function<void(std::size_t epoch, std::size_t samples_done,
                                         std::size_t samples_total, double mean_loss)>;

// While a Trainer lives it holds its network busy: a second Trainer, set_layer or load_weights on
// that network throws Error(busy) instead of racing.
// A trainer keeps its work buffers, optimizer state and shuffle generator between epochs, so a loop of
// trainer.run_epoch() is the same as one train() call with that many epochs.
// Throws Error(nonfinite) when the loss turns NaN or infinite (the network then keeps the weights
// from before the failing step), or when after an epoch a weight is NaN or infinite while every
// loss was finite (an update that overflowed; the network then holds that weight).
class BPNN_API Trainer {
 public:
  // x:(n, inputs) y:(n, outputs) row-major. Data already in the network's precision is used in
  // place and must stay valid and unchanged while the trainer lives; data in the other precision
  // is converted into a copy. The network, too, must outlive the trainer.
  Trainer(Network& net, const TrainConfig& config, const double* x, const double* y, std::size_t n);
  Trainer(Network& net, const TrainConfig& config, const float* x, const float* y, std::size_t n);
  Trainer(Network& net, const TrainConfig& config, const Dataset& data);
  // With a validation set (config.val_split must then be 0); the same inputs and outputs.
  Trainer(Network& net, const TrainConfig& config, const Dataset& data, const Dataset& validation);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Validation data for the pointer constructors, copied; before the first epoch, and only
  // when config.val_split is 0. vx:(n, inputs) vy:(n, outputs) raw, as the training data.
  void set_validation(const double* x, const double* y, std::size_t n);
  void set_validation(const float* x, const float* y, std::size_t n);

  // Progress within each epoch from now on (empty: none).
  void set_batch_callback(BatchCallback on_batches);

  // One epoch: the steps, then (with validation data) the score on it, the schedule's and early
  // stopping's bookkeeping. Does not stop by itself: see should_stop.
  EpochStats run_epoch();
  // Epochs up to config.epochs in all (a resumed trainer continues from its checkpoint's count),
  // stopping early when early stopping says so or on_epoch asks; then, with early stopping, the
  // network gets the best epoch's weights. Writes checkpoints as config.checkpoint says.
  TrainReport run(const EpochCallback& on_epoch = {});
  // Epochs done, counting those before a checkpoint this trainer resumed from.
  std::size_t epochs_done() const;
  // Early stopping's patience ran out after the last epoch.
  bool should_stop() const;
  // Sets the network to the best epoch's weights (with validation data and early stopping; else
  // nothing to do).
  void restore_best();

  // A checkpoint: the weights, the optimizer's state, the schedule's, early stopping's (with its
  // best weights), the shuffle generator and sample order, the epoch count, the resolved config,
  // and a CRC-32 of the training (and validation) data; written atomically (the output rule of
  // save_model) in a checksummed safetensors file (README "Checkpoints"). The network's metadata
  // and scaler are kept too: checkpoint_read gives the network back.
  void checkpoint_save(const std::string& path) const;
  // Continues the run saved in `path`, before the first epoch: the network (same configuration
  // and scaler, e.g. from checkpoint_read) gets the checkpoint's weights, the trainer its state.
  // The trainer's config must equal the checkpoint's in everything that shapes the result —
  // everything but epochs (≥ the epochs done), threads, backend and the checkpoint options —
  // else Error(argument) naming the field; data that differs from the checkpoint's is
  // Error(data); a corrupt file Error(format). The resumed run's weights equal, bit for bit,
  // those of a run never interrupted.
  void resume(const std::string& path);

 private:
  struct Impl;
  friend struct TrainerAccess;  // the engine's internal accessor
  explicit Trainer(std::unique_ptr<Impl> impl);  // for the engine's own ways to make a trainer
  std::unique_ptr<Impl> impl_;
};

BPNN_API TrainReport train(Network& net, const TrainConfig& config, const Dataset& data,
                           const EpochCallback& on_epoch = {});
BPNN_API TrainReport train(Network& net, const TrainConfig& config, const Dataset& data,
                           const Dataset& validation, const EpochCallback& on_epoch = {});

// What a checkpoint file holds besides the trainer's private state.
struct Checkpoint {
  Network network;      // its weights, scaler and metadata at the checkpoint
  TrainConfig config;   // resolved; threads, backend and the checkpoint path are the defaults
  std::size_t epochs_done = 0;
};

// Reads a checkpoint written by Trainer::checkpoint_save. Error(io) when it cannot be read,
// Error(format) for a file that is not an intact checkpoint.
BPNN_API Checkpoint checkpoint_read(const std::string& path);

}  // namespace bpnn
