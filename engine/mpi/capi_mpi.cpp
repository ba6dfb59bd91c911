// The C API of bpnn_mpi (include/bpnn_mpi.h): bpnn_net_train_f32/_f64 of the C API, with the
// trainer's steps spread over the ranks of an MPI communicator.
#include "bpnn_mpi.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/scaler.hpp"
#include "bpnn/train.hpp"
#include "capi/capi_net.hpp"
#include "mpi/mpi_exchange.hpp"
#include "train/gradient_exchange.hpp"

namespace {

// The field at [offset, offset + size) lies inside a struct of struct_size bytes (the C API's
// rule for structs of older callers).
#define BPNN_MPI_HAS(ptr, type, field) \
  (offsetof(type, field) + sizeof((ptr)->field) <= (ptr)->struct_size)

void need(bool ok, const std::string& what) {
  if (!ok) throw bpnn::Error(bpnn::ErrorKind::argument, what);
}

bpnn::TrainConfig train_config(const bpnn_train_config* c) {
  bpnn::TrainConfig config;
  if (c == nullptr) return config;
  need(c->struct_size >= offsetof(bpnn_train_config, learning_rate) + sizeof(double) &&
           c->struct_size % sizeof(std::size_t) == 0,
       "config->struct_size = " + std::to_string(c->struct_size) + " (use bpnn_train_config_init)");
  if (BPNN_MPI_HAS(c, bpnn_train_config, learning_rate)) config.learning_rate = c->learning_rate;
  if (BPNN_MPI_HAS(c, bpnn_train_config, momentum)) config.momentum = c->momentum;
  if (BPNN_MPI_HAS(c, bpnn_train_config, batch)) config.batch = c->batch;
  if (BPNN_MPI_HAS(c, bpnn_train_config, epochs)) config.epochs = c->epochs;
  if (BPNN_MPI_HAS(c, bpnn_train_config, threads)) config.threads = c->threads;
  if (BPNN_MPI_HAS(c, bpnn_train_config, shuffle)) config.shuffle = c->shuffle != 0;
  if (BPNN_MPI_HAS(c, bpnn_train_config, seed)) config.seed = c->seed;
  if (BPNN_MPI_HAS(c, bpnn_train_config, optimizer)) {
    const int v = static_cast<int>(c->optimizer);
    need(v >= BPNN_OPT_SGD && v <= BPNN_OPT_IRPROP, "config->optimizer = " + std::to_string(v) + " is not a bpnn_optimizer");
    config.optimizer = static_cast<bpnn::Optimizer>(v);
  }
  if (BPNN_MPI_HAS(c, bpnn_train_config, beta1)) config.beta1 = c->beta1;
  if (BPNN_MPI_HAS(c, bpnn_train_config, beta2)) config.beta2 = c->beta2;
  if (BPNN_MPI_HAS(c, bpnn_train_config, eps)) config.eps = c->eps;
  if (BPNN_MPI_HAS(c, bpnn_train_config, l2)) config.l2 = c->l2;
  if (BPNN_MPI_HAS(c, bpnn_train_config, clip)) config.clip = c->clip;
  if (BPNN_MPI_HAS(c, bpnn_train_config, schedule) && c->schedule != nullptr)
    config.schedule = bpnn::parse_schedule(c->schedule);
  if (BPNN_MPI_HAS(c, bpnn_train_config, val_split)) config.val_split = c->val_split;
  if (BPNN_MPI_HAS(c, bpnn_train_config, early_stop)) config.early_stop = c->early_stop;
  if (BPNN_MPI_HAS(c, bpnn_train_config, checkpoint) && c->checkpoint != nullptr) config.checkpoint = c->checkpoint;
  if (BPNN_MPI_HAS(c, bpnn_train_config, checkpoint_every)) config.checkpoint_every = c->checkpoint_every;
  need(config.batch > 0, "config->batch is 0 (need at least 1 sample per step)");
  need(config.epochs > 0, "config->epochs is 0");
  return config;
}

bpnn_status status_of(bpnn::ErrorKind kind) {
  switch (kind) {
    case bpnn::ErrorKind::argument:
    case bpnn::ErrorKind::data: return BPNN_ERR_ARG;
    case bpnn::ErrorKind::io: return BPNN_ERR_IO;
    case bpnn::ErrorKind::format: return BPNN_ERR_FORMAT;
    case bpnn::ErrorKind::nonfinite: return BPNN_ERR_NONFINITE;
    case bpnn::ErrorKind::internal: return BPNN_ERR_INTERNAL;
    case bpnn::ErrorKind::busy: return BPNN_ERR_BUSY;
  }
  return BPNN_ERR_INTERNAL;
}

void report_write(bpnn_train_report* r, const bpnn::TrainReport& from) {
  if (r == nullptr) return;
  if (BPNN_MPI_HAS(r, bpnn_train_report, epochs_run)) r->epochs_run = from.epochs_run;
  if (BPNN_MPI_HAS(r, bpnn_train_report, final_loss)) r->final_loss = from.final_loss;
  if (BPNN_MPI_HAS(r, bpnn_train_report, stopped_by_callback)) r->stopped_by_callback = from.stopped_by_callback;
  if (BPNN_MPI_HAS(r, bpnn_train_report, seconds)) r->seconds = from.seconds;
  if (BPNN_MPI_HAS(r, bpnn_train_report, stopped_early)) r->stopped_early = from.stopped_early;
  if (BPNN_MPI_HAS(r, bpnn_train_report, best_epoch)) r->best_epoch = from.best_epoch;
  if (BPNN_MPI_HAS(r, bpnn_train_report, best_val_loss)) r->best_val_loss = from.best_val_loss;
}

template <class T>
bpnn_status train(MPI_Fint comm, bpnn_net* handle, const bpnn_train_config* c, const T* x, const T* y,
                  std::size_t n, bpnn_train_report* report, char* message, std::size_t message_size,
                  bpnn::Precision precision) {
  if (message != nullptr && message_size > 0) message[0] = '\0';
  bpnn::TrainReport done;
  try {
    bpnn::MpiExchange exchange(MPI_Comm_f2c(comm));
    // Every rank checks its own arguments; the first failure is every rank's (no rank is left
    // waiting in a collective).
    std::exception_ptr failure;
    bpnn::TrainConfig config;
    try {
      need(handle != nullptr, "net is NULL");
      need(x != nullptr && y != nullptr, "x or y is NULL");
      need(n > 0, "n is 0 (need at least one sample)");
      need(handle->net.config().precision == precision,
           "net has precision " + std::string(bpnn::to_string(handle->net.config().precision)));
      config = train_config(c);
      if (c != nullptr && BPNN_MPI_HAS(c, bpnn_train_config, scaling) && c->scaling != BPNN_SCALE_NONE) {
        const std::vector<double> xd(x, x + n * handle->net.n_inputs());
        handle->net.set_scaler(bpnn::scaler_fit(static_cast<bpnn::Scaling>(c->scaling), xd.data(), n,
                                                handle->net.n_inputs()));
      }
    } catch (...) {
      failure = std::current_exception();
    }
    bpnn::exchange_agree(exchange, failure);
    std::unique_ptr<bpnn::Trainer> trainer;
    try {
      trainer = std::make_unique<bpnn::Trainer>(handle->net, config, x, y, n);
      if (c != nullptr && BPNN_MPI_HAS(c, bpnn_train_config, val_n) && c->val_n > 0) {
        need(c->val_x != nullptr && c->val_y != nullptr, "config->val_x or val_y is NULL");
        trainer->set_validation(static_cast<const T*>(c->val_x), static_cast<const T*>(c->val_y), c->val_n);
      }
      bpnn::trainer_exchange_set(*trainer, exchange);  // before resume: before the first epoch
      if (c != nullptr && BPNN_MPI_HAS(c, bpnn_train_config, resume) && c->resume != nullptr)
        trainer->resume(c->resume);
    } catch (...) {
      failure = std::current_exception();
    }
    bpnn::exchange_agree(exchange, failure);
    int (*on_epoch)(void*, const bpnn_epoch_stats*) =
        c != nullptr && BPNN_MPI_HAS(c, bpnn_train_config, on_epoch) ? c->on_epoch : nullptr;
    void* user = c != nullptr && BPNN_MPI_HAS(c, bpnn_train_config, user) ? c->user : nullptr;
    done = trainer->run([&](const bpnn::EpochStats& s) {
      done.epochs_run++;
      done.final_loss = s.loss;
      if (on_epoch == nullptr) return bpnn::EpochAction::go_on;
      bpnn_epoch_stats stats;
      stats.struct_size = sizeof stats;
      stats.epoch = s.epoch;
      stats.loss = s.loss;
      stats.accuracy = s.accuracy;
      stats.seconds = s.seconds;
      stats.samples_per_s = s.samples_per_s;
      stats.learning_rate = s.learning_rate;
      stats.val_loss = s.val_loss;
      stats.val_accuracy = s.val_accuracy;
      stats.best = s.best ? 1 : 0;
      const int stop = exchange.broadcast_int(on_epoch(user, &stats) != 0 ? 1 : 0, 0);  // rank 0 decides
      return stop != 0 ? bpnn::EpochAction::stop : bpnn::EpochAction::go_on;
    });
    report_write(report, done);
    return BPNN_OK;
  } catch (const bpnn::Error& e) {
    if (message != nullptr && message_size > 0) {
      std::strncpy(message, e.what(), message_size - 1);
      message[message_size - 1] = '\0';
    }
    if (e.kind() == bpnn::ErrorKind::nonfinite) report_write(report, done);
    return status_of(e.kind());
  } catch (const std::bad_alloc&) {
    if (message != nullptr && message_size > 0) std::strncpy(message, "out of memory", message_size - 1);
    return BPNN_ERR_NOMEM;
  } catch (const std::exception& e) {
    if (message != nullptr && message_size > 0) {
      std::strncpy(message, e.what(), message_size - 1);
      message[message_size - 1] = '\0';
    }
    return BPNN_ERR_INTERNAL;
  }
}

}  // namespace

extern "C" {

bpnn_status bpnn_mpi_net_train_f32(MPI_Fint comm, bpnn_net* net, const bpnn_train_config* config,
                                   const float* x, const float* y, size_t n,
                                   bpnn_train_report* report, char* message, size_t message_size) {
  return train(comm, net, config, x, y, n, report, message, message_size, bpnn::Precision::f32);
}

bpnn_status bpnn_mpi_net_train_f64(MPI_Fint comm, bpnn_net* net, const bpnn_train_config* config,
                                   const double* x, const double* y, size_t n,
                                   bpnn_train_report* report, char* message, size_t message_size) {
  return train(comm, net, config, x, y, n, report, message, message_size, bpnn::Precision::f64);
}

}  // extern "C"
