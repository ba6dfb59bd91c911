#!/bin/sh
# ctest "mpi_cli" (label mpi): `mpirun -np P bpnn train`:
#   - P = 1, 2, 3, 4 write the same model, bit for bit (rank 0 alone writes it and prints), with a
#     validation split, a plateau schedule, early stopping, --scale standard and --label: each rank
#     reads only its blocks' rows of iris.csv (sorted by species, so no rank alone sees every class
#     for P = 3, 4), and the ranks agree on the scaler and the class set;
#   - --val-split holds out the rows a run without MPI holds out;
#   - --val FILE is read in shards (each rank its blocks' rows): the same model and history for
#     P = 1, 2, 3 with early stopping, the same validation score as without MPI, and a corrupt
#     row in rank 1's part is found by rank 1 alone (one line naming rank 1 and FILE:LINE:COLUMN);
#   - --test FILE is read and scored by rank 0 alone (rank 1 never opens it), and a bad one ends
#     the job with one line, exit 3 and no model;
#   - a run checkpointed under P = 2 and resumed under P = 3 ends with the model of an
#     uninterrupted P = 1 run;
#   - --batch 1 under P = 2 exits 2 and writes no model; so do ranks on other kernels (BPNN_ARCH)
#     and ranks started with another command line (other --layers, --lr, --val-split, --scale, a
#     --checkpoint on one rank), while ranks with other thread counts train;
#   - failures end the job cleanly, with the error's exit code on every rank, a message naming
#     the rank and no model: rank 0 cannot write its checkpoint (exit 4), nor the model (exit 4),
#     a corrupt row in the data (exit 3), a corrupt row in rank 2's rows alone (exit 3, the message
#     names rank 2 and FILE:LINE:COLUMN), a diverging run (exit 6); the error line is printed once,
#     by rank 0;
#   - `bpnn bench` under mpirun prints one line per workload, from rank 0.
# Exit 77 (ctest: skipped) when mpirun is missing.
#   run_cli.sh MPIRUN BPNN DATA_DIR
set -u
mpirun=$1
bpnn=$2
data=$3/iris.csv
if ! command -v "$mpirun" >/dev/null 2>&1; then
  echo "SKIPPED: mpirun ($mpirun) not found: install openmpi-bin to run the MPI tests"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/bpnn_mpi_cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT
flags="--oversubscribe"
[ "$(id -u)" = 0 ] && flags="$flags --allow-run-as-root"
fail() { echo "FAIL: $*"; exit 1; }
common="--layers 4,8,3 --label species --hidden-act tanh --output-act softmax --loss xent --optimizer adam --lr 0.3
        --batch 50 --val-split 0.2 --scale standard --seed 5 --schedule plateau:1:0.5 --early-stop 3"

for p in 1 2 3 4; do
  "$mpirun" $flags -np "$p" "$bpnn" train "$data" $common --epochs 8 -o "$dir/model$p.safetensors" \
    >"$dir/out$p.txt" 2>"$dir/err$p.txt" || { cat "$dir/err$p.txt"; fail "mpirun -np $p bpnn train exited $?"; }
done
cmp -s "$dir/model1.safetensors" "$dir/model2.safetensors" || fail "the -np 2 model differs from -np 1"
cmp -s "$dir/model1.safetensors" "$dir/model3.safetensors" || fail "the -np 3 model differs from -np 1"
cmp -s "$dir/model1.safetensors" "$dir/model4.safetensors" || fail "the -np 4 model differs from -np 1"
[ "$(grep -c '^# saved' "$dir/out3.txt")" = 1 ] || { cat "$dir/out3.txt"; fail "-np 3: not exactly one '# saved' line (rank 0 alone prints)"; }
echo "ok: -np 1, 2, 3, 4 write the same model"

# --val-split under MPI holds out the rows a run without MPI holds out (the stratified split of
# the whole file, found by rank 0 reading iris.csv a piece at a time): with --lr 0 the network
# never changes, so both score the same rows with the same network
split="--layers 4,5,3 --label species --lr 0 --epochs 1 --val-split 0.3 --seed 11 --batch 48"
"$bpnn" train "$data" $split --history "$dir/split0.csv" -o "$dir/split0.safetensors" >/dev/null 2>"$dir/err.txt" ||
  { cat "$dir/err.txt"; fail "the --val-split run without MPI"; }
"$mpirun" $flags -np 3 "$bpnn" train "$data" $split --history "$dir/split3.csv" -o "$dir/split3.safetensors" \
  >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "the --val-split run under -np 3"; }
