#pragma once
// The C API's training structs to and from the C++ API, shared by libbpnn's C API
// (engine/capi/capi.cpp) and bpnn_mpi's (engine/mpi/capi_mpi.cpp), so both read a
// bpnn_train_config and fill a bpnn_train_report by the same rules. A bad field is
// bpnn::Error(argument) with the message the C API reports.
#include <cstddef>
#include <cstring>

#include "bpnn.h"
#include "bpnn/error.hpp"
#include "bpnn/train.hpp"

namespace bpnn::capi {

// The status a C++ error kind becomes (data in memory the caller passed is an argument error).
bpnn_status status_of(ErrorKind kind);

// Checks a caller's struct_size: non-zero, a multiple of sizeof(size_t) (so a struct, not a
// stray number), at least `minimum` (the required fields) and at most `known`, what this library
// knows (a larger one comes from a newer bpnn.h).
void struct_size_check(std::size_t size, std::size_t minimum, std::size_t known, const char* name);

// Whether the field at [offset, offset + size) lies wholly inside a struct of struct_size bytes.
constexpr bool has_field(std::size_t struct_size, std::size_t offset, std::size_t size) {
  return offset + size <= struct_size;
}

// C enum values arrive unchecked, and loading an out-of-range value as the enum type is undefined
// in C++: read the field's bytes as an int, validate, then convert.
template <class E>
int raw(const E& field) {
  static_assert(sizeof(E) == sizeof(int));
  int v;
  std::memcpy(&v, &field, sizeof v);
  return v;
}

// The C++ config of a C one: NULL gives the C++ defaults, and so do the fields an older caller's
// struct lacks. Error(argument) for a bad struct_size, optimizer, schedule, batch 0 or epochs 0.
TrainConfig train_config_from(const bpnn_train_config* config);

// The C form of one epoch's figures, for a caller's on_epoch callback.
bpnn_epoch_stats epoch_stats_of(const EpochStats& s);

// Fills the fields of `report` (NULL: nothing) that the caller's struct has.
void train_report_write(bpnn_train_report* report, const TrainReport& from);

}  // namespace bpnn::capi

#define BPNN_HAS(ptr, type, field) \
  ::bpnn::capi::has_field((ptr)->struct_size, offsetof(type, field), sizeof((ptr)->field))
