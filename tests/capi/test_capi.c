/* The C API from C99: every function, every success and every error path the header documents.
   Usage: test_capi SCRATCH_DIR   (model files are written there). Exits non-zero on a failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpnn.h"
#include "capi_check.h"

static char scratch[4096];
static const char *scratch_path(const char *name) {
  static char path[8192];
  sprintf(path, "%s/%s", scratch, name);
  return path;
}

static bpnn_net *make_net(size_t n_sizes, const size_t *sizes, bpnn_precision precision,
                          uint64_t seed) {
  bpnn_net_config c;
  bpnn_net *net = NULL;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = n_sizes;
  c.precision = precision;
  c.seed = seed;
  CHECK_OK(bpnn_net_create(&c, &net));
  CHECK(net != NULL);
  return net;
}


static void test_versions_and_errors(void) {
  CHECK(bpnn_version_number() == BPNN_VERSION_NUMBER);
  CHECK(BPNN_VERSION_NUMBER ==
        BPNN_VERSION_MAJOR * 10000 + BPNN_VERSION_MINOR * 100 + BPNN_VERSION_PATCH);
  CHECK(strcmp(bpnn_version_string(), BPNN_VERSION_STRING) == 0);
  /* Both against the version CMake's project() declares, passed in by tests/capi/CMakeLists.txt. */
  CHECK(strcmp(bpnn_version_string(), BPNN_EXPECTED_VERSION) == 0);
  CHECK(strcmp(BPNN_VERSION_STRING, BPNN_EXPECTED_VERSION) == 0);

  CHECK(strcmp(bpnn_status_string(BPNN_OK), "BPNN_OK") == 0);
  CHECK(strcmp(bpnn_status_string(BPNN_ERR_ARG), "BPNN_ERR_ARG") == 0);
  CHECK(strcmp(bpnn_status_string(BPNN_ERR_NOMEM), "BPNN_ERR_NOMEM") == 0);
  CHECK(strcmp(bpnn_status_string(BPNN_ERR_IO), "BPNN_ERR_IO") == 0);
  CHECK(strcmp(bpnn_status_string(BPNN_ERR_FORMAT), "BPNN_ERR_FORMAT") == 0);
  CHECK(strcmp(bpnn_status_string(BPNN_ERR_NONFINITE), "BPNN_ERR_NONFINITE") == 0);
  CHECK(strcmp(bpnn_status_string(BPNN_ERR_INTERNAL), "BPNN_ERR_INTERNAL") == 0);
  CHECK(strcmp(bpnn_status_string((bpnn_status)99), "unknown bpnn_status") == 0);

  /* Before any failure the message is empty, never NULL. */
  CHECK(bpnn_last_error() != NULL && bpnn_last_error()[0] == '\0');
}

static void test_create(void) {
  static const size_t sizes[] = {2, 3, 1}, zero_width[] = {2, 0, 1};
  bpnn_net_config c;
  bpnn_net *sentinel = (bpnn_net *)&c, *net = sentinel;

  bpnn_net_config_init(NULL); /* no-op */
  bpnn_net_config_init(&c);
  CHECK(c.struct_size == sizeof c);
  CHECK(c.sizes == NULL && c.n_sizes == 0);
  CHECK(c.hidden_act == BPNN_ACT_SIGMOID && c.output_act == BPNN_ACT_SIGMOID);
  CHECK(c.loss == BPNN_LOSS_MSE && c.precision == BPNN_F32 && c.init == BPNN_INIT_XAVIER);
  CHECK(c.init_scale == 0.5 && c.seed == 1);

  CHECK_ERR(bpnn_net_create(NULL, &net), BPNN_ERR_ARG, "config is NULL");
  c.sizes = sizes;
  c.n_sizes = 3;
  CHECK_ERR(bpnn_net_create(&c, NULL), BPNN_ERR_ARG, "out is NULL");
  c.n_sizes = 0;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->n_sizes");
  c.n_sizes = 3;
  c.sizes = NULL;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->sizes is NULL");
  c.sizes = sizes;
  c.n_sizes = 1;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "sizes");
  c.n_sizes = 3;
  c.sizes = zero_width;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "width 1 is zero");
  c.sizes = sizes;

  /* Out-of-range enum values. */
  c.hidden_act = (bpnn_activation)99;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->hidden_act");
  c.hidden_act = BPNN_ACT_SOFTMAX;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "hidden activation");
  c.hidden_act = BPNN_ACT_TANH;
  c.output_act = (bpnn_activation)-1;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->output_act");
  c.output_act = BPNN_ACT_LINEAR;
  c.loss = (bpnn_loss)7;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->loss");
  c.loss = BPNN_LOSS_XENT;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "cross-entropy");
  c.loss = BPNN_LOSS_MSE;
  c.precision = (bpnn_precision)5;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->precision");
  c.precision = BPNN_F64;
  c.init = (bpnn_init)9;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->init");
  c.init = BPNN_INIT_UNIFORM;
  c.init_scale = -1;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "init scale");
  c.init_scale = 0.5;

  /* struct_size: zero, garbage, too small for the required fields, larger than known. */
  c.struct_size = 0;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->struct_size");
  c.struct_size = 13;
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->struct_size");
  c.struct_size = sizeof(size_t);
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "config->struct_size");
  c.struct_size = sizeof c + sizeof(size_t);
  CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "newer bpnn.h");
  CHECK(net == sentinel); /* untouched by every failure */
  c.struct_size = sizeof c;
  CHECK_OK(bpnn_net_create(&c, &net));
  CHECK(net != sentinel && net != NULL);
  bpnn_net_free(net);
  bpnn_net_free(NULL); /* no-op */
}

/* Widths that wrap or overflow size arithmetic, and networks bigger than the machine, are
   BPNN_ERR_ARG (they used to crash with SIGFPE or return a network with n_params = 2 whose
   get_layer wrote out of bounds). */
