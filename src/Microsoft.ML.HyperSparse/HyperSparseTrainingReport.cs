using System.Text.Json;
using Microsoft.ML.HyperSparse.Engine.Training;
using Microsoft.ML.HyperSparse.Onnx;

namespace Microsoft.ML.HyperSparse;

/// <summary>One finished training epoch.</summary>
public sealed record HyperSparseEpoch
{
    /// <summary>The phase the epoch belongs to.</summary>
    public required HyperSparseTrainingPhase Phase { get; init; }
    /// <summary>0-based global epoch.</summary>
    public required int Epoch { get; init; }
    /// <summary>0-based epoch within the phase.</summary>
    public required int PhaseEpoch { get; init; }
    /// <summary>SGD learning rate of the epoch.</summary>
    public required double LearningRate { get; init; }
    /// <summary>Regularisation strength λ (0 outside ART).</summary>
    public required double Lambda { get; init; }
    /// <summary>Mean cross-entropy over the epoch.</summary>
    public required double TrainLoss { get; init; }
    /// <summary>Running top-1 accuracy (%) on the augmented training data.</summary>
    public required double TrainAccuracy { get; init; }
    /// <summary>ART only: top-1 (%) of the magnitude-pruned copy on the training data.</summary>
    public double? PrunedTrainAccuracy { get; init; }
    /// <summary>Top-1 (%) on the validation set, when one was given.</summary>
    public double? ValidationAccuracy { get; init; }
    /// <summary>Fraction of prunable weights that are zero after the epoch.</summary>
    public required double Sparsity { get; init; }
    /// <summary>Wall-clock time of the epoch in seconds.</summary>
    public required double Seconds { get; init; }

    /// <summary>
    /// ART only: dense minus pruned-copy train accuracy in percentage points (positive while the pruned copy lags; ART's stop
    /// rule fires once its windowed mean drops below zero).
    /// </summary>
    public double? AccuracyGap => PrunedTrainAccuracy is { } pruned ? TrainAccuracy - pruned : null;
}

/// <summary>One decision of the time-budget planner.</summary>
public sealed record HyperSparsePlanningDecision
{
    /// <summary>Training time used when it was taken, in seconds.</summary>
    public required double AtSeconds { get; init; }
    /// <summary>Epochs finished when it was taken (0 = before the first).</summary>
    public required int Epoch { get; init; }
    /// <summary>Phase of the epoch just finished.</summary>
    public required HyperSparseTrainingPhase Phase { get; init; }
    /// <summary>
    /// What was decided — "WarmupEpochs", "LambdaInit", "LambdaGrowth", "MaxArtEpochs", "FineTuneEpochs", "LearningRateSteps",
    /// "FiringLambda" (the planner's estimate of the λ at which ART's stop rule fires), "TimeBudget" — or "Warning".
    /// </summary>
    public required string Setting { get; init; }
    /// <summary>The new value as text (empty for a warning).</summary>
    public required string Value { get; init; }
    /// <summary>Why, with the measured figures the decision used.</summary>
    public required string Reason { get; init; }
    /// <summary>True for a warning rather than a setting.</summary>
    public bool IsWarning => Setting == "Warning";
}

