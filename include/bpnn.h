/* bpnn.h: the C API of bpnn, a library that trains dense back-propagation neural networks.
 *
 * C99 (and C++). A thin layer over the C++ API in bpnn/ *.hpp; a network made here trains and
 * predicts bit for bit like one made there.
 *
 * Contract
 *   - Every function that can fail returns a bpnn_status. On failure it changes no output
 *     argument (except as documented for training) and bpnn_last_error() says what went wrong.
 *   - Arguments that can be checked are checked: NULL pointers, zero sizes, out-of-range enum
 *     values, mismatched shapes and lengths, the wrong precision and bad struct_size fields give
 *     BPNN_ERR_ARG with a message naming the argument. No C++ exception crosses this API.
 *   - Config structs carry their own size. Always fill one with its *_init function, then set
 *     the fields you need: a program built against an older bpnn.h passes a smaller struct_size
 *     and gets the defaults for the fields it does not know; a struct_size that is zero, not a
 *     multiple of sizeof(size_t), too small to hold the required fields, or larger than this
 *     library knows (a program built against a newer bpnn.h) is BPNN_ERR_ARG. A field is read
 *     only when it lies wholly inside struct_size.
 *
 * Thread-safety
 *   - Any number of threads may call the functions taking a `const bpnn_net *` (predict, save,
 *     clone, the queries) on one shared network at the same time.
 *   - Training, bpnn_net_set_layer_f64 and bpnn_net_set_metadata need exclusive use of their
 *     network. Each takes the network's busy flag for its duration: a second such call on the
 *     same network meanwhile (from another thread, or from an on_epoch callback) fails at once
 *     with BPNN_ERR_BUSY and changes nothing. Calling a const function (predict, save, ...)
 *     while the network trains is not detected and not allowed.
 *   - Different networks are independent.
 *   - The library has no mutable global state. The only per-thread state is the message behind
 *     bpnn_last_error(), kept in a thread_local buffer of the calling thread.
 *
 * Errors: data passed in memory that the library rejects (a NaN or infinite training input, a
 * wrong shape) is BPNN_ERR_ARG; a file that cannot be read or written is BPNN_ERR_IO; a model file
 * that is malformed or corrupt is BPNN_ERR_FORMAT; training whose loss (or, after an epoch, a
 * weight) becomes NaN or infinite is BPNN_ERR_NONFINITE; memory exhaustion is BPNN_ERR_NOMEM; anything else is BPNN_ERR_INTERNAL (a
 * bug in bpnn).
 */
#ifndef BPNN_H
#define BPNN_H

#include <stddef.h>
#include <stdint.h>

#include "bpnn/version.h"

#if defined(BPNN_BUILDING) && defined(__GNUC__)
#define BPNN_CAPI __attribute__((visibility("default")))
#else
#define BPNN_CAPI
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions ---------------------------------------------------------------------------- */

/* BPNN_VERSION_MAJOR, _MINOR, _PATCH, BPNN_VERSION_NUMBER (major*10000 + minor*100 + patch) and
   BPNN_VERSION_STRING give the version compiled against (bpnn/version.h); these give the one
   linked at run time. */
BPNN_CAPI int bpnn_version_number(void);
BPNN_CAPI const char *bpnn_version_string(void); /* "MAJOR.MINOR.PATCH", static */

/* ---- errors ------------------------------------------------------------------------------ */

typedef enum bpnn_status {
  BPNN_OK = 0,
  BPNN_ERR_ARG,       /* a bad argument: NULL, zero size, wrong shape or precision, NaN data */
  BPNN_ERR_NOMEM,     /* out of memory */
  BPNN_ERR_IO,        /* a file could not be opened, read, written or renamed */
  BPNN_ERR_FORMAT,    /* a model file is malformed or corrupt */
  BPNN_ERR_NONFINITE, /* training produced a NaN or infinite loss or weight */
  BPNN_ERR_INTERNAL,  /* a bug in bpnn */
  BPNN_ERR_BUSY       /* the network is in use by another thread's training or set_layer call */
} bpnn_status;

/* "BPNN_OK", "BPNN_ERR_ARG", ...; "unknown bpnn_status" for other values. Static, never NULL. */
BPNN_CAPI const char *bpnn_status_string(bpnn_status status);