# columns: epoch,train_loss,val_loss,train_accuracy,val_accuracy,...
awk -F, 'NR == FNR && FNR == 2 { loss = $3; acc = $5; next }
         FNR == 2 { d = $3 - loss; if (d < 0) d = -d; if (d > 1e-12 * loss || $5 != acc) exit 1; ok = 1 }
         END { exit ok ? 0 : 1 }' "$dir/split0.csv" "$dir/split3.csv" ||
  { cat "$dir/split0.csv" "$dir/split3.csv"; fail "-np 3 --val-split scored other rows than the run without MPI"; }
echo "ok: --val-split under -np 3 holds out the rows of the run without MPI"

# --val FILE under MPI: every third row of iris.csv (50 rows, every class) is the validation
# file, the others the training file; each rank reads only its blocks' rows of both. The
# validation loss is summed block by block in block order, so the model (early stopping keeps the
# best epoch) and every epoch's figures are the same for P = 1, 2, 3.
awk 'NR == 1 || NR % 3 != 0' "$data" >"$dir/train.csv"
awk 'NR == 1 || NR % 3 == 0' "$data" >"$dir/val.csv"
valrun="--layers 4,8,3 --label species --hidden-act tanh --output-act softmax --loss xent --optimizer adam --lr 0.3
        --batch 50 --scale standard --seed 5 --early-stop 2"
for p in 1 2 3; do
  "$mpirun" $flags -np "$p" "$bpnn" train "$dir/train.csv" $valrun --epochs 30 --val "$dir/val.csv" --history "$dir/valh$p.csv" \
    -o "$dir/val$p.safetensors" >"$dir/out.txt" 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "-np $p --val FILE"; }
  cut -d, -f1-6 "$dir/valh$p.csv" >"$dir/valh$p.txt"  # without the seconds
done
grep -q '^# early stop' "$dir/out.txt" || { cat "$dir/out.txt"; fail "--val FILE: the run did not stop early"; }
for p in 2 3; do
  cmp -s "$dir/val1.safetensors" "$dir/val$p.safetensors" || fail "--val FILE: the -np $p model differs from -np 1"
  cmp -s "$dir/valh1.txt" "$dir/valh$p.txt" || { diff "$dir/valh1.txt" "$dir/valh$p.txt"; fail "--val FILE: the -np $p history differs from -np 1"; }
done
echo "ok: --val FILE read in shards: -np 1, 2, 3 write the same model and history, early stopping after $(($(wc -l <"$dir/valh1.txt") - 1)) epochs"
# the checkpoint's validation fingerprint is the same for every P: 4 epochs under -np 2, resumed
# under -np 3, end with the uninterrupted run's model (early stopping's state carried over; both
# with --checkpoint, which puts the data's stamp into the model)
"$mpirun" $flags -np 1 "$bpnn" train "$dir/train.csv" $valrun --epochs 30 --val "$dir/val.csv" --checkpoint "$dir/valstraight.ckpt" \
  -o "$dir/valstraight.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "--val FILE: the uninterrupted run"; }
"$mpirun" $flags -np 2 "$bpnn" train "$dir/train.csv" $valrun --epochs 4 --val "$dir/val.csv" --checkpoint "$dir/val.ckpt" \
  -o "$dir/valhalf.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "--val FILE: the first half under -np 2"; }
"$mpirun" $flags -np 3 "$bpnn" train "$dir/train.csv" --resume "$dir/val.ckpt" --epochs 30 --val "$dir/val.csv" \
  -o "$dir/valresumed.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "--val FILE: resumed under -np 3"; }
cmp -s "$dir/valstraight.safetensors" "$dir/valresumed.safetensors" || fail "--val FILE: resumed under -np 3 differs from the uninterrupted run"
echo "ok: --val FILE: checkpointed under -np 2, resumed under -np 3: the uninterrupted run's model"
# with --lr 0 the network never changes: -np 3 scores the validation file as a run without MPI does
"$bpnn" train "$dir/train.csv" --layers 4,5,3 --label species --lr 0 --epochs 1 --batch 48 --val "$dir/val.csv" \
  --history "$dir/val0.csv" -o "$dir/val0.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "--val FILE without MPI"; }
"$mpirun" $flags -np 3 "$bpnn" train "$dir/train.csv" --layers 4,5,3 --label species --lr 0 --epochs 1 --batch 48 \
  --val "$dir/val.csv" --history "$dir/val3.csv" -o "$dir/val3.safetensors" >/dev/null 2>"$dir/err.txt" ||
  { cat "$dir/err.txt"; fail "--val FILE under -np 3 with --lr 0"; }
