#!/usr/bin/env bash
# The main job (README, command one). On Debian 12 with the .NET 10 SDK: installs what it needs (build/setup.sh), builds,
# then with real data (Fashion-MNIST, Debian's dataset-fashion-mnist: 60,000 train / 10,000 test images):
#   1. exports 500 test images as PNG class folders (real image files for predict and the scoring app),
#   2. trains LeNet-5 with HyperSparse + ART at κ = 0.98 (quick profile) through the ML.NET pipeline → model.zip, model.onnx,
#      report.md/json, plots, Consume.cs,
#   3. evaluates on the full 10,000-image test split, 4. predicts five PNGs,
#   5. scores the 500 PNGs with src/Samples/ScoringSample (ML.NET + ONNX Runtime only, no TorchSharp) and checks that it
#      agrees with the CLI,
#   6. prints a summary table.
# Output: artifacts/demo (set HS_DEMO_OUT to change). About 10–15 minutes on 2 cores.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
hs_setup
cd "$HS_ROOT"
dotnet build HyperSparse.MLNet.sln -c Release --no-restore -v q -nologo

out="${HS_DEMO_OUT:-$HS_ROOT/artifacts/demo}"
data="${HYPERSPARSE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
bin="src/Samples/HyperSparse.Cli/bin/Release/net10.0/HyperSparse.Cli.dll"
scoring="src/Samples/ScoringSample/bin/Release/net10.0/ScoringSample.dll"
cli() { dotnet "$bin" "$@"; }
started=$(date +%s)
rm -rf "$out"
mkdir -p "$out"

echo "== 1/5 export-images: 500 Fashion-MNIST test images as PNG files"
cli export-images --idx "$data" --split test --limit 500 --out "$out/test-images"

echo "== 2/5 train: LeNet-5, κ = 0.98, quick profile, full 60,000-image train split"
cli train --data "$data" --arch lenet5 --sparsity 0.98 --profile quick --seed 42 --out "$out/model"

echo "== 3/5 evaluate: full 10,000-image test split"
cli evaluate --model "$out/model/model.zip" --data "$data" --split test --json "$out/evaluation.json"

echo "== 4/5 predict: five PNG files"
mapfile -t images < <(find "$out/test-images" -name '*.png' | sort)
cli predict --model "$out/model/model.zip" "${images[@]:0:5}"
cli predict --model "$out/model/model.zip" --json "${images[@]}" > "$out/cli-predictions.json"

echo "== 5/5 ScoringSample (ML.NET + ONNX Runtime only) on the same 500 PNG files"
dotnet "$scoring" "$out/model/model.zip" "$out/test-images" > "$out/scoring-sample.tsv"

python3 - "$out" "$started" <<'PY'
import json, os, sys, time
out, started = sys.argv[1], int(sys.argv[2])
report = json.load(open(os.path.join(out, "model", "report.json")))
t = report["training"]
evaluation = json.load(open(os.path.join(out, "evaluation.json")))
cli = {os.path.abspath(r["image"]): r["label"] for r in json.load(open(os.path.join(out, "cli-predictions.json")))}
sample = {}
for line in open(os.path.join(out, "scoring-sample.tsv")):
    path, label = line.rstrip("\n").split("\t")[:2]
    sample[os.path.abspath(path)] = label
agree = sum(1 for p, l in sample.items() if cli.get(p) == l)
truth = sum(1 for p, l in sample.items() if os.path.basename(os.path.dirname(p)) == l)
size = lambda name: os.path.getsize(os.path.join(out, "model", name))
rows = [
    ("model", f'{t["Architecture"]}, {t["Method"]} + {t["Regularizer"]}, seed 42'),
    ("requested / achieved sparsity", f'{t["RequestedPruningRate"]:.2%} / {t["AchievedSparsity"]:.4%} ({t["KeptWeights"]:,} of {t["PrunableWeights"]:,} weights kept)'),
    ("epochs warm-up / ART / fine-tune", f'{t["WarmupEpochs"]} / {t["ArtEpochs"]} / {t["FineTuneEpochs"]} (ART: {t["ArtStopReason"]})'),
    ("test accuracy (10,000 images)", f'{evaluation["Accuracy"]:.2%}' if "Accuracy" in evaluation else json.dumps(evaluation)[:80]),
    ("model.onnx (Compact)", f'{size("model.onnx"):,} B'),
    ("trained network, dense ONNX", f'{t["TrainedDenseOnnxBytes"]:,} B  (Compact = 1/{t["TrainedDenseOnnxBytes"] / t["OnnxBytes"]:.1f}; after the dead-channel shrink, dense: {t["DenseOnnxBytes"]:,} B)'),
    ("information bound", f'{t["BoundBytes"]:,.0f} B  (Compact / bound = {t["OnnxBytes"] / t["BoundBytes"]:.2f})'),
    ("model.zip (ML.NET)", f'{size("model.zip"):,} B'),
    ("ScoringSample vs CLI predict", f'{agree} of {len(sample)} images same label; {truth} of {len(sample)} correct'),
    ("training time", f'{t["TotalSeconds"] / 60:.1f} min'),
    ("whole demo", f'{(time.time() - started) / 60:.1f} min'),
]
width = max(len(k) for k, _ in rows)
print("\n== summary (files in %s)" % out)
for k, v in rows:
    print(f"  {k:<{width}}  {v}")
if agree != len(sample) or len(sample) == 0:
    sys.exit("ScoringSample and the CLI disagree")
PY
