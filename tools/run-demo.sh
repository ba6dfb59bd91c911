#!/usr/bin/env bash
# Installs the dependencies, builds bpnn (Release) and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
# The figure goes into the build folder, never into the source tree, unless --svg FILE is given.
svg=(--svg build/seed_demo.svg)
for arg in "$@"; do [[ "$arg" == --svg || "$arg" == --svg=* ]] && svg=(); done
./build/bpnn demo "${svg[@]}" "$@"
