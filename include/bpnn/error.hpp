#pragma once
// Errors of the C++ API: every failure is a bpnn::Error carrying a kind and a clear message.
#include <stdexcept>
#include <string>

#include "bpnn/export.hpp"

namespace bpnn {

enum class ErrorKind {
  argument,   // a caller passed something invalid (bad option, wrong shape, ...)
  data,       // input data is malformed (CSV syntax, NaN, wrong column count, ...)
  io,         // a file could not be opened, read, written or renamed
  format,     // a model file is malformed or corrupt
  nonfinite,  // training produced a NaN or infinite loss or weight
  internal,   // a bug in bpnn
  busy,       // the network is already in use by a mutating call (training, set_layer, ...)
};

class BPNN_API Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace bpnn
