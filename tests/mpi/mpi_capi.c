/* Launched by mpirun (tests/mpi/run_same_bits.sh): trains a network through the C API of
 * bpnn_mpi (include/bpnn_mpi.h) on MPI_COMM_WORLD, passed as a Fortran handle, and rank 0 writes
 * the trained parameters (doubles, raw) to OUT_DIR/capi.bin; the script compares them across
 * P = 1..4. Also checks that every rank gets the same error, naming the rank, for a bad config,
 * that a run checkpointed after 2 epochs and resumed to 5 gives the uninterrupted run's
 * parameters, that a checkpoint given on rank 0 alone is refused on every rank (BPNN_ERR_ARG:
 * its saves are collective), and that on_epoch given on rank 0 alone stops every rank.
 *   mpi_capi OUT_DIR */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <mpi.h>

#include "bpnn_mpi.h"

/* on_epoch: stop after the second epoch (0-based epoch 1) */
static int stop_after_two(void *user, const bpnn_epoch_stats *stats) {
  (void)user;
  return stats->epoch >= 1;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, status = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  enum { n = 90, inputs = 3, outputs = 2 };
  double x[n * inputs], y[n * outputs];
  unsigned long long state = 99;
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < inputs; ++j) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      x[i * inputs + j] = (double)(state >> 11) / 9007199254740992.0 * 2 - 1;
      s += x[i * inputs + j];
    }
    y[i * outputs] = s > 0 ? 1 : 0;
    y[i * outputs + 1] = s > 0 ? 0 : 1;
  }
  const size_t sizes[] = {inputs, 9, outputs};
  bpnn_net_config nc;
  bpnn_net_config_init(&nc);
  nc.sizes = sizes;
  nc.n_sizes = 3;
  nc.precision = BPNN_F64;
  nc.output_act = BPNN_ACT_SOFTMAX;
  nc.loss = BPNN_LOSS_XENT;
  bpnn_net *net = NULL;
  char message[256];
  if (argc < 2 || bpnn_net_create(&nc, &net) != BPNN_OK) goto done;
  bpnn_train_config tc;
  bpnn_train_config_init(&tc);
  tc.batch = 0; /* invalid on every rank: BPNN_ERR_ARG everywhere, no hang */
  if (bpnn_mpi_net_train_f64(MPI_Comm_c2f(MPI_COMM_WORLD), net, &tc, x, y, n, NULL, message, sizeof message) !=
          BPNN_ERR_ARG ||
      strstr(message, "rank 0: ") != message) {
    fprintf(stderr, "mpi_capi: a batch of 0 gave \"%s\"\n", message);
    goto done;
  }
  tc.batch = 25;
  tc.epochs = 5;
  tc.optimizer = BPNN_OPT_MOMENTUM;
  tc.val_split = 0.2; /* the stratified split of the whole data, the same on every rank */
  tc.learning_rate = 0.3;
  bpnn_train_report report;
  bpnn_train_report_init(&report);
  if (bpnn_mpi_net_train_f64(MPI_Comm_c2f(MPI_COMM_WORLD), net, &tc, x, y, n, &report, message, sizeof message) !=
      BPNN_OK) {
    fprintf(stderr, "mpi_capi: %s\n", message);
    goto done;
  }
  if (report.epochs_run != 5 || !isfinite(report.final_loss)) goto done;
  { /* 2 epochs with a checkpoint (written by rank 0 alone), resumed to 5: the same parameters */
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/capi.ckpt", argv[1]);
    bpnn_net *first = NULL, *resumed = NULL;
    if (bpnn_net_create(&nc, &first) != BPNN_OK) goto done;
    tc.epochs = 2;
    tc.checkpoint = ckpt;
    const bpnn_status s1 =
        bpnn_mpi_net_train_f64(MPI_Comm_c2f(MPI_COMM_WORLD), first, &tc, x, y, n, NULL, message, sizeof message);
    bpnn_net_free(first);
    if (s1 != BPNN_OK || bpnn_checkpoint_load(ckpt, &resumed, NULL) != BPNN_OK) {
      fprintf(stderr, "mpi_capi: checkpoint: %s\n", message);
      goto done;
    }
    tc.epochs = 5;
    tc.checkpoint = NULL;
    tc.resume = ckpt;
    const bpnn_status s2 =
        bpnn_mpi_net_train_f64(MPI_Comm_c2f(MPI_COMM_WORLD), resumed, &tc, x, y, n, NULL, message, sizeof message);
    int same = s2 == BPNN_OK;
    for (size_t l = 0; same && l < 2; ++l) {
      double w1[9 * 9], b1[9], w2[9 * 9], b2[9];
      const size_t in = sizes[l], out = sizes[l + 1];
      same = bpnn_net_get_layer_f64(net, l, w1, in * out, b1, out) == BPNN_OK &&
             bpnn_net_get_layer_f64(resumed, l, w2, in * out, b2, out) == BPNN_OK &&
             memcmp(w1, w2, in * out * sizeof(double)) == 0 && memcmp(b1, b2, out * sizeof(double)) == 0;
    }
    bpnn_net_free(resumed);
    if (!same) {
      fprintf(stderr, "mpi_capi: resumed from a checkpoint differs from the uninterrupted run (%s)\n", message);
      goto done;
    }
  }
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (ranks > 1) { /* the ranks' configs differ: a checkpoint on rank 0 alone (its saves are collective) */
    bpnn_net *other = NULL;
    if (bpnn_net_create(&nc, &other) != BPNN_OK) goto done;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/rank0.ckpt", argv[1]);
    tc.epochs = 2;
    tc.resume = NULL;
    tc.checkpoint = rank == 0 ? ckpt : NULL;
    const bpnn_status s =
        bpnn_mpi_net_train_f64(MPI_Comm_c2f(MPI_COMM_WORLD), other, &tc, x, y, n, NULL, message, sizeof message);
    bpnn_net_free(other);
    tc.checkpoint = NULL;
    if (s != BPNN_ERR_ARG || strstr(message, "rank 1 and rank 0 differ in their checkpoint") == NULL) {
      fprintf(stderr, "mpi_capi: a checkpoint on rank 0 alone gave status %d, \"%s\"\n", (int)s, message);
      goto done;
    }
  }
  { /* on_epoch on rank 0 alone, stopping after 2 epochs: every rank stops there */
    bpnn_net *stopped = NULL;
    if (bpnn_net_create(&nc, &stopped) != BPNN_OK) goto done;
    tc.epochs = 5;
    tc.resume = NULL;
    tc.on_epoch = rank == 0 ? stop_after_two : NULL;
    bpnn_train_report_init(&report);
    const bpnn_status s = bpnn_mpi_net_train_f64(MPI_Comm_c2f(MPI_COMM_WORLD), stopped, &tc, x, y, n, &report,
                                                 message, sizeof message);
    bpnn_net_free(stopped);
    tc.on_epoch = NULL;
    if (s != BPNN_OK || report.epochs_run != 2) {
      fprintf(stderr, "mpi_capi: on_epoch on rank 0 alone: status %d, %zu epochs (%s)\n", (int)s,
              (size_t)report.epochs_run, message);
      goto done;
    }
  }
  if (rank == 0) {
    char path[4096];
    snprintf(path, sizeof path, "%s/capi.bin", argv[1]);
    FILE *f = fopen(path, "wb");
    if (f == NULL) goto done;
    for (size_t l = 0; l < 2; ++l) {
      double w[9 * 9], b[9];
      const size_t in = sizes[l], out = sizes[l + 1];
      if (bpnn_net_get_layer_f64(net, l, w, in * out, b, out) != BPNN_OK) goto done;
      fwrite(w, sizeof(double), in * out, f);
      fwrite(b, sizeof(double), out, f);
    }
    if (fclose(f) != 0) goto done;
  }
  status = 0;
done:
  bpnn_net_free(net);
  MPI_Finalize();
  return status;
}
