#!/usr/bin/env bash
# Memory across epochs (issue #6): trains LeNet-5 on a Fashion-MNIST slice through the engine (src/Samples/HyperSparse.Bench,
# command `memory`: warm-up, ART with the HyperSparse regulariser, prune, masked fine-tune, a checkpoint per epoch) and
# prints after every epoch the resident set size, the managed heap and the tensors alive on the training thread, then the
# RSS growth from epoch 2 to epoch 10 against the ≤ 5 % target (exit code 1 when it is exceeded).
# The output is also written to OUT (artifacts/bench-memory.txt); docs/reliability.md quotes a run.
# Fetches nothing from the web (a NuGet restore at most).
#
# Tunables (environment): TRAIN (10000 images), BATCH (256, the quick profile's), THREADS (2), EXTRA (more `memory` options, e.g.
#   "--fine-tune-epochs 10 --to 14"), OUT (artifacts/bench-memory.txt).
# Budget: ≈1 min on an idle 2-core box (12–14 epochs of ≈3 s), more when the cores are shared.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
unset HYPERSPARSE_MALLOC_TUNING   # measure the trainer's default allocator setting

TRAIN=${TRAIN:-10000}
BATCH=${BATCH:-256}
THREADS=${THREADS:-2}
EXTRA=${EXTRA:-}
OUT=${OUT:-artifacts/bench-memory.txt}

PROJECT=src/Samples/HyperSparse.Bench
echo "bench-memory: building $PROJECT (Release)"
dotnet build "$PROJECT" -c Release -v q -nologo >/dev/null
DLL="$ROOT/$PROJECT/bin/Release/net10.0/HyperSparse.Bench.dll"
[ -f "$DLL" ] || { echo "bench-memory: $DLL not found after build" >&2; exit 1; }

mkdir -p "$(dirname "$OUT")"
{
  echo "command: build/bench-memory.sh (TRAIN=$TRAIN BATCH=$BATCH THREADS=$THREADS${EXTRA:+ EXTRA=\"$EXTRA\"})"
  echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u +%Y-%m-%dT%H:%MZ)"
} | tee "$OUT"
set +e
# shellcheck disable=SC2086
dotnet "$DLL" memory --train "$TRAIN" --batch "$BATCH" --threads "$THREADS" $EXTRA | tee -a "$OUT"
status=${PIPESTATUS[0]}
set -e
echo "bench-memory: output written to $OUT"
exit "$status"
