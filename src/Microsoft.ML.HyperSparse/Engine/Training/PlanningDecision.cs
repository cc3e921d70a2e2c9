using System.Globalization;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// What a <see cref="PlanningDecision"/> set. The names are the texts users see: the public
/// <c>HyperSparsePlanningDecision.Setting</c>, the log lines and the checkpoint JSON (enums as names) all use
/// <see cref="Enum.ToString()"/>, so a member must never be renamed. The knob members are named as <see cref="ScheduleKnobs"/>.
/// </summary>
internal enum PlanSetting
{
    /// <summary>The budget itself, recorded before the first epoch with what will be planned and what is kept.</summary>
    TimeBudget,
    WarmupEpochs,
    LambdaInit,
    LambdaGrowth,
    MaxArtEpochs,
    FineTuneEpochs,
    LearningRateSteps,
    /// <summary>The planner's estimate of the λ at which ART's stop rule fires.</summary>
    FiringLambda,
    /// <summary>Not a setting: a warning that the budget or a fixed knob will not let the plan work out.</summary>
    Warning,
}

/// <summary>One planning decision: when (training seconds, epochs finished), in which phase, what was set, and why.</summary>
/// <param name="AtSeconds">Training time used when the decision was taken.</param>
/// <param name="Epoch">Epochs finished when the decision was taken (0 = before the first).</param>
/// <param name="Phase">The phase of the epoch just finished.</param>
/// <param name="Setting">What was decided, or <see cref="PlanSetting.Warning"/>.</param>
/// <param name="Value">The new value, as text.</param>
/// <param name="Reason">Why, with the measured figures the decision used.</param>
internal sealed record PlanningDecision(double AtSeconds, int Epoch, TrainingPhase Phase, PlanSetting Setting, string Value, string Reason)
{
    public bool IsWarning => Setting == PlanSetting.Warning;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"[{AtSeconds:F1} s, after epoch {Epoch}] {(IsWarning ? "warning" : Setting + " = " + Value)}: {Reason}");
}
