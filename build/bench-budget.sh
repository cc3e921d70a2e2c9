#!/usr/bin/env bash
# Time-budget benchmark (issue #10): training with TrainingOptions.TimeBudget on Fashion-MNIST, one row per process
# (src/Samples/HyperSparse.Bench, commands `budget` and `budget-render`).
#
# Rows (arch:κ:method:budget; methods hs = ART with the HyperSparse loss, l1 = ART with L1, magnitude = one-shot magnitude
# pruning, dense = the same loop with κ → 0):
#   LeNet-5 κ ∈ {0.9, 0.98} × HS-ART × {10, 30} min; ResNet-20 κ 0.98 HS-ART 60 min;
#   LeNet-5 κ 0.98 30 min: L1-ART, one-shot magnitude, dense (the comparison beside HS-ART).
# Each row prints budget, wall time, whether ART's stop rule fired, and test accuracy (t10k).
#
# Resumable: a finished row is cached in RESULTS and skipped on a rerun (same config); a row interrupted mid-way resumes
# from its per-epoch checkpoints in WORK/<row>/checkpoints and the budget's clock continues where it stopped. So the long
# rows can be run across sessions, e.g. `ROWS="resnet20:0.98:hs:60m" build/bench-budget.sh` in one and the rest in another.
# docs/budget.md (a "## Training within a time budget" section that docs/benchmarks.md can include) is rendered from
# whatever rows exist at the end of every run.
#
# Usage: build/bench-budget.sh [--quick] [--force] [--jobs N] [--render]
#   --quick   the same rows with tiny budgets (10m → 10s, 30m → 20s, 60m → 30s) on 2,000 training / 1,000 test images
#             (ResNet-20: 500 training images), written to artifacts/bench-budget-quick/ (docs/ untouched): checks the
#             pipeline in ≈5 minutes; its accuracies mean nothing.
#   --force   recompute rows already in RESULTS.
#   --render  run nothing: only re-render the report from the rows in RESULTS.
#   --jobs N  run N rows at a time, each with (CPUs / N) TorchSharp threads unless EXTRA sets --threads; each row's output
#             goes to WORK/logs/<row>.log and its result line is printed when it ends. Rows that are compared (e.g. the four
#             LeNet-5 κ 0.98 30-minute methods) should run under the same --jobs; the report shows threads × parallel rows.
# Tunables (environment): ROWS (the row list above), RESULTS (docs/budget.jsonl), OUT (docs/budget.md),
#   WORK (artifacts/bench-budget), EXTRA (more `budget` options for every row, e.g. "--threads 2"; they change the config).
# Budget: the rows' budgets add up to 3 h 20 min of training, plus a minute or so per row for reading data and testing.
# Fetches nothing from the web (a NuGet restore at most).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
unset HYPERSPARSE_MALLOC_TUNING   # would silently disable the trainer's allocator tuning

QUICK=off FORCE=off JOBS=1 RENDER_ONLY=off ARGS_TEXT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=on ;;
    --force) FORCE=on ;;
    --render) RENDER_ONLY=on ;;
    --jobs)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "bench-budget: --jobs needs a positive whole number, got '${2:-}'" >&2; exit 2; }
      JOBS=$2; ARGS_TEXT+=" --jobs"; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "bench-budget: unknown argument '$1' (see build/bench-budget.sh --help)" >&2; exit 2 ;;
  esac
  ARGS_TEXT+=" $1"
  shift
done

DEFAULT_ROWS="lenet5:0.9:hs:10m lenet5:0.98:hs:10m lenet5:0.9:hs:30m lenet5:0.98:hs:30m resnet20:0.98:hs:60m lenet5:0.98:l1:30m lenet5:0.98:magnitude:30m lenet5:0.98:dense:30m"
ROWS=${ROWS:-$DEFAULT_ROWS}
EXTRA=${EXTRA:-}
if [ "$QUICK" = on ]; then
  RESULTS=${RESULTS:-artifacts/bench-budget-quick/budget.jsonl}
  OUT=${OUT:-artifacts/bench-budget-quick/budget.md}
  WORK=${WORK:-artifacts/bench-budget-quick}
  SIZE=(--train 2000 --test 1000)
else
  RESULTS=${RESULTS:-docs/budget.jsonl}
  OUT=${OUT:-docs/budget.md}
  WORK=${WORK:-artifacts/bench-budget}
  SIZE=()