static void test_create_huge(void) {
  static const size_t two63[] = {(size_t)1 << 63, 2}, wrapped[] = {2, (size_t)-1, 1},
                      over_memory[] = {2, (size_t)1 << 30, (size_t)1 << 30, 1},
                      just_over_limit[] = {2, ((size_t)1 << 31), 1};
  bpnn_net_config c;
  bpnn_net *sentinel = (bpnn_net *)&c, *net = sentinel;
  int init;
  bpnn_net_config_init(&c);
  c.n_sizes = 2;
  for (init = BPNN_INIT_ZERO; init <= BPNN_INIT_HE; ++init) {
    c.init = (bpnn_init)init;
    c.sizes = two63;
    c.n_sizes = 2;
    CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "is larger than 2147483647");
    c.sizes = wrapped;
    c.n_sizes = 3;
    CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "width 1 = 18446744073709551615");
    c.sizes = just_over_limit;
    CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "is larger than");
    c.sizes = over_memory;
    c.n_sizes = 4;
    CHECK_ERR(bpnn_net_create(&c, &net), BPNN_ERR_ARG, "of memory");
  }
  CHECK(net == sentinel);
}

/* A struct_size from an older header: the fields past it take their defaults. */
static void test_old_struct_size(void) {
  static const size_t sizes[] = {3, 4, 2};
  bpnn_net_config c;
  bpnn_net *seed1 = make_net(3, sizes, BPNN_F32, 1), *seed99 = make_net(3, sizes, BPNN_F32, 99);
  bpnn_net *old = NULL;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 3;
  c.seed = 99;
  c.struct_size = offsetof(bpnn_net_config, seed); /* a config without `seed` */
  CHECK_OK(bpnn_net_create(&c, &old));
  CHECK(!same_weights(seed1, seed99));
  CHECK(same_weights(old, seed1));
  bpnn_net_free(old);
  bpnn_net_free(seed1);
  bpnn_net_free(seed99);
}

static void test_queries(void) {
  static const size_t sizes[] = {4, 5, 3};
  bpnn_net_config c, got;
  bpnn_net *net;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 3;
  c.hidden_act = BPNN_ACT_RELU;
  c.output_act = BPNN_ACT_SOFTMAX;
  c.loss = BPNN_LOSS_XENT;
  c.precision = BPNN_F64;
  c.init = BPNN_INIT_HE;
  c.seed = 7;
  net = NULL;
  CHECK_OK(bpnn_net_create(&c, &net));
  CHECK(bpnn_net_n_inputs(net) == 4);
  CHECK(bpnn_net_n_outputs(net) == 3);
  CHECK(bpnn_net_n_layers(net) == 2);
  CHECK(bpnn_net_n_params(net) == (4 + 1) * 5 + (5 + 1) * 3);
  CHECK(bpnn_net_width(net, 0) == 4 && bpnn_net_width(net, 1) == 5 && bpnn_net_width(net, 2) == 3);
  CHECK(bpnn_net_precision(net) == BPNN_F64);

  CHECK(bpnn_net_width(net, 3) == 0);
  CHECK(strstr(bpnn_last_error(), "i = 3 is out of range") != NULL);
  CHECK(bpnn_net_n_inputs(NULL) == 0);
  CHECK(strstr(bpnn_last_error(), "bpnn_net_n_inputs: net is NULL") != NULL);
  CHECK(bpnn_net_n_outputs(NULL) == 0);
  CHECK(strstr(bpnn_last_error(), "bpnn_net_n_outputs: net is NULL") != NULL);
  CHECK(bpnn_net_n_layers(NULL) == 0);
  CHECK(strstr(bpnn_last_error(), "bpnn_net_n_layers: net is NULL") != NULL);
  CHECK(bpnn_net_n_params(NULL) == 0);
  CHECK(strstr(bpnn_last_error(), "bpnn_net_n_params: net is NULL") != NULL);
  CHECK(bpnn_net_width(NULL, 0) == 0);
  CHECK(strstr(bpnn_last_error(), "bpnn_net_width: net is NULL") != NULL);
  CHECK(bpnn_net_precision(NULL) == -1);
  CHECK(strstr(bpnn_last_error(), "bpnn_net_precision: net is NULL") != NULL);

  bpnn_net_config_init(&got);
  CHECK_OK(bpnn_net_get_config(net, &got));
  CHECK(got.n_sizes == 3 && got.sizes != sizes && got.sizes[0] == 4 && got.sizes[1] == 5 &&
        got.sizes[2] == 3);
  CHECK(got.hidden_act == BPNN_ACT_RELU && got.output_act == BPNN_ACT_SOFTMAX);
  CHECK(got.loss == BPNN_LOSS_XENT && got.precision == BPNN_F64 && got.init == BPNN_INIT_HE);
  CHECK(got.init_scale == 0.5 && got.seed == 7);
  CHECK_ERR(bpnn_net_get_config(NULL, &got), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_get_config(net, NULL), BPNN_ERR_ARG, "config is NULL");
  got.struct_size = 3;
  CHECK_ERR(bpnn_net_get_config(net, &got), BPNN_ERR_ARG, "config->struct_size");
  /* An older, shorter struct: the fields past it are not written. */
  bpnn_net_config_init(&got);
  got.seed = 12345;
  got.struct_size = offsetof(bpnn_net_config, seed);
  CHECK_OK(bpnn_net_get_config(net, &got));
  CHECK(got.seed == 12345 && got.init == BPNN_INIT_HE);
  bpnn_net_free(net);
}

