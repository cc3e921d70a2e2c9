#!/usr/bin/env bash
# Installs what HyperSparse.MLNet needs on Debian 12 with the .NET 10 SDK, from the package registries only:
#   - Debian packages: dataset-fashion-mnist (real data for tests and the demo), python3-onnx (onnx.checker in tests),
#     python3-torch and python3-torchvision with `hs_setup --tests` (PyTorch 1.13 writes the torchvision ResNets the
#     pretrained-weights tests read)
#   - NuGet packages: dotnet restore (TorchSharp-cpu, ML.NET, ONNX Runtime, ...)
# Safe to run again: installed packages are skipped. Sourced by the other build/ scripts.
set -euo pipefail

HS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

hs_apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

hs_setup() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "setup: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
    exit 1
  fi
  if command -v apt-get >/dev/null 2>&1; then
    hs_apt_install dataset-fashion-mnist python3 python3-onnx python3-numpy
    # The tests also need PyTorch (hs_setup --tests); the demo does not.
    if [ "${1:-}" = --tests ]; then hs_apt_install python3-torch python3-torchvision; fi
  else
    echo "setup: not a Debian system; install Fashion-MNIST (IDX files) and set HYPERSPARSE_FASHION_MNIST_DIR" >&2
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  dotnet restore "$HS_ROOT/HyperSparse.MLNet.sln" -v q
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  hs_setup
fi
