/* The header's thread-safety promise, checked (and run under ThreadSanitizer by
   tools/run-sanitizers.sh): 8 threads predict on one shared network while another thread trains
   its own network; every prediction equals the one made before the threads started, and each
   thread's bpnn_last_error() is its own. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpnn.h"

/* The training thread's own worker threads: under ThreadSanitizer 1 (serial), because the
   trainer's pool is oneTBB's, whose libtbb is not instrumented, so TSan cannot see its
   synchronisation and reports races inside TBB's task code. The C API's promise checked here
   (concurrent predict on a shared net, training an independent net meanwhile) does not depend
   on it. */
#if defined(__SANITIZE_THREAD__)
#define TRAIN_THREADS 1
#else
#define TRAIN_THREADS 2
#endif

enum { PREDICTORS = 8, ROWS = 300, INPUTS = 16, OUTPUTS = 4, ROUNDS = 20 };

static const bpnn_net *shared_net;
static float x[ROWS * INPUTS];
static float expected[ROWS * OUTPUTS];

struct result {
  int id;
  int mismatches;
  int errors;
};

static void *predictor(void *arg) {
  struct result *r = arg;
  float *y = malloc(sizeof expected);
  char want[64];
  int round;
  for (round = 0; round < ROUNDS && y; ++round) {
    /* rows [first, ROWS) so threads use different block sizes */
    size_t first = (size_t)(r->id * 7 + round) % ROWS;
    if (bpnn_net_predict_f32(shared_net, x + first * INPUTS, ROWS - first, y) != BPNN_OK) {
      ++r->errors;
      continue;
    }
    if (memcmp(y, expected + first * OUTPUTS, (ROWS - first) * OUTPUTS * sizeof *y) != 0)
      ++r->mismatches;
    /* A failing call sets this thread's message only. */
    if (bpnn_net_width(shared_net, 100 + (size_t)r->id) != 0) ++r->errors;
    sprintf(want, "i = %d is out of range", 100 + r->id);
    if (strstr(bpnn_last_error(), want) == NULL) ++r->errors;
  }
  if (!y) ++r->errors;
  free(y);
  return NULL;
}

static void *trainer(void *arg) {
  struct result *r = arg;
  static const size_t sizes[] = {INPUTS, 8, OUTPUTS};
  bpnn_net_config c;
  bpnn_train_config t;
  bpnn_train_report report;
  bpnn_net *own = NULL;
  float *y = calloc(ROWS * OUTPUTS, sizeof *y);
  size_t i;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 3;
  c.output_act = BPNN_ACT_LINEAR;
  bpnn_train_config_init(&t);
  t.epochs = 20;
  t.batch = 8;
  t.learning_rate = 0.01;
  t.threads = TRAIN_THREADS;
  bpnn_train_report_init(&report);
  for (i = 0; y && i < ROWS * OUTPUTS; ++i) y[i] = x[i] * 0.5f;
  if (!y || bpnn_net_create(&c, &own) != BPNN_OK ||
      bpnn_net_train_f32(own, &t, x, y, ROWS, &report) != BPNN_OK || report.epochs_run != 20)
    ++r->errors;
  bpnn_net_free(own);
  free(y);
  return NULL;
}

/* Two threads train one network: the first holds it (its on_epoch waits until the second has
   tried), so the second must get BPNN_ERR_BUSY, and the first finishes normally. */
struct contest {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int first_in_training, second_done;
  bpnn_net *net;
  bpnn_status first, second;
};
static const float contest_x[] = {0.1f, 0.2f, 0.3f, 0.4f}, contest_y[] = {1, 0, 1, 0};