/* A 2-2 linear network with known weights: y = W·x + b. */
static void test_predict_and_layers(void) {
  static const size_t sizes[] = {2, 2};
  const double w[] = {1, 2, 3, -4}, b[] = {0.5, -0.25};
  const double x64[] = {1, 1, 2, -1, 0.5, 0.25};
  const float x32[] = {1, 1, 2, -1, 0.5f, 0.25f};
  double y64[6], got_w[4], got_b[2];
  float y32[6];
  bpnn_net_config c;
  bpnn_net *n64 = NULL, *n32 = NULL;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 2;
  c.output_act = BPNN_ACT_LINEAR;
  c.precision = BPNN_F64;
  CHECK_OK(bpnn_net_create(&c, &n64));
  c.precision = BPNN_F32;
  CHECK_OK(bpnn_net_create(&c, &n32));

  CHECK_OK(bpnn_net_set_layer_f64(n64, 0, w, 4, b, 2));
  CHECK_OK(bpnn_net_set_layer_f64(n32, 0, w, 4, b, 2));
  CHECK_OK(bpnn_net_get_layer_f64(n64, 0, got_w, 4, got_b, 2));
  CHECK(memcmp(got_w, w, sizeof w) == 0 && memcmp(got_b, b, sizeof b) == 0);

  CHECK_OK(bpnn_net_predict_f64(n64, x64, 3, y64));
  CHECK(y64[0] == 3.5 && y64[1] == -1.25);   /* (1+2+0.5, 3-4-0.25) */
  CHECK(y64[2] == 0.5 && y64[3] == 9.75);    /* (2-2+0.5, 6+4-0.25) */
  CHECK(y64[4] == 1.5 && y64[5] == 0.25);    /* (0.5+0.5+0.5, 1.5-1-0.25) */
  CHECK_OK(bpnn_net_predict_f32(n32, x32, 3, y32));
  CHECK(y32[0] == 3.5f && y32[1] == -1.25f && y32[3] == 9.75f && y32[5] == 0.25f);

  /* f32 nets round what they are given. */
  {
    const double third[] = {1.0 / 3, 0, 0, 0};
    CHECK_OK(bpnn_net_set_layer_f64(n32, 0, third, 4, b, 2));
    CHECK_OK(bpnn_net_get_layer_f64(n32, 0, got_w, 4, got_b, 2));
    CHECK(got_w[0] == (double)(float)(1.0 / 3) && got_w[0] != 1.0 / 3);
  }

  /* predict: every argument. */
  CHECK_ERR(bpnn_net_predict_f64(NULL, x64, 3, y64), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_predict_f64(n64, NULL, 3, y64), BPNN_ERR_ARG, "x is NULL");
  CHECK_ERR(bpnn_net_predict_f64(n64, x64, 3, NULL), BPNN_ERR_ARG, "y is NULL");
  CHECK_ERR(bpnn_net_predict_f64(n64, x64, 0, y64), BPNN_ERR_ARG, "n is 0");
  CHECK_ERR(bpnn_net_predict_f64(n32, x64, 3, y64), BPNN_ERR_ARG, "precision f32");
  CHECK_ERR(bpnn_net_predict_f64(n64, x64, (size_t)-1, y64), BPNN_ERR_ARG, "overflow");
  CHECK_ERR(bpnn_net_predict_f32(NULL, x32, 3, y32), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_predict_f32(n32, NULL, 3, y32), BPNN_ERR_ARG, "x is NULL");
  CHECK_ERR(bpnn_net_predict_f32(n32, x32, 3, NULL), BPNN_ERR_ARG, "y is NULL");
  CHECK_ERR(bpnn_net_predict_f32(n32, x32, 0, y32), BPNN_ERR_ARG, "n is 0");
  CHECK_ERR(bpnn_net_predict_f32(n64, x32, 3, y32), BPNN_ERR_ARG, "precision f64");
  CHECK(strstr(bpnn_last_error(), "bpnn_net_predict_f32") == bpnn_last_error());

  /* get/set layer: every argument. */
  CHECK_ERR(bpnn_net_get_layer_f64(NULL, 0, got_w, 4, got_b, 2), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_get_layer_f64(n64, 0, NULL, 4, got_b, 2), BPNN_ERR_ARG, "w is NULL");
  CHECK_ERR(bpnn_net_get_layer_f64(n64, 0, got_w, 4, NULL, 2), BPNN_ERR_ARG, "b is NULL");
  CHECK_ERR(bpnn_net_get_layer_f64(n64, 1, got_w, 4, got_b, 2), BPNN_ERR_ARG, "layer = 1");
  CHECK_ERR(bpnn_net_get_layer_f64(n64, 0, got_w, 3, got_b, 2), BPNN_ERR_ARG, "w_len = 3");
  CHECK_ERR(bpnn_net_get_layer_f64(n64, 0, got_w, 4, got_b, 1), BPNN_ERR_ARG, "b_len = 1");
  CHECK_ERR(bpnn_net_set_layer_f64(NULL, 0, w, 4, b, 2), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_set_layer_f64(n64, 0, NULL, 4, b, 2), BPNN_ERR_ARG, "w is NULL");
  CHECK_ERR(bpnn_net_set_layer_f64(n64, 0, w, 4, NULL, 2), BPNN_ERR_ARG, "b is NULL");
  CHECK_ERR(bpnn_net_set_layer_f64(n64, 2, w, 4, b, 2), BPNN_ERR_ARG, "layer = 2");
  CHECK_ERR(bpnn_net_set_layer_f64(n64, 0, w, 5, b, 2), BPNN_ERR_ARG, "w_len = 5");
  CHECK_ERR(bpnn_net_set_layer_f64(n64, 0, w, 4, b, 3), BPNN_ERR_ARG, "b_len = 3");
  /* A failed set leaves the weights alone. */
  CHECK_OK(bpnn_net_get_layer_f64(n64, 0, got_w, 4, got_b, 2));
  CHECK(memcmp(got_w, w, sizeof w) == 0);

  bpnn_net_free(n64);
  bpnn_net_free(n32);
}

