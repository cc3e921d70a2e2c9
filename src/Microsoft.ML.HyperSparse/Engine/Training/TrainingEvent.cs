namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>What happened: the run started (or resumed), an epoch finished, or ART ended.</summary>
internal enum TrainingEventKind
{
    Started,
    EpochFinished,
    ArtEnded,
}

/// <summary>
/// Progress as data, for callers that show it (the adapter turns it into the public <c>HyperSparseProgress</c>). The log
/// lines say the same for people; nothing should parse them.
/// </summary>
internal sealed record TrainingEvent
{
    public required TrainingEventKind Kind { get; init; }
    /// <summary>The finished epoch (<see cref="TrainingEventKind.EpochFinished"/> only).</summary>
    public EpochRecord? Epoch { get; init; }
    /// <summary>The finished epoch's phase, or the phase the next epoch belongs to.</summary>
    public required TrainingPhase Phase { get; init; }
    /// <summary>Epochs finished so far, all phases.</summary>
    public required int EpochsDone { get; init; }
    public required int WarmupEpochsDone { get; init; }
    public required int ArtEpochsDone { get; init; }
    public required int FineTuneEpochsDone { get; init; }
    /// <summary>The schedule in force now (a time budget may re-plan it after every epoch).</summary>
    public required int WarmupEpochs { get; init; }
    public required int MaxArtEpochs { get; init; }
    public required int FineTuneEpochs { get; init; }
    /// <summary>How ART ended, once it has (<see cref="ArtStopReason.NotApplicable"/> before, and for one-shot runs).</summary>
    public required ArtStopReason ArtStopReason { get; init; }
    /// <summary>Training time so far, earlier sessions of a resumed run included.</summary>
    public required double TrainingSeconds { get; init; }
    /// <summary><see cref="TrainingEventKind.Started"/> after a resume: the checkpoint's file name.</summary>
    public string? ResumedFrom { get; init; }
    /// <summary>The time-budget planner's decisions taken since the previous event, oldest first.</summary>
    public IReadOnlyList<PlanningDecision> Decisions { get; init; } = Array.Empty<PlanningDecision>();
}
