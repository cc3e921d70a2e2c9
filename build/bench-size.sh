#!/usr/bin/env bash
# ONNX size benchmark of TRAINED sparse models (src/Samples/HyperSparse.Bench, commands `size` and `size-report`).
# For each of (LeNet-5, ResNet-20 16-wide) × (κ 0.9, 0.98): trains through the engine (warm-up, ART with the HyperSparse
# regulariser, prune, masked fine-tune) on a Fashion-MNIST slice (Debian package dataset-fashion-mnist), measures test
# accuracy on a t10k slice, exports Dense, SparseInitializer and Compact ONNX, checks in ONNX Runtime that all three score
# the same, and caches one row per config in RESULTS. A rerun skips rows already there (same config); --force recomputes.
# Then writes the markdown report (OUT). Fetches nothing from the web (a NuGet restore at most).
#
# Usage: build/bench-size.sh [--force] [--only lenet5|resnet20]
# Tunables (environment): RESULTS (docs/bench-size.jsonl), OUT (docs/bench-size.md), KAPPAS ("0.9 0.98"),
#   ARCHS ("lenet5 resnet20"), ONNX_DIR (unset: the .onnx files are not kept), EXTRA (more `size` options, e.g.
#   "--train 5000"; they change the config, so cached rows no longer match).
# Schedules: SizeBenchmark.Defaults (per arch) — they are printed in the report.
# Budget: LeNet-5 rows ≈1 min, ResNet-20 rows ≈4 min each on an idle 2-core box; several times that when the cores are shared.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
unset HYPERSPARSE_MALLOC_TUNING   # would silently disable the trainer's allocator tuning

FORCE=off
ARCHS=${ARCHS:-"lenet5 resnet20"}
while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=on ;;
    --only) shift; ARCHS="$1" ;;
    *) echo "usage: build/bench-size.sh [--force] [--only lenet5|resnet20]" >&2; exit 2 ;;
  esac
  shift
done
KAPPAS=${KAPPAS:-"0.9 0.98"}
RESULTS=${RESULTS:-docs/bench-size.jsonl}
OUT=${OUT:-docs/bench-size.md}
EXTRA=${EXTRA:-}
COMMAND="build/bench-size.sh (ARCHS=\"$ARCHS\" KAPPAS=\"$KAPPAS\"${EXTRA:+ EXTRA=\"$EXTRA\"})"

PROJECT=src/Samples/HyperSparse.Bench
echo "bench-size: building $PROJECT (Release)"
dotnet build "$PROJECT" -c Release -v q -nologo >/dev/null
DLL="$ROOT/$PROJECT/bin/Release/net10.0/HyperSparse.Bench.dll"
[ -f "$DLL" ] || { echo "bench-size: $DLL not found after build" >&2; exit 1; }
echo "bench-size: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); rows cached in $RESULTS"

START=$SECONDS
for arch in $ARCHS; do
  for kappa in $KAPPAS; do
    # One process per row: a crash or an interrupt loses at most the row in progress.
    # shellcheck disable=SC2086  # EXTRA is a list of options
    dotnet "$DLL" size --arch "$arch" --kappa "$kappa" --results "$RESULTS" --force "$FORCE" \
      ${ONNX_DIR:+--onnx-dir "$ONNX_DIR"} $EXTRA
  done
done

echo
dotnet "$DLL" size-report --results "$RESULTS" --results-name "$RESULTS" --out "$OUT" --command "$COMMAND"
echo
echo "bench-size: report written to $OUT ($((SECONDS - START)) s)"
