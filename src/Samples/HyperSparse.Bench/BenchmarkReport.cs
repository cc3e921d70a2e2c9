using System.Globalization;
using System.Text;

namespace HyperSparse.Bench;

/// <summary>
/// `render`: writes docs/benchmarks.md from the rows files of every section that has rows (size, latency). Each section
/// renders itself from its own rows and is stamped from them (machine, threads, load, dates, the commands that made them),
/// so a section added later only needs its rows file and a renderer here.
/// </summary>
internal static class BenchmarkReport
{
    public static int Run(Args args)
    {
        var output = args.Get("out") ?? throw new ArgumentException("render needs --out FILE.md.");
        var sizeFile = args.Get("size");
        var latencyFile = args.Get("latency");
        var accuracyFile = args.Get("accuracy");
        var stepFile = args.Get("step");
        var budgetFile = args.Get("budget");
        var transferFile = args.Get("transfer");
        var speedFile = args.Get("speed");
        var command = args.Get("command", "(not given)");
        args.EnsureAllUsed();

        var size = sizeFile is null ? new List<SizeRow>() : RowFile.Read<SizeRow>(sizeFile);
        var latency = latencyFile is null ? new List<LatencyRow>() : RowFile.Read<LatencyRow>(latencyFile);
        var accuracy = accuracyFile is null ? new List<AccuracyRow>() : RowFile.Read<AccuracyRow>(accuracyFile);
        var transfer = transferFile is null ? new List<TransferRow>() : RowFile.Read<TransferRow>(transferFile, TransferRow.Json);
        var speed = speedFile is null ? new List<SpeedRow>() : RowFile.Read<SpeedRow>(speedFile, SpeedRow.Json);
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine($"Written by `{command}` from the rows in {string.Join(" and ", new[] { accuracyFile, sizeFile, latencyFile, transferFile, speedFile }.OfType<string>().Select(f => $"`{Path.GetFileName(f)}`"))} " +
                      "(every figure below comes from those rows; none is typed by hand). `build/bench.sh` runs every section, `build/bench.sh <section>` one of them; " +
                      "finished rows are skipped on a rerun, `--reexport` re-measures them from the cached trained models (artifacts/bench-models) without retraining, " +
                      "`--retrain` trains again.");
        md.AppendLine();
        AccuracyBenchmark.Render(md, accuracy, command);
        if (stepFile is not null && File.Exists(stepFile)) TrainingSpeed(md, stepFile);
        if (budgetFile is not null && File.Exists(budgetFile)) TimeBudget(md, budgetFile);
        if (size.Count > 0) Size(md, size, latency);
        if (latency.Count > 0) Latency(md, latency);
        SpeedBenchmark.Render(md, speed);
        TransferBenchmark.Render(md, transfer);
        if (size.Count > 0) Appendix(md, size);

        var text = md.ToString();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        var temporary = output + $".{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, output, overwrite: true);
        Console.WriteLine($"render: {output} ({accuracy.Count} accuracy rows, {size.Count} size rows, {latency.Count} latency rows, {transfer.Count} transfer rows, {speed.Count} speed rows)");
        return 0;
    }

    // ---------------------------------------------------------------- training speed

    /// <summary>
    /// The training-speed page build/bench-step.sh writes (our step vs PyTorch, Fit vs the raw loop, the HyperSparse term's
    /// overhead), taken in whole as a section: its title dropped, its headings one level down.
    /// </summary>
    private static void TrainingSpeed(StringBuilder md, string stepFile)
    {
        md.AppendLine("## Training speed");
        md.AppendLine();
        md.AppendLine($"From `{Path.GetFileName(stepFile)}`, written by `build/bench-step.sh` (its own stamp below).");
        md.AppendLine();
        foreach (var line in File.ReadLines(stepFile).SkipWhile(l => !l.StartsWith("# ", StringComparison.Ordinal)).Skip(1))
            md.AppendLine(line.StartsWith('#') ? "#" + line : line);
        md.AppendLine();
    }

    /// <summary>The page build/bench-budget.sh writes (a "## Training within a time budget" section), taken in whole.</summary>
    private static void TimeBudget(StringBuilder md, string budgetFile)
    {
        var lines = File.ReadAllLines(budgetFile);
        var start = Array.FindIndex(lines, l => l.StartsWith("## ", StringComparison.Ordinal));
        if (start < 0) return;
        md.AppendLine(lines[start]);
        md.AppendLine();
        md.AppendLine($"From `{Path.GetFileName(budgetFile)}`, written by `build/bench-budget.sh`.");
        foreach (var line in lines.Skip(start + 1)) md.AppendLine(line);
        md.AppendLine();
    }

