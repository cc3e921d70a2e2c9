#!/usr/bin/env bash
# The test command: installs what the tests need (build/setup.sh), then runs the whole MSTest suite in Release.
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Engine").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
hs_setup
cd "$HS_ROOT"
dotnet build HyperSparse.MLNet.sln -c Release --no-restore -v q -nologo
dotnet test HyperSparse.MLNet.sln -c Release --no-build -v q -nologo "$@"
