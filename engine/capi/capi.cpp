// The C API (include/bpnn.h) over the C++ API: argument checks, struct_size handling, and every
// C++ exception turned into a bpnn_status plus a thread-local message.
#include "bpnn.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/evaluate.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/sweep.hpp"
#include "bpnn/train.hpp"
#include "bpnn/version.hpp"
#include "nn/network_impl.hpp"
#include <nlohmann/json.hpp>

#include "capi/capi_net.hpp"
#include "capi/capi_train.hpp"

namespace {

using bpnn::capi::raw;
using bpnn::capi::status_of;
using bpnn::capi::struct_size_check;

// The message behind bpnn_last_error(): the library's only per-thread state, and no global state.
thread_local std::string last_error;

// A failure with a status; thrown inside this file only and caught by guard().
struct CapiError {
  bpnn_status status;
  std::string message;
};

[[noreturn]] void fail_arg(const std::string& message) { throw CapiError{BPNN_ERR_ARG, message}; }

bpnn_status set_error(bpnn_status status, const char* function, const char* message) noexcept {
  try {
    last_error = std::string(function) + ": " + message;
  } catch (...) {
    last_error.clear();  // out of memory for the message itself: keep "" rather than fail
  }
  return status;
}

// Runs f, turning every exception into a status and the thread's last error.
template <class F>
bpnn_status guard(const char* function, F&& f) noexcept {
  try {
    f();
    return BPNN_OK;
  } catch (const CapiError& e) {
    return set_error(e.status, function, e.message.c_str());
  } catch (const bpnn::Error& e) {
    return set_error(status_of(e.kind()), function, e.what());
  } catch (const std::bad_alloc&) {
    return set_error(BPNN_ERR_NOMEM, function, "out of memory");
  } catch (const std::exception& e) {
    return set_error(BPNN_ERR_INTERNAL, function, e.what());
  } catch (...) {
    return set_error(BPNN_ERR_INTERNAL, function, "unknown exception");
  }
}

void need(const void* p, const char* name) {
  if (p == nullptr) fail_arg(std::string(name) + " is NULL");
}

// n·k without overflow, or BPNN_ERR_ARG naming what would not fit.
std::size_t checked_product(std::size_t n, std::size_t k, const char* what) {
  if (k != 0 && n > std::numeric_limits<std::size_t>::max() / k)
    fail_arg(std::string(what) + ": n = " + std::to_string(n) + " rows of " + std::to_string(k) +
             " overflow size_t");
  return n * k;
}



bpnn::Activation activation_of(int v, const char* name) {
  if (v < BPNN_ACT_SIGMOID || v > BPNN_ACT_SOFTMAX)
    fail_arg(std::string(name) + " = " + std::to_string(v) + " is not a bpnn_activation");
  return static_cast<bpnn::Activation>(v);
}
bpnn::Loss loss_of(int v) {
  if (v < BPNN_LOSS_MSE || v > BPNN_LOSS_XENT)
    fail_arg("config->loss = " + std::to_string(v) + " is not a bpnn_loss");
  return static_cast<bpnn::Loss>(v);
}
bpnn::Precision precision_of(int v) {
  if (v < BPNN_F32 || v > BPNN_F64)
    fail_arg("config->precision = " + std::to_string(v) + " is not a bpnn_precision");
  return static_cast<bpnn::Precision>(v);
}
bpnn::Init init_of(int v) {
  if (v < BPNN_INIT_ZERO || v > BPNN_INIT_HE)
    fail_arg("config->init = " + std::to_string(v) + " is not a bpnn_init");
  return static_cast<bpnn::Init>(v);
}

static_assert(static_cast<int>(bpnn::Activation::softmax) == BPNN_ACT_SOFTMAX);
static_assert(static_cast<int>(bpnn::Loss::xent) == BPNN_LOSS_XENT);
static_assert(static_cast<int>(bpnn::Precision::f64) == BPNN_F64);
static_assert(static_cast<int>(bpnn::Init::he) == BPNN_INIT_HE);
static_assert(static_cast<int>(bpnn::Scaling::none) == BPNN_SCALE_NONE);
static_assert(static_cast<int>(bpnn::Optimizer::sgd) == BPNN_OPT_SGD);
static_assert(static_cast<int>(bpnn::Optimizer::irprop) == BPNN_OPT_IRPROP);
static_assert(static_cast<int>(bpnn::Scaling::standard) == BPNN_SCALE_STANDARD);
static_assert(static_cast<int>(bpnn::Scaling::minmax) == BPNN_SCALE_MINMAX);

bpnn::NetworkConfig network_config(const bpnn_net_config* c) {
  need(c, "config");
  struct_size_check(c->struct_size, offsetof(bpnn_net_config, n_sizes) + sizeof(c->n_sizes),
                    sizeof(bpnn_net_config), "config");
  bpnn::NetworkConfig config;  // C++ defaults for the fields an older caller does not have
  if (c->n_sizes == 0) fail_arg("config->n_sizes is 0 (need at least an input and an output width)");
  need(c->sizes, "config->sizes");
  config.sizes.assign(c->sizes, c->sizes + c->n_sizes);
  if (BPNN_HAS(c, bpnn_net_config, hidden_act))
    config.hidden_act = activation_of(raw(c->hidden_act), "config->hidden_act");
  if (BPNN_HAS(c, bpnn_net_config, output_act))
    config.output_act = activation_of(raw(c->output_act), "config->output_act");
  if (BPNN_HAS(c, bpnn_net_config, loss)) config.loss = loss_of(raw(c->loss));
  if (BPNN_HAS(c, bpnn_net_config, precision)) config.precision = precision_of(raw(c->precision));
  if (BPNN_HAS(c, bpnn_net_config, init)) config.init = init_of(raw(c->init));
  if (BPNN_HAS(c, bpnn_net_config, init_scale)) config.init_scale = c->init_scale;
  if (BPNN_HAS(c, bpnn_net_config, seed)) config.seed = c->seed;
  return config;
}

const bpnn::Network& net_of(const bpnn_net* net) {
  need(net, "net");
  return net->net;
}
bpnn::Network& net_of(bpnn_net* net) {
  need(net, "net");
  return net->net;
}

// The precision a typed entry point needs; the other one is an argument error, not a conversion.
void need_precision(const bpnn::Network& net, bpnn::Precision p) {
  if (net.config().precision != p)
    fail_arg(std::string("net has precision ") + std::string(bpnn::to_string(net.config().precision)) +
             "; use the _" + std::string(bpnn::to_string(net.config().precision)) +
             " function or create the net with that precision");
}

// predict (layer = SIZE_MAX: the outputs) and predict_layer: the same checks, one place.
template <class T>
bpnn_status predict_layer(const char* function, const bpnn_net* handle, const T* x, std::size_t n,
                          std::size_t layer, T* y, bpnn::Precision p) {
  return guard(function, [&] {
    const bpnn::Network& net = net_of(handle);
    need(x, "x");
    need(y, "y");
    if (n == 0) fail_arg("n is 0 (need at least one row)");
    need_precision(net, p);
    const bool outputs = layer == std::numeric_limits<std::size_t>::max();
    if (outputs) layer = net.n_layers();
    if (layer > net.n_layers())
      fail_arg("layer = " + std::to_string(layer) + " is out of range (0 = the scaled inputs, " +
               std::to_string(net.n_layers()) + " = the outputs)");
    checked_product(n, net.n_inputs(), "x");
    checked_product(n, net.width(layer), "y");
    if (outputs)
      net.predict(x, n, y);
    else
      net.predict_layer(x, n, layer, y);
  });
}

template <class T>
bpnn_status predict(const char* function, const bpnn_net* handle, const T* x, std::size_t n, T* y,
                    bpnn::Precision p) {
  return predict_layer(function, handle, x, n, std::numeric_limits<std::size_t>::max(), y, p);
}

template <class T>
bpnn_status train(const char* function, bpnn_net* handle, const bpnn_train_config* c, const T* x,
                  const T* y, std::size_t n, bpnn_train_report* report, bpnn::Precision p) {
  bpnn::TrainReport progress;  // what the callback saw, for the report of a diverged run
  const bpnn_status status = guard(function, [&] {
    bpnn::Network& net = net_of(handle);
    const bpnn::TrainConfig config = bpnn::capi::train_config_from(c);
    need(x, "x");
    need(y, "y");
    if (n == 0) fail_arg("n is 0 (need at least one sample)");
    if (report != nullptr)
      struct_size_check(report->struct_size,
                        offsetof(bpnn_train_report, epochs_run) + sizeof(report->epochs_run),
                        sizeof(bpnn_train_report), "report");
    need_precision(net, p);
    checked_product(n, net.n_inputs(), "x");
    checked_product(n, net.n_outputs(), "y");
    if (c != nullptr && BPNN_HAS(c, bpnn_train_config, scaling)) {
      const int k = raw(c->scaling);
      if (k < BPNN_SCALE_NONE || k > BPNN_SCALE_MINMAX)
        fail_arg("config->scaling = " + std::to_string(k) + " is not a bpnn_scaling");
      if (k != BPNN_SCALE_NONE) {
        const std::vector<double> xd(x, x + n * net.n_inputs());
        net.set_scaler(bpnn::scaler_fit(static_cast<bpnn::Scaling>(k), xd.data(), n, net.n_inputs()));
      }
    }
    const auto start = std::chrono::steady_clock::now();
    bpnn::Trainer trainer(net, config, x, y, n);
    if (c != nullptr && BPNN_HAS(c, bpnn_train_config, val_n) && (c->val_n > 0 || c->val_x != nullptr)) {
      need(c->val_x, "config->val_x");
      need(c->val_y, "config->val_y");
      if (c->val_n == 0) fail_arg("config->val_n is 0 with a validation set");
      checked_product(c->val_n, net.n_inputs(), "config->val_x");
      checked_product(c->val_n, net.n_outputs(), "config->val_y");
      trainer.set_validation(static_cast<const T*>(c->val_x), static_cast<const T*>(c->val_y), c->val_n);
    }
    if (c != nullptr && BPNN_HAS(c, bpnn_train_config, resume) && c->resume != nullptr)
      trainer.resume(c->resume);
    int (*on_epoch)(void*, const bpnn_epoch_stats*) =
        c != nullptr && BPNN_HAS(c, bpnn_train_config, on_epoch) ? c->on_epoch : nullptr;
    void* user = c != nullptr && BPNN_HAS(c, bpnn_train_config, user) ? c->user : nullptr;
    bpnn::TrainReport done = trainer.run([&](const bpnn::EpochStats& s) {
      progress.epochs_run++;
      progress.final_loss = s.loss;
      progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (on_epoch == nullptr) return bpnn::EpochAction::go_on;
      const bpnn_epoch_stats stats = bpnn::capi::epoch_stats_of(s);
      return on_epoch(user, &stats) != 0 ? bpnn::EpochAction::stop : bpnn::EpochAction::go_on;
    });
    bpnn::capi::train_report_write(report, done);
  });
  if (status == BPNN_ERR_NONFINITE) bpnn::capi::train_report_write(report, progress);
  return status;
}

}  // namespace

