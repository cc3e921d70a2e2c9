using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HyperSparse.Cli.Scoring;
using Microsoft.ML.HyperSparse;

namespace HyperSparse.Cli.Output;

/// <summary>Writes report.json, report.md, the two PNG plots and Consume.cs (each atomically).</summary>
internal static class ReportWriter
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>
    /// Writes the five files one after another. <paramref name="beforeEachFile"/> runs before each (the train command stops
    /// there on Ctrl+C), so every file is either whole or absent.
    /// </summary>
    public static void WriteAll(OutputFiles files, RunSummary run, HyperSparseTrainingReport report, Evaluation? evaluation, Action<string>? beforeEachFile = null)
    {
        var evaluationLabel = run.DataKind == "idx" && run.EvaluationSet.StartsWith("the IDX test split", StringComparison.Ordinal)
            ? "test split" : "held-out images";
        beforeEachFile?.Invoke(files.CurvesPlot);
        Plots.SavePng(Plots.TrainingCurves(report, evaluationLabel), files.CurvesPlot, 1100, 650);
        beforeEachFile?.Invoke(files.DensityPlot);
        Plots.SavePng(Plots.LayerDensity(report), files.DensityPlot, 900, Math.Clamp(120 + 28 * report.Layers.Count, 300, 2000));
        if (report.ArtEpochs > 0)
        {
            beforeEachFile?.Invoke(files.GapPlot);
            Plots.SavePng(Plots.ArtGap(report), files.GapPlot, 1100, 550);
        }
        beforeEachFile?.Invoke(files.ConsumeSnippet);
        AtomicFile.WriteText(files.ConsumeSnippet, ConsumeSnippet.Create(run, run.ScoringInput, "Score"));
        beforeEachFile?.Invoke(files.ReportJson);
        AtomicFile.WriteText(files.ReportJson, Json(files, run, report, evaluation).ToJsonString(Indented));
        beforeEachFile?.Invoke(files.ReportMarkdown);
        AtomicFile.WriteText(files.ReportMarkdown, Markdown(files, run, report, evaluation));
    }

    public static string ToolVersion =>
        typeof(ReportWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0] ?? "?";

    internal sealed record PhaseSummary(string Phase, int Epochs, double Seconds, double? LambdaFirst, double? LambdaLast,
        double LastTrainAccuracy, double? LastPrunedTrainAccuracy, double? LastValidationAccuracy);

    internal static List<PhaseSummary> Phases(HyperSparseTrainingReport report) =>
        report.Epochs.GroupBy(e => e.Phase).Select(g =>
        {
            var list = g.ToList();
            var lambdas = list.Where(e => e.Lambda > 0).Select(e => e.Lambda).ToList();
            return new PhaseSummary(g.Key.ToString(), list.Count, list.Sum(e => e.Seconds), lambdas.Count > 0 ? lambdas[0] : null,
                lambdas.Count > 0 ? lambdas[^1] : null, list[^1].TrainAccuracy, list.LastOrDefault(e => e.PrunedTrainAccuracy is not null)?.PrunedTrainAccuracy,
                list[^1].ValidationAccuracy);
        }).ToList();

    private static JsonObject Json(OutputFiles files, RunSummary run, HyperSparseTrainingReport report, Evaluation? evaluation)
    {
        var o = run.Options;
        var root = new JsonObject
        {
            ["tool"] = "hypersparse " + ToolVersion,
            ["run"] = JsonSerializer.SerializeToNode(new
            {
                run.CommandLine,
                Started = run.Started.ToString("o", CultureInfo.InvariantCulture),
                Data = new
                {
                    Kind = run.DataKind, Path = run.DataPath, run.ClassNames, run.TrainImages, run.EvaluationImages,
                    run.EvaluationSet, Notes = run.DataNotes,
                },
                Model = new { run.Architecture, run.Channels, Height = run.ImageSize, Width = run.ImageSize, PruningRate = run.Sparsity, ScoringInputColumn = run.ScoringInput },
                Profile = new { run.Profile.Name, run.Profile.Summary },
                Schedule = new
                {
                    o.WarmupEpochs, o.MaxArtEpochs, o.FineTuneEpochs, o.LearningRateSteps, o.LearningRateDecay, o.LambdaInit, o.LambdaGrowth,
                    o.BatchSize, o.LearningRate, o.Momentum, o.WeightDecay, o.CropPadding, o.HorizontalFlip, o.StopWindowHalfSize, o.MinWeightsPerLayer, o.UseBFloat16,
                    Method = o.Method.ToString(), Regularizer = o.Regularizer.ToString(), WeightEncoding = o.WeightEncoding.ToString(),
                    o.KeepDenseLayers, o.ShrinkDeadChannels,
                    TimeBudgetSeconds = o.TimeBudget?.TotalSeconds,
                    KeptAsGiven = o.TimeBudget is null ? null : run.ScheduleOverrides,
                },
                run.Seed,
                run.Resumed,
                run.FitSeconds,
                run.TotalSeconds,
            }, Indented),
            ["phases"] = JsonSerializer.SerializeToNode(Phases(report), Indented),
            ["evaluation"] = evaluation is null ? null : JsonSerializer.SerializeToNode(evaluation.ToJson(), Indented),
            ["files"] = JsonSerializer.SerializeToNode(
                files.All.Where(File.Exists).ToDictionary(f => Path.GetFileName(f), f => new FileInfo(f).Length), Indented),
            ["training"] = JsonNode.Parse(report.ToJson()),
        };
        return root;
    }

    private static string Markdown(OutputFiles files, RunSummary run, HyperSparseTrainingReport r, Evaluation? evaluation)
    {
        var b = new StringBuilder();
        void L(FormattableString s) => b.AppendLine(s.ToString(CultureInfo.InvariantCulture));
        void Raw(string s) => b.AppendLine(s);
        var o = run.Options;

        L($"# HyperSparse training report — {run.Architecture}, κ = {run.Sparsity}");
        Raw("");
        L($"`{run.CommandLine}`  ");
        L($"{run.Started:yyyy-MM-dd HH:mm}, hypersparse {ToolVersion}, {Environment.ProcessorCount} CPU core(s).");
        Raw("");
        Raw("## Result");
        Raw("");
        Raw("| | |");
        Raw("|---|---|");
        if (evaluation is not null)
            L($"| accuracy on the evaluation set | **{evaluation.Accuracy:P2}** ({evaluation.Correct:N0} of {evaluation.Count:N0}; macro {evaluation.MacroAccuracy:P2}) |");
        else
            Raw("| accuracy on the evaluation set | — (no evaluation set) |");
        L($"| sparsity | {r.AchievedSparsity:P3} of {r.PrunableWeights:N0} prunable weights are zero (requested κ = {r.RequestedPruningRate}); {r.KeptWeights:N0} kept{(o.MinWeightsPerLayer > 0 ? F($", at least {o.MinWeightsPerLayer} per layer") : "")} |");
        if (r.Layers.Any(l => l.KeptDense))
            L($"| kept dense (excluded) | {string.Join(", ", r.Layers.Where(l => l.KeptDense).Select(l => l.Name))}: {r.Layers.Where(l => l.KeptDense).Sum(l => l.TrainedTotal):N0} weights, not pruned and not counted above (option {string.Join(",", o.KeepDenseLayers)}) |");
        if (r.CollapsedLayers.Count > 0)
            L($"| **layer collapse** | **{string.Join(", ", r.CollapsedLayers)} kept no weights: the prediction no longer depends on the image.** Retrain with `--min-weights-per-layer` (e.g. 10) or a lower `--sparsity`. |");
        if (r.Pretrained is { } pretrained)
        {
            L($"| pretrained start | {pretrained.Format}: `{pretrained.Source}`; {pretrained.LoadedTensors:N0} tensors ({pretrained.LoadedWeights:N0} numbers) loaded, new: {(pretrained.NewLayers.Count == 0 ? "none (classifier kept)" : string.Join(", ", pretrained.NewLayers))}; head stage (backbone frozen) in place of the warm-up |");
            L($"| input preprocessing | {pretrained.Preprocessing}; baked into model.onnx{(pretrained.ReversedChannels ? ", first convolution reordered to read RGB" : "")}{(pretrained.ReplicatedGrayscale ? "; grayscale images replicated to the network's 3 channels" : "")} |");
        }
        L($"| method | {r.Method}, regulariser {r.Regularizer} |");
        L($"| epochs | warm-up {r.WarmupEpochs}, ART {r.ArtEpochs}, fine-tune {r.FineTuneEpochs} |");
        L($"| ART end | {StopText(r, r.TimeBudget?.PlannedMaxArtEpochs ?? o.MaxArtEpochs ?? HyperSparseDefaults.MaxArtEpochs)} |");
        if (r.TimeBudget is { } tb)
            L($"| time budget | {Duration(tb.Budget.TotalSeconds)}: training used {Duration(tb.UsedSeconds)} ({tb.UsedSeconds / tb.Budget.TotalSeconds:P0}) — warm-up {Duration(tb.WarmupSeconds)}, ART {Duration(tb.ArtSeconds)}, fine-tune {Duration(tb.FineTuneSeconds)}; {tb.Decisions.Count} planning decisions{(tb.Warnings.Count > 0 ? $", **{tb.Warnings.Count} warning(s)**" : "")} (see Time budget) |");
        if (r.Quantization is { } q)
        {
            L($"| {(q.Mode == HyperSparseQuantization.Full ? "int8 weights and activations" : "int8 weights")} | accuracy {q.QuantizedAccuracy:F2} % vs {q.FloatAccuracy:F2} % with float weights ({q.AccuracyChange:+0.00;-0.00;0.00} pp; {q.ChangedPredictions:N0} of {q.Images:N0} {q.EvaluatedOn} images predicted differently) |");
            if (q.Mode == HyperSparseQuantization.Full)
                L($"| int8 calibration | {q.CalibrationImages:N0} training images (spread evenly over the set) set the uint8 ranges of {q.CalibratedActivations.Count:N0} activations (min / max per tensor); float layers: {(q.FloatLayers.Count == 0 ? "none" : string.Join(", ", q.FloatLayers))} |");
        }
        var shrunk = r.Layers.Where(l => l.OutputChannelsRemoved != 0 || l.InputChannelsRemoved != 0 || l.ShippedKept != l.TrainedKept).ToList();
        if (shrunk.Count > 0)
            L($"| dead channels | removed from the ONNX model (same scores): {r.Layers.Sum(l => l.OutputChannelsRemoved):N0} output channels and {r.Layers.Sum(l => l.InputChannelsRemoved):N0} input slices; {r.Layers.Sum(l => l.TrainedKept - l.ShippedKept):N0} kept weights folded into biases, merged or read by nothing (see Layers; `--no-shrink` keeps them) |");
        L($"| ONNX size | {r.OnnxBytes:N0} bytes ({o.WeightEncoding}{(o.QuantizeWeights ? "+int8" : "")}) vs {r.TrainedDenseOnnxBytes:N0} for the trained network dense ({(r.OnnxBytes == 0 ? 0 : (double)r.TrainedDenseOnnxBytes / r.OnnxBytes):F1}× smaller; {r.DenseOnnxBytes:N0} dense after the dead-channel shrink); information bound {r.BoundBytes:N0} bytes |");
        if (File.Exists(files.ModelZip)) L($"| model.zip | {new FileInfo(files.ModelZip).Length:N0} bytes |");
        L($"| time | training {Duration(r.TotalSeconds)} (pipeline Fit incl. reading images and ONNX export {Duration(run.FitSeconds)}); whole command {Duration(run.TotalSeconds)} |");
        if (r.Epochs.LastOrDefault(e => e.Phase == HyperSparseTrainingPhase.Warmup)?.ValidationAccuracy is { } dense)
            L($"| dense network at the end of warm-up (trainer's measurement on the evaluation set) | {dense:F2} % |");
        if (r.FinalValidationAccuracy is { } fva) L($"| last epoch (trainer's measurement on the evaluation set) | {fva:F2} % |");
        Raw("");
        Raw("## Data");
        Raw("");
        L($"- source: `{run.DataPath}` ({(run.DataKind == "idx" ? "IDX files, read into an in-memory IDataView of images" : "class subfolders, read by LoadImages")})");
        L($"- classes ({run.ClassNames.Length}, in Score order): {string.Join(", ", run.ClassNames)}");
        L($"- training images: {run.TrainImages:N0}");
        L($"- evaluation set: {run.EvaluationSet}");
        L($"- input: resized to {run.ImageSize}×{run.ImageSize}, {(run.Channels == 1 ? "1 channel (grayscale: red channel)" : "3 channels (RGB)")}; pixel scaling and per-channel normalisation are inside the model");
        foreach (var n in run.DataNotes) L($"- {n}");
        Raw("");
        Raw("## Schedule");
        Raw("");
        if (r.TimeBudget is { } plan)
        {
            var kept = run.ScheduleOverrides;
            string Source(params string[] names) => names.Any(kept.Contains) ? "as given" : "planned";
            L($"Profile **{run.Profile.Name}** — {run.Profile.Summary} — with a **time budget of {Duration(plan.Budget.TotalSeconds)}**: the profile gives batch size, learning rate and augmentation; the schedule below was planned from measured epoch times, except what the command line set (kept as given).");
            Raw("");
            Raw("| setting | value | |");
            Raw("|---|---|---|");
            L($"| warm-up epochs | {plan.PlannedWarmupEpochs} | {Source("WarmupEpochs")} |");
            L($"| pruning | global magnitude rule at κ = {o.PruningRate}{(o.MinWeightsPerLayer > 0 ? F($", at least {o.MinWeightsPerLayer} weights per layer") : " (the paper's, no per-layer minimum)")} | |");
            var growths = plan.Decisions.Where(d => d.Setting == "LambdaGrowth").Select(d => d.Value).ToList();
            L($"| ART | λ_init {Lambda(plan.PlannedLambdaInit)}, η {(growths.Count == 0 ? plan.FinalLambdaGrowth.ToString(CultureInfo.InvariantCulture) : string.Join(" → ", growths))} (λ path below), cap {plan.PlannedMaxArtEpochs} epochs, stop window {2 * o.StopWindowHalfSize + 1} epochs | λ_init {Source("LambdaInit")}, η {Source("LambdaGrowth")}, cap {Source("MaxArtEpochs")} |");
            L($"| fine-tune epochs | {plan.PlannedFineTuneEpochs}, LR × {o.LearningRateDecay} at {(plan.PlannedLearningRateSteps.Count == 0 ? "—" : string.Join(", ", plan.PlannedLearningRateSteps))} | {Source("FineTuneEpochs")} |");
        }
        else
        {
            L($"Profile **{run.Profile.Name}** — {run.Profile.Summary}. Effective settings (profile plus command-line overrides):");
            Raw("");
            Raw("| setting | value |");
            Raw("|---|---|");
            L($"| warm-up epochs | {o.WarmupEpochs ?? HyperSparseDefaults.WarmupEpochs} |");
            L($"| pruning | global magnitude rule at κ = {o.PruningRate}{(o.MinWeightsPerLayer > 0 ? F($", at least {o.MinWeightsPerLayer} weights per layer") : " (the paper's, no per-layer minimum)")} |");
            var steps = o.LearningRateSteps ?? HyperSparseDefaults.LearningRateSteps;
            L($"| ART | λ_e = {Lambda(o.LambdaInit ?? HyperSparseDefaults.LambdaInit)} · {o.LambdaGrowth ?? HyperSparseDefaults.LambdaGrowth}^(e − {o.WarmupEpochs ?? HyperSparseDefaults.WarmupEpochs}), at most {o.MaxArtEpochs ?? HyperSparseDefaults.MaxArtEpochs} epochs, stop window {2 * o.StopWindowHalfSize + 1} epochs |");
            L($"| fine-tune epochs | {o.FineTuneEpochs ?? HyperSparseDefaults.FineTuneEpochs}, LR × {o.LearningRateDecay} at {(steps.Count == 0 ? "—" : string.Join(", ", steps))} |");
        }
        L($"| SGD | batch {o.BatchSize}, LR {o.LearningRate}, momentum {o.Momentum}, weight decay {o.WeightDecay} |");
        L($"| augmentation | random crop padding {o.CropPadding}, horizontal flip {(o.HorizontalFlip ? "on" : "off")} |");
        L($"| precision | {(o.UseBFloat16 ? "bfloat16 mixed precision (float32 weights, batch norm and export)" : "float32")} |");
        L($"| seed | {run.Seed} |");
        Raw("");
        Raw("## Phases");
        Raw("");
        Raw("| phase | epochs | time | s/epoch | λ first → last | last train acc | last pruned-copy acc | last evaluation acc |");
        Raw("|---|---:|---:|---:|---|---:|---:|---:|");
        foreach (var p in Phases(r))
            L($"| {p.Phase} | {p.Epochs} | {Duration(p.Seconds)} | {p.Seconds / Math.Max(1, p.Epochs):F1} | {(p.LambdaFirst is null ? "—" : $"{Lambda(p.LambdaFirst.Value)} → {Lambda(p.LambdaLast!.Value)}")} | {p.LastTrainAccuracy:F2} % | {Pct(p.LastPrunedTrainAccuracy)} | {Pct(p.LastValidationAccuracy)} |");
        Raw("");
        Raw("![training curves](training-curves.png)");
        Raw("");
        if (r.ArtEpochs > 0) ArtSection(b, r);
        if (r.TimeBudget is { } budget) BudgetSection(b, budget);
        Raw("## Layers");
        Raw("");
        // With dead channels removed, the ONNX columns show the layer as the file holds it.
        Raw("| layer | shape | weights | kept | density | ONNX encoding | ONNX bytes |" + (shrunk.Count > 0 ? " ONNX shape (kept) |" : ""));
        Raw("|---|---|---:|---:|---:|---|---:|" + (shrunk.Count > 0 ? "---|" : ""));
        foreach (var l in r.Layers)
            L($"| {l.Name}{(l.KeptDense ? " — kept dense (excluded)" : "")} | {string.Join("×", l.TrainedShape)} | {l.TrainedTotal:N0} | {l.TrainedKept:N0}{(l.TrainedKept == 0 && !l.KeptDense ? " (collapsed)" : "")} | {(l.TrainedTotal == 0 ? 0 : (double)l.TrainedKept / l.TrainedTotal):P2} | {l.Encoding} | {l.OnnxBytes:N0} |{(shrunk.Count > 0 ? F($" {string.Join("×", l.ShippedShape)} ({l.ShippedKept:N0}) |") : "")}");
        Raw("");
        Raw("![per-layer density](layer-density.png)");
        Raw("");
        if (evaluation is not null)
        {
            Raw("## Evaluation");
            Raw("");
            L($"Evaluation set: {run.EvaluationSet}. Scored through the saved model.zip (ML.NET + ONNX Runtime): accuracy {evaluation.Accuracy:P2}, macro accuracy {evaluation.MacroAccuracy:P2}, log-loss {evaluation.LogLoss:F4}.");
            Raw("");
            Raw("| class | images | precision | recall | F1 |");
            Raw("|---|---:|---:|---:|---:|");
            foreach (var c in evaluation.PerClass)
                L($"| {c.Name} | {c.Support:N0} | {Frac(c.Precision)} | {Frac(c.Recall)} | {Frac(c.F1)} |");
            Raw("");
            Raw("Confusion matrix (rows: true class, columns: predicted class):");
            Raw("");
            Raw("| true \\ predicted | " + string.Join(" | ", evaluation.ClassNames) + " |");
            Raw("|---|" + string.Concat(evaluation.ClassNames.Select(_ => "---:|")));
            for (var i = 0; i < evaluation.ClassNames.Length; i++)
                Raw($"| {evaluation.ClassNames[i]} | " + string.Join(" | ", Enumerable.Range(0, evaluation.ClassNames.Length).Select(j => i == j ? $"**{evaluation.Confusion[i, j]}**" : evaluation.Confusion[i, j].ToString(CultureInfo.InvariantCulture))) + " |");
            Raw("");
        }
        Raw("## Epochs");
        Raw("");
        Raw("| # | phase | epoch | LR | λ | loss | train acc | pruned-copy acc | evaluation acc | sparsity | s |");
        Raw("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var e in r.Epochs)
            L($"| {e.Epoch + 1} | {e.Phase} | {e.PhaseEpoch + 1} | {e.LearningRate:G3} | {(e.Lambda > 0 ? Lambda(e.Lambda) : "—")} | {e.TrainLoss:F4} | {e.TrainAccuracy:F2} % | {Pct(e.PrunedTrainAccuracy)} | {Pct(e.ValidationAccuracy)} | {e.Sparsity:P2} | {e.Seconds:F1} |");
        Raw("");
        if (r.Notes.Count > 0)
        {
            Raw("## Notes");
            Raw("");
            foreach (var n in r.Notes) Raw("- " + n);
            Raw("");
        }
        Raw("## Files");
        Raw("");
        foreach (var f in files.All.Where(File.Exists))
            L($"- `{Path.GetFileName(f)}` ({new FileInfo(f).Length:N0} bytes)");
        Raw("- `report.md` (this file)");
        Raw("- `checkpoints/` — per-epoch training checkpoints (the newest two), used by `--resume`");
        Raw("");
        Raw("`model.zip` loads with Microsoft.ML + Microsoft.ML.ImageAnalytics + Microsoft.ML.OnnxTransformer (no TorchSharp); its input is one column `" + run.ScoringInput + "` (an image file path), its output `Score` (class probabilities in the order above) and `PredictedLabel`. `Consume.cs` shows how. `model.onnx` is the same network as standard ONNX (input `Features`, float " + F($"[N, {run.Channels}, {run.ImageSize}, {run.ImageSize}]") + ", raw 0–255 pixel values).");
        return b.ToString();
    }

    /// <summary>λ, the dense and pruned-copy train accuracies and their gap per ART epoch, and the gap plot.</summary>
    private static void ArtSection(StringBuilder b, HyperSparseTrainingReport r)
    {
        void L(FormattableString s) => b.AppendLine(s.ToString(CultureInfo.InvariantCulture));
        b.AppendLine("## ART: λ path and the pruned copy's gap");
        b.AppendLine();
        L($"After every ART epoch a magnitude-pruned copy (κ = {r.RequestedPruningRate}) is measured on the training data; the stop rule fires once the pruned copy's train accuracy, averaged over the stop window, is above the dense model's. Gap = dense − pruned copy (percentage points).");
        b.AppendLine();
        b.AppendLine("| ART epoch | λ | dense train acc | pruned-copy train acc | gap (pp) |");
        b.AppendLine("|---:|---:|---:|---:|---:|");
        foreach (var e in r.Epochs.Where(e => e.Phase == HyperSparseTrainingPhase.Art))
            L($"| {e.PhaseEpoch + 1}{(r.SelectedArtEpoch == e.PhaseEpoch ? " (fine-tuned)" : "")} | {Lambda(e.Lambda)} | {e.TrainAccuracy:F2} % | {Pct(e.PrunedTrainAccuracy)} | {(e.AccuracyGap is { } g ? F($"{g:+0.00;-0.00;0.00}") : "—")} |");
        b.AppendLine();
        b.AppendLine("![pruned copy vs dense per ART epoch](art-gap.png)");
        b.AppendLine();
    }

    /// <summary>Budget, time per phase, how ART ended, and every planning decision with its reason.</summary>
    private static void BudgetSection(StringBuilder b, HyperSparseTimeBudgetReport t)
    {
        void L(FormattableString s) => b.AppendLine(s.ToString(CultureInfo.InvariantCulture));
        b.AppendLine("## Time budget");
        b.AppendLine();
        L($"Budget {Duration(t.Budget.TotalSeconds)}; training used {Duration(t.UsedSeconds)} ({t.UsedSeconds / t.Budget.TotalSeconds:P1}). Reading the images and exporting the model are not part of the budget.");
        b.AppendLine();
        b.AppendLine("| phase | time | share of the budget |");
        b.AppendLine("|---|---:|---:|");
        foreach (var (phase, seconds) in new[] { ("warm-up", t.WarmupSeconds), ("ART (with pruning probes)", t.ArtSeconds), ("fine-tune", t.FineTuneSeconds) })
            L($"| {phase} | {Duration(seconds)} | {seconds / t.Budget.TotalSeconds:P1} |");
        b.AppendLine();
        L($"ART ended: {(t.StopRuleFired ? "**the paper's stop rule fired**" : t.CapForcedPrune ? "**the cap forced the prune** before the stop rule fired" : "no ART (one-shot pruning)")}. Kept as given: {(t.FixedSettings.Count == 0 ? "nothing (every schedule setting was planned)" : string.Join(", ", t.FixedSettings))}.");
        b.AppendLine();
        if (t.Warnings.Count > 0)
        {
            b.AppendLine("Warnings:");
            b.AppendLine();
            foreach (var w in t.Warnings) b.AppendLine("- " + w);
            b.AppendLine();
        }
        b.AppendLine("Planning decisions (time = training time used; epoch = epochs finished):");
        b.AppendLine();
        b.AppendLine("| time | epoch | phase | decision | why |");
        b.AppendLine("|---:|---:|---|---|---|");
        foreach (var d in t.Decisions)
            L($"| {d.AtSeconds:F1} s | {d.Epoch} | {d.Phase} | {(d.Setting == "Warning" ? "**warning**" : $"{d.Setting} = {d.Value}")} | {d.Reason.Replace("|", "\\|", StringComparison.Ordinal)} |");
        b.AppendLine();
    }

    private static string StopText(HyperSparseTrainingReport r, int cap) => r.ArtStopReason switch
    {
        HyperSparseArtStopReason.StopRuleFired => F($"the paper's stop rule fired after {r.ArtEpochs} ART epochs; the pruned copy of ART epoch {r.SelectedArtEpoch + 1} was fine-tuned"),
        HyperSparseArtStopReason.CapReached => F($"**cap of {cap} ART epochs reached before the stop rule fired**; the best pruned copy (ART epoch {r.SelectedArtEpoch + 1}) was fine-tuned — a longer schedule or a faster λ growth would let ART finish"),
        _ => "not applicable (one-shot magnitude pruning)",
    };

    private static string Lambda(double v) => v.ToString("0.##e+0", CultureInfo.InvariantCulture);
    private static string Pct(double? v) => v is { } x ? F($"{x:F2} %") : "—";
    private static string Frac(double v) => double.IsNaN(v) ? "—" : F($"{v * 100:F1} %");
    private static string Duration(double seconds) => Training.ProgressView.Duration(TimeSpan.FromSeconds(seconds));
    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