fi
# --quick scales the budgets down; the row list keeps the real ones so the two runs have the same shape.
quick_budget() { case "$1" in 10m) echo 10s ;; 30m) echo 20s ;; 60m) echo 30s ;; *) echo "$1" ;; esac; }

ENV_TEXT=""
[ "$ROWS" = "$DEFAULT_ROWS" ] || ENV_TEXT+="ROWS=\"$ROWS\" "
[ -z "$EXTRA" ] || ENV_TEXT+="EXTRA=\"$EXTRA\" "
COMMAND="${ENV_TEXT}build/bench-budget.sh${ARGS_TEXT}"
REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo "?")

PROJECT=src/Samples/HyperSparse.Bench
echo "bench-budget: building $PROJECT (Release)"
dotnet build "$PROJECT" -c Release -v q -nologo >/dev/null
DLL="$ROOT/$PROJECT/bin/Release/net10.0/HyperSparse.Bench.dll"
[ -f "$DLL" ] || { echo "bench-budget: $DLL not found after build" >&2; exit 1; }
echo "bench-budget: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); rows cached in $RESULTS"

START=$SECONDS
# The report lists every default row (finished or pending) and any other row asked for: a run of a few rows (ROWS=...)
# re-renders the whole page. Rows match by architecture, κ, method and budget, whatever threads and --jobs they ran with.
RENDER_ROWS=""
for row in $DEFAULT_ROWS $ROWS; do
  IFS=: read -r arch kappa method budget <<<"$row"
  [ "$QUICK" = on ] && budget=$(quick_budget "$budget")
  [[ " $RENDER_ROWS " == *" $arch:$kappa:$method:$budget "* ]] || RENDER_ROWS+=" $arch:$kappa:$method:$budget"
done
[ "$RENDER_ONLY" = on ] && ROWS=""
THREADS=()
if [ "$JOBS" -gt 1 ] && [[ " $EXTRA " != *" --threads "* ]]; then
  t=$(( $(nproc) / JOBS )); [ "$t" -ge 1 ] || t=1
  THREADS=(--threads "$t")
fi
mkdir -p "$WORK/logs"
FAILED=0
for row in $ROWS; do
  IFS=: read -r arch kappa method budget <<<"$row"
  [ "$QUICK" = on ] && budget=$(quick_budget "$budget")
  ROW_SIZE=("${SIZE[@]}")
  # A ResNet-20 epoch on 2,000 images alone takes most of a quick budget on a busy 2-core box.
  [ "$QUICK" = on ] && [ "$arch" = resnet20 ] && ROW_SIZE=(--train 500 --test 1000)
  echo
  # One process per row: a crash or an interrupt loses at most the epoch in progress (the row resumes from its checkpoints).
  # shellcheck disable=SC2086  # EXTRA is a list of options
  CMD=(dotnet "$DLL" budget --arch "$arch" --kappa "$kappa" --method "$method" --budget "$budget" --results "$RESULTS"
       --work "$WORK" --force "$FORCE" --revision "$REVISION" --jobs "$JOBS" "${ROW_SIZE[@]}" "${THREADS[@]}" $EXTRA)
  if [ "$JOBS" -eq 1 ]; then
    "${CMD[@]}" || FAILED=$((FAILED + 1))
  else
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || FAILED=$((FAILED + 1)); done
    LOG="$WORK/logs/$arch-$kappa-$method-$budget.log"
    echo "bench-budget: started $row (log: $LOG)"
    ( "${CMD[@]}" >"$LOG" 2>&1 && rc=0 || rc=$?
      { grep -E '^budget: ' "$LOG" || echo "budget: failed with exit code $rc"; } | tail -1 | sed "s|^|[$row] |"
      exit "$rc" ) &
  fi
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || FAILED=$((FAILED + 1)); done

echo
dotnet "$DLL" budget-render --results "$RESULTS" --out "$OUT" --rows "${RENDER_ROWS# }" --command "$COMMAND"
echo "bench-budget: report written to $OUT ($((SECONDS - START)) s)"
[ "$FAILED" -eq 0 ] || { echo "bench-budget: $FAILED row(s) failed (see the output above or WORK/logs)" >&2; exit 1; }