extern "C" {

int bpnn_version_number(void) { return BPNN_VERSION_NUMBER; }
const char* bpnn_version_string(void) { return BPNN_VERSION_STRING; }

const char* bpnn_status_string(bpnn_status status) {
  switch (status) {
    case BPNN_OK: return "BPNN_OK";
    case BPNN_ERR_ARG: return "BPNN_ERR_ARG";
    case BPNN_ERR_NOMEM: return "BPNN_ERR_NOMEM";
    case BPNN_ERR_IO: return "BPNN_ERR_IO";
    case BPNN_ERR_FORMAT: return "BPNN_ERR_FORMAT";
    case BPNN_ERR_NONFINITE: return "BPNN_ERR_NONFINITE";
    case BPNN_ERR_INTERNAL: return "BPNN_ERR_INTERNAL";
    case BPNN_ERR_BUSY: return "BPNN_ERR_BUSY";
  }
  return "unknown bpnn_status";
}

const char* bpnn_last_error(void) { return last_error.c_str(); }

void bpnn_net_config_init(bpnn_net_config* config) {
  if (config == nullptr) return;
  const bpnn::NetworkConfig d;
  std::memset(config, 0, sizeof *config);
  config->struct_size = sizeof *config;
  config->sizes = nullptr;
  config->n_sizes = 0;
  config->hidden_act = static_cast<bpnn_activation>(d.hidden_act);
  config->output_act = static_cast<bpnn_activation>(d.output_act);
  config->loss = static_cast<bpnn_loss>(d.loss);
  config->precision = static_cast<bpnn_precision>(d.precision);
  config->init = static_cast<bpnn_init>(d.init);
  config->init_scale = d.init_scale;
  config->seed = d.seed;
}

bpnn_status bpnn_net_create(const bpnn_net_config* config, bpnn_net** out) {
  return guard("bpnn_net_create", [&] {
    need(out, "out");
    const bpnn::NetworkConfig c = network_config(config);
    *out = new bpnn_net{bpnn::Network(c)};
  });
}

bpnn_status bpnn_net_load(const char* path, bpnn_net** out) {
  return guard("bpnn_net_load", [&] {
    need(path, "path");
    need(out, "out");
    if (*path == '\0') fail_arg("path is empty");
    *out = new bpnn_net{bpnn::load_model(path)};
  });
}

bpnn_status bpnn_checkpoint_load(const char* path, bpnn_net** out, size_t* epochs_done) {
  return guard("bpnn_checkpoint_load", [&] {
    need(path, "path");
    need(out, "out");
    if (*path == '\0') fail_arg("path is empty");
    bpnn::Checkpoint ck = bpnn::checkpoint_read(path);
    *out = new bpnn_net{std::move(ck.network)};
    if (epochs_done != nullptr) *epochs_done = ck.epochs_done;
  });
}

bpnn_status bpnn_net_save(const bpnn_net* net, const char* path) {
  return guard("bpnn_net_save", [&] {
    const bpnn::Network& n = net_of(net);
    need(path, "path");
    if (*path == '\0') fail_arg("path is empty");
    bpnn::save_model(n, path);
  });
}

bpnn_status bpnn_net_clone(const bpnn_net* net, bpnn_net** out) {
  return guard("bpnn_net_clone", [&] {
    const bpnn::Network& n = net_of(net);
    need(out, "out");
    *out = new bpnn_net{bpnn::Network(n)};
  });
}

void bpnn_net_free(bpnn_net* net) { delete net; }

size_t bpnn_net_n_inputs(const bpnn_net* net) {
  if (net == nullptr) return set_error(BPNN_ERR_ARG, "bpnn_net_n_inputs", "net is NULL"), 0;
  return net->net.n_inputs();
}
size_t bpnn_net_n_outputs(const bpnn_net* net) {
  if (net == nullptr) return set_error(BPNN_ERR_ARG, "bpnn_net_n_outputs", "net is NULL"), 0;
  return net->net.n_outputs();
}
size_t bpnn_net_n_layers(const bpnn_net* net) {
  if (net == nullptr) return set_error(BPNN_ERR_ARG, "bpnn_net_n_layers", "net is NULL"), 0;
  return net->net.n_layers();
}
size_t bpnn_net_n_params(const bpnn_net* net) {
  if (net == nullptr) return set_error(BPNN_ERR_ARG, "bpnn_net_n_params", "net is NULL"), 0;
  return net->net.n_params();
}
size_t bpnn_net_width(const bpnn_net* net, size_t i) {
  if (net == nullptr) return set_error(BPNN_ERR_ARG, "bpnn_net_width", "net is NULL"), 0;
  const auto& sizes = net->net.config().sizes;
  if (i >= sizes.size()) {
    set_error(BPNN_ERR_ARG, "bpnn_net_width",
              ("i = " + std::to_string(i) + " is out of range (the net has " +
               std::to_string(sizes.size()) + " widths)").c_str());
    return 0;
  }
  return sizes[i];
}

int bpnn_net_precision(const bpnn_net* net) {
  if (net == nullptr) return set_error(BPNN_ERR_ARG, "bpnn_net_precision", "net is NULL"), -1;
  return net->net.config().precision == bpnn::Precision::f64 ? BPNN_F64 : BPNN_F32;
}

bpnn_status bpnn_net_get_config(const bpnn_net* net, bpnn_net_config* config) {
  return guard("bpnn_net_get_config", [&] {
    const bpnn::NetworkConfig& c = net_of(net).config();
    need(config, "config");
    struct_size_check(config->struct_size, offsetof(bpnn_net_config, n_sizes) + sizeof(size_t),
                      sizeof(bpnn_net_config), "config");
    config->sizes = c.sizes.data();
    config->n_sizes = c.sizes.size();
    bpnn_net_config* k = config;
    if (BPNN_HAS(k, bpnn_net_config, hidden_act)) k->hidden_act = static_cast<bpnn_activation>(c.hidden_act);
    if (BPNN_HAS(k, bpnn_net_config, output_act)) k->output_act = static_cast<bpnn_activation>(c.output_act);
    if (BPNN_HAS(k, bpnn_net_config, loss)) k->loss = static_cast<bpnn_loss>(c.loss);
    if (BPNN_HAS(k, bpnn_net_config, precision)) k->precision = static_cast<bpnn_precision>(c.precision);
    if (BPNN_HAS(k, bpnn_net_config, init)) k->init = static_cast<bpnn_init>(c.init);
    if (BPNN_HAS(k, bpnn_net_config, init_scale)) k->init_scale = c.init_scale;
    if (BPNN_HAS(k, bpnn_net_config, seed)) k->seed = c.seed;
  });
}

bpnn_status bpnn_net_predict_f32(const bpnn_net* net, const float* x, size_t n, float* y) {
  return predict("bpnn_net_predict_f32", net, x, n, y, bpnn::Precision::f32);
}
bpnn_status bpnn_net_predict_f64(const bpnn_net* net, const double* x, size_t n, double* y) {
  return predict("bpnn_net_predict_f64", net, x, n, y, bpnn::Precision::f64);
}

bpnn_status bpnn_net_predict_layer_f32(const bpnn_net* net, const float* x, size_t n, size_t layer,
                                       float* y) {
  return predict_layer("bpnn_net_predict_layer_f32", net, x, n, layer, y, bpnn::Precision::f32);
}
bpnn_status bpnn_net_predict_layer_f64(const bpnn_net* net, const double* x, size_t n,
                                       size_t layer, double* y) {
  return predict_layer("bpnn_net_predict_layer_f64", net, x, n, layer, y, bpnn::Precision::f64);
}

namespace {

// The layer index and the lengths of its w:(out, in) and b:(out) buffers, else BPNN_ERR_ARG.
void check_layer_lengths(const bpnn::Network& n, size_t layer, size_t w_len, size_t b_len) {
    if (layer >= n.n_layers())
      fail_arg("layer = " + std::to_string(layer) + " is out of range (the net has " +
               std::to_string(n.n_layers()) + " layers)");
    const std::size_t in = n.config().sizes[layer], out = n.config().sizes[layer + 1];
    if (w_len != in * out)
      fail_arg("w_len = " + std::to_string(w_len) + " but layer " + std::to_string(layer) +
               " has " + std::to_string(out) + "x" + std::to_string(in) + " = " +
               std::to_string(in * out) + " weights");
    if (b_len != out)
      fail_arg("b_len = " + std::to_string(b_len) + " but layer " + std::to_string(layer) +
               " has " + std::to_string(out) + " biases");
}

}  // namespace

bpnn_status bpnn_net_get_layer_f64(const bpnn_net* net, size_t layer, double* w, size_t w_len,
                                   double* b, size_t b_len) {
  return guard("bpnn_net_get_layer_f64", [&] {
    const bpnn::Network& n = net_of(net);
    need(w, "w");
    need(b, "b");
    check_layer_lengths(n, layer, w_len, b_len);
    const std::vector<double> weights = n.weights(layer), bias = n.bias(layer);
    std::memcpy(w, weights.data(), w_len * sizeof(double));
    std::memcpy(b, bias.data(), b_len * sizeof(double));
  });
}

bpnn_status bpnn_net_set_layer_f64(bpnn_net* net, size_t layer, const double* w, size_t w_len,
                                   const double* b, size_t b_len) {
  return guard("bpnn_net_set_layer_f64", [&] {
    bpnn::Network& n = net_of(net);
    need(w, "w");
    need(b, "b");
    check_layer_lengths(n, layer, w_len, b_len);
    n.set_layer(layer, {w, w_len}, {b, b_len});
  });
}

namespace {

// Metadata goes into the model file's JSON header, which holds UTF-8 only.
void need_utf8(const char* text, const char* name) {
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::type_error&) {
    fail_arg(std::string(name) + " is not valid UTF-8");
  }
}

}  // namespace

