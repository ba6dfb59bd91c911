/* A program that embeds an installed bpnn: header and library versions agree, a network trains,
   predicts, saves and loads. Built by run.sh through find_package and through pkg-config. */
#include <stdio.h>
#include <string.h>

#include <bpnn.h>

#define TRY(call)                                                                      \
  do {                                                                                 \
    bpnn_status s_ = (call);                                                           \
    if (s_ != BPNN_OK) {                                                               \
      fprintf(stderr, "%s: %s: %s\n", #call, bpnn_status_string(s_), bpnn_last_error()); \
      return 1;                                                                        \
    }                                                                                  \
  } while (0)

int main(int argc, char **argv) {
  static const size_t sizes[] = {2, 4, 1};
  const double x[] = {0, 0, 0, 1, 1, 0, 1, 1}, y[] = {0, 1, 1, 0};
  double before[4], after[4], reloaded[4];
  bpnn_net_config c;
  bpnn_train_config t;
  bpnn_train_report r;
  bpnn_net *net = NULL, *copy = NULL;
  if (argc != 2) return 2;
  if (bpnn_version_number() != BPNN_VERSION_NUMBER ||
      strcmp(bpnn_version_string(), BPNN_VERSION_STRING) != 0) {
    fprintf(stderr, "header %s, library %s\n", BPNN_VERSION_STRING, bpnn_version_string());
    return 1;
  }
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 3;
  c.precision = BPNN_F64;
  c.init = BPNN_INIT_UNIFORM;
  c.init_scale = 1.0;
  c.seed = 3;
  TRY(bpnn_net_create(&c, &net));
  TRY(bpnn_net_predict_f64(net, x, 4, before));
  bpnn_train_config_init(&t);
  t.learning_rate = 2.0;
  t.momentum = 0.5;
  t.epochs = 3000;
  bpnn_train_report_init(&r);
  TRY(bpnn_net_train_f64(net, &t, x, y, 4, &r));
  TRY(bpnn_net_predict_f64(net, x, 4, after));
  TRY(bpnn_net_save(net, argv[1]));
  TRY(bpnn_net_load(argv[1], &copy));
  TRY(bpnn_net_predict_f64(copy, x, 4, reloaded));
  bpnn_net_free(copy);
  bpnn_net_free(net);
  if (!(after[0] < 0.5 && after[1] > 0.5 && after[2] > 0.5 && after[3] < 0.5) ||
      memcmp(after, reloaded, sizeof after) != 0) {
    fprintf(stderr, "XOR not learnt or reload differs: %g %g %g %g\n", after[0], after[1],
            after[2], after[3]);
    return 1;
  }
  printf("bpnn %s: XOR learnt in %zu epochs (loss %.3g), outputs %.3f %.3f %.3f %.3f\n",
         bpnn_version_string(), r.epochs_run, r.final_loss, after[0], after[1], after[2], after[3]);
  return 0;
}
