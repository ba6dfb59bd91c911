#pragma once
// The CLI's exit codes, documented in README.md.
#include "bpnn/error.hpp"

namespace bpnn::cli {

enum ExitCode : int {
  exit_ok = 0,
  exit_internal = 1,   // a bug in bpnn
  exit_usage = 2,      // bad command line or option value
  exit_data = 3,       // malformed input data (CSV)
  exit_io = 4,         // a file could not be read or written
  exit_format = 5,     // a malformed or corrupt model file
  exit_diverged = 6,   // training produced a NaN or infinite loss
  exit_memory = 7,     // out of memory (an allocation failed)
  exit_check_failed = 8,  // bpnn check-grad: back-propagation differs from finite differences
};

inline int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::argument: return exit_usage;
    case ErrorKind::data: return exit_data;
    case ErrorKind::io: return exit_io;
    case ErrorKind::format: return exit_format;
    case ErrorKind::nonfinite: return exit_diverged;
    case ErrorKind::internal: return exit_internal;
    case ErrorKind::busy: return exit_internal;  // the CLI never shares a network between threads
  }
  return exit_internal;
}

}  // namespace bpnn::cli
