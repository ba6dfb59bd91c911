// bpnn::Trainer and bpnn::train over TrainerCore<T> in the network's precision.
#include <chrono>
#include <string>
#include <variant>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/train.hpp"
#include "nn/network_impl.hpp"
#include "train/trainer_core.hpp"

namespace bpnn {

struct Trainer::Impl {
  std::variant<TrainerCore<float>, TrainerCore<double>> core;
};

namespace {

template <class U>
std::unique_ptr<Trainer::Impl> make_trainer(Network& net, const TrainConfig& config, const U* x,
                                            const U* y, std::size_t n) {
  if (n > 0 && (x == nullptr || y == nullptr))
    throw Error(ErrorKind::argument, "training data: null x or y");
  return std::visit(
      [&](auto& mlp) {
        using T = typename std::decay_t<decltype(mlp.arena())>::value_type;
        return std::unique_ptr<Trainer::Impl>(new Trainer::Impl{
            decltype(Trainer::Impl::core)(std::in_place_type<TrainerCore<T>>, mlp, config, x, y, n)});
      },
      net.impl().mlp);
}

}  // namespace

Trainer::Trainer(Network& net, const TrainConfig& config, const double* x, const double* y,
                 std::size_t n)
    : impl_(make_trainer(net, config, x, y, n)) {}

Trainer::Trainer(Network& net, const TrainConfig& config, const float* x, const float* y,
                 std::size_t n)
    : impl_(make_trainer(net, config, x, y, n)) {}

Trainer::Trainer(Network& net, const TrainConfig& config, const Dataset& data) {
  if (data.inputs != net.n_inputs() || data.outputs != net.n_outputs())
    throw Error(ErrorKind::data, "data set has " + std::to_string(data.inputs) + " inputs and " +
                                     std::to_string(data.outputs) + " targets, but the network takes " +
                                     std::to_string(net.n_inputs()) + " inputs and gives " +
                                     std::to_string(net.n_outputs()) + " outputs");
  impl_ = make_trainer(net, config, data.x.data(), data.y.data(), data.n);
}

Trainer::~Trainer() = default;

EpochStats Trainer::run_epoch() {
  return std::visit([](auto& core) { return core.run_epoch(); }, impl_->core);
}

TrainReport Trainer::run(const EpochCallback& on_epoch) {
  const auto start = std::chrono::steady_clock::now();
  TrainReport report;
  const std::size_t epochs = std::visit([](auto& core) { return core.epochs(); }, impl_->core);
  for (std::size_t e = 0; e < epochs; ++e) {
    const EpochStats stats = run_epoch();
    report.epochs_run++;
    report.final_loss = stats.loss;
    if (on_epoch && !on_epoch(stats)) {
      report.stopped_by_callback = true;
      break;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

TrainReport train(Network& net, const TrainConfig& config, const Dataset& data,
                  const EpochCallback& on_epoch) {
  Trainer trainer(net, config, data);
  return trainer.run(on_epoch);
}

}  // namespace bpnn