static void test_metadata_save_load_clone(void) {
  static const size_t sizes[] = {3, 4, 2};
  const double x[] = {0.1, -0.2, 0.3, 1, 2, 3};
  double y1[4], y2[4];
  bpnn_net *net = make_net(3, sizes, BPNN_F64, 5), *loaded = NULL, *copy = NULL;
  bpnn_net *sentinel = net, *out = sentinel;
  char model[8192];
  FILE *f;

  strcpy(model, scratch_path("capi_model.safetensors"));
  CHECK_OK(bpnn_net_set_metadata(net, "input_names", "a,b,c"));
  CHECK(bpnn_net_get_metadata(net, "input_names") != NULL &&
        strcmp(bpnn_net_get_metadata(net, "input_names"), "a,b,c") == 0);
  CHECK(bpnn_net_get_metadata(net, "absent") == NULL);
  CHECK(strstr(bpnn_last_error(), "no metadata key \"absent\"") != NULL);
  CHECK(bpnn_net_get_metadata(NULL, "input_names") == NULL);
  CHECK(strstr(bpnn_last_error(), "net is NULL") != NULL);
  CHECK(bpnn_net_get_metadata(net, NULL) == NULL);
  CHECK(strstr(bpnn_last_error(), "key is NULL") != NULL);
  CHECK_ERR(bpnn_net_set_metadata(NULL, "k", "v"), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_set_metadata(net, NULL, "v"), BPNN_ERR_ARG, "key is NULL");
  CHECK_ERR(bpnn_net_set_metadata(net, "k", NULL), BPNN_ERR_ARG, "value is NULL");
  CHECK_ERR(bpnn_net_set_metadata(net, "", "v"), BPNN_ERR_ARG, "key is empty");

  /* save */
  CHECK_OK(bpnn_net_save(net, model));
  CHECK_ERR(bpnn_net_save(NULL, model), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_save(net, NULL), BPNN_ERR_ARG, "path is NULL");
  CHECK_ERR(bpnn_net_save(net, ""), BPNN_ERR_ARG, "path is empty");
  CHECK_ERR(bpnn_net_save(net, "/nonexistent-bpnn-dir/model.safetensors"), BPNN_ERR_IO,
            "nonexistent-bpnn-dir");

  /* load */
  CHECK_OK(bpnn_net_load(model, &loaded));
  CHECK(loaded != NULL && same_weights(net, loaded));
  CHECK(bpnn_net_precision(loaded) == BPNN_F64 && bpnn_net_n_layers(loaded) == 2);
  CHECK(strcmp(bpnn_net_get_metadata(loaded, "input_names"), "a,b,c") == 0);
  CHECK_OK(bpnn_net_predict_f64(net, x, 2, y1));
  CHECK_OK(bpnn_net_predict_f64(loaded, x, 2, y2));
  CHECK(memcmp(y1, y2, sizeof y1) == 0);
  CHECK_ERR(bpnn_net_load(NULL, &out), BPNN_ERR_ARG, "path is NULL");
  CHECK_ERR(bpnn_net_load(model, NULL), BPNN_ERR_ARG, "out is NULL");
  CHECK_ERR(bpnn_net_load("", &out), BPNN_ERR_ARG, "path is empty");
  CHECK_ERR(bpnn_net_load(scratch_path("no_such_model.safetensors"), &out), BPNN_ERR_IO,
            "no_such_model.safetensors");
  f = fopen(scratch_path("corrupt.safetensors"), "wb");
  CHECK(f != NULL);
  if (f) {
    fputs("this is not a safetensors file at all", f);
    fclose(f);
  }
  CHECK_ERR(bpnn_net_load(scratch_path("corrupt.safetensors"), &out), BPNN_ERR_FORMAT,
            "corrupt.safetensors");
  /* A valid file with one tensor byte flipped: the CRC catches it. */
  f = fopen(model, "r+b");
  CHECK(f != NULL);
  if (f) {
    int byte;
    fseek(f, -3, SEEK_END);
    byte = fgetc(f);
    fseek(f, -3, SEEK_END);
    fputc(byte ^ 0x40, f);
    fclose(f);
  }
  CHECK_ERR(bpnn_net_load(model, &out), BPNN_ERR_FORMAT, "CRC");
  CHECK(out == sentinel);
  remove(model);
  remove(scratch_path("corrupt.safetensors"));

  /* a reserved metadata key cannot be saved */
  CHECK_OK(bpnn_net_set_metadata(loaded, "format", "x"));
  CHECK_ERR(bpnn_net_save(loaded, model), BPNN_ERR_ARG, "reserved");

  /* clone */
  CHECK_OK(bpnn_net_clone(net, &copy));
  CHECK(copy != NULL && copy != net && same_weights(net, copy));
  CHECK(strcmp(bpnn_net_get_metadata(copy, "input_names"), "a,b,c") == 0);
  {
    const double w[12] = {0}, b[4] = {0};
    CHECK_OK(bpnn_net_set_layer_f64(copy, 0, w, 12, b, 4));
    CHECK(!same_weights(net, copy)); /* a deep copy */
  }
  CHECK_ERR(bpnn_net_clone(NULL, &out), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_clone(net, NULL), BPNN_ERR_ARG, "out is NULL");
  bpnn_net_free(copy);
  bpnn_net_free(loaded);
  bpnn_net_free(net);
}

struct calls {
  size_t count;
  size_t stop_after; /* stop once this many epochs ran */
  size_t bad_stats;
  double first_loss, last_loss, last_accuracy;
};

static int on_epoch(void *user, const bpnn_epoch_stats *s) {
  struct calls *c = user;
  if (s->struct_size != sizeof *s || s->epoch != c->count || !(s->loss >= 0) ||
      !(s->seconds >= 0) || !(s->samples_per_s >= 0))
    ++c->bad_stats;
  if (c->count == 0) c->first_loss = s->loss;
  c->last_loss = s->loss;
  c->last_accuracy = s->accuracy;
  ++c->count;
  return c->count >= c->stop_after;
}

