#pragma once
// The C API's opaque handle (include/bpnn.h: typedef struct bpnn_net bpnn_net), defined once for
// every library that hands it out: libbpnn's C API (capi.cpp) and bpnn_mpi's (engine/mpi).
#include "bpnn/network.hpp"

struct bpnn_net {
  bpnn::Network net;
};
