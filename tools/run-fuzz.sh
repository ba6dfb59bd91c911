#!/usr/bin/env bash
# Builds bpnn's libFuzzer targets (tests/fuzz, clang-14, ASan + UBSan) in build-fuzz/ and runs them.
#   tools/run-fuzz.sh SECONDS      fuzz each target for SECONDS, going on after a finding; new
#                                  inputs accumulate in build-fuzz/work/TARGET/, findings go to
#                                  build-fuzz/artifacts/TARGET-DATE/
#   tools/run-fuzz.sh --regression the CI gate: every target over its regression inputs and seeds
#                                  (each input run once, in full), then a fixed number of mutations
#                                  from a fixed seed (-runs=N -seed=1), so the result never
#                                  depends on luck
# Exits non-zero on any crash, leak, timeout, out-of-memory or sanitizer report; exits 0 with
# "skipped: ..." when clang-14 or libFuzzer is not installed (tools/install-deps.sh installs them).
# Targets: csv (the CSV reader and data sets), model (load_model), weights (load_weights),
# fann (the FANN .data reader), idx (the IDX reader, plain and gzip).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 SECONDS | --regression" >&2; exit 2; }
[ $# -eq 1 ] || usage
mode=$1
case $mode in
  --regression) ;;
  *[!0-9]* | '' | 0) usage ;;
esac

targets=(csv model weights fann idx)
# Mutations per target in the gate: under a minute per target on one core (ASan + UBSan).
regression_runs=${BPNN_FUZZ_RUNS:-30000}
build=build-fuzz
# -timeout: seconds per input (the largest regression input takes about 4 s under ASan).
fuzz_options=(-rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ---- clang-14 with libFuzzer, or skip ----
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cpp"
if ! command -v clang++-14 >/dev/null ||
   ! clang++-14 -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>/dev/null; then
  echo "bpnn fuzz: skipped: clang-14/libFuzzer not installed (apt-get install clang-14 libfuzzer-14-dev libclang-rt-14-dev)"
  exit 0
fi

# ---- build ----
if [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S tests/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 "${launcher[@]}" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" >/dev/null

# Seeds saved by this tree's engine, header bit flips, and the large regression inputs.
generated=$build/generated
rm -rf "$generated"
"$build/corpus_writer" "$generated"

seed_dirs() {  # seed_dirs TARGET: the directories of valid and known-bad seeds
  local d
  for d in "tests/fuzz/corpus/$1" "$generated/corpus/$1"; do [ -d "$d" ] && echo "$d"; done
  return 0
}
regression_dirs() {  # regression_dirs TARGET
  local d
  for d in "tests/fuzz/regression/$1" "$generated/regression/$1"; do [ -d "$d" ] && echo "$d"; done
  case $1 in model | weights) echo "$generated/regression/header_flips" ;; esac
}

# The fixed-seed runs repeat exactly only without address randomisation (libFuzzer's tables of
# recent comparisons are indexed by code addresses) and with -reload=0 (rereading the corpus
# directory on a timer makes the path depend on speed).
no_aslr=()
setarch "$(uname -m)" -R true 2>/dev/null && no_aslr=(setarch "$(uname -m)" -R)

failed=()
for t in "${targets[@]}"; do
  bin=$build/fuzz_$t
  mapfile -t seeds < <(seed_dirs "$t")
  if [ "$mode" = --regression ]; then
    mapfile -t regressions < <(regression_dirs "$t")
    # New inputs a run finds go to a scratch directory, never into the committed corpus.
    scratch=$build/scratch/$t
    artifacts=$build/artifacts/regression-$t
    rm -rf "$scratch" "$artifacts" && mkdir -p "$scratch" "$artifacts"
    echo "== fuzz $t: regression inputs and seeds, each once" >&2
    if ! "$bin" "${fuzz_options[@]}" -timeout=60 -runs=0 -artifact_prefix="$artifacts/" \
        "$scratch" "${regressions[@]}" "${seeds[@]}" >"$build/$t-regression.log" 2>&1; then
      tail -n 60 "$build/$t-regression.log" >&2
      failed+=("$t (regression corpus; log $build/$t-regression.log)")
      # Name every failing input of the listed regression cases (not the bit flips: the artifact
      # above names the first of those).
      for d in "${regressions[@]}"; do
        [ "$(basename "$d")" = header_flips ] && continue
        for f in "$d"/*; do
          "$bin" "${fuzz_options[@]}" -timeout=60 "$f" >/dev/null 2>&1 || echo "   FAILS: $f" >&2
        done
      done
      continue
    fi
    echo "== fuzz $t: $regression_runs mutations from seed 1" >&2
    rm -rf "$scratch" && mkdir -p "$scratch"
    if ! "${no_aslr[@]}" "$bin" "${fuzz_options[@]}" -timeout=10 -runs="$regression_runs" -seed=1 -reload=0 -max_len=4096 \
        -artifact_prefix="$artifacts/" "$scratch" "${seeds[@]}" "tests/fuzz/regression/$t" \
        >"$build/$t-runs.log" 2>&1; then
      tail -n 60 "$build/$t-runs.log" >&2
      failed+=("$t (-runs=$regression_runs -seed=1; log $build/$t-runs.log)")
    fi
  else
    work=$build/work/$t
    artifacts=$build/artifacts/$t-$(date +%Y%m%d-%H%M%S)
    mkdir -p "$work" "$artifacts"
    echo "== fuzz $t for $mode s (corpus $work, findings $artifacts/)" >&2
    # One child process that is restarted after a finding, so one run reports them all.
    "$bin" "${fuzz_options[@]}" -timeout=10 -max_total_time="$mode" -max_len=4096 \
      -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
      -artifact_prefix="$artifacts/" "$work" "${seeds[@]}" "tests/fuzz/regression/$t" \
      >"$build/$t-fuzz.log" 2>&1 || true
    findings=$(find "$artifacts" -type f | wc -l)
    if [ "$findings" -gt 0 ]; then
      grep -E "fuzz finding|ERROR: (Address|Undefined|Leak)|runtime error|SUMMARY" "$build/$t-fuzz.log" | sort | uniq -c | sort -rn | head -n 20 >&2
      failed+=("$t ($findings inputs in $artifacts/; log $build/$t-fuzz.log)")
    else
      rmdir "$artifacts"
    fi
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "bpnn fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "bpnn fuzz: ${targets[*]}: no findings ($mode)"
