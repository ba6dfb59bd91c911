#pragma once
// Training: per-sample SGD (batch 1, the seed's mode) and mini-batch SGD with momentum.
//
// One step takes a batch of samples, computes each sample's gradient with the weights from before
// the step, averages them, and updates: v = μ·v + ḡ; w −= lr·v. With batch 1 and μ = 0 this is
// exactly the seed's update w −= lr·∂E/∂w.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"

namespace bpnn {

struct Dataset;

enum class Backend { tbb, omp };

// The most epochs one training run accepts: a larger count is a wrapped negative number or a typo.
inline constexpr std::size_t max_epochs = 1'000'000'000;

struct TrainConfig {
  double learning_rate = 0.1;
  double momentum = 0.0;
  std::size_t batch = 1;   // samples per step; 1 = per-sample SGD
  std::size_t epochs = 10;  // 1 … max_epochs
  bool shuffle = true;     // reshuffle the sample order every epoch (seeded); false keeps file order
  std::uint64_t seed = 1;  // seeds the shuffle
  int threads = 0;         // 0 = all cores (also the cap); results never depend on it
  Backend backend = Backend::tbb;
};

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
// A trainer keeps its work buffers, momentum and shuffle generator between epochs, so a loop of
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