static void test_train(void) {
  static const size_t sizes[] = {2, 4, 1};
  const double x[] = {0, 0, 0, 1, 1, 0, 1, 1}, y[] = {0, 1, 1, 0};
  const float xf[] = {0, 0, 0, 1, 1, 0, 1, 1}, yf[] = {0, 1, 1, 0};
  const double x_nan[] = {0, 0, 0, 1, 1, NAN, 1, 1};
  bpnn_net *net = NULL, *net32 = make_net(3, sizes, BPNN_F32, 3);
  bpnn_net_config c;
  bpnn_train_config t;
  bpnn_train_report r;
  struct calls calls = {0, 1000000, 0, 0, 0, 0};
  double out[4];

  /* The XOR setup of tests/test_learning.cpp. */
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 3;
  c.precision = BPNN_F64;
  c.init = BPNN_INIT_UNIFORM;
  c.init_scale = 1.0;
  c.seed = 3;
  CHECK_OK(bpnn_net_create(&c, &net));

  bpnn_train_config_init(NULL);
  bpnn_train_report_init(NULL);
  bpnn_train_config_init(&t);
  CHECK(t.struct_size == sizeof t && isnan(t.learning_rate) && isnan(t.momentum) && t.optimizer == BPNN_OPT_SGD && t.clip == 0 && isnan(t.l2) && t.scaling == BPNN_SCALE_NONE);
  CHECK(t.batch == 1 && t.epochs == 10 && t.threads == 0 && t.shuffle == 1 && t.seed == 1);
  CHECK(t.on_epoch == NULL && t.user == NULL);
  bpnn_train_report_init(&r);
  CHECK(r.struct_size == sizeof r && r.epochs_run == 0 && isnan(r.final_loss));

  /* XOR learns, with the callback watching every epoch. */
  t.learning_rate = 2.0;
  t.momentum = 0.5;
  t.epochs = 3000;
  t.on_epoch = on_epoch;
  t.user = &calls;
  CHECK_OK(bpnn_net_train_f64(net, &t, x, y, 4, &r));
  CHECK(r.epochs_run == 3000 && calls.count == 3000 && calls.bad_stats == 0);
  CHECK(!r.stopped_by_callback && r.final_loss == calls.last_loss && r.seconds >= 0);
  CHECK(calls.last_loss < calls.first_loss / 10);
  CHECK(calls.last_accuracy == 1.0); /* 0/1 targets: a binary classifier */
  CHECK_OK(bpnn_net_predict_f64(net, x, 4, out));
  CHECK(out[0] < 0.5 && out[1] > 0.5 && out[2] > 0.5 && out[3] < 0.5);

  /* The callback stops training. */
  calls.count = 0;
  calls.stop_after = 3;
  bpnn_train_report_init(&r);
  CHECK_OK(bpnn_net_train_f32(net32, &t, xf, yf, 4, &r));
  CHECK(calls.count == 3 && r.epochs_run == 3 && r.stopped_by_callback == 1);
  CHECK(r.final_loss == calls.last_loss);

  /* No config, no report: the defaults (10 epochs). */
  CHECK_OK(bpnn_net_train_f32(net32, NULL, xf, yf, 4, NULL));

  /* Every argument. */
  t.on_epoch = NULL;
  t.epochs = 2;
  CHECK_ERR(bpnn_net_train_f64(NULL, &t, x, y, 4, &r), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_train_f64(net, &t, NULL, y, 4, &r), BPNN_ERR_ARG, "x is NULL");
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, NULL, 4, &r), BPNN_ERR_ARG, "y is NULL");
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 0, &r), BPNN_ERR_ARG, "n is 0");
  CHECK_ERR(bpnn_net_train_f64(net32, &t, x, y, 4, &r), BPNN_ERR_ARG, "precision f32");
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, (size_t)-1 / 2 + 1, &r), BPNN_ERR_ARG, "overflow");
  CHECK_ERR(bpnn_net_train_f32(NULL, &t, xf, yf, 4, &r), BPNN_ERR_ARG, "net is NULL");
  CHECK_ERR(bpnn_net_train_f32(net32, &t, NULL, yf, 4, &r), BPNN_ERR_ARG, "x is NULL");
  CHECK_ERR(bpnn_net_train_f32(net32, &t, xf, NULL, 4, &r), BPNN_ERR_ARG, "y is NULL");
  CHECK_ERR(bpnn_net_train_f32(net32, &t, xf, yf, 0, &r), BPNN_ERR_ARG, "n is 0");
  CHECK_ERR(bpnn_net_train_f32(net, &t, xf, yf, 4, &r), BPNN_ERR_ARG, "precision f64");
  CHECK_ERR(bpnn_net_train_f64(net, &t, x_nan, y, 4, &r), BPNN_ERR_ARG, "not finite");
  t.batch = 0;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "config->batch");
  t.batch = 1;
  t.epochs = 0;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "config->epochs");
  t.epochs = 2;
  t.learning_rate = -1;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "learning rate");
  t.learning_rate = 0.1;
  t.momentum = 1;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "momentum");
  t.momentum = 0;
  t.threads = -2;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "threads");
  t.threads = 0;
  t.struct_size = 0;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "config->struct_size");
  t.struct_size = 20;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "config->struct_size");
  t.struct_size = sizeof t * 2;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "newer bpnn.h");
  t.struct_size = sizeof t;
  r.struct_size = 0;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "report->struct_size");
  r.struct_size = sizeof r + 8;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 4, &r), BPNN_ERR_ARG, "report->struct_size");
  /* An older, shorter report: the fields past it are not written. */
  bpnn_train_report_init(&r);
  r.seconds = -7;
  r.struct_size = offsetof(bpnn_train_report, seconds);
  CHECK_OK(bpnn_net_train_f64(net, &t, x, y, 4, &r));
  CHECK(r.epochs_run == 2 && r.seconds == -7);

  bpnn_net_free(net);
  bpnn_net_free(net32);
}

/* A config from an older header that ends before `seed`: the seed and the callback past it are
   not read. */
static void test_train_old_struct_size(void) {
  static const size_t sizes[] = {1, 3, 1};
  const double x[] = {0, 1, 2, 3, 4, 5}, y[] = {0, 0.2, 0.4, 0.6, 0.8, 1};
  bpnn_net *a = make_net(3, sizes, BPNN_F64, 2), *b = make_net(3, sizes, BPNN_F64, 2);
  bpnn_net *c = make_net(3, sizes, BPNN_F64, 2);
  struct calls calls = {0, 1000000, 0, 0, 0, 0};
  bpnn_train_config t;
  bpnn_train_config_init(&t);
  t.batch = 2;
  t.epochs = 3;
  CHECK_OK(bpnn_net_train_f64(a, &t, x, y, 6, NULL)); /* seed 1 */
  t.seed = 99;
  CHECK_OK(bpnn_net_train_f64(b, &t, x, y, 6, NULL));
  CHECK(!same_weights(a, b)); /* the seed matters */
  t.on_epoch = on_epoch;
  t.user = &calls;
  t.struct_size = offsetof(bpnn_train_config, seed);
  CHECK_OK(bpnn_net_train_f64(c, &t, x, y, 6, NULL));
  CHECK(same_weights(a, c)); /* seed 99 was not read: the default 1 was used */
  CHECK(calls.count == 0);
  bpnn_net_free(a);
  bpnn_net_free(b);
  bpnn_net_free(c);
}

/* A linear network with a huge learning rate diverges: BPNN_ERR_NONFINITE, the report holds the
   epochs completed before, and the net keeps finite weights. */
static void test_train_nonfinite(void) {
  static const size_t sizes[] = {1, 1};
  const double x[] = {1000, -1000, 500}, y[] = {0, 1, 0}, probe = 1;
  bpnn_net_config c;
  bpnn_net *net = NULL;
  bpnn_train_config t;
  bpnn_train_report r;
  double out;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 2;
  c.output_act = BPNN_ACT_LINEAR;
  c.precision = BPNN_F64;
  CHECK_OK(bpnn_net_create(&c, &net));
  bpnn_train_config_init(&t);
  t.learning_rate = 1e6;
  t.epochs = 1000;
  bpnn_train_report_init(&r);
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 3, &r), BPNN_ERR_NONFINITE, "diverged");
  CHECK(strstr(bpnn_last_error(), "bpnn_net_train_f64: ") == bpnn_last_error());
  CHECK(r.epochs_run < 1000 && r.stopped_by_callback == 0);
  CHECK(r.epochs_run == 0 ? isnan(r.final_loss) : isfinite(r.final_loss));
  CHECK_OK(bpnn_net_predict_f64(net, &probe, 1, &out));
  CHECK(isfinite(out));
  bpnn_net_free(net);
}

