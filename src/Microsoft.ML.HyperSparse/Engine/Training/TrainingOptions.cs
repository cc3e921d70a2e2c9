using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using Microsoft.ML.HyperSparse.Engine.Regularization;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>How the network is brought to the target sparsity.</summary>
internal enum PruningMethod
{
    /// <summary>Warm-up, then Adaptive Regularized Training until its stop rule fires (or the cap), then prune and fine-tune.</summary>
    Art,
    /// <summary>The baseline: dense training for the warm-up epochs, one-shot global magnitude prune, masked fine-tune.</summary>
    OneShotMagnitude,
}

/// <summary>
/// The schedule settings a <see cref="TrainingOptions.TimeBudget"/> planner may choose. A knob listed in
/// <see cref="TrainingOptions.FixedKnobs"/> keeps the options' value exactly.
/// </summary>
[Flags]
internal enum ScheduleKnobs
{
    None = 0,
    LambdaInit = 1,
    LambdaGrowth = 2,
    WarmupEpochs = 4,
    MaxArtEpochs = 8,
    FineTuneEpochs = 16,
    LearningRateSteps = 32,
    All = LambdaInit | LambdaGrowth | WarmupEpochs | MaxArtEpochs | FineTuneEpochs | LearningRateSteps,
}

/// <summary>
/// Every engine hyper-parameter, defaulting to <see cref="TrainingDefaults"/> (the paper's reference code, utils/arg.py). Validate() throws
/// ArgumentOutOfRangeException naming the option and the bad value.
/// </summary>
internal sealed record TrainingOptions
{
    public Architecture Architecture { get; init; } = TrainingDefaults.Network;
    public PruningMethod Method { get; init; } = PruningMethod.Art;
    public RegularizerKind Regularizer { get; init; } = RegularizerKind.HyperSparse;

    /// <summary>κ: the fraction of prunable weights removed.</summary>
    public double PruningRate { get; init; } = TrainingDefaults.PruningRate;
    /// <summary>Not in the paper (0 = its rule): every pruned layer keeps at least this many weights, the total stays at κ.</summary>
    public int MinWeightsPerLayer { get; init; }
    public double LambdaInit { get; init; } = TrainingDefaults.LambdaInit;
    /// <summary>η: λ is multiplied by this after every ART epoch.</summary>
    public double LambdaGrowth { get; init; } = TrainingDefaults.LambdaGrowth;
    public int WarmupEpochs { get; init; } = TrainingDefaults.WarmupEpochs;
    /// <summary>The reference has no end to ART; this cap forces the prune (and the report says so).</summary>
    public int MaxArtEpochs { get; init; } = TrainingDefaults.MaxArtEpochs;
    /// <summary>m: the stop rule averages the pruned accuracy over 2m+1 epochs.</summary>
    public int StopWindowHalfSize { get; init; } = TrainingDefaults.StopWindowHalfSize;
    public int FineTuneEpochs { get; init; } = TrainingDefaults.FineTuneEpochs;
    public int BatchSize { get; init; } = TrainingDefaults.BatchSize;
    public double LearningRate { get; init; } = TrainingDefaults.LearningRate;
    public double Momentum { get; init; } = TrainingDefaults.Momentum;
    public double WeightDecay { get; init; } = TrainingDefaults.WeightDecay;
    public double LearningRateDecay { get; init; } = TrainingDefaults.LearningRateDecay;
    /// <summary>Fine-tune epochs (0-based, relative to the fine-tune phase) at which the rate is multiplied by the decay.</summary>
    public IReadOnlyList<int> LearningRateSteps { get; init; } = TrainingDefaults.LearningRateSteps.ToArray();
    public int CropPadding { get; init; } = TrainingDefaults.CropPadding;
    public bool HorizontalFlip { get; init; } = TrainingDefaults.HorizontalFlip;
    public int Seed { get; init; } = TrainingDefaults.Seed;
    /// <summary>Intra-op threads for libtorch; null = all cores.</summary>
    public int? Threads { get; init; }
    /// <summary>Applies the glibc malloc setting that avoids per-step mmap/munmap of activations (Linux only).</summary>
    public bool TuneAllocator { get; init; } = true;
    /// <summary>When set, a checkpoint is written after every epoch; with <see cref="Resume"/> training continues from the newest.</summary>
    public string? CheckpointDirectory { get; init; }
    public bool Resume { get; init; }

    /// <summary>
    /// Layers kept dense: exact names or glob patterns (see <see cref="LayerSelection"/>); they are outside the regulariser
    /// and the global threshold, and κ applies to the other layers. Null = none. Left out of the JSON when null, so
    /// checkpoints written before this option existed still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? KeepDenseLayers { get; init; }

    /// <summary>
    /// Training time to plan for (warm-up, ART and fine-tune, across resumes); null = no budget, the epoch counts and λ
    /// schedule are used as given. With a budget, <see cref="BudgetPlanner"/> chooses every knob not in
    /// <see cref="FixedKnobs"/> from measured epoch times. Left out of the JSON when null, so older checkpoints still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>With a <see cref="TimeBudget"/>: the knobs the user set, which the planner keeps exactly.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ScheduleKnobs FixedKnobs { get; init; }

    /// <summary>
    /// Start from pretrained weights instead of a random initialisation: the warm-up becomes the head stage (only the
    /// classifier trains, the backbone frozen), then ART, prune and fine-tune as usual. Null = from scratch. Left out of the
    /// JSON when null, so checkpoints written before this option existed still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PretrainedStart? Pretrained { get; init; }

    /// <summary>
    /// Keep batch norm in eval mode while training: its running statistics stay as they are (a pretrained network's ImageNet
    /// statistics), its scale and shift still train. Measured on Fashion-MNIST from ML.NET's ResNet-18: 2–2.5 points better
    /// than batch norm in train mode (platform notes).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool FreezeBatchNormStatistics { get; init; }

