// MPI for programs that may run under a launcher; see mpi_session.hpp.
#include "mpi/mpi_session.hpp"

#include <mpi.h>

#include <cstdlib>

#include "bpnn/error.hpp"

namespace bpnn {

bool mpi_launched() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return true;
  return false;
}

MpiSession::MpiSession() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw Error(ErrorKind::io, "MPI_Init_thread failed");
  owns_ = true;
}

MpiSession::~MpiSession() {
  if (owns_) MPI_Finalize();
}

}  // namespace bpnn
