#!/usr/bin/env bash
# Training-speed benchmark of the HyperSparse engine (issue #5, item 1b), written to docs/bench-step.md:
#   1. our training step vs the same architecture, batch and thread count in PyTorch (Debian python3-torch with OpenBLAS,
#      build/torch_step.py), for LeNet-5 and ResNet-20 (16-wide) at batch 128 and ML.NET's ImageNet ResNet-18 ([2,2,2,3])
#      at 3x64x64, batch R18_BATCH (issue #22);
#   1b. speed levers (issue #22), each run beside the defaults of its round: ours channels-last, bf16,
#      grad-none; PyTorch
#      channels-last, bf16-autocast (LEVER_ARCHS at THREADS);
#   1c. an ART epoch vs a fine-tune epoch in the engine's trainer (HyperSparse.Bench epoch-ratio, issue #22);
#   2. the HyperSparse term's overhead on our step;
#   3. ML.NET Fit per epoch vs the engine's own loop (HyperSparse.Bench fit), LeNet-5 on a Fashion-MNIST slice.
# Every configuration is its own process. Each round runs {ours HS off, ours HS on, PyTorch} (plus ours with malloc
# tuning off, HS off, when MALLOC_OFF=1: the source of TuneAllocator's documented speedup) for each architecture, in an
# order rotated from round to round, then {Fit, raw}; the report gives pooled medians and the ratios of adjacent runs
# (more robust to load drift on a shared box). Builds once in Release;
# installs python3-torch and libopenblas0-pthread with apt-get when missing; fetches nothing else.
#
# Usage: build/bench-step.sh [--quick]
#   --quick (or QUICK=1): a smoke run in under ≈2 minutes, written to artifacts/bench-step-quick.md instead of docs/.
# Tunables (environment): ROUNDS (4; quick 2), BATCH (128), THREADS (2: every configuration),
#   EXTRA_THREADS (1; quick none: further thread counts, ours HS off/on and PyTorch), RESNET_INPUT (1x28x28),
#   LENET_STEPS/LENET_WARMUP/LENET_MAX_S (150/10/6), RESNET_STEPS/RESNET_WARMUP/RESNET_MAX_S (40/3/12),
#   R18 (1; 0 skips the ResNet-18 rows), R18_BATCH (32), R18_STEPS/R18_WARMUP/R18_MAX_S (20/3/10; quick 4/1/2),
#   LEVERS (1; quick 0), LEVER_ARCHS ("resnet20 resnet18mlnet"), EPOCH_RATIO (1), EPOCH_ROUNDS (2; quick 1),
#   EPOCH_LENET_TRAIN / EPOCH_RESNET_TRAIN (20000 / 5000; quick 2000 / 512), EPOCH_VARIANTS ("probe=torch layout=nhwc precision=bf16"; quick
#   none: epoch-ratio option sets run as lever rows beside the engine's defaults — ONNX Runtime probe, NCHW),
#   EPOCH_SEED_BASE (7), EPOCH_SEED_STEP (0: every epoch round trains with seed EPOCH_SEED_BASE; 1: round r with seed EPOCH_SEED_BASE + r, so variants' accuracy differences
#   are seen over several training runs),
#   PEER (1; 0 skips PyTorch), PEER_HS (0; 1 adds PyTorch with the HS term), MALLOC_OFF (0; 1 adds ours with malloc tuning off),
#   FIT (1; 0 skips Fit vs raw), FIT_ROUNDS (4; quick 1), FIT_ARCH (lenet5), FIT_TRAIN (10000; quick 2000), FIT_EPOCHS (3; quick 1),
#   FIT_THREADS (1: Fit and raw run the same engine loop, so the thread count does not change what is compared, and at 2
#   threads on a 2-core box shared with other work OpenMP barrier stalls made epochs vary 1–20 s),
#   OUT (docs/bench-step.md; quick artifacts/bench-step-quick.md), WORK (artifacts/bench-step: where the raw rows go).
# Budget: ≈25 min on a quiet 2-core box, up to ≈45 min when other work takes the cores; --quick ≈2–3 min.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
unset HYPERSPARSE_MALLOC_TUNING   # would silently disable "malloc on"

QUICK=${QUICK:-0}
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    *) echo "usage: build/bench-step.sh [--quick]" >&2; exit 2 ;;
  esac
done