/* Training data is checked whole: a NaN or infinite target is an argument error naming it, not
   "training diverged"; epochs beyond the documented maximum are refused. */
static void test_train_bad_values(void) {
  static const size_t sizes[] = {1, 1};
  double x[] = {0.5, 0.25}, y[] = {1, 0};
  bpnn_net *net = make_net(2, sizes, BPNN_F64, 1);
  bpnn_train_config t;
  bpnn_train_config_init(&t);
  y[1] = NAN;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 2, NULL), BPNN_ERR_ARG, "target 0 of sample 1");
  y[1] = INFINITY;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 2, NULL), BPNN_ERR_ARG, "is not finite");
  y[1] = 0;
  x[0] = -INFINITY;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 2, NULL), BPNN_ERR_ARG, "input 0 of sample 0");
  x[0] = 0.5;
  t.epochs = 1000000001;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 2, NULL), BPNN_ERR_ARG, "epochs");
  t.epochs = (size_t)-1;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 2, NULL), BPNN_ERR_ARG, "epochs");
  t.epochs = 1;
  t.threads = -1;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 2, NULL), BPNN_ERR_ARG, "threads");
  bpnn_net_free(net);
}

/* Mutating calls made while the network trains (here from its own on_epoch callback, the one
   place a caller can reach it deterministically) fail with BPNN_ERR_BUSY and change nothing. */
struct busy_probe {
  bpnn_net *net;
  int calls;
  bpnn_status train, set_layer, set_metadata;
};
static int busy_on_epoch(void *user, const bpnn_epoch_stats *stats) {
  struct busy_probe *p = user;
  const double x[] = {1}, y[] = {0}, w[] = {5}, b[] = {5};
  (void)stats;
  ++p->calls;
  p->train = bpnn_net_train_f64(p->net, NULL, x, y, 1, NULL);
  p->set_layer = bpnn_net_set_layer_f64(p->net, 0, w, 1, b, 1);
  p->set_metadata = bpnn_net_set_metadata(p->net, "k", "v");
  return 1;
}
static void test_busy(void) {
  static const size_t sizes[] = {1, 1};
  const double x[] = {0.5, 0.25}, y[] = {1, 0};
  struct busy_probe p = {NULL, 0, BPNN_OK, BPNN_OK, BPNN_OK};
  bpnn_train_config t;
  double w, b;
  CHECK(strcmp(bpnn_status_string(BPNN_ERR_BUSY), "BPNN_ERR_BUSY") == 0);
  p.net = make_net(2, sizes, BPNN_F64, 1);
  bpnn_train_config_init(&t);
  t.on_epoch = busy_on_epoch;
  t.user = &p;
  t.epochs = 3;
  CHECK_OK(bpnn_net_train_f64(p.net, &t, x, y, 2, NULL));
  CHECK(p.calls == 1);
  CHECK(p.train == BPNN_ERR_BUSY && p.set_layer == BPNN_ERR_BUSY && p.set_metadata == BPNN_ERR_BUSY);
  CHECK_OK(bpnn_net_get_layer_f64(p.net, 0, &w, 1, &b, 1));
  CHECK(w != 5 && b != 5);
  CHECK(bpnn_net_get_metadata(p.net, "k") == NULL);
  /* Free again once training returned. */
  CHECK_OK(bpnn_net_set_metadata(p.net, "k", "v"));
  CHECK_OK(bpnn_net_train_f64(p.net, NULL, x, y, 2, NULL));
  bpnn_net_free(p.net);
}

/* Values the model file could not hold are refused when set, not when saved. */
static void test_set_bad_values(void) {
  static const size_t sizes[] = {2, 1};
  const double w_nan[] = {1, NAN}, w_big[] = {1, 1e300}, b[] = {0};
  bpnn_net *net = make_net(2, sizes, BPNN_F32, 1), *net64 = make_net(2, sizes, BPNN_F64, 1);
  CHECK_ERR(bpnn_net_set_layer_f64(net64, 0, w_nan, 2, b, 1), BPNN_ERR_ARG, "weight 1 is not finite");
  CHECK_ERR(bpnn_net_set_layer_f64(net, 0, w_big, 2, b, 1), BPNN_ERR_ARG, "overflows");
  CHECK_OK(bpnn_net_set_layer_f64(net64, 0, w_big, 2, b, 1));
  CHECK_ERR(bpnn_net_set_metadata(net, "k", "\xff\xfe"), BPNN_ERR_ARG, "value is not valid UTF-8");
  CHECK_ERR(bpnn_net_set_metadata(net, "\xc3", "v"), BPNN_ERR_ARG, "key is not valid UTF-8");
  CHECK_OK(bpnn_net_set_metadata(net, "k", "\xc3\xa9t\xc3\xa9"));
  bpnn_net_free(net);
  bpnn_net_free(net64);
}

