namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>One ART epoch's gap: dense minus pruned-copy train accuracy (pp) at its λ.</summary>
internal sealed record GapPoint(int ArtEpoch, double Lambda, double Gap);

/// <summary>The planner's memory: measured epoch costs, gaps, its firing-level estimate and its decisions (saved in checkpoints).</summary>
internal sealed class BudgetPlannerState
{
    /// <summary>Training time used at the last observation.</summary>
    public double ElapsedSeconds { get; set; }
    /// <summary>Wall seconds between consecutive observations, per phase (checkpoints and probes included).</summary>
    public List<double> WarmupCosts { get; set; } = new();
    public List<double> ArtCosts { get; set; } = new();
    public List<double> FineTuneCosts { get; set; } = new();
    public List<GapPoint> Gaps { get; set; } = new();
    /// <summary>Current estimate of the λ at which the stop rule fires (0 until ART is planned).</summary>
    public double FiringLambda { get; set; }
    /// <summary>The ART epoch (0-based) by which λ is planned to reach <see cref="FiringLambda"/>.</summary>
    public int ReachArtEpoch { get; set; }
    public bool Started { get; set; }
    public bool ArtPlanned { get; set; }
    public bool FineTunePlanned { get; set; }
    public List<PlanningDecision> Decisions { get; set; } = new();
    /// <summary>Kinds of warning already given (each is given once); the texts are <see cref="BudgetPlanner.WarningKind"/>'s.</summary>
    public List<string> Warned { get; set; } = new();
}