BATCH=${BATCH:-128}
THREADS=${THREADS:-2}
RESNET_INPUT=${RESNET_INPUT:-1x28x28}
PEER=${PEER:-1}; PEER_HS=${PEER_HS:-0}; FIT=${FIT:-1}; FIT_ARCH=${FIT_ARCH:-lenet5}; FIT_THREADS=${FIT_THREADS:-1}
EPOCH_SEED_STEP=${EPOCH_SEED_STEP:-0}
EPOCH_SEED_BASE=${EPOCH_SEED_BASE:-7}
R18=${R18:-1}; R18_BATCH=${R18_BATCH:-32}; LEVER_ARCHS=${LEVER_ARCHS:-"resnet20 resnet18mlnet"}; EPOCH_RATIO=${EPOCH_RATIO:-1}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-2}; MALLOC_OFF=${MALLOC_OFF:-0}; EXTRA_THREADS=${EXTRA_THREADS:-}
  LENET_STEPS=${LENET_STEPS:-40};  LENET_WARMUP=${LENET_WARMUP:-5}; LENET_MAX_S=${LENET_MAX_S:-1.5}
  RESNET_STEPS=${RESNET_STEPS:-8}; RESNET_WARMUP=${RESNET_WARMUP:-2}; RESNET_MAX_S=${RESNET_MAX_S:-2.5}
  FIT_ROUNDS=${FIT_ROUNDS:-1}; FIT_TRAIN=${FIT_TRAIN:-2000}; FIT_EPOCHS=${FIT_EPOCHS:-1}
  R18_STEPS=${R18_STEPS:-4}; R18_WARMUP=${R18_WARMUP:-1}; R18_MAX_S=${R18_MAX_S:-2}; LEVERS=${LEVERS:-0}
  EPOCH_ROUNDS=${EPOCH_ROUNDS:-1}; EPOCH_LENET_TRAIN=${EPOCH_LENET_TRAIN:-2000}; EPOCH_RESNET_TRAIN=${EPOCH_RESNET_TRAIN:-512}
  EPOCH_VARIANTS=${EPOCH_VARIANTS-}
  OUT=${OUT:-artifacts/bench-step-quick.md}
else
  ROUNDS=${ROUNDS:-4}; MALLOC_OFF=${MALLOC_OFF:-0}; EXTRA_THREADS=${EXTRA_THREADS:-1}
  LENET_STEPS=${LENET_STEPS:-150};  LENET_WARMUP=${LENET_WARMUP:-10}; LENET_MAX_S=${LENET_MAX_S:-6}
  RESNET_STEPS=${RESNET_STEPS:-40}; RESNET_WARMUP=${RESNET_WARMUP:-3}; RESNET_MAX_S=${RESNET_MAX_S:-12}
  FIT_ROUNDS=${FIT_ROUNDS:-4}; FIT_TRAIN=${FIT_TRAIN:-10000}; FIT_EPOCHS=${FIT_EPOCHS:-3}
  R18_STEPS=${R18_STEPS:-20}; R18_WARMUP=${R18_WARMUP:-3}; R18_MAX_S=${R18_MAX_S:-10}; LEVERS=${LEVERS:-1}
  EPOCH_ROUNDS=${EPOCH_ROUNDS:-2}; EPOCH_LENET_TRAIN=${EPOCH_LENET_TRAIN:-20000}; EPOCH_RESNET_TRAIN=${EPOCH_RESNET_TRAIN:-5000}
  EPOCH_VARIANTS=${EPOCH_VARIANTS-"probe=torch layout=nhwc precision=bf16"}
  OUT=${OUT:-docs/bench-step.md}
fi
QUICK_FLAG=""; [ "$QUICK" = 1 ] && QUICK_FLAG=" --quick"
COMMAND="build/bench-step.sh$QUICK_FLAG (ROUNDS=$ROUNDS BATCH=$BATCH THREADS=$THREADS EXTRA_THREADS=${EXTRA_THREADS:-none} RESNET_INPUT=$RESNET_INPUT LENET_STEPS=$LENET_STEPS/$LENET_WARMUP/${LENET_MAX_S}s RESNET_STEPS=$RESNET_STEPS/$RESNET_WARMUP/${RESNET_MAX_S}s PEER=$PEER PEER_HS=$PEER_HS MALLOC_OFF=$MALLOC_OFF R18=$R18 R18_BATCH=$R18_BATCH LEVERS=$LEVERS LEVER_ARCHS=$LEVER_ARCHS EPOCH_RATIO=$EPOCH_RATIO EPOCH_ROUNDS=$EPOCH_ROUNDS EPOCH_SEED_BASE=$EPOCH_SEED_BASE EPOCH_SEED_STEP=$EPOCH_SEED_STEP EPOCH_VARIANTS=${EPOCH_VARIANTS:-none} FIT=$FIT FIT_ROUNDS=$FIT_ROUNDS FIT_ARCH=$FIT_ARCH FIT_TRAIN=$FIT_TRAIN FIT_EPOCHS=$FIT_EPOCHS FIT_THREADS=$FIT_THREADS)"

