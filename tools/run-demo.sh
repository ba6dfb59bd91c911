#!/usr/bin/env bash
# Installs the dependencies, builds bpnn (Release) and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
./build/bpnn demo "$@"
