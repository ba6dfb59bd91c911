#!/bin/sh
# ctest "mpi_shard_memory" (label mpi): under mpirun each rank of `bpnn train` holds only its share
# of the data. A ~17 MB CSV (200 000 rows × 10 columns, made here and deleted after) is trained
# for one epoch under -np 1 and -np 4; BPNN_REPORT_PEAK_MEMORY=1 makes every rank print its peak
# resident memory (VmHWM). The data's cost on a rank is its VmHWM less that of the same run on a
# 1000-row file; each of 4 ranks must cost less than 0.6 of the single rank's (a quarter of the
# rows plus the reader's 8 MiB window; measured about 0.35), also with --val-split, where rank 0
# first reads the targets piece by piece to find the held-out rows (measured about 0.47), and
# for a --val FILE of the same size, which each rank reads only its blocks' rows of.
# Exit 77 (skipped) without mpirun.
#   run_shard_memory.sh MPIRUN BPNN
set -u
mpirun=$1
bpnn=$2
if ! command -v "$mpirun" >/dev/null 2>&1; then
  echo "SKIPPED: mpirun ($mpirun) not found: install openmpi-bin to run the MPI tests"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/bpnn_mpi_memory.XXXXXX")
trap 'rm -rf "$dir"' EXIT
flags="--oversubscribe -x BPNN_REPORT_PEAK_MEMORY"
[ "$(id -u)" = 0 ] && flags="$flags --allow-run-as-root"
fail() { echo "FAIL: $*" >&2; exit 1; }
awk 'BEGIN { srand(7); print "a,b,c,d,e,f,g,h,i,y";
             for (r = 0; r < 200000; r++) { s = ""; for (j = 0; j < 9; j++) s = s sprintf("%.6f,", rand() * 2 - 1);
                                             print s (rand() < 0.5 ? 0 : 1) } }' >"$dir/big.csv"
head -1001 "$dir/big.csv" >"$dir/small.csv"
# the largest VmHWM (kB) over the ranks of `mpirun -np P bpnn train FILE [OPTIONS]`
peak() {
  np=$1 file=$2
  shift 2
  BPNN_REPORT_PEAK_MEMORY=1 "$mpirun" $flags -np "$np" "$bpnn" train "$file" --layers 9,8,1 --batch 256 --epochs 1 \
    --threads 1 --quiet "$@" -o "$dir/model.safetensors" 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "mpirun -np $np on $file $*"; }
  [ "$(grep -c 'peak resident memory' "$dir/err.txt")" = "$np" ] || { cat "$dir/err.txt"; fail "-np $np: not one report per rank"; }
  sed -n 's/^# rank [0-9]*: peak resident memory \([0-9]*\) kB.*/\1/p' "$dir/err.txt" | sort -n | tail -1
}
one_big=$(peak 1 "$dir/big.csv") && one_small=$(peak 1 "$dir/small.csv") &&
  four_big=$(peak 4 "$dir/big.csv") && four_small=$(peak 4 "$dir/small.csv") || exit 1
one=$((one_big - one_small))
four=$((four_big - four_small))
echo "the data's cost: $one kB on 1 rank, at most $four kB on each of 4 ranks"
[ "$one" -gt 10000 ] || fail "the single rank's data cost ($one kB) is too small to measure"
[ $((four * 10)) -lt $((one * 6)) ] || fail "each of 4 ranks costs $four kB, not below 0.6 of one rank's $one kB"
four_split=$(( $(peak 4 "$dir/big.csv" --val-split 0.1) - $(peak 4 "$dir/small.csv" --val-split 0.1) )) || exit 1
echo "with --val-split 0.1: at most $four_split kB on each of 4 ranks"
[ $((four_split * 10)) -lt $((one * 6)) ] ||
  fail "with --val-split each of 4 ranks costs $four_split kB, not below 0.6 of one rank's $one kB"
# --val FILE is read in shards too: trained on the 1000-row file, the validation file's cost is
# the VmHWM with --val big.csv less that with --val small.csv; each of 4 ranks must cost less
# than 0.6 of the single rank's (before, every rank read the whole validation file)
val_one_big=$(peak 1 "$dir/small.csv" --val "$dir/big.csv") && val_one_small=$(peak 1 "$dir/small.csv" --val "$dir/small.csv") &&
  val_four_big=$(peak 4 "$dir/small.csv" --val "$dir/big.csv") &&
  val_four_small=$(peak 4 "$dir/small.csv" --val "$dir/small.csv") || exit 1
val_one=$((val_one_big - val_one_small))
val_four=$((val_four_big - val_four_small))
echo "--val FILE's cost: $val_one kB on 1 rank, at most $val_four kB on each of 4 ranks"
[ "$val_one" -gt 10000 ] || fail "the single rank's --val cost ($val_one kB) is too small to measure"
[ $((val_four * 10)) -lt $((val_one * 6)) ] ||
  fail "with --val FILE each of 4 ranks costs $val_four kB, not below 0.6 of one rank's $val_one kB"
# `bpnn bench` under mpirun: each rank runs the synthetic data's generator through and keeps only
# its blocks' rows. A custom workload of wide rows and a tiny network (2000-1-1, batch 64, f64:
# 4096 rows of 2001 values, 64 MiB; an f64 trainer uses the rows in place) under -np 4: the
# data's cost on ranks 1 to 3 (rank 0 also trains the 1-process reference on the whole data) is
# their VmHWM less that of a 20-1-1 workload's; it must be below half the whole data (a quarter,
# measured about 0.25; before, every rank held the whole data in f32 and its f64 copy, 1.5x)
if "$bpnn" bench --help >/dev/null 2>&1; then
  bench_peak() {  # the largest VmHWM (kB) of ranks 1 to 3 of `bpnn bench --layers LAYERS` under -np 4
    BPNN_REPORT_PEAK_MEMORY=1 "$mpirun" $flags -np 4 "$bpnn" bench --layers "$1" --batch 64 --precision f64 \
      --threads 1 >"$dir/out.txt" 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "mpirun -np 4 bpnn bench --layers $1"; }
    [ "$(grep -c 'peak resident memory' "$dir/err.txt")" = 4 ] || { cat "$dir/err.txt"; fail "bench -np 4: not one report per rank"; }
    sed -n 's/^# rank [1-9][0-9]*: peak resident memory \([0-9]*\) kB.*/\1/p' "$dir/err.txt" | sort -n | tail -1
  }
  wide=$(bench_peak 2000,1,1) && narrow=$(bench_peak 20,1,1) || exit 1
  whole=$((4096 * 2001 * 8 / 1024))
  bench_cost=$((wide - narrow))
  echo "bench: the synthetic data's cost on each of ranks 1 to 3 of 4: at most $bench_cost kB, the whole data $whole kB"
  [ $((bench_cost * 2)) -lt "$whole" ] || fail "bench: a rank of 4 costs $bench_cost kB, not below half the whole data's $whole kB"
fi
echo "PASS"