awk -F, 'NR == FNR && FNR == 2 { loss = $3; acc = $5; next }
         FNR == 2 { d = $3 - loss; if (d < 0) d = -d; if (d > 1e-12 * loss || $5 != acc) exit 1; ok = 1 }
         END { exit ok ? 0 : 1 }' "$dir/val0.csv" "$dir/val3.csv" ||
  { cat "$dir/val0.csv" "$dir/val3.csv"; fail "-np 3 scored --val FILE otherwise than the run without MPI"; }
echo "ok: --val FILE under -np 3 scores what a run without MPI scores"

# --test FILE: rank 0 alone scores it, so rank 1, started in a folder where the relative path
# names no file, never opens it
mkdir "$dir/rank1"
cp "$dir/val.csv" "$dir/test.csv"
(cd "$dir" && "$mpirun" $flags -np 2 sh -c '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && cd rank1; exec "$0" "$@"' \
  "$bpnn" train "$dir/train.csv" --layers 4,8,3 --label species --batch 50 --epochs 2 --test test.csv \
  -o "$dir/test.safetensors" >"$dir/out.txt" 2>"$dir/err.txt") ||
  { cat "$dir/err.txt"; fail "--test FILE under -np 2: rank 1 read it"; }
grep -q 'test_loss' "$dir/out.txt" || { cat "$dir/out.txt"; fail "--test FILE under -np 2: no test_loss in the epoch lines"; }
echo "ok: --test FILE under -np 2 is read by rank 0 alone"

# checkpoint under P = 2, resume under P = 3, against an uninterrupted run (the plateau schedule
# halves the rate in epoch 7 and early stopping ends the run there, keeping epoch 4)
"$mpirun" $flags -np 1 "$bpnn" train "$data" $common --epochs 8 --checkpoint "$dir/straight.ckpt" \
  -o "$dir/straight.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "the uninterrupted run"; }
"$mpirun" $flags -np 2 "$bpnn" train "$data" $common --epochs 4 --checkpoint "$dir/run.ckpt" \
  -o "$dir/half.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "the first half under -np 2"; }
"$mpirun" $flags -np 3 "$bpnn" train "$data" --resume "$dir/run.ckpt" --epochs 8 --checkpoint "$dir/run.ckpt" \
  -o "$dir/resumed.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "the resumed half under -np 3"; }
cmp -s "$dir/straight.safetensors" "$dir/resumed.safetensors" || fail "resumed under -np 3 differs from the uninterrupted run"
echo "ok: checkpointed under -np 2, resumed under -np 3: the uninterrupted run's model"

# a batch of fewer shards than ranks trains, with one warning (rank 0's) naming a batch that fits
"$mpirun" $flags -np 3 "$bpnn" train "$data" --layers 4,8,3 --label species --batch 20 --epochs 1 \
  -o "$dir/small.safetensors" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt"; fail "--batch 20 under -np 3"; }
[ "$(grep -c 'ranks 2 and up hold no rows.*--batch 33 or more' "$dir/err.txt")" = 1 ] ||
  { cat "$dir/err.txt"; fail "--batch 20 under -np 3: not one warning naming --batch 33"; }
echo "ok: --batch 20 under -np 3 warns once that rank 2 holds no rows"

# batch 1 cannot be split: exit 2, no model
"$mpirun" $flags -np 2 "$bpnn" train "$data" --layers 4,8,3 --label species --epochs 1 --batch 1 \
  -o "$dir/batch1.safetensors" >/dev/null 2>"$dir/err.txt"
code=$?
[ "$code" = 2 ] || { cat "$dir/err.txt"; fail "--batch 1 under -np 2 exited $code, not 2"; }
[ ! -e "$dir/batch1.safetensors" ] || fail "--batch 1 under -np 2 wrote a model"
echo "ok: --batch 1 under -np 2 exits 2"
# rank 0 cannot write (/sys refuses new files, even to root): every rank ends with exit 4
ranks=3
expect_failure() {  # CODE WHAT ARGS... (under -np $ranks)
  want=$1
  what=$2
  shift 2
  "$mpirun" $flags -np "$ranks" "$bpnn" train "$@" >/dev/null 2>"$dir/err.txt"
  code=$?
  [ "$code" = "$want" ] || { cat "$dir/err.txt"; fail "$what: exit $code, not $want"; }
  grep -q "^bpnn: rank [0-9]: " "$dir/err.txt" || { cat "$dir/err.txt"; fail "$what: no message naming the rank"; }
  [ "$(grep -c '^bpnn: ' "$dir/err.txt")" = 1 ] || { cat "$dir/err.txt"; fail "$what: not exactly one error line"; }
  [ ! -e "$dir/failed.safetensors" ] || fail "$what: a model was written"
  # an agreed failure ends every rank cleanly: no rank ends the job with MPI_Abort
  ! grep -q MPI_ABORT "$dir/err.txt" || { cat "$dir/err.txt"; fail "$what: the job was aborted, not ended cleanly"; }
  echo "ok: $what: exit $want, $(grep -m1 '^bpnn: rank' "$dir/err.txt")"
}
expect_failure 4 "rank 0 cannot write the checkpoint" "$data" $common --epochs 3 --checkpoint /sys/bpnn-test.ckpt \
  -o "$dir/failed.safetensors"
