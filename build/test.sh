#!/usr/bin/env bash
# The test command: installs what the tests need (build/setup.sh, and onnxruntime-node via build/check-onnx-node.sh),
# then runs the whole MSTest suite in Release.
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Engine").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
hs_setup --tests
cd "$HS_ROOT"
# The portability check (OnnxRuntimeNodeTests) needs a second ONNX runtime: onnxruntime-node in artifacts/. If it cannot be
# installed, the tests still run and that check fails with the reason (required here, so it never silently skips).
bash build/check-onnx-node.sh || echo "test: build/check-onnx-node.sh failed; OnnxRuntimeNodeTests will fail" >&2
export HYPERSPARSE_REQUIRE_ONNXRUNTIME_NODE=1
# setup.sh installed python3-torch and python3-torchvision: TorchvisionImportTests fails (rather than skips) without them.
export HYPERSPARSE_REQUIRE_PYTHON_TORCH=1
dotnet build HyperSparse.MLNet.sln -c Release --no-restore -v q -nologo
# -v q keeps the build quiet; the console logger at "minimal" still names every failing test with its message and stack.
dotnet test HyperSparse.MLNet.sln -c Release --no-build -v q -nologo --logger "console;verbosity=minimal" "$@"