static int contest_on_epoch(void *user, const bpnn_epoch_stats *stats) {
  struct contest *c = user;
  (void)stats;
  pthread_mutex_lock(&c->lock);
  c->first_in_training = 1;
  pthread_cond_broadcast(&c->changed);
  while (!c->second_done) pthread_cond_wait(&c->changed, &c->lock);
  pthread_mutex_unlock(&c->lock);
  return 0;
}
static void *contest_first(void *arg) {
  struct contest *c = arg;
  bpnn_train_config t;
  bpnn_train_config_init(&t);
  t.epochs = 2;
  t.threads = 1;
  t.on_epoch = contest_on_epoch;
  t.user = c;
  c->first = bpnn_net_train_f32(c->net, &t, contest_x, contest_y, 4, NULL);
  return NULL;
}
static void *contest_second(void *arg) {
  struct contest *c = arg;
  bpnn_train_config t;
  bpnn_train_config_init(&t);
  t.threads = 1;
  pthread_mutex_lock(&c->lock);
  while (!c->first_in_training) pthread_cond_wait(&c->changed, &c->lock);
  pthread_mutex_unlock(&c->lock);
  c->second = bpnn_net_train_f32(c->net, &t, contest_x, contest_y, 4, NULL);
  pthread_mutex_lock(&c->lock);
  c->second_done = 1;
  pthread_cond_broadcast(&c->changed);
  pthread_mutex_unlock(&c->lock);
  return NULL;
}
static int train_contest(void) {
  static const size_t sizes[] = {1, 2, 1};
  struct contest c;
  bpnn_net_config config;
  pthread_t a, b;
  int failed = 0;
  memset(&c, 0, sizeof c);
  pthread_mutex_init(&c.lock, NULL);
  pthread_cond_init(&c.changed, NULL);
  bpnn_net_config_init(&config);
  config.sizes = sizes;
  config.n_sizes = 3;
  if (bpnn_net_create(&config, &c.net) != BPNN_OK) return 1;
  pthread_create(&a, NULL, contest_first, &c);
  pthread_create(&b, NULL, contest_second, &c);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  if (c.first != BPNN_OK || c.second != BPNN_ERR_BUSY) {
    fprintf(stderr, "two trainers on one net: first %s, second %s (want BPNN_OK, BPNN_ERR_BUSY)\n",
            bpnn_status_string(c.first), bpnn_status_string(c.second));
    failed = 1;
  }
  bpnn_net_free(c.net);
  pthread_mutex_destroy(&c.lock);
  pthread_cond_destroy(&c.changed);
  return failed;
}

int main(void) {
  static const size_t sizes[] = {INPUTS, 32, 32, OUTPUTS};
  pthread_t threads[PREDICTORS + 1];
  struct result results[PREDICTORS + 1];
  bpnn_net_config c;
  bpnn_net *net = NULL;
  int i, failed = 0;
  for (i = 0; i < ROWS * INPUTS; ++i) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 4;
  c.hidden_act = BPNN_ACT_TANH;
  c.output_act = BPNN_ACT_SOFTMAX;
  c.loss = BPNN_LOSS_XENT;
  c.seed = 42;
  if (bpnn_net_create(&c, &net) != BPNN_OK ||
      bpnn_net_predict_f32(net, x, ROWS, expected) != BPNN_OK) {
    fprintf(stderr, "setup failed: %s\n", bpnn_last_error());
    return 1;
  }
  shared_net = net;
  for (i = 0; i <= PREDICTORS; ++i) {
    results[i].id = i;
    results[i].mismatches = results[i].errors = 0;
    if (pthread_create(&threads[i], NULL, i < PREDICTORS ? predictor : trainer, &results[i]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  }
  for (i = 0; i <= PREDICTORS; ++i) pthread_join(threads[i], NULL);
  for (i = 0; i <= PREDICTORS; ++i) {
    if (results[i].mismatches || results[i].errors) {
      fprintf(stderr, "thread %d (%s): %d mismatching predictions, %d errors\n", i,
              i < PREDICTORS ? "predict" : "train", results[i].mismatches, results[i].errors);
      failed = 1;
    }
  }
  /* The main thread's message was never touched by the others. */
  if (bpnn_last_error()[0] != '\0') {
    fprintf(stderr, "main thread's last error changed: %s\n", bpnn_last_error());
    failed = 1;
  }
  bpnn_net_free(net);
  if (train_contest()) failed = 1;
  if (!failed) printf("test_capi_threads: %d predictors and a trainer agree\n", PREDICTORS);
  return failed;
}