/// <summary>What a run with <see cref="HyperSparseClassificationTrainer.Options.TimeBudget"/> planned and used.</summary>
public sealed class HyperSparseTimeBudgetReport
{
    internal HyperSparseTimeBudgetReport(BudgetReport budget, TrainingReport report)
    {
        Budget = TimeSpan.FromSeconds(budget.BudgetSeconds);
        UsedSeconds = budget.UsedSeconds;
        WarmupSeconds = budget.WarmupSeconds;
        ArtSeconds = budget.ArtSeconds;
        FineTuneSeconds = budget.FineTuneSeconds;
        StopRuleFired = report.ArtStopReason == Engine.Training.ArtStopReason.StopRuleFired;
        CapForcedPrune = report.ArtStopReason == Engine.Training.ArtStopReason.CapReached;
        var art = report.Epochs.Where(e => e.Phase == TrainingPhase.Art).ToList();
        LambdaPath = art.Select(e => e.Lambda).ToArray();
        AccuracyGaps = art.Select(e => e.TrainAccuracy - e.PrunedTrainAccuracy.GetValueOrDefault(e.TrainAccuracy)).ToArray();
        FixedSettings = Enum.GetValues<ScheduleKnobs>().Where(k => k is not ScheduleKnobs.None and not ScheduleKnobs.All && (budget.FixedKnobs & k) != 0)
            .Select(k => k.ToString()).ToArray();
        var s = budget.Schedule;
        PlannedWarmupEpochs = s.WarmupEpochs;
        PlannedMaxArtEpochs = s.MaxArtEpochs;
        PlannedFineTuneEpochs = s.FineTuneEpochs;
        PlannedLearningRateSteps = s.LearningRateSteps.ToArray();
        PlannedLambdaInit = s.LambdaInit;
        FinalLambdaGrowth = s.LambdaGrowth;
        Decisions = budget.Decisions.Select(HyperSparseTrainingReport.ToPublic).ToArray();
        Warnings = budget.Decisions.Where(d => d.IsWarning).Select(d => d.Reason).ToArray();
    }

    /// <summary>The budget asked for.</summary>
    public TimeSpan Budget { get; }
    /// <summary>Training time used (warm-up, ART, fine-tune, checkpoints; summed across resumed sessions).</summary>
    public double UsedSeconds { get; }
    /// <summary>Time used by the dense warm-up.</summary>
    public double WarmupSeconds { get; }
    /// <summary>Time used by ART, pruning probes included.</summary>
    public double ArtSeconds { get; }
    /// <summary>Time used by the masked fine-tune.</summary>
    public double FineTuneSeconds { get; }
    /// <summary>True when ART ended by the paper's stop rule.</summary>
    public bool StopRuleFired { get; }
    /// <summary>True when the ART cap (the budget's, or <see cref="HyperSparseClassificationTrainer.Options.MaxArtEpochs"/>) forced the prune before the stop rule fired.</summary>
    public bool CapForcedPrune { get; }
    /// <summary>λ of every ART epoch, in order.</summary>
    public IReadOnlyList<double> LambdaPath { get; }
    /// <summary>Dense minus pruned-copy train accuracy (percentage points) of every ART epoch, in order.</summary>
    public IReadOnlyList<double> AccuracyGaps { get; }
    /// <summary>The schedule options set explicitly, which the planner kept (e.g. "LambdaGrowth").</summary>
    public IReadOnlyList<string> FixedSettings { get; }
    /// <summary>Warm-up epochs as planned (and run).</summary>
    public int PlannedWarmupEpochs { get; }
    /// <summary>The ART cap as it stood when ART ended.</summary>
    public int PlannedMaxArtEpochs { get; }
    /// <summary>Fine-tune epochs as planned (and run).</summary>
    public int PlannedFineTuneEpochs { get; }
    /// <summary>Fine-tune learning-rate steps as planned.</summary>
    public IReadOnlyList<int> PlannedLearningRateSteps { get; }
    /// <summary>λ of the first ART epoch.</summary>
    public double PlannedLambdaInit { get; }
    /// <summary>η in effect at the end of ART (the planner may raise η between ART epochs; <see cref="LambdaPath"/> shows the result).</summary>
    public double FinalLambdaGrowth { get; }
    /// <summary>Every planning decision and warning, in order.</summary>
    public IReadOnlyList<HyperSparsePlanningDecision> Decisions { get; }
    /// <summary>The warnings among <see cref="Decisions"/> (also in <see cref="HyperSparseTrainingReport.Notes"/>).</summary>
    public IReadOnlyList<string> Warnings { get; }
}

