namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>The phases of a run, in order.</summary>
internal enum TrainingPhase
{
    Warmup,
    Art,
    FineTune,
}

/// <summary>Why ART ended.</summary>
internal enum ArtStopReason
{
    /// <summary>No ART phase (one-shot magnitude pruning).</summary>
    NotApplicable,
    /// <summary>The windowed pruned train accuracy exceeded the dense one: the paper's rule.</summary>
    StopRuleFired,
    /// <summary>The ART epoch cap was reached first; the best pruned copy so far was taken.</summary>
    CapReached,
}

/// <summary>One finished epoch, as reported to progress listeners and kept in the report.</summary>
internal sealed record EpochRecord
{
    public required TrainingPhase Phase { get; init; }
    /// <summary>0-based global epoch.</summary>
    public required int Epoch { get; init; }
    /// <summary>0-based epoch within its phase.</summary>
    public required int PhaseEpoch { get; init; }
    public required double LearningRate { get; init; }
    /// <summary>λ of the epoch (0 outside ART).</summary>
    public required double Lambda { get; init; }
    public required double TrainLoss { get; init; }
    /// <summary>Running top-1 (%) over the epoch, train mode, augmented.</summary>
    public required double TrainAccuracy { get; init; }
    /// <summary>ART only: top-1 (%) of the magnitude-pruned copy on the augmented train set, eval mode.</summary>
    public double? PrunedTrainAccuracy { get; init; }
    /// <summary>Top-1 (%) on the validation set, when one was given.</summary>
    public double? ValidationAccuracy { get; init; }
    /// <summary>Fraction of the pruned layers' weights (layers kept dense not counted) that are exactly zero at the end of the epoch.</summary>
    public required double Sparsity { get; init; }
    public required double Seconds { get; init; }
    /// <summary>ART only: the part of <see cref="Seconds"/> spent on the pruned copy (copy, prune, scoring the train set).</summary>
    public double? ProbeSeconds { get; init; }
}

/// <summary>Kept weights of one conv or linear layer in the final model; <paramref name="KeptDense"/> when it was excluded from pruning.</summary>
internal sealed record LayerSparsity(string Name, long[] Shape, long Total, long Kept, bool KeptDense)
{
    public double Sparsity => Total == 0 ? 0 : 1.0 - (double)Kept / Total;
}

/// <summary>What a time-budgeted run planned and used (see <see cref="BudgetPlanner"/>).</summary>
internal sealed record BudgetReport
{
    public required double BudgetSeconds { get; init; }
    /// <summary>Training time used, across resumes (reading data and exporting come on top).</summary>
    public required double UsedSeconds { get; init; }
    public required double WarmupSeconds { get; init; }
    public required double ArtSeconds { get; init; }
    public required double FineTuneSeconds { get; init; }
    /// <summary>The knobs the user set, kept exactly.</summary>
    public required ScheduleKnobs FixedKnobs { get; init; }
    /// <summary>The schedule as it ended (the planner's last values).</summary>
    public required TrainingSchedule Schedule { get; init; }
    /// <summary>Every planning decision and warning, in order.</summary>
    public required IReadOnlyList<PlanningDecision> Decisions { get; init; }
}

/// <summary>What a training run did and reached: enough to reproduce its figures without the logs.</summary>
internal sealed record TrainingReport
{
    public required string Architecture { get; init; }
    public required string Method { get; init; }
    public required string Regularizer { get; init; }
    public required double RequestedPruningRate { get; init; }
    public required TrainingOptions Options { get; init; }
    public List<EpochRecord> Epochs { get; init; } = new();
    public int WarmupEpochs => Epochs.Count(e => e.Phase == TrainingPhase.Warmup);
    public int ArtEpochs => Epochs.Count(e => e.Phase == TrainingPhase.Art);
    public int FineTuneEpochs => Epochs.Count(e => e.Phase == TrainingPhase.FineTune);
    public ArtStopReason ArtStopReason { get; set; }
    /// <summary>The ART epoch (0-based) whose pruned copy was fine-tuned.</summary>
    public int? SelectedArtEpoch { get; set; }
    /// <summary>Every conv and linear layer, pruned or kept dense, in network order.</summary>
    public List<LayerSparsity> Layers { get; set; } = new();
    /// <summary>N: the weights of the pruned layers (layers kept dense are not counted; κ applies to these).</summary>
    public long PrunableWeights => Layers.Where(l => !l.KeptDense).Sum(l => l.Total);
    public long KeptWeights => Layers.Where(l => !l.KeptDense).Sum(l => l.Kept);
    /// <summary>Pruned layers the final mask emptied (layer collapse); layers kept dense never are.</summary>
    public IEnumerable<LayerSparsity> CollapsedLayers => Layers.Where(l => !l.KeptDense && l.Kept == 0);
    public double AchievedSparsity => PrunableWeights == 0 ? 0 : 1.0 - (double)KeptWeights / PrunableWeights;
    public double? FinalValidationAccuracy => Epochs.LastOrDefault()?.ValidationAccuracy;
    public double? BestValidationAccuracy => Epochs.Where(e => e.Phase == TrainingPhase.FineTune).Max(e => e.ValidationAccuracy);
    public double TotalSeconds => Epochs.Sum(e => e.Seconds);
    /// <summary>With a time budget: what was planned and used; null otherwise.</summary>
    public BudgetReport? Budget { get; set; }
    /// <summary>With a pretrained start: what was loaded from where, and which layers were new; null from scratch.</summary>
    public PretrainedReport? Pretrained { get; set; }
    /// <summary>Human-readable notes: cap reached, resumed from a checkpoint, skipped corrupt checkpoints.</summary>
    public List<string> Notes { get; init; } = new();

    public double SecondsIn(TrainingPhase phase) => Epochs.Where(e => e.Phase == phase).Sum(e => e.Seconds);
}

/// <summary>What a pretrained start loaded.</summary>
/// <param name="Source">The file (full path).</param>
/// <param name="Format">What kind of file it was.</param>
/// <param name="Preprocessing">The input the weights expect, as used in training and baked into the exported ONNX.</param>
/// <param name="LoadedTensors">Parameters and batch-norm statistics copied.</param>
/// <param name="LoadedWeights">Scalars in them.</param>
/// <param name="NewLayers">Layers trained from a fresh initialisation (the classifier, unless kept).</param>
/// <param name="ReversedChannels">The source read BGR planes; its first convolution's input channels were reversed to read RGB.</param>
/// <param name="ReplicatedGrayscale">The images have one channel; it is replicated to the network's three.</param>
internal sealed record PretrainedReport(string Source, string Format, string Preprocessing, int LoadedTensors, long LoadedWeights,
    IReadOnlyList<string> NewLayers, bool ReversedChannels, bool ReplicatedGrayscale);
