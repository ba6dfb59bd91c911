/* The checks the C API tests share (strict C99): CHECK counts a failed condition in `failures`
   (the test's exit status); CHECK_ERR wants a status and a last error mentioning a text;
   same_weights compares two nets' parameters byte for byte. */
#ifndef BPNN_TESTS_CAPI_CHECK_H
#define BPNN_TESTS_CAPI_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpnn.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* A call must fail with `want` and a last error mentioning `needle`. */
#define CHECK_ERR(call, want, needle) check_err((call), (want), (needle), #call, __FILE__, __LINE__)
static inline void check_err(bpnn_status got, bpnn_status want, const char *needle, const char *what,
                             const char *file, int line) {
  const char *message = bpnn_last_error();
  if (got != want) {
    fprintf(stderr, "%s:%d: %s gave %s, want %s (last error: %s)\n", file, line, what,
            bpnn_status_string(got), bpnn_status_string(want), message);
    ++failures;
  } else if (message == NULL || strstr(message, needle) == NULL) {
    fprintf(stderr, "%s:%d: %s: last error \"%s\" does not mention \"%s\"\n", file, line, what,
            message ? message : "(null)", needle);
    ++failures;
  }
}
#define CHECK_OK(call) CHECK_ERR(call, BPNN_OK, "")

/* Whether two nets hold exactly the same parameters (a failing read counts as a failure). */
static inline int same_weights(const bpnn_net *a, const bpnn_net *b) {
  size_t l, n_layers = bpnn_net_n_layers(a);
  int same = n_layers == bpnn_net_n_layers(b);
  for (l = 0; same && l < n_layers; ++l) {
    size_t in = bpnn_net_width(a, l), out = bpnn_net_width(a, l + 1);
    double *wa = malloc(in * out * sizeof *wa), *wb = malloc(in * out * sizeof *wb);
    double *ba = malloc(out * sizeof *ba), *bb = malloc(out * sizeof *bb);
    CHECK(wa != NULL && wb != NULL && ba != NULL && bb != NULL);
    if (wa == NULL || wb == NULL || ba == NULL || bb == NULL) same = 0;
    if (same) {
      CHECK_OK(bpnn_net_get_layer_f64(a, l, wa, in * out, ba, out));
      CHECK_OK(bpnn_net_get_layer_f64(b, l, wb, in * out, bb, out));
      same = memcmp(wa, wb, in * out * sizeof *wa) == 0 && memcmp(ba, bb, out * sizeof *ba) == 0;
    }
    free(wa);
    free(wb);
    free(ba);
    free(bb);
  }
  return same;
}

#endif