/* Scoring: a 2-2 softmax net with identity weights predicts the larger input's class. */
static void test_evaluate(void) {
  static const size_t sizes[] = {2, 2}, sizes1[] = {1, 1};
  const double w[] = {1, 0, 0, 1}, b[] = {0, 0}, w1[] = {1}, b1[] = {0};
  const double x[] = {2, 1, 0, 1, 1, 0}, y[] = {1, 0, 1, 0, 0, 1};
  const double xr[] = {1, 2, 3, 4}, yr[] = {1, 2, 2, 6};
  size_t confusion[4] = {9, 9, 9, 9};
  bpnn_eval_report r;
  bpnn_net_config c;
  bpnn_net *net = NULL, *reg = NULL;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 2;
  c.output_act = BPNN_ACT_SOFTMAX;
  c.loss = BPNN_LOSS_XENT;
  c.precision = BPNN_F64;
  CHECK_OK(bpnn_net_create(&c, &net));
  CHECK_OK(bpnn_net_set_layer_f64(net, 0, w, 4, b, 2));
  bpnn_eval_report_init(NULL);
  bpnn_eval_report_init(&r);
  CHECK(r.struct_size == sizeof r && isnan(r.loss));
  CHECK_OK(bpnn_net_evaluate_f64(net, x, y, 3, &r, confusion, 4));
  CHECK(r.n == 3 && r.classifier && r.n_classes == 2);
  CHECK(fabs(r.accuracy - 1.0 / 3) < 1e-15);
  CHECK(confusion[0] == 1 && confusion[1] == 1 && confusion[2] == 1 && confusion[3] == 0);
  CHECK(isnan(r.rmse) && isfinite(r.loss) && r.loss > 0);
  CHECK_OK(bpnn_net_evaluate_f64(net, x, y, 3, &r, NULL, 0));
  CHECK_ERR(bpnn_net_evaluate_f64(net, x, y, 3, &r, confusion, 3), BPNN_ERR_ARG, "confusion_len = 3");
  CHECK_ERR(bpnn_net_evaluate_f64(net, x, y, 0, &r, NULL, 0), BPNN_ERR_ARG, "n is 0");
  CHECK_ERR(bpnn_net_evaluate_f64(net, x, y, 3, NULL, NULL, 0), BPNN_ERR_ARG, "report is NULL");
  CHECK_ERR(bpnn_net_evaluate_f32(net, (const float *)x, (const float *)y, 3, &r, NULL, 0),
            BPNN_ERR_ARG, "precision");
  r.struct_size = 0;
  CHECK_ERR(bpnn_net_evaluate_f64(net, x, y, 3, &r, NULL, 0), BPNN_ERR_ARG, "report->struct_size");

  c.sizes = sizes1;
  c.output_act = BPNN_ACT_LINEAR;
  c.loss = BPNN_LOSS_MSE;
  CHECK_OK(bpnn_net_create(&c, &reg));
  CHECK_OK(bpnn_net_set_layer_f64(reg, 0, w1, 1, b1, 1));
  bpnn_eval_report_init(&r);
  CHECK_OK(bpnn_net_evaluate_f64(reg, xr, yr, 4, &r, confusion, 4));
  CHECK(!r.classifier && r.n_classes == 0 && isnan(r.accuracy));
  CHECK(fabs(r.rmse - sqrt(5.0 / 4)) < 1e-15 && fabs(r.mae - 0.75) < 1e-15);
  CHECK(fabs(r.r2 - (1 - 5 / 14.75)) < 1e-15);
  bpnn_net_free(net);
  bpnn_net_free(reg);
}

/* The scaler: set, read back, applied by predict to raw inputs, refused when malformed. */
static void test_scaler(void) {
  static const size_t sizes[] = {2, 1};
  const double w[] = {1, 1}, b[] = {0}, offset[] = {10, -2}, factor[] = {0.5, 2}, zero[] = {1, 0};
  const double x[] = {12, -1};
  double got_offset[2], got_factor[2], y;
  bpnn_scaling kind = (bpnn_scaling)7;
  bpnn_net_config c;
  bpnn_net *net = NULL;
  bpnn_net_config_init(&c);
  c.sizes = sizes;
  c.n_sizes = 2;
  c.output_act = BPNN_ACT_LINEAR;
  c.precision = BPNN_F64;
  CHECK_OK(bpnn_net_create(&c, &net));
  CHECK_OK(bpnn_net_set_layer_f64(net, 0, w, 2, b, 1));
  CHECK_OK(bpnn_net_get_scaler(net, &kind, NULL, NULL, 0));
  CHECK(kind == BPNN_SCALE_NONE);
  CHECK_OK(bpnn_net_set_scaler(net, BPNN_SCALE_STANDARD, offset, factor, 2));
  CHECK_OK(bpnn_net_get_scaler(net, &kind, got_offset, got_factor, 2));
  CHECK(kind == BPNN_SCALE_STANDARD && got_offset[1] == -2 && got_factor[0] == 0.5);
  CHECK_OK(bpnn_net_predict_f64(net, x, 1, &y));
  CHECK(y == (12 - 10) * 0.5 + (-1 + 2) * 2.0);
  CHECK_ERR(bpnn_net_get_scaler(net, &kind, got_offset, got_factor, 3), BPNN_ERR_ARG, "len = 3");
  CHECK_ERR(bpnn_net_set_scaler(net, BPNN_SCALE_MINMAX, offset, zero, 2), BPNN_ERR_ARG, "column 1");
  CHECK_ERR(bpnn_net_set_scaler(net, BPNN_SCALE_MINMAX, offset, factor, 1), BPNN_ERR_ARG, "len = 1");
  CHECK_ERR(bpnn_net_set_scaler(net, (bpnn_scaling)9, offset, factor, 2), BPNN_ERR_ARG, "bpnn_scaling");
  CHECK_ERR(bpnn_net_set_scaler(net, BPNN_SCALE_NONE, offset, NULL, 0), BPNN_ERR_ARG, "SCALE_NONE");
  {
    /* layer 0 is the scaled input; layer 1 here the output */
    double scaled[2], out;
    CHECK_OK(bpnn_net_predict_layer_f64(net, x, 1, 0, scaled));
    CHECK(scaled[0] == 1 && scaled[1] == 2);
    CHECK_OK(bpnn_net_predict_layer_f64(net, x, 1, 1, &out));
    CHECK(out == 3);
    CHECK_ERR(bpnn_net_predict_layer_f64(net, x, 1, 2, &out), BPNN_ERR_ARG, "layer = 2");
    CHECK_ERR(bpnn_net_predict_layer_f32(net, (const float *)x, 1, 0, (float *)scaled), BPNN_ERR_ARG,
              "precision");
  }
  CHECK_OK(bpnn_net_set_scaler(net, BPNN_SCALE_NONE, NULL, NULL, 0));
  CHECK_OK(bpnn_net_predict_f64(net, x, 1, &y));
  CHECK(y == 11);
  bpnn_net_free(net);
}

/* The optimizer fields appended to bpnn_train_config: Adam with a standard scaler fitted on the
   data, an out-of-range optimizer, and irprop's full batch. */
