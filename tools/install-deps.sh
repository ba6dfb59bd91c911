#!/usr/bin/env bash
# Installs bpnn's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing (and prints nothing) when everything is already present.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libxsimd-dev libtbb-dev catch2 libbenchmark-dev libbenchmark-tools
  libcli11-dev nlohmann-json3-dev libgomp1 python3 python3-numpy python3-scipy
  clang-14 libfuzzer-14-dev libclang-rt-14-dev  # tools/run-fuzz.sh (libFuzzer, ASan, UBSan)
  zlib1g-dev libonnx-dev libprotobuf-dev           # bpnn export --onnx (bpnn_onnx)
  libopenblas-dev                                  # bpnn bench --compare-blas (optional)
  libopenmpi-dev openmpi-bin                       # bpnn_mpi, mpirun bpnn train (tests: label mpi)
  python3-onnx python3-opencv python3-torch python3-sklearn  # tests: ONNX runtimes, to_torch
)
# ONNX Runtime's tests install onnxruntime-node with npm; nodesource's nodejs bundles npm (and
# conflicts with Debian's npm package), so Debian's nodejs/npm only where there is no npm.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "bpnn: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
