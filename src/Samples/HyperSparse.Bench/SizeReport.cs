using System.Globalization;
using System.Text;

namespace HyperSparse.Bench;

/// <summary>
/// `size-report`: turns the rows cached by `size` into markdown — the acceptance table (sizes, ratios, bound), how each
/// model was trained, the ONNX Runtime equivalence check, and per-layer byte accounting of every export.
/// </summary>
internal static class SizeReport
{
    public static int Run(Args args)
    {
        var results = args.Get("results") ?? throw new ArgumentException("size-report needs --results FILE.");
        var output = args.Get("out");
        var command = args.Get("command", "(not given)");
        var resultsName = args.Get("results-name", Path.GetFileName(results));
        args.EnsureAllUsed();

        var rows = SizeBenchmark.ReadRows(results);
        if (rows.Count == 0) throw new ArgumentException($"No rows in {results}.");
        rows = rows.OrderBy(r => r.Config.Arch == "LeNet-5" ? 0 : 1).ThenBy(r => r.Config.Arch, StringComparer.Ordinal).ThenBy(r => r.Config.Kappa).ToList();

        var md = new StringBuilder();
        md.AppendLine("# ONNX file sizes of trained sparse models");
        md.AppendLine();
        md.AppendLine($"- Machine: {Environment.ProcessorCount} logical CPUs (nproc), {StepReport.CpuModel()}, {StepReport.MemTotal()}; " +
                      $"TorchSharp 0.107 CPU, ONNX Runtime 1.31.1, .NET {Environment.Version}");
        md.AppendLine($"- Date: report written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; rows measured {rows.Min(r => r.StartedUtc)} … {rows.Max(r => r.StartedUtc)}");
        md.AppendLine($"- Command: `{command}`; rows cached in `{resultsName}` (a rerun skips finished rows; `--force` recomputes them)");
        md.AppendLine($"- Noise: the 2 cores are shared with other work (load average per row: {string.Join("; ", rows.Select(r => $"{r.Config.Arch} κ {F(r.Config.Kappa)}: {r.LoadStart} → {r.LoadEnd}"))}). " +
                      "Times are indicative only. Sizes and accuracies do not depend on load, but libtorch's 2-thread CPU kernels are not " +
                      "bit-reproducible, so a rerun of the same config can move accuracy and the Compact size slightly.");
        md.AppendLine();

        md.AppendLine("## Sizes");
        md.AppendLine();
        md.AppendLine("| model | κ | achieved sparsity | kept weights | test acc % | dense bytes | sparse-init bytes | compact bytes | dense/compact | required | result | bound bytes | compact/bound |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
        foreach (var r in rows)
        {
            md.AppendLine($"| {r.Config.Arch} | {F(r.Config.Kappa)} | {r.AchievedSparsity.ToString("P2", CultureInfo.InvariantCulture)} | " +
                          $"{N(r.KeptWeights)} of {N(r.PrunableWeights)} | {r.TestAccuracy.ToString("F2", CultureInfo.InvariantCulture)} | " +
                          $"{N(r.DenseBytes)} | {N(r.SparseInitBytes)} | {N(r.CompactBytes)} | **{r.Ratio.ToString("F2", CultureInfo.InvariantCulture)}×** | " +
                          $"{(r.RequiredRatio is { } q ? $"≥ {F(q)}×" : "–")} | {(r.Pass is null ? "n/a" : r.Pass.Value ? "PASS" : "**FAIL**")} | " +
                          $"{N((long)Math.Round(r.BoundBytes))} | {(r.CompactBytes / r.BoundBytes).ToString("F3", CultureInfo.InvariantCulture)} |");
        }
        md.AppendLine();
        foreach (var r in rows.Where(r => r.RequiredRatio is not null))
        {
            var allowed = r.DenseBytes / r.RequiredRatio!.Value;
            var margin = allowed - r.CompactBytes;
            md.AppendLine($"- {r.Config.Arch}, κ = {F(r.Config.Kappa)}: the threshold allows {N((long)Math.Floor(allowed))} bytes (dense / {F(r.RequiredRatio.Value)}); " +
                          $"the Compact file is {N(r.CompactBytes)} bytes, {(margin >= 0 ? "under" : "**over**")} it by {N((long)Math.Abs(Math.Round(margin)))} bytes " +
                          $"({(Math.Abs(margin) / allowed).ToString("P1", CultureInfo.InvariantCulture)} of the allowance).");
        }
        md.AppendLine();
        md.AppendLine("- *dense*, *sparse-init*, *compact*: the same trained network written by `OnnxModelWriter` with " +
                      "`OnnxWeightEncoding.Dense`, `.SparseInitializer` (int64 linear indices) and `.Compact` (uint8 gaps + float32 kept " +
                      "values, rebuilt in-graph); whole files, including graph, metadata, biases and normalisation constants. Batch norms are " +
                      "folded into their convolutions (a per-channel multiply: zeros stay zeros, one bias per output channel).");
        md.AppendLine("- *bound*: the issue's information bound N·H(nnz/N)/8 + 4·nnz + 4·(other float parameters), with N the prunable " +
                      "weights (every conv and linear weight), nnz the kept ones and H the binary entropy in bits; *other* = the folded " +
                      "biases, the fc biases and the input-normalisation constants (OnnxSizeReport.OtherParameterCount). It ignores graph " +
                      "structure, so no real file reaches it. A per-layer mask entropy (Σ Nᵢ·H(pᵢ)/8, never larger) is in the per-layer tables below.");
        md.AppendLine("- *test acc*: top-1 of the final pruned, fine-tuned model (TorchSharp, eval mode) on the first images of t10k (sizes in the next table); " +
                      "the Compact file in ONNX Runtime gives the figure in the next table.");
        md.AppendLine();

        md.AppendLine("## Training (engine: ART + HyperSparse, then prune and masked fine-tune)");
        md.AppendLine();
        md.AppendLine("| model | κ | train / test images | batch, lr | epochs: warm-up + ART (cap) + fine-tune | λ init, growth η | ART ended | λ at end | dense / pruned train acc % at end of ART | peak dense train acc % (warm-up + ART) | dense test acc % after warm-up | test acc % end of ART (dense) | final test acc % (torch / ORT compact) | time s (warm-up / ART / fine-tune) |");
        md.AppendLine("|---|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var c = r.Config;
            var stop = r.ArtStopReason switch
            {
                "StopRuleFired" => $"stop rule fired after {r.ArtEpochs} ART epochs (pruned copy of ART epoch {r.SelectedArtEpoch + 1}, pruned train acc {F1(r.SelectedPrunedTrainAccuracy)} %)",
                "CapReached" => $"**cap forced the prune** after {r.ArtEpochs} epochs (best pruned copy: ART epoch {r.SelectedArtEpoch + 1}, pruned train acc {F1(r.SelectedPrunedTrainAccuracy)} %)",
                _ => r.ArtStopReason,
            };
            md.AppendLine($"| {c.Arch} | {F(c.Kappa)} | {N(c.TrainImages)} / {N(c.TestImages)} | {c.Batch}, {F(c.LearningRate)} (×0.1 at fine-tune epoch {string.Join(", ", c.LearningRateSteps.Select(s => s + 1))}) | " +
                          $"{c.WarmupEpochs} + {r.ArtEpochs} ({c.MaxArtEpochs}) + {c.FineTuneEpochs} | {G(c.LambdaInit)}, {F(c.LambdaGrowth)} | {stop} | {G(r.LastLambda)} | " +
                          $"{F1(r.LastDenseTrainAccuracy)} / {F1(r.LastPrunedTrainAccuracy)} | {F1(r.PeakDenseTrainAccuracy)} | {F1(r.DenseTestAccuracyAfterWarmup)} | {F1(r.DenseTestAccuracyEndOfArt)} | " +
                          $"{F2(r.TestAccuracy)} / {F2(r.OrtCompactTestAccuracy)} | {F0(r.WarmupSeconds)} / {F0(r.ArtSeconds)} / {F0(r.FineTuneSeconds)} |");
        }
        md.AppendLine();
        foreach (var r in rows)
        {
            var c = r.Config;
            if (r.ArtStopReason == "StopRuleFired" && r.LastDenseTrainAccuracy < r.PeakDenseTrainAccuracy - 5)
                md.AppendLine($"- {c.Arch}, κ = {F(c.Kappa)}: the stop rule fired after the dense model's train accuracy had fallen from " +
                              $"{F1(r.PeakDenseTrainAccuracy)} % to {F1(r.LastDenseTrainAccuracy)} % under λ up to {G(r.LastLambda)}, i.e. the dense model came down to " +
                              $"the pruned copies rather than a pruned copy catching up with a healthy dense model (selected copy: {F1(r.SelectedPrunedTrainAccuracy)} % pruned train accuracy).");
            else if (r.ArtStopReason == "StopRuleFired")
                md.AppendLine($"- {c.Arch}, κ = {F(c.Kappa)}: the stop rule fired with the dense model near its best (train accuracy {F1(r.LastDenseTrainAccuracy)} %, peak {F1(r.PeakDenseTrainAccuracy)} %).");
            else if (r.ArtStopReason == "CapReached")
                md.AppendLine($"- {c.Arch}, κ = {F(c.Kappa)}: the stop rule did not fire within {c.MaxArtEpochs} ART epochs; the cap forced the prune.");
        }
        md.AppendLine();
        md.AppendLine("Data: Debian's `dataset-fashion-mnist` (official split, 28×28 grey); the first *train* images of the training split and the " +
                      "first *test* images of t10k. Normalisation: per-channel mean/std of the train slice (baked into the ONNX graph). " +
                      "Augmentation: random crop with 2-pixel padding, no flips. SGD momentum 0.9, weight decay 1e-4, fresh optimiser for " +
                      "fine-tuning (the engine's defaults). ART's λ grows by η per epoch; the stop rule compares the windowed (m = 1) train " +
                      "accuracy of a magnitude-pruned copy with the dense model's train accuracy. The test slice is passed to the trainer " +
                      "only to log accuracy per epoch; nothing is selected on it (the last fine-tune epoch's model is exported). " +
                      $"Seeds: {string.Join(", ", rows.Select(r => r.Config.Seed).Distinct())}; torch threads: {string.Join(", ", rows.Select(r => r.Config.Threads).Distinct())}.");
        md.AppendLine();

        md.AppendLine("## Same scores from every file (ONNX Runtime 1.31.1, CPU, default session options)");
        md.AppendLine();
        md.AppendLine("| model | κ | images | max \\|Δ score\\| dense vs compact | max \\|Δ score\\| dense vs sparse-init | max \\|Δ logit\\| dense vs compact | max \\|Δ logit\\| TorchSharp vs ORT dense | arg-max disagreements ORT compact vs TorchSharp (whole test slice) |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            md.AppendLine($"| {r.Config.Arch} | {F(r.Config.Kappa)} | {r.Config.VerifyImages} | {G(r.MaxAbsScoreDiffCompact)} | {G(r.MaxAbsScoreDiffSparse)} | " +
                          $"{G(r.MaxAbsLogitDiffCompact)} | {G(r.MaxAbsLogitDiffTorchVsOrt)} | {r.OrtTorchDisagreements} of {N(r.Config.TestImages)} |");
        md.AppendLine();

        md.AppendLine("## Where the bytes go");
        md.AppendLine();
        md.AppendLine("| model | κ | file | weight tensors (conv + fc) | biases + normalisation (4 B × other) | graph, names, metadata (rest) | total |");
        md.AppendLine("|---|---:|---|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var other = 4 * r.OtherParameters;
            foreach (var (name, total, weights) in new[]
                     {
                         ("dense", r.DenseBytes, r.Layers.Sum(l => l.DenseBytes)),
                         ("sparse-init", r.SparseInitBytes, r.Layers.Sum(l => l.SparseBytes)),
                         ("compact", r.CompactBytes, r.Layers.Sum(l => l.CompactBytes)),
                     })
                md.AppendLine($"| {r.Config.Arch} | {F(r.Config.Kappa)} | {name} | {N(weights)} | {N(other)} | {N(total - weights - other)} | {N(total)} |");
        }
        md.AppendLine();
        var overheads = new List<(SizeRow Row, long Payload, long Fillers, long Structure)>();
        md.AppendLine("Compact files in detail (bytes):");
        md.AppendLine();
        md.AppendLine("| model | κ | kept values 4·nnz | gaps 1·nnz | filler entries 5·fillers | decode nodes + tensor headers + shared constants | biases + normalisation | metadata contract | graph doc string | other graph (Conv/Gemm/BN/ReLU/Add nodes, names, I/O) | total |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var compacted = r.Layers.Where(l => l.CompactEncoding == "Compact").ToList();
            var denseLayers = r.Layers.Where(l => l.CompactEncoding != "Compact").ToList();
            long values = 4 * compacted.Sum(l => l.Kept), gaps = compacted.Sum(l => l.Kept), fillers = 5 * compacted.Sum(l => l.GapEntries - l.Kept);
            long decode = compacted.Sum(l => l.CompactBytes - 5 * l.GapEntries);
            long other = 4 * r.OtherParameters;
            long rest = r.CompactBytes - compacted.Sum(l => l.CompactBytes) - denseLayers.Sum(l => l.CompactBytes) - other - r.CompactMetadataBytes - r.CompactDocStringBytes;
            var denseNote = denseLayers.Count == 0 ? "" : $" (+ {N(denseLayers.Sum(l => l.CompactBytes))} B of layers kept dense: {string.Join(", ", denseLayers.Select(l => l.Name))})";
            md.AppendLine($"| {r.Config.Arch} | {F(r.Config.Kappa)} | {N(values)} | {N(gaps)} | {N(fillers)} | {N(decode)}{denseNote} | {N(other)} | " +
                          $"{N(r.CompactMetadataBytes)} | {N(r.CompactDocStringBytes)} | {N(rest)} | {N(r.CompactBytes)} |");
            overheads.Add((r, values + gaps, fillers, decode + r.CompactMetadataBytes + r.CompactDocStringBytes + rest));
        }
        md.AppendLine();
        foreach (var (r, payload, fillers, structure) in overheads)
            md.AppendLine($"- {r.Config.Arch}, κ = {F(r.Config.Kappa)}: kept values + one gap byte each = {N(payload)} B " +
                          $"({Pct(payload, r.CompactBytes)} of the file); structure that does not shrink with nnz (decode nodes, metadata contract, " +
                          $"doc string, the rest of the graph) = {N(structure)} B ({Pct(structure, r.CompactBytes)}); gap fillers {N(fillers)} B " +
                          $"({Pct(fillers, r.CompactBytes)}); biases + normalisation {N(4 * r.OtherParameters)} B ({Pct(4 * r.OtherParameters, r.CompactBytes)}).");
        md.AppendLine();
        md.AppendLine("Weight-tensor bytes are what `OnnxSizeReport` attributes to each layer (initializers, sparse initializer, decode nodes and " +
                      "the shared shape/zero constants a layer was first to need); biases are counted at their 4 bytes of payload, and the " +
                      "rest is everything else in the file (node and tensor names, protobuf headers, the metadata contract).");
        md.AppendLine();

        md.AppendLine("## Per layer");
        foreach (var r in rows)
        {
            md.AppendLine();
            md.AppendLine($"### {r.Config.Arch}, κ = {F(r.Config.Kappa)}");
            md.AppendLine();
            md.AppendLine("| layer | op | shape | weights | kept | density | dead outputs | gap fillers | compact encoding | compact B | of which decode graph + headers | sparse-init encoding | sparse-init B | dense B | layer bound B |");
            md.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|");
            foreach (var l in r.Layers)
            {
                // Payload of the gap code: 1 byte per entry plus 4 per stored value (fillers store a zero).
                var overhead = l.CompactEncoding == "Compact" ? N(l.CompactBytes - 5 * l.GapEntries) : "–";
                md.AppendLine($"| {l.Name} | {l.Op} | {string.Join("×", l.Shape)} | {N(l.Parameters)} | {N(l.Kept)} | " +
                              $"{((double)l.Kept / l.Parameters).ToString("P2", CultureInfo.InvariantCulture)} | {l.DeadOutputs} of {l.Shape[0]} | {N(l.GapEntries - l.Kept)} | {l.CompactEncoding} | {N(l.CompactBytes)} | {overhead} | " +
                              $"{l.SparseEncoding} | {N(l.SparseBytes)} | {N(l.DenseBytes)} | {N((long)Math.Round(l.BoundBytes))} |");
            }
            var fallbacks = r.Layers.Where(l => l.CompactEncoding == "Dense").Select(l => $"{l.Name} ({N(l.Parameters)} weights, {N(l.Kept)} kept)").ToList();
            md.AppendLine();
            md.AppendLine($"Σ layer bound {N((long)Math.Round(r.LayerwiseBoundBytes))} B (with biases); compact/layer bound {(r.CompactBytes / r.LayerwiseBoundBytes).ToString("F3", CultureInfo.InvariantCulture)}. " +
                          (fallbacks.Count == 0 ? "No layer fell back to dense in the Compact file." : $"Layers written dense in the Compact file (dense was smaller): {string.Join(", ", fallbacks)}."));
            foreach (var note in r.Notes) md.AppendLine($"Note: {note}");
        }
        md.AppendLine();

        md.AppendLine("## Caveats");
        md.AppendLine();
        md.AppendLine("- Short, documented schedules on Fashion-MNIST slices, not the paper's: the accuracies show the models are trained " +
                      "(chance is 10 %; compare the dense test accuracy after warm-up in the training table), not what the method reaches " +
                      "with full schedules or the full training set. The sizes depend on the sparsity pattern (how kept weights are spread over layers and positions), which a " +
                      "longer schedule can change somewhat; the kept count does not change (the prune is exact: N − ⌊κN⌋ − 1 weights).");
        md.AppendLine("- ResNet-20 is the 16-wide CIFAR variant on 1×28×28 input; LeNet-5 the classic 6/16 conv, 120/84 fc.");
        md.AppendLine("- The required ratios (≥ 6× at κ = 0.9, ≥ 20× at κ = 0.98) are the issue's acceptance thresholds; the Compact file pays for " +
                      "the float32 kept values (4 B each), one uint8 gap per kept weight (plus a filler entry per 255-position run without one), " +
                      "the folded biases and the graph. At κ = 0.98 the kept values alone are 4·nnz ≈ 2 % of the dense weight bytes and ≥ 20× " +
                      "allows 5 % of the dense file, so gaps (≈ 0.5 %), biases and graph must fit in the remaining ≈ 3 %.");
        md.AppendLine("- Timings come from a shared 2-core machine (other jobs ran at the same time) and are indicative only.");

        var text = md.ToString();
        Console.Write(text);
        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, text);
        }
        return 0;
    }

    private static string Pct(long part, long whole) => ((double)part / whole).ToString("P1", CultureInfo.InvariantCulture);
    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
    private static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
    private static string F0(double v) => v.ToString("F0", CultureInfo.InvariantCulture);
    private static string F1(double v) => double.IsNaN(v) ? "–" : v.ToString("F1", CultureInfo.InvariantCulture);
    private static string F2(double v) => double.IsNaN(v) ? "–" : v.ToString("F2", CultureInfo.InvariantCulture);
    private static string G(double v) => v.ToString("G3", CultureInfo.InvariantCulture);
}