/* The message of the last call that failed on the calling thread ("" when none has). Never
   NULL; valid until the next failing call on this thread. Successful calls leave it alone. */
BPNN_CAPI const char *bpnn_last_error(void);

/* ---- vocabulary -------------------------------------------------------------------------- */

typedef enum bpnn_activation {
  BPNN_ACT_SIGMOID = 0, /* y = 1/(1+exp(-z)) */
  BPNN_ACT_TANH = 1,    /* y = tanh(z) */
  BPNN_ACT_RELU = 2,    /* y = max(0, z) */
  BPNN_ACT_LINEAR = 3,  /* y = z */
  BPNN_ACT_SOFTMAX = 4  /* y_j = exp(z_j)/sum_k exp(z_k); output layer only */
} bpnn_activation;

typedef enum bpnn_loss {
  BPNN_LOSS_MSE = 0, /* E = 1/2 sum_j (yhat_j - y_j)^2 */
  BPNN_LOSS_XENT = 1 /* cross-entropy; needs a softmax or sigmoid output */
} bpnn_loss;

typedef enum bpnn_precision { BPNN_F32 = 0, BPNN_F64 = 1 } bpnn_precision;

typedef enum bpnn_init {
  BPNN_INIT_ZERO = 0,    /* every weight and bias 0 */
  BPNN_INIT_UNIFORM = 1, /* weights U(-a, a), a = init_scale; biases 0 */
  BPNN_INIT_XAVIER = 2,  /* U(-sqrt(6/(in+out)), +sqrt(6/(in+out))); biases 0 */
  BPNN_INIT_HE = 3       /* U(-sqrt(6/in), +sqrt(6/in)); biases 0 */
} bpnn_init;

/* ---- networks ---------------------------------------------------------------------------- */

typedef struct bpnn_net bpnn_net; /* opaque */

typedef struct bpnn_net_config {
  size_t struct_size;    /* set by bpnn_net_config_init */
  const size_t *sizes;   /* layer widths, inputs first: {2, 4, 1}; required, copied */
  size_t n_sizes;        /* at least 2; required */
  bpnn_activation hidden_act; /* default BPNN_ACT_SIGMOID */
  bpnn_activation output_act; /* default BPNN_ACT_SIGMOID */
  bpnn_loss loss;             /* default BPNN_LOSS_MSE */
  bpnn_precision precision;   /* default BPNN_F32 */
  bpnn_init init;             /* default BPNN_INIT_XAVIER */
  double init_scale;          /* a of BPNN_INIT_UNIFORM; default 0.5 */
  uint64_t seed;              /* seeds the initialiser; default 1 */
} bpnn_net_config;

/* Fills *config with the defaults (sizes NULL, n_sizes 0) and sets struct_size. NULL: no-op. */
BPNN_CAPI void bpnn_net_config_init(bpnn_net_config *config);

/* Creates a network and initialises its weights per config->init. *out is set on success only;
   free it with bpnn_net_free. BPNN_ERR_ARG names the field when the config cannot make a network
   (fewer than two sizes, a zero width or one above 2^31 - 1, parameters that would not fit in
   this machine's physical memory, softmax in a hidden layer, ...). */
BPNN_CAPI bpnn_status bpnn_net_create(const bpnn_net_config *config, bpnn_net **out);

/* Reads a model file (safetensors, as written by bpnn_net_save or the bpnn CLI). BPNN_ERR_IO when
   it cannot be read, BPNN_ERR_FORMAT when it is malformed or corrupt. */
BPNN_CAPI bpnn_status bpnn_net_load(const char *path, bpnn_net **out);

/* Writes the network atomically (a temporary file renamed over path). BPNN_ERR_IO on failure. */
BPNN_CAPI bpnn_status bpnn_net_save(const bpnn_net *net, const char *path);

/* A deep copy: same config, weights and metadata. */
BPNN_CAPI bpnn_status bpnn_net_clone(const bpnn_net *net, bpnn_net **out);

/* Frees a network. NULL is a harmless no-op. */
BPNN_CAPI void bpnn_net_free(bpnn_net *net);