bpnn_status bpnn_net_set_metadata(bpnn_net* net, const char* key, const char* value) {
  return guard("bpnn_net_set_metadata", [&] {
    bpnn::Network& n = net_of(net);
    need(key, "key");
    need(value, "value");
    if (*key == '\0') fail_arg("key is empty");
    need_utf8(key, "key");
    need_utf8(value, "value");
    bpnn::BusyLock lock(bpnn::NetworkAccess::impl(n).busy, "set_metadata");
    n.metadata()[key] = value;
  });
}

const char* bpnn_net_get_metadata(const bpnn_net* net, const char* key) {
  const char* result = nullptr;
  guard("bpnn_net_get_metadata", [&] {
    const bpnn::Network& n = net_of(net);
    need(key, "key");
    const auto it = n.metadata().find(key);
    if (it == n.metadata().end()) fail_arg(std::string("no metadata key \"") + key + "\"");
    result = it->second.c_str();
  });
  return result;
}

bpnn_status bpnn_net_get_scaler(const bpnn_net* net, bpnn_scaling* kind, double* offset,
                                double* factor, size_t len) {
  return guard("bpnn_net_get_scaler", [&] {
    const bpnn::InputScaler& s = net_of(net).scaler();
    need(kind, "kind");
    if (s.active() && (offset != nullptr || factor != nullptr)) {
      need(offset, "offset");
      need(factor, "factor");
      if (len != s.offset.size())
        fail_arg("len = " + std::to_string(len) + " but the scaler has " +
                 std::to_string(s.offset.size()) + " columns");
      std::copy(s.offset.begin(), s.offset.end(), offset);
      std::copy(s.factor.begin(), s.factor.end(), factor);
    }
    *kind = static_cast<bpnn_scaling>(s.kind);
  });
}

