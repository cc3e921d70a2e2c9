#!/usr/bin/env bash
# Second ONNX runtime outside .NET, for the portability check (issue 9, item 6): onnxruntime-node, the ONNX Runtime
# Node.js binding, installed from npm with --ignore-scripts (its install script only fetches optional GPU libraries;
# the CPU binaries for linux-x64 are inside the package) into artifacts/onnxruntime-node, which git ignores.
#
#   build/check-onnx-node.sh            install (skipped when already installed: offline after the first run) and check
#                                       that the native binding loads
#   build/check-onnx-node.sh <folder>   the same, then score the cases in <folder> (written by the .NET test
#                                       OnnxRuntimeNodeTests into artifacts/onnx-node-cases) and compare with .NET
#
# build/test.sh runs the first form before the tests; the MSTest test OnnxRuntimeNodeTests then writes the models and the
# .NET scores and runs build/onnx-node-check.mjs itself, so the check shows up in the test counts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

HS_ORT_NODE_VERSION="1.30.0"
HS_ORT_NODE_DIR="$HS_ROOT/artifacts/onnxruntime-node"
HS_ORT_NODE_MODULES="$HS_ORT_NODE_DIR/node_modules"

hs_ort_node_installed() {
  local manifest="$HS_ORT_NODE_MODULES/onnxruntime-node/package.json"
  [ -f "$manifest" ] && node -e "process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)" "$manifest" "$HS_ORT_NODE_VERSION"
}

hs_ort_node_install() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      hs_apt_install nodejs npm
    fi
  fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "check-onnx-node: Node.js and npm are required (node/npm not found on PATH)" >&2
    return 2
  fi
  if hs_ort_node_installed; then
    return 0
  fi
  echo "check-onnx-node: installing onnxruntime-node@$HS_ORT_NODE_VERSION into artifacts/onnxruntime-node (npm, --ignore-scripts)"
  mkdir -p "$HS_ORT_NODE_DIR"
  local start=$SECONDS
  # --prefix keeps node_modules inside artifacts/; --no-save leaves no package.json/lock file behind to commit.
  npm install --prefix "$HS_ORT_NODE_DIR" --ignore-scripts --no-save --no-audit --no-fund --loglevel=error \
    "onnxruntime-node@$HS_ORT_NODE_VERSION"
  echo "check-onnx-node: npm install took $((SECONDS - start)) s"
  hs_ort_node_installed
}

hs_ort_node_main() {
  hs_ort_node_install
  node "$HS_ROOT/build/onnx-node-check.mjs" "$HS_ORT_NODE_MODULES" --load-only
  if [ $# -gt 0 ]; then
    node "$HS_ROOT/build/onnx-node-check.mjs" "$HS_ORT_NODE_MODULES" "$1"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  hs_ort_node_main "$@"
fi