/* Shape queries. Each returns 0 (and sets the last error) for a NULL net or an out-of-range
   index, which no valid network gives. */
BPNN_CAPI size_t bpnn_net_n_inputs(const bpnn_net *net);
BPNN_CAPI size_t bpnn_net_n_outputs(const bpnn_net *net);
BPNN_CAPI size_t bpnn_net_n_layers(const bpnn_net *net); /* dense layers: n_sizes - 1 */
BPNN_CAPI size_t bpnn_net_n_params(const bpnn_net *net); /* weights and biases of all layers */
BPNN_CAPI size_t bpnn_net_width(const bpnn_net *net, size_t i); /* sizes[i], i <= n_layers */

/* The network's precision as a bpnn_precision, or -1 for a NULL net. */
BPNN_CAPI int bpnn_net_precision(const bpnn_net *net);

/* The whole config the network was made with, including sizes. config->struct_size must be set
   (bpnn_net_config_init); only fields inside it are written. config->sizes then points into the
   network and stays valid while the network lives. */
BPNN_CAPI bpnn_status bpnn_net_get_config(const bpnn_net *net, bpnn_net_config *config);

/* x:(n, inputs) -> y:(n, outputs), row-major; n >= 1. The _f32 functions need a BPNN_F32
   network and the _f64 ones a BPNN_F64 network; the other precision is BPNN_ERR_ARG (no silent
   conversion). y may not overlap x. */
BPNN_CAPI bpnn_status bpnn_net_predict_f32(const bpnn_net *net, const float *x, size_t n, float *y);
BPNN_CAPI bpnn_status bpnn_net_predict_f64(const bpnn_net *net, const double *x, size_t n,
                                           double *y);

/* The activations of layer `layer`, counted as the sizes are: 0 = the inputs after the model's
   scaler, 1 = the first hidden layer, ..., n_layers = the outputs (as predict). x:(n, inputs) ->
   y:(n, bpnn_net_width(net, layer)), row-major; n >= 1. For a 64-8-64 autoencoder, layer 1 is
   the 8-number code. */
BPNN_CAPI bpnn_status bpnn_net_predict_layer_f32(const bpnn_net *net, const float *x, size_t n,
                                                 size_t layer, float *y);
BPNN_CAPI bpnn_status bpnn_net_predict_layer_f64(const bpnn_net *net, const double *x, size_t n,
                                                 size_t layer, double *y);

/* Layer `layer`'s weights w:(out, in) row-major (the PyTorch nn.Linear layout) and bias b:(out),
   as doubles (which hold f32 weights exactly) in either precision. w_len must be out*in and
   b_len out, with in = bpnn_net_width(net, layer) and out = bpnn_net_width(net, layer + 1). */
BPNN_CAPI bpnn_status bpnn_net_get_layer_f64(const bpnn_net *net, size_t layer, double *w,
                                             size_t w_len, double *b, size_t b_len);
/* Replaces layer `layer`'s parameters, rounded to the network's precision. Same lengths. */
BPNN_CAPI bpnn_status bpnn_net_set_layer_f64(bpnn_net *net, size_t layer, const double *w,
                                             size_t w_len, const double *b, size_t b_len);

/* Free-form key/value strings saved with the model (input column names, class labels, ...).
   Key and value must be valid UTF-8 (the model file's header is JSON); the key must not be empty.
   Keys the model file reserves ("format", "sizes", ...) are rejected when saving. get returns
   NULL (BPNN_ERR_ARG in the last error) when the key is absent; the string stays valid until the
   metadata is next changed or the network freed. */
BPNN_CAPI bpnn_status bpnn_net_set_metadata(bpnn_net *net, const char *key, const char *value);
BPNN_CAPI const char *bpnn_net_get_metadata(const bpnn_net *net, const char *key);

/* Input scaling kept with the model (bpnn/scaler.hpp): x' = (x - offset) * factor per input,
   applied by predict (and evaluate) to raw inputs, and saved in the model file. */
typedef enum bpnn_scaling {
  BPNN_SCALE_NONE = 0,     /* x' = x */
  BPNN_SCALE_STANDARD = 1, /* offset = mean, factor = 1/population std of the training rows */
  BPNN_SCALE_MINMAX = 2    /* offset = min, factor = 1/(max - min): training rows onto [0, 1] */
} bpnn_scaling;

