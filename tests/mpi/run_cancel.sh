#!/bin/sh
# ctest "mpi_cancel" (label mpi): tests/mpi/mpi_cancel.cpp under mpirun -np 2, which cancels
# requests no peer matches and checks that later messages reach their own buffers. A receive
# left posted would swallow a later message and leave its new receive waiting: `timeout` ends such
# a run after 60 s and the test fails. Exit 77 (ctest: skipped) when mpirun is missing.
#   run_cancel.sh MPIRUN PROGRAM
set -u
mpirun=$1
program=$2
if ! command -v "$mpirun" >/dev/null 2>&1; then
  echo "SKIPPED: mpirun ($mpirun) not found: install openmpi-bin to run the MPI tests"
  exit 77
fi
flags="--oversubscribe"
[ "$(id -u)" = 0 ] && flags="$flags --allow-run-as-root"
timeout 60 "$mpirun" $flags -np 2 "$program"
code=$?
[ "$code" = 124 ] && { echo "FAIL: mpirun -np 2 $program did not end within 60 s (a cancelled request still matched)"; exit 1; }
[ "$code" = 0 ] || { echo "FAIL: mpirun -np 2 $program exited $code"; exit 1; }