bpnn_status bpnn_net_set_scaler(bpnn_net* net, bpnn_scaling kind, const double* offset,
                                const double* factor, size_t len) {
  return guard("bpnn_net_set_scaler", [&] {
    bpnn::Network& n = net_of(net);
    const int k = raw(kind);
    if (k < BPNN_SCALE_NONE || k > BPNN_SCALE_MINMAX)
      fail_arg("kind = " + std::to_string(k) + " is not a bpnn_scaling");
    bpnn::InputScaler s;
    s.kind = static_cast<bpnn::Scaling>(k);
    if (s.active()) {
      need(offset, "offset");
      need(factor, "factor");
      if (len != n.n_inputs())
        fail_arg("len = " + std::to_string(len) + " but the net has " +
                 std::to_string(n.n_inputs()) + " inputs");
      s.offset.assign(offset, offset + len);
      s.factor.assign(factor, factor + len);
    } else if (offset != nullptr || factor != nullptr || len != 0) {
      fail_arg("BPNN_SCALE_NONE takes no offsets or factors (NULL, NULL, 0)");
    }
    n.set_scaler(std::move(s));
  });
}

void bpnn_train_config_init(bpnn_train_config* config) {
  if (config == nullptr) return;
  const bpnn::TrainConfig d;
  std::memset(config, 0, sizeof *config);
  config->struct_size = sizeof *config;
  config->learning_rate = d.learning_rate;
  config->momentum = d.momentum;
  config->batch = d.batch;
  config->epochs = d.epochs;
  config->threads = d.threads;
  config->shuffle = d.shuffle ? 1 : 0;
  config->seed = d.seed;
  config->on_epoch = nullptr;
  config->user = nullptr;
  config->optimizer = static_cast<bpnn_optimizer>(d.optimizer);
  config->beta1 = d.beta1;
  config->beta2 = d.beta2;
  config->eps = d.eps;
  config->l2 = d.l2;
  config->clip = d.clip;
  config->scaling = BPNN_SCALE_NONE;
  config->schedule = nullptr;
  config->val_split = d.val_split;
  config->val_x = nullptr;
  config->val_y = nullptr;
  config->val_n = 0;
  config->early_stop = d.early_stop;
  config->checkpoint = nullptr;
  config->checkpoint_every = d.checkpoint_every;
  config->resume = nullptr;
}