/* The network's scaler: *kind, and when offset and factor are not NULL, `len` = inputs values
   each (BPNN_SCALE_NONE writes none; then offset and factor may be NULL and len 0). */
BPNN_CAPI bpnn_status bpnn_net_get_scaler(const bpnn_net *net, bpnn_scaling *kind, double *offset,
                                          double *factor, size_t len);
/* Replaces the network's scaler: offset and factor hold `len` = inputs finite values, the factors
   non-zero (for BPNN_SCALE_NONE: NULL, NULL, 0). Needs exclusive use of net (BPNN_ERR_BUSY). */
BPNN_CAPI bpnn_status bpnn_net_set_scaler(bpnn_net *net, bpnn_scaling kind, const double *offset,
                                          const double *factor, size_t len);

/* ---- training ---------------------------------------------------------------------------- */

typedef struct bpnn_epoch_stats {
  size_t struct_size;   /* sizeof(bpnn_epoch_stats) of the library that filled it */
  size_t epoch;         /* 0-based */
  double loss;          /* mean per-sample loss over the epoch */
  double accuracy;      /* NaN unless the targets are classes (one-hot or 0/1) */
  double seconds;
  double samples_per_s;
  /* Added in 0.3 (read them only when struct_size covers them): */
  double learning_rate; /* the rate of the epoch's steps (NaN for irprop) */
  double val_loss;      /* with validation data: mean loss on it after the epoch; else NaN */
  double val_accuracy;  /* with validation data and classes; else NaN */
  int best;             /* with validation data: non-zero when val_loss is the best so far */
} bpnn_epoch_stats;

typedef enum bpnn_optimizer {
  BPNN_OPT_SGD = 0,      /* w -= lr*g; with momentum > 0 as BPNN_OPT_MOMENTUM */
  BPNN_OPT_MOMENTUM = 1, /* PyTorch SGD(momentum): v = mu*v + g; w -= lr*v */
  BPNN_OPT_NESTEROV = 2, /* PyTorch SGD(nesterov=True) */
  BPNN_OPT_ADAM = 3,     /* PyTorch Adam: bias-corrected, eps outside the square root */
  BPNN_OPT_ADAMW = 4,    /* PyTorch AdamW: decoupled weight decay */
  BPNN_OPT_IRPROP = 5    /* iRPROP- (Igel & Huesken 2000) on the full batch; ignores the rate */
} bpnn_optimizer;

typedef struct bpnn_train_config {
  size_t struct_size;   /* set by bpnn_train_config_init */
  double learning_rate; /* NaN (the default) = the optimizer's: 0.1 for the SGD family, 1e-3 for
                           adam and adamw */
  double momentum;      /* in [0, 1); NaN (the default) = the optimizer's: 0 for sgd, 0.9 for
                           momentum and nesterov (which need > 0) */
  size_t batch;         /* samples per step (>= 1), averaged; default 1 (per-sample SGD) */
  size_t epochs;        /* 1 to 1000000000; default 10 */
  int threads;          /* 0 = all cores; default 0 */
  int shuffle;          /* non-zero: reshuffle every epoch (seeded); default 1 */
  uint64_t seed;        /* seeds the shuffle; default 1 */
  /* Called after every epoch, on the thread that called train; a non-zero return stops
     training (report->stopped_by_callback). NULL: none. `user` is passed through. */
  int (*on_epoch)(void *user, const bpnn_epoch_stats *stats);
  void *user;
  /* Added in 0.2 (appended; an older struct_size gets these defaults): */
  bpnn_optimizer optimizer; /* default BPNN_OPT_SGD */
  double beta1, beta2;      /* adam, adamw: each in [0, 1); default 0.9, 0.999 */
  double eps;               /* adam, adamw: > 0; default 1e-8 */
  double l2;                /* weight decay on weights (not biases), PyTorch's weight_decay
                               (decoupled for adamw); NaN (the default) = 0.01 for adamw, else 0 */
  double clip;              /* > 0: clip the gradient's norm over all parameters (PyTorch's
                               clip_grad_norm_); 0 (the default) = off */
  bpnn_scaling scaling;     /* fit this input scaler on the training data and keep it in the
                               network (then predict applies it); default BPNN_SCALE_NONE keeps
                               the network's own scaler */
  /* Added in 0.3: */
  const char *schedule;     /* the learning rate per epoch: NULL or "constant" (the default),
                               "step:EPOCHS:GAMMA", "cosine", "plateau:PATIENCE:FACTOR" (README) */
  double val_split;         /* in [0, 1): hold out this fraction of the rows (seeded, stratified
                               for classes) and score every epoch on it; default 0 = none */
  const void *val_x;        /* or a validation set: (val_n, inputs) and (val_n, outputs), in the
                               precision of the train function (float for _f32); NULL = none */
  const void *val_y;
  size_t val_n;
  size_t early_stop;        /* > 0: stop when the validation loss has not been strictly below its
                               best for this many epochs and keep the best epoch's weights (needs
                               validation data); default 0 = off */
  const char *checkpoint;   /* write a checkpoint here every checkpoint_every epochs (0 = only at
                               the end) and after the last epoch; NULL = none */
  size_t checkpoint_every;
  const char *resume;       /* continue the run saved in this checkpoint: net must be the one
                               bpnn_checkpoint_load gives and the config must equal the
                               checkpoint's but for epochs (the new total), threads and the
                               checkpoint fields; other data is BPNN_ERR_ARG. NULL = a new run */
} bpnn_train_config;

