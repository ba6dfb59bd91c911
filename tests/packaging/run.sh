#!/usr/bin/env bash
# Installs a built bpnn tree into a fresh prefix and embeds it in C programs built two ways:
# find_package(bpnn CONFIG) (shared and static) and pkg-config + cc (shared and static).
# Also checks the installed files and that libbpnn.so exports only the public API.
# Usage: run.sh BUILD_DIR WORK_DIR CMAKE CC        (offline; about 20 s)
set -euo pipefail
build=$1 work=$2 cmake=$3 cc=$4
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "packaging: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" >/dev/null

# ---- the installed files ----
lib=$(dirname "$(find "$prefix" -name 'libbpnn.so' | head -1)")
[ -n "$lib" ] && [ -d "$lib" ] || fail "no libbpnn.so installed"
for f in include/bpnn.h include/bpnn/version.h include/bpnn/version.hpp include/bpnn/network.hpp \
         include/bpnn/capi.hpp bin/bpnn; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
for f in libbpnn.a pkgconfig/bpnn.pc cmake/bpnn/bpnnConfig.cmake cmake/bpnn/bpnnConfigVersion.cmake \
         cmake/bpnn/bpnnTargets.cmake cmake/bpnn/bpnnStaticTargets.cmake; do
  [ -e "$lib/$f" ] || fail "missing $lib/$f"