/// <summary>
/// Kept weights and bytes of one conv or linear layer, pruned or kept dense. The same names as
/// <see cref="HyperSparseModelLayer"/> of the inspector: <c>Trained…</c> is what training produced, <c>Shipped…</c> what the
/// ONNX file holds (less what the exporter's dead-channel shrink removed).
/// </summary>
public sealed class HyperSparseLayer
{
    /// <summary>Layer weight name (e.g. "layer2.0.conv1.weight").</summary>
    public required string Name { get; init; }
    /// <summary>Weight shape as trained.</summary>
    public required long[] TrainedShape { get; init; }
    /// <summary>Number of weights as trained.</summary>
    public required long TrainedTotal { get; init; }
    /// <summary>Non-zero weights as trained (the pruning mask's count).</summary>
    public required long TrainedKept { get; init; }
    /// <summary>1 − <see cref="TrainedKept"/>/<see cref="TrainedTotal"/>.</summary>
    public double TrainedSparsity => TrainedTotal == 0 ? 0 : 1.0 - (double)TrainedKept / TrainedTotal;
    /// <summary>
    /// Weight shape in the ONNX file: <see cref="TrainedShape"/> less the channels the exporter's dead-channel shrink removed
    /// (<see cref="HyperSparseClassificationTrainer.Options.ShrinkDeadChannels"/>).
    /// </summary>
    public required long[] ShippedShape { get; init; }
    /// <summary>Number of weights in the ONNX file.</summary>
    public long ShippedTotal => ShippedShape.Aggregate(1L, (a, b) => a * b);
    /// <summary>Non-zero weights in the ONNX file: <see cref="TrainedKept"/> less those the shrink folded into biases, merged or found read by nothing.</summary>
    public required long ShippedKept { get; init; }
    /// <summary>1 − <see cref="ShippedKept"/>/<see cref="ShippedTotal"/>.</summary>
    public double ShippedSparsity => ShippedTotal == 0 ? 0 : 1.0 - (double)ShippedKept / ShippedTotal;
    /// <summary>
    /// How the layer is stored in the ONNX file: "Compact", "SparseInitializer" or "Dense", with "+int8" when its weights are
    /// int8 (<see cref="HyperSparseClassificationTrainer.Options.QuantizeWeights"/>).
    /// </summary>
    public required string Encoding { get; init; }
    /// <summary>Bytes the layer's weight takes in the ONNX file.</summary>
    public required long OnnxBytes { get; init; }
    /// <summary>
    /// True when the layer was kept dense (excluded from pruning by <see cref="HyperSparseClassificationTrainer.Options.KeepDenseLayers"/>):
    /// it is not in <see cref="HyperSparseTrainingReport.PrunableWeights"/> and is stored dense.
    /// </summary>
    public required bool KeptDense { get; init; }
    /// <summary>Output channels (output features of a linear layer) the exporter's dead-channel shrink removed.</summary>
    public long OutputChannelsRemoved => TrainedShape[0] - ShippedShape[0];
    /// <summary>Input channels (input features of a linear layer) the exporter's dead-channel shrink removed.</summary>
    public long InputChannelsRemoved => TrainedShape.Length > 1 ? TrainedShape[1] - ShippedShape[1] : 0;
}

