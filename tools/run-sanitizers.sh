#!/usr/bin/env bash
# Builds the C API tests with sanitizers and runs the ctest label "sanitize":
#   build-asan: AddressSanitizer (leaks included) + UndefinedBehaviorSanitizer
#   build-tsan: ThreadSanitizer
# The tests (tests/capi: every C API function and error path, 8 threads predicting on one net
# while another trains) carry that label only in a build configured with -DBPNN_SANITIZE; under
# TSan only the threads test does, training serially (libtbb is not TSan-instrumented). The
# multicore trainer tests ([parallel]: bit-identical models across thread counts, a stress run of
# many concurrent short trainings) carry the label in both builds.
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
  ctest --test-dir "$dir" -L sanitize --output-on-failure
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
