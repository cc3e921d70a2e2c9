namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>What the trainer tells the planner after every epoch.</summary>
/// <param name="Phase">Phase of the epoch just finished.</param>
/// <param name="PhaseEpoch">Its 0-based index within the phase.</param>
/// <param name="ElapsedSeconds">Training time used so far (across resumes), at the end of the epoch.</param>
/// <param name="DenseTrainAccuracy">The dense model's running train accuracy (%).</param>
/// <param name="PrunedTrainAccuracy">ART: the pruned copy's train accuracy (%).</param>
/// <param name="Lambda">ART: λ of the epoch.</param>
/// <param name="StopRuleFired">ART: the stop rule fired after this epoch.</param>
internal sealed record EpochObservation(TrainingPhase Phase, int PhaseEpoch, double ElapsedSeconds, double DenseTrainAccuracy,
    double? PrunedTrainAccuracy = null, double Lambda = 0, bool StopRuleFired = false);

/// <summary>What a planner needs to know about the run; everything else it measures.</summary>
internal sealed record BudgetSettings
{
    public required double BudgetSeconds { get; init; }
    public required ScheduleKnobs Fixed { get; init; }
    public required bool OneShot { get; init; }
    public required double LearningRate { get; init; }
    public required int StopWindowHalfSize { get; init; }
    /// <summary>Upper bound on ART epochs even when the budget would allow more (the options' cap).</summary>
    public required int SafetyArtCap { get; init; }
    /// <summary>First guess of the λ at which ART's stop rule fires (<see cref="BudgetPolicy.FiringLambdaGuess"/>); refined from the gaps.</summary>
    public required double FiringLambdaGuess { get; init; }

    public static BudgetSettings From(TrainingOptions options, int stepsPerEpoch, BudgetPolicy? policy = null) => new()
    {
        BudgetSeconds = (options.TimeBudget ?? throw new ArgumentException("No time budget.", nameof(options))).TotalSeconds,
        Fixed = options.FixedKnobs,
        OneShot = options.Method == PruningMethod.OneShotMagnitude,
        LearningRate = options.LearningRate,
        StopWindowHalfSize = options.StopWindowHalfSize,
        SafetyArtCap = options.MaxArtEpochs,
        FiringLambdaGuess = (policy ?? BudgetPolicy.Default).FiringLambdaGuess(options.Architecture, options.LearningRate, stepsPerEpoch, options.Pretrained is not null),
    };
}