done
soname=$(readelf -d "$lib/libbpnn.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ "$soname" == libbpnn.so.[0-9]* ]] || fail "libbpnn.so has SONAME '$soname'"
[ -e "$lib/$soname" ] || fail "the SONAME link $soname is not installed"
grep -q "^bpnn " <<<"$("$prefix/bin/bpnn" --version)" || fail "the installed CLI does not run"

# ---- only the public API is exported: bpnn_* (C) and bpnn:: (C++) ----
others=$(nm -D --defined-only "$lib/libbpnn.so" | c++filt | awk '{ $1 = ""; $2 = ""; print }' |
         sed 's/^ *//; s/@.*//' | grep -v -E '^(bpnn_|bpnn::|typeinfo for bpnn::|typeinfo name for bpnn::|vtable for bpnn::|BPNN_[0-9]+$)' || true)
[ -z "$others" ] || fail "libbpnn.so exports non-public symbols:
$others"
grep -q ' bpnn_net_train_f64' <<<"$(nm -D --defined-only "$lib/libbpnn.so")" || fail "C API not exported"

# ---- CMake: find_package(bpnn CONFIG) ----
"$cmake" -S "$here/consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release >"$work/cmake-configure.log" 2>&1 ||
  { cat "$work/cmake-configure.log"; fail "the CMake consumer did not configure"; }
"$cmake" --build "$work/cmake-build" -j 2 >"$work/cmake-build.log" 2>&1 ||
  { cat "$work/cmake-build.log"; fail "the CMake consumer did not build"; }
"$work/cmake-build/consumer_shared" "$work/cmake_shared.safetensors"
"$work/cmake-build/consumer_static" "$work/cmake_static.safetensors"
grep -q "$soname" <<<"$(ldd "$work/cmake-build/consumer_shared")" || fail "consumer_shared does not use $soname"
! grep -q libbpnn <<<"$(ldd "$work/cmake-build/consumer_static")" || fail "consumer_static uses libbpnn.so"
# bpnn_mpi: installed with bpnn_mpi.h when the tree was built with MPI; then bpnn::bpnn_mpi must
# give a program that trains on 2 ranks (run when mpirun is here).
if [ -e "$prefix/include/bpnn_mpi.h" ]; then
  [ -e "$lib/libbpnn_mpi.a" ] && [ -e "$lib/cmake/bpnn/bpnnMpiTargets.cmake" ] || fail "bpnn_mpi.h without libbpnn_mpi.a and its CMake targets"
  [ -x "$work/cmake-build/consumer_mpi" ] || fail "the CMake consumer got no bpnn::bpnn_mpi"
  if command -v mpirun >/dev/null; then
    as_root=()
    [ "$(id -u)" = 0 ] && as_root=(--allow-run-as-root)
    mpirun "${as_root[@]}" --oversubscribe -np 2 "$work/cmake-build/consumer_mpi" || fail "consumer_mpi failed under mpirun -np 2"
  else
    echo "packaging: mpirun not found: consumer_mpi built but not run"
  fi
fi

# A C-only project gets the shared library without needing TBB, OpenMP or a C++ compiler.
"$cmake" -S "$here/consumer" -B "$work/cmake-c-only" -DCMAKE_PREFIX_PATH="$prefix" -DBPNN_STATIC=OFF \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release >"$work/cmake-c-only.log" 2>&1 ||
  { cat "$work/cmake-c-only.log"; fail "the C-only CMake consumer did not configure"; }
"$cmake" --build "$work/cmake-c-only" >>"$work/cmake-c-only.log" 2>&1 ||
  { cat "$work/cmake-c-only.log"; fail "the C-only CMake consumer did not build"; }
"$work/cmake-c-only/consumer_shared" "$work/cmake_c_only.safetensors"

# ---- pkg-config + cc ----
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion bpnn)" = "$(sed -n 's/.*BPNN_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/bpnn/version.h")" ] ||
  fail "bpnn.pc's version differs from the header's"
flags=(-std=c99 -Wall -Wextra -Werror -pedantic)
# shellcheck disable=SC2046
"$cc" "${flags[@]}" "$here/consumer/consumer.c" -o "$work/pc_shared" $(pkg-config --cflags --libs bpnn)
# bpnn.pc carries -Wl,-rpath,${libdir}: the program runs without LD_LIBRARY_PATH.
env -u LD_LIBRARY_PATH "$work/pc_shared" "$work/pc_shared.safetensors"
# Static: the archive itself, then what bpnn.pc lists for static linking.
# shellcheck disable=SC2046
"$cc" "${flags[@]}" "$here/consumer/consumer.c" -o "$work/pc_static" $(pkg-config --cflags bpnn) \
  "$lib/libbpnn.a" $(pkg-config --static --libs bpnn | sed 's/-lbpnn\b//')
"$work/pc_static" "$work/pc_static.safetensors"
! grep -q libbpnn <<<"$(ldd "$work/pc_static")" || fail "pc_static uses libbpnn.so"

# ---- the Python package, from the prefix alone (no BPNN_LIBRARY, no LD_LIBRARY_PATH) ----
python_ok=""
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c "import numpy" 2>/dev/null; then python_ok=$py; break; fi
done
if [ -n "$python_ok" ]; then
  site=$(dirname "$(find "$prefix" -path '*/bpnn/__init__.py' | head -1)")
  [ -n "$site" ] && [ -e "$site/_install.py" ] || fail "the Python package is not installed"
  (cd "$work" && env -u BPNN_LIBRARY -u LD_LIBRARY_PATH PYTHONPATH="$(dirname "$site")" "$python_ok" - "$prefix" <<'PY'
import os, sys
import numpy as np
import bpnn
prefix = os.path.realpath(sys.argv[1])
assert os.path.realpath(bpnn.library_path).startswith(prefix + os.sep), bpnn.library_path
with bpnn.Network([2, 3, 1], precision="f64", seed=5) as net:
    y = net.predict(np.array([[0.5, -0.5]]))
    assert y.shape == (1, 1) and np.isfinite(y).all()
print("packaging: python package from", os.path.dirname(bpnn.__file__), "uses", bpnn.library_path)
PY
  ) || fail "the installed Python package does not work"
else
  echo "packaging: skipped the Python package check (no python3 with numpy)"
fi

echo "packaging: installed to $prefix; CMake and pkg-config consumers, shared and static, and the Python package all ran"