static void test_train_optimizers(void) {
  static const size_t sizes[] = {1, 4, 1};
  double x[16], y[16], w[4], b[4];
  bpnn_scaling kind;
  double offset, factor;
  bpnn_train_config t;
  bpnn_net *net = make_net(3, sizes, BPNN_F64, 3);
  int i;
  for (i = 0; i < 16; ++i) {
    x[i] = 1000 + 10 * i;
    y[i] = i % 2;
  }
  bpnn_train_config_init(&t);
  t.optimizer = BPNN_OPT_ADAM;
  t.scaling = BPNN_SCALE_STANDARD;
  t.batch = 4;
  t.epochs = 3;
  CHECK_OK(bpnn_net_train_f64(net, &t, x, y, 16, NULL));
  CHECK_OK(bpnn_net_get_scaler(net, &kind, &offset, &factor, 1));
  CHECK(kind == BPNN_SCALE_STANDARD && offset == 1075);
  CHECK_OK(bpnn_net_get_layer_f64(net, 0, w, 4, b, 4));
  t.optimizer = (bpnn_optimizer)6;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 16, NULL), BPNN_ERR_ARG, "config->optimizer");
  t.optimizer = BPNN_OPT_IRPROP;
  t.scaling = BPNN_SCALE_NONE;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 16, NULL), BPNN_ERR_ARG, "batch");
  t.batch = 1;
  CHECK_OK(bpnn_net_train_f64(net, &t, x, y, 16, NULL));
  t.optimizer = BPNN_OPT_MOMENTUM;
  t.momentum = 0;
  CHECK_ERR(bpnn_net_train_f64(net, &t, x, y, 16, NULL), BPNN_ERR_ARG, "momentum");
  bpnn_net_free(net);
}

/* Epoch callback of test_train_run_control: counts epochs and keeps the last stats. */
struct epoch_log {
  int epochs, bests;
  bpnn_epoch_stats last;
};
static int log_epoch(void *user, const bpnn_epoch_stats *s) {
  struct epoch_log *log = (struct epoch_log *)user;
  log->epochs++;
  log->bests += s->best != 0;
  log->last = *s;
  return 0;
}

/* Schedules, a validation set, early stopping, and a checkpoint resumed to the same bits. */
static void test_train_run_control(void) {
  static const size_t sizes[] = {2, 6, 1};
  double x[80], y[40], vx[20], vy[10];
  bpnn_train_config t;
  bpnn_train_report r;
  struct epoch_log log = {0, 0, {0}};
  bpnn_net *whole = make_net(3, sizes, BPNN_F64, 5), *part = make_net(3, sizes, BPNN_F64, 5), *resumed = NULL;
  size_t done = 0;
  int i;
  for (i = 0; i < 40; ++i) {
    x[2 * i] = (i % 7) / 7.0;
    x[2 * i + 1] = (i % 5) / 5.0;
    y[i] = x[2 * i] > x[2 * i + 1];
  }
  for (i = 0; i < 10; ++i) {
    vx[2 * i] = (i % 3) / 3.0;
    vx[2 * i + 1] = (i % 4) / 4.0;
    vy[i] = vx[2 * i] > vx[2 * i + 1];
  }
  bpnn_train_config_init(&t);
  CHECK(t.schedule == NULL && t.val_split == 0 && t.early_stop == 0 && t.resume == NULL);
  t.optimizer = BPNN_OPT_MOMENTUM;
  t.batch = 4;
  t.epochs = 8;
  t.schedule = "step:3:0.5"; /* cosine would depend on the total, 8 or 3 */
  t.val_x = vx;
  t.val_y = vy;
  t.val_n = 10;
  t.on_epoch = log_epoch;
  t.user = &log;
  bpnn_train_report_init(&r);
  CHECK(r.best_val_loss != r.best_val_loss); /* NaN */
  CHECK_OK(bpnn_net_train_f64(whole, &t, x, y, 40, &r));
  CHECK(log.epochs == 8 && log.bests >= 1);
  CHECK(log.last.struct_size == sizeof(bpnn_epoch_stats));
  CHECK(log.last.val_loss == log.last.val_loss && log.last.val_accuracy >= 0);
  CHECK(log.last.learning_rate == 0.1 * 0.25); /* epoch 7 */
  CHECK(r.best_epoch < 8 && r.best_val_loss == r.best_val_loss);

  t.on_epoch = NULL;
  t.epochs = 3;
  t.checkpoint = scratch_path("c.ckpt");
  CHECK_OK(bpnn_net_train_f64(part, &t, x, y, 40, NULL));
  CHECK_OK(bpnn_checkpoint_load(scratch_path("c.ckpt"), &resumed, &done));
  CHECK(done == 3);
  t.epochs = 8;
  t.checkpoint = NULL;
  t.resume = scratch_path("c.ckpt");
  t.threads = 2;
  CHECK_OK(bpnn_net_train_f64(resumed, &t, x, y, 40, NULL));
  CHECK(same_weights(whole, resumed));
  t.learning_rate = 0.3; /* not the checkpoint's */
  CHECK_ERR(bpnn_net_train_f64(resumed, &t, x, y, 40, NULL), BPNN_ERR_ARG, "learning_rate");
  t.learning_rate = NAN;
  x[3] += 1;
  CHECK_ERR(bpnn_net_train_f64(resumed, &t, x, y, 40, NULL), BPNN_ERR_ARG, "differs");
  x[3] -= 1;
  CHECK_ERR(bpnn_checkpoint_load(scratch_path("missing.ckpt"), &part, NULL), BPNN_ERR_IO, "");

  /* early stopping without validation data; a validation split with a set given apart */
  t.resume = NULL;
  t.val_n = 0;
  t.val_x = t.val_y = NULL;
  t.early_stop = 2;
  CHECK_ERR(bpnn_net_train_f64(part, &t, x, y, 40, NULL), BPNN_ERR_ARG, "validation");
  t.val_split = 0.25;
  CHECK_OK(bpnn_net_train_f64(part, &t, x, y, 40, &r));
  t.val_x = vx;
  t.val_y = vy;
  t.val_n = 10;
  CHECK_ERR(bpnn_net_train_f64(part, &t, x, y, 40, NULL), BPNN_ERR_ARG, "val_split");
  t.val_split = 0;
  t.schedule = "step:0:1";
  CHECK_ERR(bpnn_net_train_f64(part, &t, x, y, 40, NULL), BPNN_ERR_ARG, "schedule");
  bpnn_net_free(whole);
  bpnn_net_free(part);
  bpnn_net_free(resumed);
}

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) >= sizeof scratch) {
    fprintf(stderr, "usage: test_capi SCRATCH_DIR\n");
    return 2;
  }
  strcpy(scratch, argv[1]);
  test_versions_and_errors();
  test_create();
  test_old_struct_size();
  test_queries();
  test_predict_and_layers();
  test_metadata_save_load_clone();
  test_train();
  test_train_old_struct_size();
  test_train_nonfinite();
  test_create_huge();
  test_train_bad_values();
  test_busy();
  test_set_bad_values();
  test_evaluate();
  test_scaler();
  test_train_optimizers();
  test_train_run_control();
  if (failures) {
    fprintf(stderr, "test_capi: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_capi: all checks passed\n");
  return 0;
}
