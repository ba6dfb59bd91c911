#include "mpi_job_end.hpp"

#if BPNN_HAVE_MPI
#include <mpi.h>

#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "bpnn/error.hpp"
#include "exit_codes.hpp"
#include "message_line.hpp"

namespace bpnn::cli {

int mpi_job_end_current(int rank) {
  std::string message;
  int code = exit_internal;
  try {
    throw;
  } catch (const Error& e) {
    message = e.what();
    code = exit_code_for(e.kind());
  } catch (const std::bad_alloc&) {
    message = "out of memory";
    code = exit_memory;
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "an unknown exception";
  }
  std::fprintf(stderr, "bpnn: rank %d: %s\n", rank, message_one_line(message).c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  return code;
}

}  // namespace bpnn::cli
#endif