    /// <summary>
    /// Where ART's probe scores the pruned copy (ONNX Runtime by default: faster, same network and images, float rounding of
    /// its own kernels). Not part of a checkpoint's fingerprint; left out of the JSON at its default.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ProbeRuntime Probe { get; init; }

    /// <summary>
    /// Train with channels-last (NHWC) convolution weights and inputs: a speed lever of libtorch's oneDNN kernels, measured
    /// 0.68–0.91× (ResNet-20) and 0.87–1.00× (ResNet-18) of the NCHW step in two runs on an AMD EPYC (docs/bench-step.md).
    /// Off by default: over three seeds of the epoch benchmark every channels-last run ended 0.35–2.4 points below the NCHW
    /// run of the same seed (docs/bench-step-layout.jsonl), two more seeds moved LeNet-5 −0.35 / −5.45 and ResNet-20 −0.35 / +8.15 (docs/bench-step.md), and
    /// every accuracy figure of the project was measured in NCHW. The returned model is
    /// NCHW either way. Not part of a checkpoint's fingerprint; left out of the JSON at its default.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ChannelsLast { get; init; }

    /// <summary>
    /// The arithmetic of the training step (<see cref="TrainingPrecision"/>): float32 by default, which is exactly the step
    /// without this option; bfloat16 mixed precision on request. Not part of a checkpoint's fingerprint (the weights are
    /// float32 either way); left out of the JSON at its default.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public TrainingPrecision Precision { get; init; }

    public void Validate()
    {
        Check(PruningRate is > 0 and < 1, nameof(PruningRate), PruningRate, "in (0, 1)");
        Check(MinWeightsPerLayer >= 0, nameof(MinWeightsPerLayer), MinWeightsPerLayer, "≥ 0");
        Check(LambdaInit >= 0 && double.IsFinite(LambdaInit), nameof(LambdaInit), LambdaInit, "≥ 0 and finite");
        Check(LambdaGrowth > 0 && double.IsFinite(LambdaGrowth), nameof(LambdaGrowth), LambdaGrowth, "> 0 and finite");
        // Every phase runs at least once: the paper always warms up dense, and fine-tuning is what recovers the pruned net.
        Check(WarmupEpochs >= 1, nameof(WarmupEpochs), WarmupEpochs, "≥ 1");
        Check(MaxArtEpochs >= 1, nameof(MaxArtEpochs), MaxArtEpochs, "≥ 1");
        Check(StopWindowHalfSize >= 0, nameof(StopWindowHalfSize), StopWindowHalfSize, "≥ 0");
        Check(FineTuneEpochs >= 1, nameof(FineTuneEpochs), FineTuneEpochs, "≥ 1");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "≥ 1");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "> 0 and finite");
        Check(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "in [0, 1)");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "≥ 0 and finite");
        Check(LearningRateDecay is > 0 and <= 1, nameof(LearningRateDecay), LearningRateDecay, "in (0, 1]");
        Check(LearningRateSteps.All(s => s >= 0), nameof(LearningRateSteps), string.Join(",", LearningRateSteps), "non-negative epochs");
        Check(CropPadding >= 0, nameof(CropPadding), CropPadding, "≥ 0");
        Check(Threads is null or >= 1, nameof(Threads), Threads!, "≥ 1 or null");
        Check(Enum.IsDefined(Precision), nameof(Precision), Precision, $"one of {string.Join(", ", Enum.GetNames<TrainingPrecision>())}");
        Check(Enum.IsDefined(Probe), nameof(Probe), Probe, $"one of {string.Join(", ", Enum.GetNames<ProbeRuntime>())}");
        Check(TimeBudget is null || TimeBudget.Value > TimeSpan.Zero, nameof(TimeBudget), TimeBudget!, "a positive duration or null");
        Check(!Resume || CheckpointDirectory is not null, nameof(Resume), Resume, "true only with a CheckpointDirectory");
        if (Pretrained is { } start)
        {
            Check(start.Weights is null || start.Weights.Architecture == Architecture, nameof(Pretrained),
                start.Weights?.Architecture?.ToString() ?? "none", $"weights for {Architecture}");
            Check(Architecture is Architecture.ResNet18 or Architecture.ResNet34 or Architecture.ResNet18MLNet, nameof(Architecture), Architecture,
                "an ImageNet ResNet (ResNet18, ResNet34, ResNet18MLNet) when starting from pretrained weights");
        }
        // The names depend on the architecture only, so a bad entry fails here, before any data is read.
        _ = LayerSelection.Resolve(ModelFactory.PrunableLayerNames(Architecture), KeepDenseLayers, Architecture.ToString(), nameof(KeepDenseLayers));
    }

    private static void Check(bool ok, string option, object value, string expected)
    {
        if (!ok)
            throw new ArgumentOutOfRangeException(option, value, string.Create(CultureInfo.InvariantCulture, $"Option '{option}' must be {expected}; found {value}."));
    }
}

/// <summary>A pretrained start: which weights (described for the checkpoint's fingerprint) and whether the classifier is kept.</summary>
/// <param name="Source">The file, or "imagenet" for ML.NET's ResNet-18: compared when a run resumes.</param>
/// <param name="KeepHead">Copy the source's classifier too (its classes are the data's); otherwise a new one is trained.</param>
internal sealed record PretrainedStart(string Source, bool KeepHead)
{
    /// <summary>The tensors (not serialised: a resumed run takes every weight from its checkpoint).</summary>
    [JsonIgnore]
    public Pretrained.PretrainedWeights? Weights { get; init; }
}
