#pragma once
// MPI for a program that may or may not run under a launcher (the bpnn CLI): mpi_launched tells
// whether mpirun (or another launcher) started this process, and MpiSession initialises MPI for
// its lifetime. A program started without a launcher never calls MPI_Init.
namespace bpnn {

// Whether a launcher started this process: Open MPI's OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK or
// the PMI of MPICH and Slurm (PMI_SIZE) is set.
bool mpi_launched();

// MPI_Init_thread (MPI_THREAD_FUNNELED: only the thread that made the session calls MPI) in the
// constructor, MPI_Finalize in the destructor; nothing when MPI was already initialised by the
// program (then the program finalises it).
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool owns_ = false;
};

}  // namespace bpnn
