// The C API of bpnn_mpi (include/bpnn_mpi.h): bpnn_net_train_f32/_f64 of the C API, with the
// trainer's steps spread over the ranks of an MPI communicator.
#include "bpnn_mpi.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/scaler.hpp"
#include "bpnn/train.hpp"
#include "capi/capi_net.hpp"
#include "capi/capi_train.hpp"
#include "mpi/mpi_exchange.hpp"
#include "nn/size_check.hpp"
#include "train/gradient_exchange.hpp"

namespace {

void need(bool ok, const std::string& what) {
  if (!ok) throw bpnn::Error(bpnn::ErrorKind::argument, what);
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
      config = bpnn::capi::train_config_from(c);
      if (c != nullptr && BPNN_HAS(c, bpnn_train_config, scaling) && c->scaling != BPNN_SCALE_NONE) {
        const std::vector<double> xd(x, x + n * handle->net.n_inputs());
        handle->net.set_scaler(bpnn::scaler_fit(static_cast<bpnn::Scaling>(c->scaling), xd.data(), n,
                                                handle->net.n_inputs()));
      }
    } catch (...) {
      failure = std::current_exception();
    }
    bpnn::exchange_agree(exchange, failure);
    // Sharded: the trainer takes this rank's rows of the application's data (those of its blocks),
    // in double (a copy of the share when the data is float).
    std::vector<double> share_x, share_y;
    std::unique_ptr<bpnn::Trainer> trainer;
    std::optional<bpnn::ShardLayout> layout;
    const double* xs = nullptr;
    const double* ys = nullptr;
    std::size_t rows = 0;
    try {
      const std::size_t inputs = handle->net.n_inputs(), outputs = handle->net.n_outputs();
      // the validation rows bpnn_net_train would hold out of the whole data: the same split
      std::vector<std::size_t> validation;
      if (config.val_split > 0) {
        const std::vector<double> targets(y, y + bpnn::checked_mul(n, outputs, "training targets"));
        validation = bpnn::split_rows_stratified(targets.data(), n, outputs, config.val_split, config.seed).test;
      }
      layout = bpnn::shard_layout_make(handle->net.config(), config, n, validation);
      const bpnn::RowRange mine = layout->rank_file_rows(static_cast<std::size_t>(exchange.rank()),
                                                         static_cast<std::size_t>(exchange.ranks()));
      rows = mine.end - mine.begin;
      if constexpr (std::is_same_v<T, double>) {
        xs = x + mine.begin * inputs;
        ys = y + mine.begin * outputs;
      } else {
        share_x.assign(x + mine.begin * inputs, x + mine.end * inputs);
        share_y.assign(y + mine.begin * outputs, y + mine.end * outputs);
        xs = share_x.data();
        ys = share_y.data();
      }
    } catch (...) {
      failure = std::current_exception();
    }
    // every rank reaches the trainer's collective messages, or none does (a rank that failed
    // alone above would otherwise meet the others' first message with the error flag's)
    bpnn::exchange_agree(exchange, failure);
    trainer = bpnn::trainer_make_sharded(handle->net, config, exchange, *layout, xs, ys, rows);  // collective, agreed
    try {
      if (c != nullptr && BPNN_HAS(c, bpnn_train_config, val_n) && c->val_n > 0) {
        need(c->val_x != nullptr && c->val_y != nullptr, "config->val_x or val_y is NULL");
        trainer->set_validation(static_cast<const T*>(c->val_x), static_cast<const T*>(c->val_y), c->val_n);
      }
      if (c != nullptr && BPNN_HAS(c, bpnn_train_config, resume) && c->resume != nullptr)
        trainer->resume(c->resume);
    } catch (...) {
      failure = std::current_exception();
    }
    bpnn::exchange_agree(exchange, failure);
    int (*on_epoch)(void*, const bpnn_epoch_stats*) =
        c != nullptr && BPNN_HAS(c, bpnn_train_config, on_epoch) ? c->on_epoch : nullptr;
    void* user = c != nullptr && BPNN_HAS(c, bpnn_train_config, user) ? c->user : nullptr;
    done = trainer->run([&](const bpnn::EpochStats& s) {
      done.epochs_run++;
      done.final_loss = s.loss;
      // every rank takes part in rank 0's decision, also a rank given no callback (a broadcast
      // that one rank skips is a message the others wait on)
      int mine = 0;
      if (on_epoch != nullptr) {
        const bpnn_epoch_stats stats = bpnn::capi::epoch_stats_of(s);
        mine = on_epoch(user, &stats) != 0 ? 1 : 0;
      }
      const int stop = exchange.broadcast_int(mine, 0);  // rank 0 decides
      return stop != 0 ? bpnn::EpochAction::stop : bpnn::EpochAction::go_on;
    });
    bpnn::capi::train_report_write(report, done);
    return BPNN_OK;
  } catch (const bpnn::Error& e) {
    if (message != nullptr && message_size > 0) {
      std::strncpy(message, e.what(), message_size - 1);
      message[message_size - 1] = '\0';
    }
    if (e.kind() == bpnn::ErrorKind::nonfinite) bpnn::capi::train_report_write(report, done);
    return bpnn::capi::status_of(e.kind());
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
