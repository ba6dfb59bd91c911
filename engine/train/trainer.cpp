// bpnn::Trainer and bpnn::train over TrainerCore<T> in the network's precision.
#include <algorithm>
#include <type_traits>
#include <chrono>
#include <string>
#include <variant>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/train.hpp"
#include "nn/network_impl.hpp"
#include "nn/size_check.hpp"
#include "train/trainer_core.hpp"

namespace bpnn {

// The busy lock is taken first and released last: the network is the trainer's for its life.
// A network with an input scaler trains on raw inputs, as predict takes them: the trainer scales
// its own copy of the inputs (in double, as predict does, then stored in the caller's precision)
// before the core sees them.
struct Trainer::Impl {
  template <class T, class U>
  Impl(Network::Impl& net, std::in_place_type_t<T> type, const TrainConfig& config, const U* x,
       const U* y, std::size_t n)
      : lock(net.busy, "train"),
        scaled(scaled_copy(net.scaler, x, n, net.config.sizes.front())),
        core(type, std::get<Mlp<typename T::value_type>>(net.mlp), config,
             net.scaler.active() ? scaled_as<U>() : x, y, n) {}

  static std::variant<std::vector<float>, std::vector<double>> scaled_copy(
      const InputScaler& scaler, const auto* x, std::size_t n, std::size_t inputs) {
    using U = std::remove_cv_t<std::remove_pointer_t<decltype(x)>>;
    if (!scaler.active()) return std::vector<U>{};
    std::vector<double> copy(x, x + n * inputs);
    scaler_apply(scaler, copy.data(), n, inputs);
    return std::vector<U>(copy.begin(), copy.end());
  }
  template <class U>
  const U* scaled_as() const { return std::get<std::vector<U>>(scaled).data(); }

  BusyLock lock;
  std::variant<std::vector<float>, std::vector<double>> scaled;  // inputs after the scaler, if any
  std::variant<TrainerCore<float>, TrainerCore<double>> core;
};

// What training allocates beyond the network, as an upper bound: the optimizer's gradient and
// state (none for plain SGD, up to three times the parameters for Adam and iRPROP), activations
// and deltas for a batch (twice, for gathered rows, logits and regrouped deltas), and a converted
// copy of the data when it comes in the other precision. Throws Error(argument) for an invalid
// optimizer setting.
std::size_t training_bytes(const NetworkConfig& net, const TrainConfig& config, std::size_t n,
                           std::size_t data_element_bytes) {
  const std::string what = "training";
  const TrainConfig resolved = train_config_resolve(config);
  const std::size_t element = net.precision == Precision::f64 ? sizeof(double) : sizeof(float);
  const std::size_t params = arena_bytes_bound(net.sizes, element);
  std::size_t widths = 0;
  for (std::size_t w : net.sizes) widths = checked_add(widths, w, what);
  const std::size_t batch = resolved.batch == 0 ? 1 : train_batch(resolved, n);
  const std::size_t rows = std::min<std::size_t>(batch, n);
  const std::size_t activations =
      checked_mul(checked_mul(rows, widths, what), checked_mul(4, element, what), what);
  const std::size_t data = element == data_element_bytes
                               ? 0
                               : checked_mul(n, checked_mul(net.sizes.front() + net.sizes.back(),
                                                            element, what), what);
  const std::size_t optimizer = checked_mul(params, optimizer_state_factor(resolved), what);
  return checked_add(checked_add(optimizer, activations, what), data, what);
}

struct TrainerAccess {
  template <class U>
  static std::unique_ptr<Trainer::Impl> make(Network& net, const TrainConfig& config, const U* x,
                                             const U* y, std::size_t n) {
    if (n > 0 && (x == nullptr || y == nullptr))
      throw Error(ErrorKind::argument, "training data: null x or y");
    Network::Impl& impl = NetworkAccess::impl(net);
    check_fits_in_memory(training_bytes(impl.config, config, n, sizeof(U)),
                         "training (parameters, gradients, optimizer state, activations and data)");
    if (impl.config.precision == Precision::f32)
      return std::make_unique<Trainer::Impl>(impl, std::in_place_type<TrainerCore<float>>, config,
                                             x, y, n);
    return std::make_unique<Trainer::Impl>(impl, std::in_place_type<TrainerCore<double>>, config,
                                           x, y, n);
  }
};


Trainer::Trainer(Network& net, const TrainConfig& config, const double* x, const double* y,
                 std::size_t n)
    : impl_(TrainerAccess::make(net, config, x, y, n)) {}

Trainer::Trainer(Network& net, const TrainConfig& config, const float* x, const float* y,
                 std::size_t n)
    : impl_(TrainerAccess::make(net, config, x, y, n)) {}

Trainer::Trainer(Network& net, const TrainConfig& config, const Dataset& data) {
  if (data.inputs != net.n_inputs() || data.outputs != net.n_outputs())
    throw Error(ErrorKind::data, "data set has " + std::to_string(data.inputs) + " inputs and " +
                                     std::to_string(data.outputs) + " targets, but the network takes " +
                                     std::to_string(net.n_inputs()) + " inputs and gives " +
                                     std::to_string(net.n_outputs()) + " outputs");
  impl_ = TrainerAccess::make(net, config, data.x.data(), data.y.data(), data.n);
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
    if (on_epoch && on_epoch(stats) == EpochAction::stop) {
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