expect_failure 4 "rank 0 cannot write the model" "$data" $common --epochs 3 -o /sys/bpnn-test.safetensors
sed '70s/^[0-9.]*,/x5.1,/' "$data" >"$dir/corrupt.csv"
grep -q '^x5.1,' "$dir/corrupt.csv" || fail "could not corrupt the data for the test"
expect_failure 3 "a corrupt row" "$dir/corrupt.csv" $common --epochs 3 -o "$dir/failed.safetensors"
# a diverging run: every rank finds the same infinite loss at the same step (each sums the shards'
# losses in shard order), so it is one agreed error: exit 6, printed once, no model
"$mpirun" $flags -np 3 "$bpnn" train "$data" --layers 4,8,3 --label species --batch 50 --hidden-act relu \
  --output-act linear --lr 1e30 --epochs 5 -o "$dir/failed.safetensors" >/dev/null 2>"$dir/err.txt"
code=$?
[ "$code" = 6 ] || { cat "$dir/err.txt"; fail "a diverging run under -np 3 exited $code, not 6"; }
[ "$(grep -c '^bpnn: ' "$dir/err.txt")" = 1 ] || { cat "$dir/err.txt"; fail "a diverging run: not exactly one error line"; }
grep -q '^bpnn: training diverged' "$dir/err.txt" || { cat "$dir/err.txt"; fail "a diverging run: no divergence message"; }
[ ! -e "$dir/failed.safetensors" ] || fail "a diverging run wrote a model"
echo "ok: a diverging run under -np 3: exit 6, one error line, no model"
# ranks on other kernels (BPNN_ARCH=sse2 on rank 1 only) would compute their shards in another
# order: refused on every rank (exit 2), unless sse2 is this CPU's own choice too
"$mpirun" $flags -np 2 sh -c '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export BPNN_ARCH=sse2; exec "$0" "$@"' \
  "$bpnn" train "$data" --layers 4,8,3 --label species --batch 50 --epochs 2 -o "$dir/failed.safetensors" \
  >/dev/null 2>"$dir/err.txt"
code=$?
if [ "$code" = 0 ]; then
  echo "note: sse2 is this CPU's own kernel choice: no mixed kernels to refuse"
  rm -f "$dir/failed.safetensors"
else
  [ "$code" = 2 ] || { cat "$dir/err.txt"; fail "mixed kernels exited $code, not 2"; }
  grep -q "rank 1 runs the sse2 kernels" "$dir/err.txt" || { cat "$dir/err.txt"; fail "mixed kernels: no message naming them"; }
  [ ! -e "$dir/failed.safetensors" ] || fail "mixed kernels wrote a model"
  echo "ok: rank 1 on sse2 kernels: exit 2, $(grep -m1 '^bpnn: ' "$dir/err.txt")"