typedef struct bpnn_train_report {
  size_t struct_size;   /* set by bpnn_train_report_init; only fields inside it are written */
  size_t epochs_run;    /* epochs completed */
  double final_loss;    /* loss of the last completed epoch; NaN when none completed */
  int stopped_by_callback;
  double seconds;
  /* Added in 0.3: */
  int stopped_early;    /* early stopping ended the run */
  size_t best_epoch;    /* with validation data: the epoch (0-based) of the best validation loss */
  double best_val_loss; /* its loss; NaN without validation data */
} bpnn_train_report;

/* Fill with the defaults and set struct_size. NULL: no-op. */
BPNN_CAPI void bpnn_train_config_init(bpnn_train_config *config);
BPNN_CAPI void bpnn_train_report_init(bpnn_train_report *report);

/* Trains net on x:(n, inputs) and y:(n, outputs), row-major, n >= 1. x and y are only read
   during the call, never kept; a NaN or infinite value in either is BPNN_ERR_ARG. Parameters,
   gradients, optimizer state and activations that would exceed this machine's physical memory
   are BPNN_ERR_ARG naming the bytes. config NULL means all defaults. report may be NULL; when given
   (struct_size set by bpnn_train_report_init) it is filled on success and also on
   BPNN_ERR_NONFINITE, where it holds the epochs completed before the failing one. On
   BPNN_ERR_NONFINITE the network keeps the weights from before the step whose loss was not
   finite. The _f32 and _f64 functions need a network of that precision. Training runs on up to
   config->threads cores; its result does not depend on the thread count. Needs exclusive use
   of net. */
BPNN_CAPI bpnn_status bpnn_net_train_f32(bpnn_net *net, const bpnn_train_config *config,
                                         const float *x, const float *y, size_t n,
                                         bpnn_train_report *report);
BPNN_CAPI bpnn_status bpnn_net_train_f64(bpnn_net *net, const bpnn_train_config *config,
                                         const double *x, const double *y, size_t n,
                                         bpnn_train_report *report);

/* Reads a checkpoint (written by a run with config->checkpoint): *out gets its network (weights,
   scaler and metadata at the checkpoint; free it with bpnn_net_free) and *epochs_done (may be
   NULL) the epochs it had trained. Train it with config->resume = path to continue the run. */
BPNN_CAPI bpnn_status bpnn_checkpoint_load(const char *path, bpnn_net **out, size_t *epochs_done);

/* ---- scoring ----------------------------------------------------------------------------- */