PYTHON=/usr/bin/python3
if [ "$PEER" = 1 ]; then
  # The peer is Debian's PyTorch; without OpenBLAS its matmuls are ~10× slower (docs: platform notes).
  # shellcheck source=setup.sh
  source "$ROOT/build/setup.sh"
  if command -v apt-get >/dev/null 2>&1; then
    hs_apt_install python3 python3-torch libopenblas0-pthread
  fi
  if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "bench: $PYTHON cannot import torch (Debian python3-torch); running without the PyTorch peer" >&2
    PEER=0
  fi
fi
if [ "$FIT" = 1 ] && [ ! -d "${HYPERSPARSE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" ]; then
  # shellcheck source=setup.sh
  source "$ROOT/build/setup.sh"
  command -v apt-get >/dev/null 2>&1 && hs_apt_install dataset-fashion-mnist
fi

PROJECT=src/Samples/HyperSparse.Bench
echo "bench: building $PROJECT (Release)"
dotnet build "$PROJECT" -c Release -v q -nologo >/dev/null
DLL="$ROOT/$PROJECT/bin/Release/net10.0/HyperSparse.Bench.dll"
[ -f "$DLL" ] || { echo "bench: $DLL not found after build" >&2; exit 1; }

# The raw rows stay beside the build output (artifacts/ is not committed), so the report can be re-rendered:
#   dotnet <dll> report --raw $WORK/step.jsonl --fit $WORK/fit.jsonl --loads $WORK/loads.txt --out FILE.md
WORK=${WORK:-"$ROOT/artifacts/bench-step$([ "$QUICK" = 1 ] && echo -quick || true)"}
mkdir -p "$WORK"
RAW="$WORK/step.jsonl"; FITRAW="$WORK/fit.jsonl"; LOADS="$WORK/loads.txt"; EPOCHRAW="$WORK/epochs.jsonl"
: >"$RAW"; : >"$FITRAW"; : >"$LOADS"; : >"$EPOCHRAW"
LOAD_START="$(cat /proc/loadavg)"
START=$SECONDS
echo "bench: $(nproc) CPUs, load average $LOAD_START; rows go to $WORK"

# One configuration = "threads who malloc hs"; who is ours or torch (the peer's malloc is glibc's default).
COMBOS=("$THREADS ours on off" "$THREADS ours on on")
[ "$PEER" = 1 ] && COMBOS+=("$THREADS torch - off")
[ "$PEER" = 1 ] && [ "$PEER_HS" = 1 ] && COMBOS+=("$THREADS torch - on")
[ "$MALLOC_OFF" = 1 ] && COMBOS+=("$THREADS ours off off")
for t in $EXTRA_THREADS; do
  COMBOS+=("$t ours on off" "$t ours on on")
  [ "$PEER" = 1 ] && COMBOS+=("$t torch - off")
done

# run_step ARCH ROUND THREADS WHO MALLOC HS [LEVER]: one process, its row appended to $RAW, the load average after it to $LOADS.
run_step() {
  local arch=$1 round=$2 threads=$3 who=$4 malloc=$5 hs=$6 lever=${7:-none} steps warmup max input=1x28x28 batch=$BATCH
  if [ "$arch" = lenet5 ]; then steps=$LENET_STEPS; warmup=$LENET_WARMUP; max=$LENET_MAX_S
  elif [ "$arch" = resnet18mlnet ]; then steps=$R18_STEPS; warmup=$R18_WARMUP; max=$R18_MAX_S; input=3x64x64; batch=$R18_BATCH
  else steps=$RESNET_STEPS; warmup=$RESNET_WARMUP; max=$RESNET_MAX_S; input=$RESNET_INPUT; fi
  if [ "$who" = ours ]; then
    dotnet "$DLL" step --arch "$arch" --input "$input" --batch "$batch" --steps "$steps" --warmup "$warmup" \
      --max-seconds "$max" --malloc "$malloc" --hs "$hs" --threads "$threads" --round "$round" --raw "$RAW" --lever "$lever"
  else
    # Debian's torch uses 1 thread unless OMP_NUM_THREADS says otherwise; OpenBLAS must not add a spinning thread.
    OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=$threads "$PYTHON" "$ROOT/build/torch_step.py" \
      --arch "$arch" --input "$input" --batch "$batch" --steps "$steps" --warmup "$warmup" --max-seconds "$max" \
      --hs "$hs" --threads "$threads" --round "$round" --raw "$RAW" --lever "$lever"
  fi
  cat /proc/loadavg >>"$LOADS"
}