fi
# ranks started with other command lines (MPMD) would exchange gradients of other sizes, make
# collectives the others do not (--val-split, --scale, --checkpoint on one rank: the job hung), or
# apply other updates: refused on every rank before anything else is exchanged (exit 2), one line
# naming rank 1 and the first option that differs, no model; the thread count may differ
for case in "--layers 4,16,3|--layers" "--layers 4,8,3 --lr 0.2|--lr" "--layers 4,8,3 --val-split 0.2|--val-split" \
            "--layers 4,8,3 --scale standard|--scale" "--layers 4,8,3 --checkpoint $dir/one.ckpt|--checkpoint"; do
  other=${case%|*}
  part=${case#*|}
  timeout 120 "$mpirun" $flags -np 1 "$bpnn" train "$data" --layers 4,8,3 --label species --batch 50 --epochs 2 \
    -o "$dir/failed.safetensors" : -np 1 "$bpnn" train "$data" $other --label species --batch 50 --epochs 2 \
    -o "$dir/failed.safetensors" >/dev/null 2>"$dir/err.txt"
  code=$?
  [ "$code" = 2 ] || { cat "$dir/err.txt"; fail "rank 1 with $other exited $code, not 2"; }
  [ "$(grep -c '^bpnn: ' "$dir/err.txt")" = 1 ] &&
    grep -q "^bpnn: data-parallel training: rank 1 and rank 0 differ in their $part;" "$dir/err.txt" ||
    { cat "$dir/err.txt"; fail "rank 1 with $other: not one line naming rank 1 and its $part"; }
  [ ! -e "$dir/failed.safetensors" ] || fail "rank 1 with $other: a model was written"
  echo "ok: rank 1 with $other: exit 2, $(grep -m1 '^bpnn: ' "$dir/err.txt")"
done
timeout 120 "$mpirun" $flags -np 1 "$bpnn" train "$data" --layers 4,8,3 --label species --batch 50 --epochs 2 \
  --threads 1 -o "$dir/threads.safetensors" : -np 1 "$bpnn" train "$data" --layers 4,8,3 --label species --batch 50 \
  --epochs 2 --threads 2 -o "$dir/threads.safetensors" >/dev/null 2>"$dir/err.txt" ||
  { cat "$dir/err.txt"; fail "ranks with 1 and 2 threads did not train"; }
echo "ok: ranks with 1 and 2 threads train together"
# line 140 lies in the blocks of rank 2 of 3 (the last of 4 blocks): only rank 2 reads it (without
# --val-split: with it, rank 0 reads the whole file's targets first and finds the row itself)
sed '140s/^[0-9.]*,/x5.1,/' "$data" >"$dir/corrupt.csv"
grep -q '^x5.1,' "$dir/corrupt.csv" || fail "could not corrupt the data for the test"
expect_failure 3 "a corrupt row in rank 2's shard" "$dir/corrupt.csv" --layers 4,8,3 --label species --batch 50 \
  --scale standard --seed 5 --epochs 3 -o "$dir/failed.safetensors"
grep -q "^bpnn: rank 2: $dir/corrupt.csv:140:1: " "$dir/err.txt" ||
  { cat "$dir/err.txt"; fail "a corrupt row in rank 2's shard: the message does not name rank 2 and FILE:140:1"; }
# a corrupt row in rank 1's part of --val FILE: its 50 rows are cut into the 4 blocks of --batch 50
# (13, 13, 12, 12 rows); under -np 2 rank 1 holds blocks 2 and 3, rows 26 to 49 (lines 28 to 51),
# and only rank 1 reads them
ranks=2
sed '40s/^[0-9.]*,/x5.1,/' "$dir/val.csv" >"$dir/corrupt_val.csv"
grep -q '^x5.1,' "$dir/corrupt_val.csv" || fail "could not corrupt the validation file for the test"
expect_failure 3 "a corrupt row in rank 1's part of --val FILE" "$dir/train.csv" --layers 4,8,3 --label species \
  --batch 50 --epochs 2 --val "$dir/corrupt_val.csv" -o "$dir/failed.safetensors"
grep -q "^bpnn: rank 1: $dir/corrupt_val.csv:40:1: " "$dir/err.txt" ||
  { cat "$dir/err.txt"; fail "a corrupt row in rank 1's part of --val FILE: the message does not name rank 1 and FILE:40:1"; }
# a bad --test FILE under -np 2: rank 0 alone reads it, and the job ends with its one line
sed '5s/^[0-9.]*,/x5.1,/' "$dir/test.csv" >"$dir/corrupt_test.csv"
expect_failure 3 "a corrupt row in --test FILE" "$dir/train.csv" --layers 4,8,3 --label species --batch 50 --epochs 2 \
  --test "$dir/corrupt_test.csv" -o "$dir/failed.safetensors"
grep -q "^bpnn: rank 0: $dir/corrupt_test.csv:5:1: " "$dir/err.txt" ||
  { cat "$dir/err.txt"; fail "a corrupt row in --test FILE: the message does not name rank 0 and FILE:5:1"; }
ranks=3
# bpnn bench under mpirun (when the CLI has bench): one line per mini-batch workload
if "$bpnn" bench --help >/dev/null 2>&1; then
  "$mpirun" $flags -np 2 "$bpnn" bench --workload mnist --threads 1 --smoke >"$dir/bench.txt" 2>&1 ||
    { cat "$dir/bench.txt"; fail "mpirun -np 2 bpnn bench"; }
  grep -q "^train/mnist/ranks:2/threads:1 " "$dir/bench.txt" || { cat "$dir/bench.txt"; fail "bench: no mnist line"; }
  [ "$(grep -c '^train/' "$dir/bench.txt")" = 1 ] || { cat "$dir/bench.txt"; fail "bench: rank 0 alone prints"; }
  echo "ok: mpirun -np 2 bpnn bench"
fi
echo "PASS"
