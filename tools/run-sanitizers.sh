#!/usr/bin/env bash
# Builds the sanitizer suite and runs the ctest label "sanitize" (tools/run-tests.sh calls it):
#   build-asan: AddressSanitizer (leaks included) + UndefinedBehaviorSanitizer
#   build-tsan: ThreadSanitizer
# Under ASan+UBSan the label holds the C API tests (tests/capi: every C API function and error
# path, 8 threads predicting on one net while another trains), the Catch2 cases tagged [parallel]
# (bit-identical models across thread counts, a stress run of many concurrent short trainings),
# [io] (safetensors, model files, CRC), [data] (CSV reader, datasets), [capi] (C API against
# C++) and [cli] (the instrumented bpnn binary on good and bad input). Under TSan only the threads test and [parallel] (libtbb is not TSan-instrumented; there
# the trainer runs its tasks on std::threads). See tests/CMakeLists.txt and tests/capi/.
# The per-ISA kernel files are compiled uninstrumented (CMakeLists.txt); the Release suite's
# guard-page test ([guard]) checks their bounds instead.
# Usage: tools/run-sanitizers.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
run() {  # run NAME SANITIZERS
  local dir=build-$1
  echo "== $1: -fsanitize=$2 in $dir" >&2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBPNN_SANITIZE="$2" \
    -DBPNN_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j "$jobs" --target test_capi test_capi_threads bpnn_tests
  ctest --test-dir "$dir" -L sanitize --output-on-failure -j "$jobs"
}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(asan tsan)
for t in "${targets[@]}"; do
  case $t in
    asan) run asan address,undefined ;;
    tsan) run tsan thread ;;
    *) echo "usage: $0 [asan|tsan]..." >&2; exit 2 ;;
  esac
done