void bpnn_train_report_init(bpnn_train_report* report) {
  if (report == nullptr) return;
  std::memset(report, 0, sizeof *report);
  report->struct_size = sizeof *report;
  report->final_loss = std::numeric_limits<double>::quiet_NaN();
  report->best_val_loss = std::numeric_limits<double>::quiet_NaN();
}

bpnn_status bpnn_net_train_f32(bpnn_net* net, const bpnn_train_config* config, const float* x,
                               const float* y, size_t n, bpnn_train_report* report) {
  return train("bpnn_net_train_f32", net, config, x, y, n, report, bpnn::Precision::f32);
}
bpnn_status bpnn_net_train_f64(bpnn_net* net, const bpnn_train_config* config, const double* x,
                               const double* y, size_t n, bpnn_train_report* report) {
  return train("bpnn_net_train_f64", net, config, x, y, n, report, bpnn::Precision::f64);
}

void bpnn_eval_report_init(bpnn_eval_report* report) {
  if (report == nullptr) return;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::memset(report, 0, sizeof *report);
  report->struct_size = sizeof *report;
  report->loss = report->accuracy = report->macro_f1 = nan;
  report->rmse = report->mae = report->r2 = nan;
}

}  // extern "C"

namespace {

template <class T>
bpnn_status evaluate(const char* function, const bpnn_net* handle, const T* x, const T* y,
                     std::size_t n, bpnn_eval_report* report, std::size_t* confusion,
                     std::size_t confusion_len, bpnn::Precision p) {
  return guard(function, [&] {
    const bpnn::Network& net = net_of(handle);
    need(x, "x");
    need(y, "y");
    need(report, "report");
    struct_size_check(report->struct_size, offsetof(bpnn_eval_report, n) + sizeof(report->n),
                      sizeof(bpnn_eval_report), "report");
    if (n == 0) fail_arg("n is 0 (need at least one row)");
    need_precision(net, p);
    checked_product(n, net.n_inputs(), "x");
    checked_product(n, net.n_outputs(), "y");
    const std::size_t classes = bpnn::evaluation_classes(net);
    if (confusion != nullptr && confusion_len < classes * classes)
      fail_arg("confusion_len = " + std::to_string(confusion_len) + " but the confusion matrix has " +
               std::to_string(classes) + "x" + std::to_string(classes) + " cells");
    const bpnn::Evaluation e = bpnn::evaluate(net, x, y, n);
    bpnn_eval_report* r = report;
    if (BPNN_HAS(r, bpnn_eval_report, n)) r->n = e.n;
    if (BPNN_HAS(r, bpnn_eval_report, loss)) r->loss = e.loss;
    if (BPNN_HAS(r, bpnn_eval_report, classifier)) r->classifier = e.classifier ? 1 : 0;
    if (BPNN_HAS(r, bpnn_eval_report, n_classes)) r->n_classes = e.n_classes;
    if (BPNN_HAS(r, bpnn_eval_report, accuracy)) r->accuracy = e.accuracy;
    if (BPNN_HAS(r, bpnn_eval_report, macro_f1)) r->macro_f1 = e.macro_f1;
    if (BPNN_HAS(r, bpnn_eval_report, rmse)) r->rmse = e.rmse;
    if (BPNN_HAS(r, bpnn_eval_report, mae)) r->mae = e.mae;
    if (BPNN_HAS(r, bpnn_eval_report, r2)) r->r2 = e.r2;
    if (confusion != nullptr && e.classifier)
      std::copy(e.confusion.begin(), e.confusion.end(), confusion);
  });
}

}  // namespace