/// <summary>What a HyperSparse training run did and reached; serialisable with <see cref="ToJson"/>.</summary>
public sealed class HyperSparseTrainingReport
{
    internal HyperSparseTrainingReport(TrainingReport report, OnnxSizeReport size, string[] classNames, HyperSparseQuantizationCheck? quantization = null)
    {
        Quantization = quantization;
        TimeBudget = report.Budget is { } budget ? new HyperSparseTimeBudgetReport(budget, report) : null;
        Architecture = Enum.Parse<HyperSparseArchitecture>(report.Architecture);
        Method = report.Method == nameof(PruningMethod.OneShotMagnitude) ? HyperSparsePruningMethod.OneShotMagnitude : HyperSparsePruningMethod.AdaptiveRegularizedTraining;
        Regularizer = report.Regularizer == "None" ? null : Enum.Parse<HyperSparseRegularizerKind>(report.Regularizer);
        RequestedPruningRate = report.RequestedPruningRate;
        AchievedSparsity = report.AchievedSparsity;
        PrunableWeights = report.PrunableWeights;
        KeptWeights = report.KeptWeights;
        WarmupEpochs = report.WarmupEpochs;
        ArtEpochs = report.ArtEpochs;
        FineTuneEpochs = report.FineTuneEpochs;
        ArtStopReason = report.ArtStopReason switch
        {
            Engine.Training.ArtStopReason.StopRuleFired => HyperSparseArtStopReason.StopRuleFired,
            Engine.Training.ArtStopReason.CapReached => HyperSparseArtStopReason.CapReached,
            _ => HyperSparseArtStopReason.NotApplicable,
        };
        SelectedArtEpoch = report.SelectedArtEpoch;
        FinalValidationAccuracy = report.FinalValidationAccuracy;
        TotalSeconds = report.TotalSeconds;
        Notes = report.Notes.ToArray();
        ClassNames = classNames;
        Epochs = report.Epochs.Select(ToPublic).ToArray();
        var bytesByName = size.Layers.ToDictionary(l => l.Name + ".weight", l => l, StringComparer.Ordinal);
        Layers = report.Layers.Select(l =>
        {
            bytesByName.TryGetValue(l.Name, out var onnxLayer);
            string encoding = onnxLayer is null ? "" : onnxLayer.Encoding + (onnxLayer.Quantized ? "+int8" : "");
            return new HyperSparseLayer
            {
                Name = l.Name,
                TrainedShape = l.Shape,
                TrainedTotal = l.Total,
                TrainedKept = l.Kept,
                ShippedShape = onnxLayer?.Shape ?? l.Shape,
                ShippedKept = onnxLayer?.KeptCount ?? l.Kept,
                Encoding = encoding,
                OnnxBytes = onnxLayer?.WeightBytes ?? 0,
                KeptDense = l.KeptDense,
            };
        }).ToArray();
        CollapsedLayers = report.CollapsedLayers.Select(l => l.Name).ToArray();
        OnnxBytes = size.ShippedBytes;
        DenseOnnxBytes = size.DenseBytes;
        TrainedDenseOnnxBytes = size.TrainedDenseBytes;
        BoundBytes = size.BoundBytes;
        Pretrained = report.Pretrained is { } p
            ? new HyperSparsePretrainedReport(p.Source, p.Format, p.Preprocessing, p.LoadedTensors, p.LoadedWeights, p.NewLayers.ToArray(), p.ReversedChannels, p.ReplicatedGrayscale)
            : null;
    }

    /// <summary>
    /// With <see cref="HyperSparseClassificationTrainer.Options.Pretrained"/>: the file, its format and preprocessing, what was
    /// loaded and which layers were new; null when trained from scratch.
    /// </summary>
    public HyperSparsePretrainedReport? Pretrained { get; }