    // ---------------------------------------------------------------- model size

    private static void Size(StringBuilder md, List<SizeRow> rows, List<LatencyRow> latency)
    {
        rows = rows.OrderBy(r => Defaults.Order(r.Config.Train.Arch)).ThenBy(r => r.Config.Train.Kappa).ToList();
        md.AppendLine("## Model size");
        md.AppendLine();
        Stamp(md, rows.Select(r => r.Machine), $"training: libtorch {string.Join("/", rows.Select(r => r.Config.Train.Threads).Distinct())} threads; ONNX Runtime scoring: {string.Join("/", rows.Select(r => r.OrtThreads).Distinct())} intra-op threads",
            rows.SelectMany(r => new[] { r.Training.LoadStart, r.Training.LoadEnd, r.LoadStart, r.LoadEnd }),
            rows.SelectMany(r => new[] { r.Training.TrainedUtc, r.MeasuredUtc }), rows.Select(r => r.Command), rows.Select(r => r.Revision));
        md.AppendLine();
        md.AppendLine("Each row is one network trained once through the engine (dense warm-up, ART with the HyperSparse regulariser until its stop rule fires or the " +
                      "cap, prune to κ, masked fine-tune; schedules below) and written by `OnnxModelWriter`: *Dense* (float32 tensors, every channel: the " +
                      "reference), and, with dead channels removed as `Fit` ships them (the default `ShrinkDeadChannels`), " +
                      "*SparseInit* (`OnnxWeightEncoding.SparseInitializer`), *Compact* (one Rice-coded gap stream and one float32 value tensor for all sparse layers, " +
                      "decoded in-graph) and *Compact+int8* (the same with `QuantizeWeights`: per-output-channel symmetric int8 values, mask exact). " +
                      "*Compact/bound* takes the Compact file of the unshrunk network (the encoder against the bound of the same weights; rows measured before " +
                      "the shrink existed have only that file). *channels*: output channels of all conv and linear layers in the shipped files / in the trained network. " +
                      "Bytes are whole files; the figure after the slash is the file after raw deflate (System.IO.Compression, `CompressionLevel.Optimal`).");
        md.AppendLine();
        md.AppendLine("| model | κ | kept weights | sparsity | Dense B / deflated | SparseInit B / deflated | Compact B / deflated | Compact+int8 B / deflated | model.zip B: Dense / Compact / Compact+int8 | bound B | Compact (no shrink) B | Compact/bound | channels | Dense/Compact | Dense/(Compact+int8) | acc float % | acc int8 % | Δ pp | full t10k: acc float % / int8 % / Δ pp |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            md.AppendLine($"| {r.Config.Train.Arch} | {K(r.Config.Train.Kappa)} | {N(r.KeptWeights)} of {N(r.PrunableWeights)} | {P(r.Sparsity)} | " +
                          $"{Bytes(r.Dense)} | {Bytes(r.SparseInitializer)} | {Bytes(r.Compact)} | {Bytes(r.CompactInt8)} | {Zip(r.Dense)} / {Zip(r.Compact)} / {Zip(r.CompactInt8)} | {N(r.BoundBytes)} | " +
                          $"{(r.CompactUnshrunk is null ? "(= Compact)" : N(r.CompactUnshrunk.Bytes))} | {F(r.CompactOverBound, 3)}× | {(r.ChannelsTrained == 0 ? "–" : $"{N(r.ChannelsShipped)} / {N(r.ChannelsTrained)}")} | {F(r.DenseOverCompact, 1)}× | {F(r.DenseOverInt8, 1)}× | {F(r.OrtCompactAccuracy, 2)} | {F(r.OrtInt8Accuracy, 2)} | {Pp(r.Int8DeltaPp)} | {Full(r)} |");
        md.AppendLine();
        md.AppendLine("- *bound*: the issue's N·H(nnz/N)/8 + 4·nnz + 4·(parameters not pruned), N = all prunable (conv and linear) weights taken together, " +
                      "nnz the kept ones, H the binary entropy in bits; *parameters not pruned* = the folded biases, the linear biases and the input " +
                      "normalisation constants (`OnnxExportResult.Size.BoundBytes`), all of the trained network (before the dead-channel shrink). It ignores " +
                      "graph structure; a file can only come in below it because the shrink stores fewer weights than the trained mask.");
        md.AppendLine("- *model.zip*: what `MLContext.Model.Save` writes for the file's scoring chain as `Fit` returns it (ONNX transformer, ML.NET's " +
                      "multiclass scorer, the drop of the logits column; ML.NET deflates the ONNX inside) — a user's own pipeline steps (image loading, key " +
                      "mapping) add a few hundred bytes each; – = a row measured before this column existed (`build/bench.sh --reexport size` fills it).");
        md.AppendLine("- *acc float* / *acc int8*: top-1 on the test slice of the Compact / Compact+int8 file in ONNX Runtime; Δ = int8 − float in " +
                      "percentage points (one test image = " + string.Join(", ", rows.Select(r => r.Config.TestImages).Distinct().Select(t => $"{F(100.0 / t, 2)} pp at {N(t)} images")) + "). " +
                      "*full t10k*: the same two files on the whole official test split (10,000 images, 0.01 pp each; the model was trained on the train split only).");
        md.AppendLine("- The ResNets run on 1×28×28 Fashion-MNIST input (the CIFAR ResNets' stem, no resizing): ResNet-20 is the 16/32/64-wide one, " +
                      "ResNet-32 the paper's 32/64/128-wide one. LeNet-5: two 5×5 convolutions (6, 16) with max-pooling, then 120-84-10 fully connected.");
        md.AppendLine();

        SizeRow? At(string arch) => rows.FirstOrDefault(r => r.Config.Train.Arch == arch && Math.Abs(r.Config.Train.Kappa - 0.98) < 1e-9);
        md.AppendLine("### Target of issue #5 (κ = 0.98)");
        md.AppendLine();
        foreach (var arch in new[] { "LeNet-5", "ResNet-20", "ResNet-32" })
        {
            var r = At(arch);
            md.AppendLine(r is null
                ? $"- Sparse .onnx (the shipped Compact file, float weights) ≤ 1/20 of Dense, {arch}: **not measured** (no κ = 0.98 row)."
                : $"- Sparse .onnx (the shipped Compact file, float weights) ≤ 1/20 of Dense, {arch}: {Verdict(r.DenseOverCompact >= 20)} — " +
                  $"{N(r.Dense.Bytes)} B / {N(r.Compact.Bytes)} B = {F(r.DenseOverCompact, 1)}× smaller.");
        }
        md.AppendLine();
        md.AppendLine("### Targets of issue #9 (κ = 0.98)");
        md.AppendLine();
        foreach (var (arch, limit) in new[] { ("ResNet-32", 1.15), ("ResNet-20", 1.3) })
        {
            var r = At(arch);
            md.AppendLine(r is null
                ? $"- Compact ≤ {F(limit, 2)}× bound, {arch}: **not measured** (no κ = 0.98 row)."
                : $"- Compact ≤ {F(limit, 2)}× bound, {arch}: {Verdict(r.CompactOverBound <= limit)} — {N((r.CompactUnshrunk ?? r.Compact).Bytes)} B (Compact, no shrink) / {N(r.BoundBytes)} B = {F(r.CompactOverBound, 3)}×.");
        }
        foreach (var arch in new[] { "LeNet-5", "ResNet-20", "ResNet-32" })
        {
            var r = At(arch);
            md.AppendLine(r is null
                ? $"- Compact+int8 ≤ 1/50 of Dense, {arch}: **not measured**."
                : $"- Compact+int8 ≤ 1/50 of Dense, {arch}: {Verdict(r.DenseOverInt8 >= 50)} — {N(r.Dense.Bytes)} B / {N(r.CompactInt8.Bytes)} B = {F(r.DenseOverInt8, 1)}× smaller (1/{F(r.DenseOverInt8, 1)}).");
        }
        foreach (var arch in new[] { "LeNet-5", "ResNet-20", "ResNet-32" })
        {
            var r = At(arch);
            if (r is null)
                md.AppendLine($"- int8 accuracy change ≤ 0.3 pp, {arch}: **not measured**.");
            else if (r.FullTestImages > 0)
                md.AppendLine($"- int8 accuracy change ≤ 0.3 pp, {arch} (judged on the full t10k, {N(r.FullTestImages)} images): {Verdict(Math.Abs(r.Int8DeltaPpFull) <= 0.3 + 1e-9)} — " +
                              $"{F(r.OrtCompactAccuracyFull, 2)} % → {F(r.OrtInt8AccuracyFull, 2)} % ({Pp(r.Int8DeltaPpFull)} pp; {r.Int8DisagreementsFull} predictions differ). " +
                              $"On the {N(r.Config.TestImages)}-image test slice: {F(r.OrtCompactAccuracy, 2)} % → {F(r.OrtInt8Accuracy, 2)} % ({Pp(r.Int8DeltaPp)} pp, {r.Int8Disagreements} predictions differ" +
                              $"{(Math.Abs(r.Int8DeltaPp) <= 0.3 + 1e-9 ? "" : ", over 0.3 pp")}).");
            else
                md.AppendLine($"- int8 accuracy change ≤ 0.3 pp, {arch}: {Verdict(Math.Abs(r.Int8DeltaPp) <= 0.3 + 1e-9)} — {F(r.OrtCompactAccuracy, 2)} % → {F(r.OrtInt8Accuracy, 2)} % ({Pp(r.Int8DeltaPp)} pp on {N(r.Config.TestImages)} test images; {r.Int8Disagreements} predictions differ).");
        }
        // The encoder is exact: the unshrunk Compact file (rows before the shrink: Compact and SparseInit themselves) scores
        // bit-identically to Dense. The shrink folds removed channels into biases, so shipped files match within 1e-4.
        double EncoderDiff(SizeRow r) => r.CompactUnshrunk is null ? Math.Max(r.MaxAbsLogitDenseVsCompact, r.MaxAbsLogitDenseVsSparse) : r.MaxAbsLogitDenseVsCompactUnshrunk;
        var shrunk = rows.Where(r => r.CompactUnshrunk is not null).ToList();
        md.AppendLine($"- Outputs bit-identical to Dense (every row, whole test slice, ONNX Runtime; the encoder alone, no shrink): {Verdict(rows.All(r => EncoderDiff(r) == 0))} — max |Δ logit| {G(rows.Max(EncoderDiff))}.");
        if (shrunk.Count > 0)
            md.AppendLine($"- Shipped (shrunk) files vs Dense within 1e-4: {Verdict(shrunk.All(r => Math.Max(r.MaxAbsLogitDenseVsCompact, r.MaxAbsLogitDenseVsSparse) <= 1e-4))} — " +
                          $"max |Δ logit| Compact {G(shrunk.Max(r => r.MaxAbsLogitDenseVsCompact))}, SparseInit {G(shrunk.Max(r => r.MaxAbsLogitDenseVsSparse))} ({shrunk.Count} rows).");
        var fast = latency.Where(l => Math.Abs(l.Kappa - 0.98) < 1e-9).ToList();
        md.AppendLine(fast.Count == 0
            ? "- Scoring as fast as Dense: **not measured** (no latency rows)."
            : $"- Scoring as fast as Dense (Compact median ≤ {F(FastEnough, 2)}× Dense at batch 1 and 64): " + string.Join("; ", fast.Select(l =>
            {
                var (b1, b64) = (l.EncoderFile.Batch1Median / l.Files[0].Batch1Median, l.EncoderFile.Batch64Median / l.Files[0].Batch64Median);
                return $"{l.Arch} {Verdict(b1 <= FastEnough && b64 <= FastEnough)} ({F(b1, 3)}× at batch 1, {F(b64, 3)}× at batch 64)";
            })) + " — see *Scoring latency*.");
        md.AppendLine();

        md.AppendLine("### Scores and accuracy (ONNX Runtime, whole test slice)");
        md.AppendLine();
        md.AppendLine("| model | κ | test images | torch % | ORT Dense % | ORT Compact % | ORT Compact+int8 % | int8 predictions changed | max \\|Δ logit\\| Compact vs Dense | max \\|Δ logit\\| SparseInit vs Dense | max \\|Δ logit\\| torch vs ORT Dense | max \\|Δ logit\\| int8 vs Compact |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            md.AppendLine($"| {r.Config.Train.Arch} | {K(r.Config.Train.Kappa)} | {N(r.Config.TestImages)} | {F(r.TorchAccuracy, 2)} | {F(r.OrtDenseAccuracy, 2)} | {F(r.OrtCompactAccuracy, 2)} | " +
                          $"{F(r.OrtInt8Accuracy, 2)} | {r.Int8Disagreements} | {G(r.MaxAbsLogitDenseVsCompact)} | {G(r.MaxAbsLogitDenseVsSparse)} | {G(r.MaxAbsLogitTorchVsOrtDense)} | {G(r.MaxAbsLogitInt8VsCompact)} |");
        md.AppendLine();

        md.AppendLine("### Training (engine: warm-up, ART + HyperSparse, prune, masked fine-tune)");
        md.AppendLine();
        md.AppendLine("| model | κ | train / test images | batch, lr | epochs: warm-up + ART (cap) + fine-tune | λ init, growth η | ART ended | dense / pruned train acc % at end of ART | test acc % after warm-up | time s: warm-up / ART / fine-tune |");
        md.AppendLine("|---|---:|---:|---|---|---|---|---:|---:|---:|");
        foreach (var r in rows)
        {
            var c = r.Config.Train;
            var t = r.Training;
            var art = t.Epochs.Where(e => e.Phase == "Art").ToList();
            var warm = t.Epochs.Where(e => e.Phase == "Warmup").ToList();
            var selected = t.SelectedArtEpoch is { } s ? $", pruned copy of ART epoch {s + 1}" : "";
            var ended = t.ArtStopReason switch
            {
                "StopRuleFired" => $"stop rule fired after {t.ArtEpochs} epochs{selected}",
                "CapReached" => $"**cap** ({t.ArtEpochs} epochs, rule did not fire){selected}",
                _ => t.ArtStopReason,
            };
            var lrSteps = c.LearningRateSteps.Length == 0 ? "" : $" (×0.1 from fine-tune epoch {string.Join(", ", c.LearningRateSteps.Select(x => x + 1))})";
            md.AppendLine($"| {c.Arch} | {K(c.Kappa)} | {N(c.TrainImages)} / {N(r.Config.TestImages)} | {c.Batch}, {F(c.LearningRate, 3)}{lrSteps} | " +
                          $"{c.WarmupEpochs} + {t.ArtEpochs} ({c.MaxArtEpochs}) + {c.FineTuneEpochs} | {G(c.LambdaInit)}, {F(c.LambdaGrowth, 2)} | {ended} | " +
                          $"{F(art.LastOrDefault()?.TrainAccuracy ?? double.NaN, 1)} / {F(art.LastOrDefault()?.PrunedTrainAccuracy ?? double.NaN, 1)} | " +
                          $"{F(warm.LastOrDefault()?.TestAccuracy ?? double.NaN, 1)} | {F(t.SecondsIn("Warmup"), 0)} / {F(t.SecondsIn("Art"), 0)} / {F(t.SecondsIn("FineTune"), 0)} |");
        }
        md.AppendLine();
        md.AppendLine("Data: Debian's `dataset-fashion-mnist` (official split); the first *train* images of the training split and the first *test* images " +
                      "of t10k. Normalisation: per-channel mean/std of the train slice, baked into every ONNX file. Augmentation: random crop with 2-pixel " +
                      "padding, no flips. SGD momentum 0.9, weight decay 1e-4, fresh optimiser for fine-tuning (the engine's defaults). λ grows by η per ART " +
                      "epoch; the stop rule compares the windowed (m = 1) train accuracy of a magnitude-pruned copy with the dense model's. The test slice is " +
                      "passed to the trainer only to log accuracy; nothing is selected on it. Seeds: " +
                      string.Join(", ", rows.Select(r => r.Config.Train.Seed).Distinct()) + ". These short schedules (sized for a shared 2-core machine) " +
                      "show trained networks, not the accuracy the method reaches with the paper's schedules; the sizes depend on the sparsity pattern, " +
                      "which a longer schedule can change somewhat. libtorch's multi-threaded CPU kernels are not bit-reproducible, so retraining moves " +
                      "accuracies and sizes slightly; re-exporting a cached model does not.");
        md.AppendLine();
    }

