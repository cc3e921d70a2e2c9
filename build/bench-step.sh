#!/usr/bin/env bash
# Training-step benchmark of the HyperSparse engine (src/Samples/HyperSparse.Bench).
# Builds once in Release, then runs ROUNDS rounds of {malloc off, on} × {HS term off, on} for LeNet-5 and ResNet-20
# (16-wide) at batch 128, each configuration a separate process (the malloc setting is fixed at process start),
# alternating configurations (order rotated each round). Prints each process's row as it finishes, then a pooled
# markdown table, also written to docs/bench-step.md. Fetches nothing from the web (a NuGet restore at most).
#
# Tunables (environment): ROUNDS (3), BATCH (128), RESNET_INPUT (1x28x28; 3x32x32 for the CIFAR shape),
#   LENET_STEPS (150), LENET_WARMUP (10), LENET_MAX_S (6), RESNET_STEPS (40), RESNET_WARMUP (3), RESNET_MAX_S (15),
#   THREADS (2), OUT (docs/bench-step.md).
# Budget: ≈4 min on an idle 2-core box; the per-process caps (*_MAX_S, measured loop only) keep it under ≈8 min
# when the cores are shared.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
unset HYPERSPARSE_MALLOC_TUNING   # would silently disable "malloc on"

ROUNDS=${ROUNDS:-3}
BATCH=${BATCH:-128}
THREADS=${THREADS:-2}
RESNET_INPUT=${RESNET_INPUT:-1x28x28}
LENET_STEPS=${LENET_STEPS:-150};  LENET_WARMUP=${LENET_WARMUP:-10}; LENET_MAX_S=${LENET_MAX_S:-6}
RESNET_STEPS=${RESNET_STEPS:-40}; RESNET_WARMUP=${RESNET_WARMUP:-3}; RESNET_MAX_S=${RESNET_MAX_S:-15}
OUT=${OUT:-docs/bench-step.md}
COMMAND="build/bench-step.sh (ROUNDS=$ROUNDS BATCH=$BATCH THREADS=$THREADS RESNET_INPUT=$RESNET_INPUT LENET_STEPS=$LENET_STEPS/$LENET_WARMUP/${LENET_MAX_S}s RESNET_STEPS=$RESNET_STEPS/$RESNET_WARMUP/${RESNET_MAX_S}s)"

PROJECT=src/Samples/HyperSparse.Bench
echo "bench: building $PROJECT (Release)"
dotnet build "$PROJECT" -c Release -v q -nologo >/dev/null
DLL="$ROOT/$PROJECT/bin/Release/net10.0/HyperSparse.Bench.dll"
[ -f "$DLL" ] || { echo "bench: $DLL not found after build" >&2; exit 1; }

RAW="$(mktemp /tmp/bench-step.XXXXXX.jsonl)"
trap 'rm -f "$RAW"' EXIT
LOAD_START="$(cat /proc/loadavg)"
START=$SECONDS
echo "bench: $(nproc) CPUs, load average $LOAD_START; rows go to $RAW"

COMBOS=("off off" "on off" "off on" "on on")   # "malloc hs"
for ((r = 0; r < ROUNDS; r++)); do
  echo "bench: round $((r + 1))/$ROUNDS"
  for ((i = 0; i < ${#COMBOS[@]}; i++)); do
    read -r malloc hs <<<"${COMBOS[$(((i + r) % ${#COMBOS[@]}))]}"
    dotnet "$DLL" step --arch lenet5 --batch "$BATCH" --steps "$LENET_STEPS" --warmup "$LENET_WARMUP" \
      --max-seconds "$LENET_MAX_S" --malloc "$malloc" --hs "$hs" --threads "$THREADS" --raw "$RAW"
    dotnet "$DLL" step --arch resnet20 --input "$RESNET_INPUT" --batch "$BATCH" --steps "$RESNET_STEPS" \
      --warmup "$RESNET_WARMUP" --max-seconds "$RESNET_MAX_S" --malloc "$malloc" --hs "$hs" --threads "$THREADS" --raw "$RAW"
  done
done

echo
dotnet "$DLL" report --raw "$RAW" --out "$OUT" --command "$COMMAND" --load-start "$LOAD_START" --elapsed "$((SECONDS - START))"
echo
echo "bench: table written to $OUT"
