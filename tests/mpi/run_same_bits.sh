#!/bin/sh
# ctest "mpi_same_bits" (label mpi): runs tests/mpi/mpi_same_bits.cpp under mpirun for P = 1, 2,
# 3 and 4 ranks (one launch each, every combination inside it) and compares the trained
# parameters byte for byte across P and across the threads per rank. Exit 77 (ctest: skipped)
# when mpirun is missing. CAPI_PROGRAM (tests/mpi/mpi_capi.c) trains through the C API; its
# result too must be the same for every P.
#   run_same_bits.sh MPIRUN PROGRAM CAPI_PROGRAM
set -u
mpirun=$1
program=$2
capi_program=$3
if ! command -v "$mpirun" >/dev/null 2>&1; then
  echo "SKIPPED: mpirun ($mpirun) not found: install openmpi-bin to run the MPI tests"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/bpnn_mpi_same_bits.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# as root mpirun refuses to run without --allow-run-as-root; --oversubscribe: more ranks than cores
flags="--oversubscribe"
[ "$(id -u)" = 0 ] && flags="$flags --allow-run-as-root"
for p in 1 2 3 4; do
  mkdir "$dir/p$p"
  extra=""
  [ "$p" = 1 ] && extra="--plain"
  if ! "$mpirun" $flags -np "$p" "$program" "$dir/p$p" $extra; then
    echo "FAIL: mpirun -np $p $program exited with an error"
    exit 1
  fi
  if ! "$mpirun" $flags -np "$p" "$capi_program" "$dir/p$p"; then
    echo "FAIL: mpirun -np $p $capi_program exited with an error"
    exit 1
  fi
done
status=0
count=0
for f in "$dir"/p1/f*_t1.bin; do
  base=$(basename "$f" _t1.bin)
  for p in 1 2 3 4; do
    for t in 1 2; do
      other="$dir/p$p/${base}_t$t.bin"
      count=$((count + 1))
      if ! cmp -s "$f" "$other"; then
        echo "FAIL: $base: P=$p, $t threads per rank differs from P=1, 1 thread"
        status=1
      fi
    done
  done
  # informational: a run without MPI (README "Training on many machines (MPI)")
  if cmp -s "$f" "$dir/p1/${base}_t1.plain.bin"; then
    echo "note: $base: -np 1 equals the run without MPI"
  else
    echo "note: $base: -np 1 differs from the run without MPI (shard tree vs one batch sum)"
  fi
done
for p in 2 3 4; do
  count=$((count + 1))
  if ! cmp -s "$dir/p1/capi.bin" "$dir/p$p/capi.bin"; then
    echo "FAIL: the C API's training under P=$p differs from P=1"
    status=1
  fi
done
[ "$count" -gt 0 ] || { echo "FAIL: no results written"; exit 1; }
[ "$status" = 0 ] && echo "PASS: $count trainings, the same bits for P = 1..4 and 1, 2 threads per rank"
exit $status