    /// <summary>Network architecture trained.</summary>
    public HyperSparseArchitecture Architecture { get; }
    /// <summary>How sparsity was reached.</summary>
    public HyperSparsePruningMethod Method { get; }
    /// <summary>Regulariser used by ART; null for one-shot magnitude pruning.</summary>
    public HyperSparseRegularizerKind? Regularizer { get; }
    /// <summary>κ as requested.</summary>
    public double RequestedPruningRate { get; }
    /// <summary>Fraction of prunable weights that are zero: (⌊κN⌋+1)/N without ties (the reference's strict |w| &gt; τ rule).</summary>
    public double AchievedSparsity { get; }
    /// <summary>N: number of conv and linear weights in the pruned layers (layers kept dense are not counted).</summary>
    public long PrunableWeights { get; }
    /// <summary>Non-zero weights in the pruned layers.</summary>
    public long KeptWeights { get; }
    /// <summary>Dense warm-up epochs run.</summary>
    public int WarmupEpochs { get; }
    /// <summary>ART epochs run.</summary>
    public int ArtEpochs { get; }
    /// <summary>Masked fine-tune epochs run.</summary>
    public int FineTuneEpochs { get; }
    /// <summary>How ART ended: the paper's stop rule, the cap (which forced the prune), or not applicable (one-shot).</summary>
    public HyperSparseArtStopReason ArtStopReason { get; }
    /// <summary>The ART epoch whose pruned copy was fine-tuned.</summary>
    public int? SelectedArtEpoch { get; }
    /// <summary>Validation accuracy (%) after the last epoch, when a validation set was given.</summary>
    public double? FinalValidationAccuracy { get; }
    /// <summary>Training wall-clock seconds.</summary>
    public double TotalSeconds { get; }
    /// <summary>Notes: cap reached, resumed from a checkpoint, skipped corrupt checkpoints, collapsed layers.</summary>
    public IReadOnlyList<string> Notes { get; }
    /// <summary>Class names in key order.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Every epoch in order.</summary>
    public IReadOnlyList<HyperSparseEpoch> Epochs { get; }
    /// <summary>Every conv and linear layer in order, the pruned ones and those kept dense (<see cref="HyperSparseLayer.KeptDense"/>).</summary>
    public IReadOnlyList<HyperSparseLayer> Layers { get; }
    /// <summary>
    /// Layers that kept none of their weights (layer collapse: the network's output no longer depends on the image);
    /// empty when every layer kept some. <see cref="Notes"/> carries a warning for each.
    /// </summary>
    public IReadOnlyList<string> CollapsedLayers { get; }
    /// <summary>Size of the exported ONNX file in bytes.</summary>
    public long OnnxBytes { get; }
    /// <summary>Size the same model (the network the file holds, after the dead-channel shrink) takes with dense weights.</summary>
    public long DenseOnnxBytes { get; }
    /// <summary>
    /// Size the network as trained (every channel, before the dead-channel shrink) takes as a dense ONNX file: what the model
    /// would cost without pruning. Equals <see cref="DenseOnnxBytes"/> when the shrink removed nothing.
    /// </summary>
    public long TrainedDenseOnnxBytes { get; }
    /// <summary>
    /// Information bound of the float model as trained: N·H(1−κ)/8 + 4·nnz over the pruned layers taken together, plus 4 bytes
    /// per weight of layers kept dense and per other parameter (biases, normalisation), ignoring graph structure. The
    /// exporter's dead-channel shrink stores fewer weights than the trained mask, so the file can come out below it.
    /// </summary>
    public double BoundBytes { get; }

    /// <summary>
    /// With <see cref="HyperSparseClassificationTrainer.Options.QuantizeWeights"/>: the float and the int8 model's accuracy on
    /// the same images and the change; null otherwise.
    /// </summary>
    public HyperSparseQuantizationCheck? Quantization { get; }

    /// <summary>With <see cref="HyperSparseClassificationTrainer.Options.TimeBudget"/>: budget, time per phase, λ path, accuracy gaps and every planning decision; null otherwise.</summary>
    public HyperSparseTimeBudgetReport? TimeBudget { get; }

    internal static HyperSparseEpoch ToPublic(EpochRecord e) => new()
    {
        Phase = HyperSparseProgress.ToPublic(e.Phase), Epoch = e.Epoch, PhaseEpoch = e.PhaseEpoch, LearningRate = e.LearningRate, Lambda = e.Lambda,
        TrainLoss = e.TrainLoss, TrainAccuracy = e.TrainAccuracy, PrunedTrainAccuracy = e.PrunedTrainAccuracy, ValidationAccuracy = e.ValidationAccuracy,
        Sparsity = e.Sparsity, Seconds = e.Seconds,
    };

    internal static HyperSparsePlanningDecision ToPublic(PlanningDecision d) => new()
    {
        AtSeconds = d.AtSeconds, Epoch = d.Epoch, Phase = HyperSparseProgress.ToPublic(d.Phase), Setting = d.Setting.ToString(), Value = d.Value, Reason = d.Reason,
    };

    /// <summary>JSON with enums as their names ("Art", "StopRuleFired"), as report.json and the inspector write them.</summary>
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>The report as indented JSON (enums as names).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