extern "C" {

bpnn_status bpnn_net_evaluate_f32(const bpnn_net* net, const float* x, const float* y, size_t n,
                                  bpnn_eval_report* report, size_t* confusion,
                                  size_t confusion_len) {
  return evaluate("bpnn_net_evaluate_f32", net, x, y, n, report, confusion, confusion_len,
                  bpnn::Precision::f32);
}
bpnn_status bpnn_net_evaluate_f64(const bpnn_net* net, const double* x, const double* y, size_t n,
                                  bpnn_eval_report* report, size_t* confusion,
                                  size_t confusion_len) {
  return evaluate("bpnn_net_evaluate_f64", net, x, y, n, report, confusion, confusion_len,
                  bpnn::Precision::f64);
}

}  // extern "C"

// ---- many networks at once ---------------------------------------------------------------------

extern "C" {

void bpnn_member_init(bpnn_member* member) {
  if (member == nullptr) return;
  std::memset(member, 0, sizeof *member);
  member->struct_size = sizeof *member;
}

void bpnn_member_result_init(bpnn_member_result* result) {
  if (result == nullptr) return;
  std::memset(result, 0, sizeof *result);
  result->struct_size = sizeof *result;
  result->status = BPNN_OK;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  result->final_loss = result->train_accuracy = result->val_loss = result->val_accuracy = nan;
}

bpnn_status bpnn_train_many(const bpnn_member* members, size_t n_members, const double* x,
                            const double* y, size_t n, int threads, bpnn_net** out,
                            bpnn_member_result* results) {
  return guard("bpnn_train_many", [&] {
    need(members, "members");
    need(out, "out");
    if (n_members == 0) fail_arg("n_members is 0");
    if (n == 0) fail_arg("n is 0 (no samples)");
    need(x, "x");
    need(y, "y");
    if (threads < 0) fail_arg("threads = " + std::to_string(threads) + " (need >= 0; 0 = all cores)");
    std::vector<bpnn::SweepMember> list;
    for (std::size_t i = 0; i < n_members; ++i) {
      const bpnn_member& m = members[i];
      const std::string name = "members[" + std::to_string(i) + "]";
      struct_size_check(m.struct_size, offsetof(bpnn_member, train) + sizeof(m.train), sizeof(bpnn_member),
                        name.c_str());
      if (results)
        struct_size_check(results[i].struct_size, offsetof(bpnn_member_result, status) + sizeof(int),
                          sizeof(bpnn_member_result), ("results[" + std::to_string(i) + "]").c_str());
      need(m.net, (name + ".net").c_str());
      bpnn::SweepMember member;
      member.network = network_config(m.net);
      member.train = bpnn::capi::train_config_from(m.train);
      if (const bpnn_train_config* c = m.train) {
        if (c->on_epoch) fail_arg(name + ".train->on_epoch: not used by bpnn_train_many; leave it NULL");
        if (BPNN_HAS(c, bpnn_train_config, val_x) && (c->val_x || c->val_y || c->val_n))
          fail_arg(name + ".train->val_x: one validation set per member is not supported; use val_split");
        if ((BPNN_HAS(c, bpnn_train_config, checkpoint) && c->checkpoint) ||
            (BPNN_HAS(c, bpnn_train_config, resume) && c->resume))
          fail_arg(name + ".train: checkpoints are not supported by bpnn_train_many");
        if (BPNN_HAS(c, bpnn_train_config, scaling) && raw(c->scaling) != BPNN_SCALE_NONE)
          fail_arg(name + ".train->scaling: not supported by bpnn_train_many; scale the data first");
      }
      list.push_back(std::move(member));
    }
    bpnn::Dataset data;
    data.n = n;
    data.inputs = list[0].network.sizes.front();
    data.outputs = list[0].network.sizes.back();
    data.x.assign(x, x + checked_product(n, data.inputs, "x"));
    data.y.assign(y, y + checked_product(n, data.outputs, "y"));
    bpnn::SweepOptions options;
    options.threads = threads;
    std::vector<bpnn::SweepResult> trained = bpnn::train_many(list, data, options);
    std::vector<std::unique_ptr<bpnn_net>> nets;
    for (bpnn::SweepResult& r : trained) nets.push_back(std::make_unique<bpnn_net>(bpnn_net{std::move(r.network)}));
    for (std::size_t i = 0; i < n_members; ++i) {
      out[i] = nets[i].release();
      if (!results) continue;
      bpnn_member_result* r = &results[i];
      const bpnn::SweepResult& from = trained[i];
      r->status = from.diverged.empty() ? BPNN_OK : BPNN_ERR_NONFINITE;
      if (BPNN_HAS(r, bpnn_member_result, epochs_run)) r->epochs_run = from.report.epochs_run;
      if (BPNN_HAS(r, bpnn_member_result, final_loss)) r->final_loss = from.report.final_loss;
      if (BPNN_HAS(r, bpnn_member_result, train_accuracy)) r->train_accuracy = from.train_accuracy;
      if (BPNN_HAS(r, bpnn_member_result, val_loss)) r->val_loss = from.val_loss;
      if (BPNN_HAS(r, bpnn_member_result, val_accuracy)) r->val_accuracy = from.val_accuracy;
      if (BPNN_HAS(r, bpnn_member_result, lane_path)) r->lane_path = from.lane_path ? 1 : 0;
    }
  });
}

}  // extern "C"
