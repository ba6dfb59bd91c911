/* bpnn_train_many from C99: every member equals the network bpnn_net_train_f64 (or _f32) trains
   alone with its configs, bit for bit; a diverging member fails alone; bad arguments are
   BPNN_ERR_ARG naming them and return no network. Exits non-zero on a failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpnn.h"
#include "capi_check.h"

#define N 24
#define MEMBERS 5

int main(void) {
  static const size_t sizes[3] = {3, 6, 2};
  double x[N * 3], y[N * 2];
  float xf[N * 3], yf[N * 2];
  bpnn_net_config nets[MEMBERS];
  bpnn_train_config trains[MEMBERS];
  bpnn_member members[MEMBERS];
  bpnn_member_result results[MEMBERS];
  bpnn_net *out[MEMBERS] = {NULL};
  size_t i, m;
  for (i = 0; i < N * 3; ++i) xf[i] = (float)(x[i] = sin(0.7 * (double)i));
  for (i = 0; i < N * 2; ++i) yf[i] = (float)(y[i] = 0.5 + 0.4 * cos(0.3 * (double)i));

  for (m = 0; m < MEMBERS; ++m) {
    bpnn_net_config_init(&nets[m]);
    nets[m].sizes = sizes;
    nets[m].n_sizes = 3;
    nets[m].precision = m == 4 ? BPNN_F32 : BPNN_F64;
    nets[m].seed = 10 + m;
    bpnn_train_config_init(&trains[m]);
    trains[m].learning_rate = 0.2 + 0.1 * (double)m;
    trains[m].epochs = 3;
    trains[m].seed = 20 + m;
    trains[m].threads = 1;
    bpnn_member_init(&members[m]);
    members[m].net = &nets[m];
    members[m].train = &trains[m];
    bpnn_member_result_init(&results[m]);
  }
  trains[2].momentum = 0.9; /* the single-network trainer */
  trains[3].batch = 4;

  CHECK(bpnn_train_many(members, MEMBERS, x, y, N, 2, out, results) == BPNN_OK);
  for (m = 0; m < MEMBERS; ++m) {
    bpnn_net *alone = NULL;
    bpnn_train_config solo = trains[m];
    CHECK(out[m] != NULL);
    CHECK(results[m].status == BPNN_OK);
    CHECK(results[m].epochs_run == 3);
    CHECK(isfinite(results[m].final_loss));
    CHECK(results[m].lane_path == (m == 2 || m == 3 ? 0 : 1));
    CHECK(bpnn_net_create(&nets[m], &alone) == BPNN_OK);
    if (m == 4)
      CHECK(bpnn_net_train_f32(alone, &solo, xf, yf, N, NULL) == BPNN_OK);
    else
      CHECK(bpnn_net_train_f64(alone, &solo, x, y, N, NULL) == BPNN_OK);
    if (!same_weights(out[m], alone)) {
      fprintf(stderr, "member %zu differs from the network trained alone\n", m);
      ++failures;
    }
    bpnn_net_free(alone);
    bpnn_net_free(out[m]);
    out[m] = NULL;
  }

  /* a member that diverges: its status, the others fine */
  for (i = 0; i < N * 2; ++i) y[i] *= 1e30;
  trains[1].learning_rate = 1e3;
  nets[1].output_act = BPNN_ACT_LINEAR;
  CHECK(bpnn_train_many(members, 2, x, y, N, 1, out, results) == BPNN_OK);
  CHECK(results[1].status == BPNN_ERR_NONFINITE);
  CHECK(results[1].epochs_run < 3);
  bpnn_net_free(out[0]);
  bpnn_net_free(out[1]);
  out[0] = out[1] = NULL;

  /* errors: named, and no network returned */
  CHECK(bpnn_train_many(NULL, 1, x, y, N, 0, out, NULL) == BPNN_ERR_ARG);
  CHECK(strstr(bpnn_last_error(), "members") != NULL);
  CHECK(bpnn_train_many(members, 0, x, y, N, 0, out, NULL) == BPNN_ERR_ARG);
  nets[1].n_sizes = 2;
  CHECK(bpnn_train_many(members, 2, x, y, N, 0, out, NULL) == BPNN_ERR_ARG);
  CHECK(strstr(bpnn_last_error(), "member 1") != NULL);
  CHECK(out[0] == NULL && out[1] == NULL);
  nets[1].n_sizes = 3;
  members[0].struct_size = 3;
  CHECK(bpnn_train_many(members, 2, x, y, N, 0, out, NULL) == BPNN_ERR_ARG);
  CHECK(strstr(bpnn_last_error(), "members[0]") != NULL);

  if (failures) fprintf(stderr, "%d failures\n", failures);
  return failures ? 1 : 0;
}
