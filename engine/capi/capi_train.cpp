// The C API's training structs to and from the C++ API; see capi_train.hpp.
#include "capi/capi_train.hpp"

#include <string>

#include "bpnn/version.hpp"

namespace bpnn::capi {
namespace {

[[noreturn]] void fail_arg(const std::string& message) { throw Error(ErrorKind::argument, message); }

}  // namespace

bpnn_status status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::argument: return BPNN_ERR_ARG;
    case ErrorKind::data: return BPNN_ERR_ARG;  // data in memory the caller passed
    case ErrorKind::io: return BPNN_ERR_IO;
    case ErrorKind::format: return BPNN_ERR_FORMAT;
    case ErrorKind::nonfinite: return BPNN_ERR_NONFINITE;
    case ErrorKind::internal: return BPNN_ERR_INTERNAL;
    case ErrorKind::busy: return BPNN_ERR_BUSY;
  }
  return BPNN_ERR_INTERNAL;
}

void struct_size_check(std::size_t size, std::size_t minimum, std::size_t known, const char* name) {
  if (size == 0 || size % sizeof(std::size_t) != 0 || size < minimum)
    fail_arg(std::string(name) + "->struct_size = " + std::to_string(size) +
             " is not a valid size (use the _init function; this library knows " +
             std::to_string(known) + ")");
  if (size > known)
    fail_arg(std::string(name) + "->struct_size = " + std::to_string(size) +
             " is larger than this bpnn " BPNN_VERSION_STRING " knows (" + std::to_string(known) +
             "): the program was built against a newer bpnn.h");
}

TrainConfig train_config_from(const bpnn_train_config* c) {
  TrainConfig config;  // C++ defaults for a NULL config and for fields an older caller lacks
  if (c == nullptr) return config;
  struct_size_check(c->struct_size, offsetof(bpnn_train_config, learning_rate) + sizeof(double),
                    sizeof(bpnn_train_config), "config");
  if (BPNN_HAS(c, bpnn_train_config, learning_rate)) config.learning_rate = c->learning_rate;
  if (BPNN_HAS(c, bpnn_train_config, momentum)) config.momentum = c->momentum;
  if (BPNN_HAS(c, bpnn_train_config, batch)) config.batch = c->batch;
  if (BPNN_HAS(c, bpnn_train_config, epochs)) config.epochs = c->epochs;
  if (BPNN_HAS(c, bpnn_train_config, threads)) config.threads = c->threads;
  if (BPNN_HAS(c, bpnn_train_config, shuffle)) config.shuffle = c->shuffle != 0;
  if (BPNN_HAS(c, bpnn_train_config, seed)) config.seed = c->seed;
  if (BPNN_HAS(c, bpnn_train_config, optimizer)) {
    const int v = raw(c->optimizer);
    if (v < BPNN_OPT_SGD || v > BPNN_OPT_IRPROP)
      fail_arg("config->optimizer = " + std::to_string(v) + " is not a bpnn_optimizer");
    config.optimizer = static_cast<Optimizer>(v);
  }
  if (BPNN_HAS(c, bpnn_train_config, beta1)) config.beta1 = c->beta1;
  if (BPNN_HAS(c, bpnn_train_config, beta2)) config.beta2 = c->beta2;
  if (BPNN_HAS(c, bpnn_train_config, eps)) config.eps = c->eps;
  if (BPNN_HAS(c, bpnn_train_config, l2)) config.l2 = c->l2;
  if (BPNN_HAS(c, bpnn_train_config, clip)) config.clip = c->clip;
  if (BPNN_HAS(c, bpnn_train_config, schedule) && c->schedule != nullptr)
    config.schedule = parse_schedule(c->schedule);
  if (BPNN_HAS(c, bpnn_train_config, val_split)) config.val_split = c->val_split;
  if (BPNN_HAS(c, bpnn_train_config, early_stop)) config.early_stop = c->early_stop;
  if (BPNN_HAS(c, bpnn_train_config, checkpoint) && c->checkpoint != nullptr) config.checkpoint = c->checkpoint;
  if (BPNN_HAS(c, bpnn_train_config, checkpoint_every)) config.checkpoint_every = c->checkpoint_every;
  if (config.batch == 0) fail_arg("config->batch is 0 (need at least 1 sample per step)");
  if (config.epochs == 0) fail_arg("config->epochs is 0");
  return config;
}

bpnn_epoch_stats epoch_stats_of(const EpochStats& s) {
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
  return stats;
}

void train_report_write(bpnn_train_report* r, const TrainReport& from) {
  if (r == nullptr) return;
  if (BPNN_HAS(r, bpnn_train_report, epochs_run)) r->epochs_run = from.epochs_run;
  if (BPNN_HAS(r, bpnn_train_report, final_loss)) r->final_loss = from.final_loss;
  if (BPNN_HAS(r, bpnn_train_report, stopped_by_callback))
    r->stopped_by_callback = from.stopped_by_callback ? 1 : 0;
  if (BPNN_HAS(r, bpnn_train_report, seconds)) r->seconds = from.seconds;
  if (BPNN_HAS(r, bpnn_train_report, stopped_early)) r->stopped_early = from.stopped_early ? 1 : 0;
  if (BPNN_HAS(r, bpnn_train_report, best_epoch)) r->best_epoch = from.best_epoch;
  if (BPNN_HAS(r, bpnn_train_report, best_val_loss)) r->best_val_loss = from.best_val_loss;
}

}  // namespace bpnn::capi