STEP_ARCHS=(lenet5 resnet20)
[ "$R18" = 1 ] && STEP_ARCHS+=(resnet18mlnet)
# Lever runs: "who lever" at THREADS, HS off, beside the defaults of the same round.
LEVER_COMBOS=("ours channels-last" "ours bf16" "ours grad-none")
[ "$PEER" = 1 ] && LEVER_COMBOS+=("torch channels-last" "torch bf16-autocast")

for ((r = 0; r < ROUNDS; r++)); do
  echo "bench: step round $((r + 1))/$ROUNDS"
  for ((i = 0; i < ${#COMBOS[@]}; i++)); do
    read -r threads who malloc hs <<<"${COMBOS[$(((i + r) % ${#COMBOS[@]}))]}"
    for arch in "${STEP_ARCHS[@]}"; do run_step "$arch" "$r" "$threads" "$who" "$malloc" "$hs"; done
  done
  if [ "$LEVERS" = 1 ]; then
    for ((i = 0; i < ${#LEVER_COMBOS[@]}; i++)); do
      read -r who lever <<<"${LEVER_COMBOS[$(((i + r) % ${#LEVER_COMBOS[@]}))]}"
      for arch in $LEVER_ARCHS; do run_step "$arch" "$r" "$THREADS" "$who" on off "$lever"; done
    done
  fi
done

if [ "$EPOCH_RATIO" = 1 ]; then
  for ((r = 0; r < EPOCH_ROUNDS; r++)); do
    echo "bench: ART vs fine-tune epoch round $((r + 1))/$EPOCH_ROUNDS"
    for variant in default $EPOCH_VARIANTS; do
      # A variant is a comma-separated list of epoch-ratio options without their dashes, e.g. "probe=torch" or "layout=nhwc".
      variant_args=()
      if [ "$variant" != default ]; then
        IFS=, read -r -a parts <<<"$variant"
        for part in "${parts[@]}"; do variant_args+=("--${part%%=*}" "${part#*=}"); done
      fi
      seed=$((EPOCH_SEED_BASE + r * EPOCH_SEED_STEP))
      dotnet "$DLL" epoch-ratio --arch lenet5 --train "$EPOCH_LENET_TRAIN" --batch "$BATCH" --threads "$THREADS" --round "$r" --seed "$seed" --raw "$EPOCHRAW" "${variant_args[@]}"
      dotnet "$DLL" epoch-ratio --arch resnet20 --train "$EPOCH_RESNET_TRAIN" --batch "$BATCH" --threads "$THREADS" --round "$r" --seed "$seed" --raw "$EPOCHRAW" "${variant_args[@]}"
    done
    cat /proc/loadavg >>"$LOADS"
  done
fi

if [ "$FIT" = 1 ]; then
  MODES=(fit raw)
  for ((r = 0; r < FIT_ROUNDS; r++)); do
    echo "bench: Fit vs raw round $((r + 1))/$FIT_ROUNDS"
    for ((i = 0; i < ${#MODES[@]}; i++)); do
      dotnet "$DLL" fit --mode "${MODES[$(((i + r) % ${#MODES[@]}))]}" --arch "$FIT_ARCH" --train "$FIT_TRAIN" --batch "$BATCH" \
        --epochs "$FIT_EPOCHS" --threads "$FIT_THREADS" --round "$r" --raw "$FITRAW"
      cat /proc/loadavg >>"$LOADS"
    done
  done
fi

echo
FITARGS=()
[ -s "$FITRAW" ] && FITARGS=(--fit "$FITRAW")
[ -s "$EPOCHRAW" ] && FITARGS+=(--epochs "$EPOCHRAW")
dotnet "$DLL" report --raw "$RAW" "${FITARGS[@]}" --loads "$LOADS" --out "$OUT" --command "$COMMAND" \
  --load-start "$LOAD_START" --elapsed "$((SECONDS - START))"
echo
echo "bench: written to $OUT"
