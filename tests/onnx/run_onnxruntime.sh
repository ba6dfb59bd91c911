#!/bin/sh
# ONNX Runtime test driver: installs onnxruntime-node from npm into NODE_DIR once (a cache in the
# build tree; later runs reuse it), then runs run_onnxruntime.js over the manifest.
# usage: run_onnxruntime.sh NODE_DIR MANIFEST.json
# Exits 77 (ctest's skip code) with a message when node, npm or the package is unavailable.
set -u
node_dir=$1
manifest=$2
here=$(cd "$(dirname "$0")" && pwd)

node=$(command -v node || command -v nodejs) || {
  echo "SKIP: node is not installed (Debian: apt-get install nodejs npm)"; exit 77; }
if [ ! -f "$node_dir/node_modules/onnxruntime-node/package.json" ]; then
  command -v npm > /dev/null || {
    echo "SKIP: npm is not installed, cannot install onnxruntime-node (Debian: apt-get install npm)"; exit 77; }
  mkdir -p "$node_dir" || exit 1
  # A package.json of its own keeps npm from looking for a project further up.
  [ -f "$node_dir/package.json" ] || echo '{ "private": true }' > "$node_dir/package.json"
  echo "installing onnxruntime-node into $node_dir (once; later runs reuse it)"
  # Pinned, so CI is reproducible. ONNXRUNTIME_NODE_INSTALL=skip: the CPU binaries ship in the
  # package; its install script would
  # otherwise try to download GPU files, which fails offline.
  if ! (cd "$node_dir" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-audit --no-fund \
          onnxruntime-node@1.30.0 > npm-install.log 2>&1); then
    tail -5 "$node_dir/npm-install.log"
    echo "SKIP: could not install onnxruntime-node from npm (offline?); see $node_dir/npm-install.log"
    rm -rf "$node_dir/node_modules/onnxruntime-node"
    exit 77
  fi
fi
NODE_PATH="$node_dir/node_modules" exec "$node" "$here/run_onnxruntime.js" "$manifest"