    /// <summary>The tolerance we read "scoring stays as fast as Dense" with (the issue gives no number).</summary>
    private const double FastEnough = 1.05;

    // ---------------------------------------------------------------- latency

    private static void Latency(StringBuilder md, List<LatencyRow> rows)
    {
        rows = rows.OrderBy(r => Defaults.Order(r.Arch)).ThenBy(r => r.Kappa).ToList();
        md.AppendLine("## Scoring latency");
        md.AppendLine();
        Stamp(md, rows.Select(r => r.Machine),
            $"ONNX Runtime {string.Join("/", rows.Select(r => r.OrtVersion).Distinct())} CPU, default session options except IntraOpNumThreads = {string.Join("/", rows.Select(r => r.OrtThreads).Distinct())}",
            rows.SelectMany(r => new[] { r.LoadStart, r.LoadEnd }), rows.Select(r => r.MeasuredUtc), rows.Select(r => r.Command), rows.Select(r => r.Revision));
        md.AppendLine();
        md.AppendLine("The ONNX files of the same trained model (the size table's), timed in one process: session creation " +
                      "from the file path (read, parse, graph optimisation — which folds the Compact decode chain into plain weights), then `Run` on the first 1 " +
                      "and the first 64 test images (logits output); *TorchSharp eval* is the trained module itself (eval mode, `no_grad`, the same " +
                      "normalisation the graph bakes in, libtorch with as many threads as ONNX Runtime). After untimed warm-up runs, every round times each " +
                      "ONNX file once (after as many untimed calls of the same target, at least 3, so another session's spinning threads are idle), in an order rotated every round, so load changes on the shared machine hit all files alike; TorchSharp is timed after them, on its own (its OpenMP threads spin after a call); one timing spans " +
                      "enough back-to-back calls for ≈ 5 ms on the fastest target (*calls*), so sub-millisecond runs are not timer noise. " +
                      "Median ms per call (p10–p90); ratio = median / Dense median.");
        md.AppendLine();
        md.AppendLine("| model | κ | target | bytes | session creation ms | ×Dense | batch 1 ms | ×Dense | batch 64 ms | ×Dense | timings (create / b1 / b64) | calls per timing (b1 / b64) |");
        md.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var dense = r.Files[0];
            foreach (var f in r.Files)
            {
                var created = f.CreateMs.Length == 0 ? "– | –" : $"{Spread(f.CreateMs)} | {F(f.CreateMedian / dense.CreateMedian, 2)}";
                md.AppendLine($"| {r.Arch} | {K(r.Kappa)} | {f.Encoding} | {(f.Bytes == 0 ? "–" : N(f.Bytes))} | {created} | " +
                              $"{Spread(f.Batch1Ms)} | {F(f.Batch1Median / dense.Batch1Median, 3)} | {Spread(f.Batch64Ms)} | {F(f.Batch64Median / dense.Batch64Median, 3)} | " +
                              $"{f.CreateMs.Length} / {f.Batch1Ms.Length} / {f.Batch64Ms.Length} | {Math.Max(f.Batch1Repeats, 1)} / {Math.Max(f.Batch64Repeats, 1)} |");
            }
        }
        md.AppendLine();
        md.AppendLine("Targets of issue #5 (batch 64, median / median):");
        foreach (var r in rows.Where(r => r.Kappa >= 0.98 - 1e-9))
        {
            var shrunk = r.File(LatencyBenchmark.CompactUnshrunk) is null ? null : r.File("Compact");
            md.AppendLine(shrunk is null
                ? $"- {r.Arch}, κ = {K(r.Kappa)}: shrunk model ≥ 1.5× faster than Dense: **not measured** (row from before the dead-channel shrink)."
                : $"- {r.Arch}, κ = {K(r.Kappa)}: shrunk model ≥ 1.5× faster than Dense: {Verdict(r.Files[0].Batch64Median / shrunk.Batch64Median >= 1.5)} — " +
                  $"{F(r.Files[0].Batch64Median / shrunk.Batch64Median, 2)}× ({Ms(r.Files[0].Batch64Median)} → {Ms(shrunk.Batch64Median)} ms).");
        }
        foreach (var r in rows.Where(r => r.File(LatencyBenchmark.TorchSharpEval) is not null))
        {
            var torch = r.File(LatencyBenchmark.TorchSharpEval)!;
            var shipped = r.File("Compact")!;
            md.AppendLine($"- {r.Arch}, κ = {K(r.Kappa)}: ONNX Runtime (shipped Compact) vs TorchSharp eval: {F(torch.Batch1Median / shipped.Batch1Median, 1)}× faster at batch 1, " +
                          $"{F(torch.Batch64Median / shipped.Batch64Median, 1)}× at batch 64.");
        }
        md.AppendLine();
        foreach (var r in rows)
            md.AppendLine($"- {r.Arch}, κ = {K(r.Kappa)}: max |Δ logit| at batch 64 in this process: Compact (no shrink) vs Dense = {G(r.MaxAbsLogitDenseVsCompact64)}, shrunk Compact vs Dense = {G(r.MaxAbsLogitDenseVsShrunk64)}; {r.WarmupRuns} warm-up runs per target and batch; measured {r.MeasuredUtc}, load {r.LoadStart} → {r.LoadEnd}.");
        md.AppendLine();
    }

    // ---------------------------------------------------------------- appendix

    private static void Appendix(StringBuilder md, List<SizeRow> rows)
    {
        rows = rows.OrderBy(r => Defaults.Order(r.Config.Train.Arch)).ThenBy(r => r.Config.Train.Kappa).ToList();
        md.AppendLine("## Appendix: where the bytes go");
        md.AppendLine();
        md.AppendLine("Every file split into parts that add up to its size exactly (`FileAnatomy`, from the written graph). *values*, *gap stream*, " +
                      "*stored weights* (layers written whole), *scales* and *biases + norm.* are raw tensor payloads; *headers* are the rest of every " +
                      "initializer (names, dims, type, protobuf framing); *decode* = the shared decode chain's nodes and small constants; *per layer* = the " +
                      "Split into layers, each layer's Reshape (plus Cast and Mul for int8) and their shape constants; *network* = normalisation, Conv, " +
                      "Gemm, ReLU, Add, pooling and Softmax nodes; *other* = graph inputs/outputs, metadata contract, doc string, model header. The bound's " +
                      "terms sit beside them: *mask* = N·H(nnz/N)/8 (Σ per layer in brackets), *4·nnz*, *4·rest* = 4 × parameters not pruned.");
        md.AppendLine();
        md.AppendLine("| model | κ | file | values | gap stream | stored weights | scales | biases + norm. | headers | decode | per layer | network | other (I/O, metadata, doc, header) | total | bound: mask [Σ layers] / 4·nnz / 4·rest | file − bound |");
        md.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var rest = 4.0 * (r.NonPrunableWeights + r.OtherParameters);
            foreach (var f in new[] { r.Compact, r.CompactInt8, r.SparseInitializer, r.Dense })
            {
                var a = f.Anatomy;
                md.AppendLine($"| {r.Config.Train.Arch} | {K(r.Config.Train.Kappa)} | {f.Encoding} | {N(a.Values)} | {N(a.GapStream)} | {N(a.StoredWeights)} | {N(a.Scales)} | " +
                              $"{N(a.BiasesAndNormalisation)} | {N(a.TensorHeaders)} | {N(a.DecodeNodes + a.DecodeConstants)} | {N(a.LayerSplit + a.PerLayerNodes + a.PerLayerConstants)} | " +
                              $"{N(a.NetworkNodes)} | {N(a.InputsOutputs)} + {N(a.Metadata)} + {N(a.DocString)} + {N(a.ModelHeader)} | {N(a.Total)} | " +
                              $"{N(r.MaskEntropyBytes)} [{N(r.LayerwiseMaskEntropyBytes)}] / {N(4.0 * r.KeptWeights)} / {N(rest)} | {N(a.Total - r.BoundBytes)} |");
            }
        }
        md.AppendLine();
        md.AppendLine("The Compact and Compact+int8 files against the bound, term by term (bytes; positive = above the bound; the terms add up to file − bound):");
        md.AppendLine();
        md.AppendLine("| model | κ | file | gap stream − mask | values − 4·nnz | int8 scales | stored weights + biases − 4·rest | tensor headers | decode nodes | decode constants | layer Split | per-layer nodes | per-layer shape constants | network nodes (of which names) | I/O | metadata | doc string | model header | = file − bound | file / bound | all names in the file | gap bits per kept weight (Rice k) | mask bits per kept weight |");
        md.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var rest = 4.0 * (r.NonPrunableWeights + r.OtherParameters);
            var streamedKept = r.Layers.Where(l => l.CompactEncoding == "Compact").Sum(l => l.Kept);
            foreach (var f in new[] { r.Compact, r.CompactInt8 })
            {
                var a = f.Anatomy;
                md.AppendLine($"| {r.Config.Train.Arch} | {K(r.Config.Train.Kappa)} | {f.Encoding} | {N(a.GapStream - r.MaskEntropyBytes)} | {N(a.Values - 4.0 * r.KeptWeights)} | {N(a.Scales)} | " +
                              $"{N(a.StoredWeights + a.BiasesAndNormalisation - rest)} | {N(a.TensorHeaders)} | {N(a.DecodeNodes)} | {N(a.DecodeConstants)} | " +
                              $"{N(a.LayerSplit)} | {N(a.PerLayerNodes)} | {N(a.PerLayerConstants)} | {N(a.NetworkNodes)} ({N(a.NetworkNodeNames)}) | {N(a.InputsOutputs)} | " +
                              $"{N(a.Metadata)} | {N(a.DocString)} | {N(a.ModelHeader)} | {N(a.Total - r.BoundBytes)} | {F(a.Total / r.BoundBytes, 3)} | {N(a.Names)} | " +
                              $"{(streamedKept == 0 ? "–" : F(8.0 * a.GapStream / streamedKept, 2))} ({a.StreamRemainderBits}) | {F(8 * r.MaskEntropyBytes / r.KeptWeights, 2)} |");
            }
        }
        md.AppendLine();
        md.AppendLine("(*values − 4·nnz* is negative when a prunable layer is stored whole — its kept values then sit in *stored weights*, zeros included — " +
                      "and for int8, whose values take 1 byte instead of 4. *all names* counts every string naming a tensor or node wherever it sits, so it " +
                      "overlaps the other columns. *per-layer nodes*: each layer's Reshape of its slice, and for int8 its Cast and Mul by the scales.)");
        md.AppendLine();

        md.AppendLine("## Appendix: per layer");
        md.AppendLine();
        foreach (var r in rows)
        {
            md.AppendLine("<details>");
            md.AppendLine($"<summary>{r.Config.Train.Arch}, κ = {K(r.Config.Train.Kappa)}: {r.Layers.Length} weight layers</summary>");
            md.AppendLine();
            md.AppendLine("| layer | op | shape | weights | kept | density | mask H bytes | Compact encoding | Compact B | Compact+int8 encoding | Compact+int8 B | SparseInit B | Dense B |");
            md.AppendLine("|---|---|---|---:|---:|---:|---:|---|---:|---|---:|---:|---:|");
            foreach (var l in r.Layers)
                md.AppendLine($"| {l.Name} | {l.Op} | {string.Join("×", l.Shape)} | {N(l.Parameters)} | {N(l.Kept)} | {P((double)l.Kept / l.Parameters)} | {N(l.MaskEntropyBytes)} | " +
                              $"{l.CompactEncoding} | {N(l.CompactBytes)} | {l.Int8Encoding} | {N(l.Int8Bytes)} | {N(l.SparseBytes)} | {N(l.DenseBytes)} |");
            md.AppendLine();
            md.AppendLine("Layer bytes as `OnnxSizeReport` attributes them: a layer's own entries, plus its share (by kept weights) of the shared value tensor, gap stream and decode chain.");
            foreach (var note in r.Notes) md.AppendLine($"Note: {note}");
            md.AppendLine();
            md.AppendLine("</details>");
            md.AppendLine();
        }
    }

    // ---------------------------------------------------------------- helpers

    private static void Stamp(StringBuilder md, IEnumerable<string> machines, string threads, IEnumerable<string> loads, IEnumerable<string> dates,
        IEnumerable<string> commands, IEnumerable<string> revisions)
    {
        var ones = loads.Where(l => l.Length > 0 && l != "unknown").Select(l => double.Parse(l.Split(' ')[0], CultureInfo.InvariantCulture)).ToList();
        var when = dates.Where(d => d.Length > 0).OrderBy(d => d, StringComparer.Ordinal).ToList();
        md.AppendLine($"- Machine: {string.Join("; ", machines.Distinct())}; .NET {Environment.Version}");
        md.AppendLine($"- Threads: {threads}");
        md.AppendLine(ones.Count == 0 ? "- Load average: unknown" :
            $"- Load average (1 min) while the rows ran: {F(ones.Min(), 2)} … {F(ones.Max(), 2)} (the cores are shared with other work; times are indicative, sizes and accuracies are not affected)");
        md.AppendLine(when.Count == 0 ? "- Date: unknown" : $"- Date (UTC): {when[0]} … {when[^1]}");
        md.AppendLine($"- Command: {string.Join("; ", commands.Distinct().Select(c => $"`{c}`"))}; source revision {string.Join(", ", revisions.Distinct())}");
    }

    private static string Full(SizeRow r) =>
        r.FullTestImages == 0 ? "–" : $"{F(r.OrtCompactAccuracyFull, 2)} / {F(r.OrtInt8AccuracyFull, 2)} / {Pp(r.Int8DeltaPpFull)}";

    private static string Verdict(bool pass) => pass ? "**PASS**" : "**FAIL**";
    private static string Zip(FileSize f) => f.ZipBytes == 0 ? "–" : N(f.ZipBytes);
    private static string Bytes(FileSize f) => $"{N(f.Bytes)} / {N(f.DeflatedBytes)}";
    private static string Spread(double[] ms) => Stats.Of(ms) is var s ? $"{Ms(s.Median)} ({Ms(s.P10)}–{Ms(s.P90)})" : "";
    private static string Ms(double v) => v.ToString(v >= 100 ? "F0" : v >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);
    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
    private static string N(double v) => Math.Round(v).ToString("N0", CultureInfo.InvariantCulture);
    private static string F(double v, int digits) => double.IsNaN(v) ? "–" : v.ToString("F" + digits, CultureInfo.InvariantCulture);
    private static string K(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
    private static string P(double v) => v.ToString("P2", CultureInfo.InvariantCulture);
    private static string Pp(double v) => v.ToString("+0.00;−0.00;0.00", CultureInfo.InvariantCulture);
    private static string G(double v) => v.ToString("G3", CultureInfo.InvariantCulture);
}