typedef struct bpnn_eval_report {
  size_t struct_size;  /* set by bpnn_eval_report_init; only fields inside it are written */
  size_t n;            /* rows scored */
  double loss;         /* mean per-row loss of the network's loss function */
  int classifier;      /* non-zero: scored as a classifier (softmax output, or sigmoid output with
                          0/1 targets), with the classification figures; else regression */
  size_t n_classes;    /* classifier: the outputs, or 2 for one sigmoid output; else 0 */
  double accuracy;     /* classifier; NaN otherwise */
  double macro_f1;     /* classifier: mean F1 over the classes occurring as truth or prediction */
  double rmse;         /* regression, over all outputs; NaN for a classifier */
  double mae;          /* regression, over all outputs */
  double r2;           /* regression: R^2 averaged uniformly over the outputs */
} bpnn_eval_report;

/* Fill with NaN/zero and set struct_size. NULL: no-op. */
BPNN_CAPI void bpnn_eval_report_init(bpnn_eval_report *report);

/* Scores net on x:(n, inputs) and y:(n, outputs), row-major, n >= 1, as bpnn eval does. When the
   model scores as a classifier and confusion is not NULL, the n_classes x n_classes confusion
   matrix (row = true class, column = predicted) is written there; confusion_len must then be at
   least n_classes^2, where n_classes is the network's outputs, or 2 for one output. confusion may
   be NULL (confusion_len 0). A NaN or infinite value in x or y is BPNN_ERR_ARG. */
BPNN_CAPI bpnn_status bpnn_net_evaluate_f32(const bpnn_net *net, const float *x, const float *y,
                                            size_t n, bpnn_eval_report *report, size_t *confusion,
                                            size_t confusion_len);
BPNN_CAPI bpnn_status bpnn_net_evaluate_f64(const bpnn_net *net, const double *x, const double *y,
                                            size_t n, bpnn_eval_report *report, size_t *confusion,
                                            size_t confusion_len);

/* ---- many networks at once ------------------------------------------------------------- */

/* One member of bpnn_train_many: a network config and a train config (NULL: the defaults). The
   train config's on_epoch, val_x/val_y, checkpoint, resume and scaling are not used by
   bpnn_train_many and must be NULL / BPNN_SCALE_NONE (BPNN_ERR_ARG otherwise); val_split is. */
typedef struct bpnn_member {
  size_t struct_size;              /* set by bpnn_member_init */
  const bpnn_net_config *net;      /* required */
  const bpnn_train_config *train;  /* NULL = all defaults */
} bpnn_member;

typedef struct bpnn_member_result {
  size_t struct_size;    /* set by bpnn_member_result_init; only fields inside it are written */
  bpnn_status status;    /* BPNN_OK, or BPNN_ERR_NONFINITE when this member's loss became NaN or
                            infinite (its network keeps the weights from before that step) */
  size_t epochs_run;     /* epochs completed */
  double final_loss;     /* the last completed epoch's mean training loss; NaN when none */
  double train_accuracy; /* the last epoch's; NaN unless the targets are classes */
  double val_loss;       /* on the member's val_split rows after training; NaN without */
  double val_accuracy;
  int lane_path;         /* non-zero: trained by the lane kernel (README "Many networks at once") */
} bpnn_member_result;

/* Fill with the defaults (net and train NULL; results NaN/zero) and set struct_size. NULL: no-op. */
BPNN_CAPI void bpnn_member_init(bpnn_member *member);
BPNN_CAPI void bpnn_member_result_init(bpnn_member_result *result);

/* Trains n_members independent networks on the same x:(n, inputs) and y:(n, outputs), row-major
   doubles, n >= 1 (each network converts them to its precision), as bpnn_net_train_f64 would train
   each alone, bit for bit; several at once, one per SIMD lane where the settings allow, on up to
   `threads` cores (0 = all; the result does not depend on it). On BPNN_OK out[i] (n_members
   entries) gets member i's network, to free with bpnn_net_free, and results[i] (may be NULL;
   each with struct_size set by bpnn_member_result_init) its figures; a member that diverged does
   not fail the call (results[i].status). On any other status no network is returned and out is
   left as it was. Every member's network must fit the data (BPNN_ERR_ARG names the member). */
BPNN_CAPI bpnn_status bpnn_train_many(const bpnn_member *members, size_t n_members,
                                      const double *x, const double *y, size_t n, int threads,
                                      bpnn_net **out, bpnn_member_result *results);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BPNN_H */
