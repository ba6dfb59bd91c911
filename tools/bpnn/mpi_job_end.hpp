#pragma once
// Under mpirun: a failure this rank may hold alone, outside an agreement (an MPI error inside the
// gradient exchange, a rank out of memory). The other ranks may be waiting for this rank's
// messages, and MPI_Finalize would wait with them, so the whole job ends here (MPI_Abort) with the
// failure's exit code (README "Exit codes"), after one line naming the rank; mpirun prints its own
// lines after it. Failures every rank holds alike (AgreedError) end the job cleanly instead.
#if BPNN_HAVE_MPI
namespace bpnn::cli {

// Call inside a catch block: ends the job for the exception being handled. Returns its exit code
// only if MPI_Abort returns.
int mpi_job_end_current(int rank);

}  // namespace bpnn::cli
#endif
