#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run) and the README's test command:
#   1. installs the dependencies;
#   2. builds bpnn (Release, -Werror) in build/ and runs every test through ctest;
#   3. builds the sanitizer suite in build-asan/ (ASan+UBSan: the C API, the multicore trainer,
#      the model and data readers; tools/run-sanitizers.sh) and runs it;
#   4. runs the fuzz regression corpus.
# Between 2 and 3 it builds the CLI without MPI (build-nompi/) and trains with it.
# BPNN_TEST_SANITIZERS names the sanitizer suites of step 3 (default "asan"; "asan tsan" adds the
# ThreadSanitizer suite in build-tsan/, "" skips step 3). Any failure stops the script with a
# non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)

echo "== Release suite (build/)" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBPNN_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

# The configuration without MPI (BPNN_WITH_MPI=OFF): libbpnn and the CLI must build and train
# without libmpi. Only the CLI and the Catch2 suite's CLI training cases, to keep CI time down.
echo "== without MPI (build-nompi/)" >&2
cmake -S . -B build-nompi -DCMAKE_BUILD_TYPE=Release -DBPNN_WERROR=ON -DBPNN_WITH_MPI=OFF \
  -DBPNN_BUILD_BENCH=OFF -DBPNN_BUILD_TESTS=OFF >/dev/null
cmake --build build-nompi -j "$jobs" --target bpnn_cli
if ldd build-nompi/bpnn | grep -q libmpi; then
  echo "build-nompi/bpnn links libmpi" >&2
  exit 1
fi
build-nompi/bpnn train tools/data/iris.csv --layers 4,8,3 --label species --output-act softmax --loss xent \
  --epochs 2 --batch 8 --quiet -o build-nompi/iris-model.safetensors

read -r -a sanitizers <<< "${BPNN_TEST_SANITIZERS-asan}"
if [ ${#sanitizers[@]} -gt 0 ]; then
  tools/run-sanitizers.sh "${sanitizers[@]}"
fi

# The fuzz gate: every regression and seed input once, then 30000 mutations from a fixed seed per
# target (libFuzzer, clang-14, ASan+UBSan; prints "skipped" and passes without clang).
echo "== fuzz regression corpus (build-fuzz/)" >&2
tools/run-fuzz.sh --regression
