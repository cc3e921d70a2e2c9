using System.Globalization;
using Microsoft.ML.HyperSparse;

namespace HyperSparse.Cli.Training;

/// <summary>One finished epoch, as the CLI shows it (phase epochs and global epochs 1-based).</summary>
internal sealed record EpochProgress(
    string Phase, int PhaseEpoch, int GlobalEpoch, double Loss, double TrainAccuracy, double? Lambda,
    double? PrunedTrainAccuracy, double? ValidationAccuracy, double Sparsity, double Seconds);

/// <summary>
/// Receives the trainer's progress as data (<see cref="HyperSparseClassificationTrainer.Options.Progress"/>) and keeps what
/// the progress view shows: phase, epoch, λ, sparsity, accuracies, the schedule in force (a time budget re-plans it) and an
/// ETA from the measured epoch times. It reads no log text: the trainer's <c>MLContext.Log</c> lines are for people, and
/// their wording may change.
/// </summary>
internal sealed class TrainingMonitor(int warmupEpochs, int maxArtEpochs, int fineTuneEpochs, bool oneShot) : IProgress<HyperSparseProgress>
{
    private readonly object gate = new();
    private readonly List<EpochProgress> epochs = new();

    public int WarmupEpochs { get; private set; } = warmupEpochs;
    public int MaxArtEpochs { get; private set; } = oneShot ? 0 : maxArtEpochs;
    public int FineTuneEpochs { get; private set; } = fineTuneEpochs;

    /// <summary>With a time budget: the training time used and the budget, as of the last report.</summary>
    public (double Used, double Budget)? Budget { get; private set; }

    public int WarmupDone { get; private set; }
    public int ArtDone { get; private set; }
    public int FineTuneDone { get; private set; }

    /// <summary>Set when the ART phase ended (stop rule or cap): the number of ART epochs it ran.</summary>
    public int? ArtFinishedAfter { get; private set; }

    /// <summary>True when ART ended by the paper's stop rule (false: the cap, or not yet).</summary>
    public bool StopRuleFired { get; private set; }

    public EpochProgress? Last { get; private set; }

    /// <summary>True once the trainer has read the data and starts epochs.</summary>
    public bool DataRead { get; private set; }

    public event Action<EpochProgress>? Epoch;
    public event Action<string>? Status;

    public IReadOnlyList<EpochProgress> Epochs
    {
        get { lock (gate) return epochs.ToList(); }
    }

    /// <summary>One progress report from the trainer (on the training thread).</summary>
    public void Report(HyperSparseProgress value)
    {
        var messages = new List<string>();
        EpochProgress? finished = null;
        lock (gate)
        {
            DataRead = true;
            WarmupEpochs = value.WarmupEpochs;
            if (MaxArtEpochs > 0 || value.MaxArtEpochs > 0) MaxArtEpochs = value.MaxArtEpochs;
            FineTuneEpochs = value.FineTuneEpochs;
            WarmupDone = value.WarmupEpochsDone;
            ArtDone = value.ArtEpochsDone;
            FineTuneDone = value.FineTuneEpochsDone;
            if (value.TimeBudget is { } budget) Budget = (value.TrainingSeconds, budget.TotalSeconds);
            if (value.ArtStopReason != HyperSparseArtStopReason.NotApplicable)
            {
                ArtFinishedAfter = value.ArtEpochsDone;
                StopRuleFired = value.ArtStopReason == HyperSparseArtStopReason.StopRuleFired;
            }
            if (value.Kind == HyperSparseProgressKind.Started && value.ResumedFrom is { } checkpoint)
                messages.Add(string.Create(CultureInfo.InvariantCulture,
                    $"Resumed from '{checkpoint}' at epoch {value.EpochsDone} ({value.Phase}, phase epoch {PhaseDone(value)})."));
            if (value.Kind == HyperSparseProgressKind.ArtEnded)
                messages.Add(StopRuleFired
                    ? string.Create(CultureInfo.InvariantCulture, $"ART stop rule fired after {value.ArtEpochsDone} ART epochs; fine-tuning the selected pruned copy.")
                    : string.Create(CultureInfo.InvariantCulture, $"ART cap of {value.ArtEpochsDone} epochs reached before the stop rule fired; fine-tuning the best pruned copy."));
            foreach (var d in value.Decisions)
                messages.Add(string.Create(CultureInfo.InvariantCulture,
                    $"Plan: [{d.AtSeconds:F1} s, after epoch {d.Epoch}] {(d.Setting == "Warning" ? "warning" : d.Setting + " = " + d.Value)}: {d.Reason}"));
            if (value.Epoch is { } e)
            {
                finished = new EpochProgress(e.Phase.ToString(), e.PhaseEpoch + 1, e.Epoch + 1, e.TrainLoss, e.TrainAccuracy,
                    e.Phase == HyperSparseTrainingPhase.Art ? e.Lambda : null, e.PrunedTrainAccuracy, e.ValidationAccuracy, e.Sparsity, e.Seconds);
                epochs.Add(finished);
                Last = finished;
            }
        }
        // Decisions first (they were taken before the epoch line they lead to is shown), then the epoch, then ART's end.
        foreach (var m in messages.Where(m => m.StartsWith("Plan: ", StringComparison.Ordinal))) Status?.Invoke(m);
        if (finished is not null) Epoch?.Invoke(finished);
        foreach (var m in messages.Where(m => !m.StartsWith("Plan: ", StringComparison.Ordinal))) Status?.Invoke(m);
    }

    private static int PhaseDone(HyperSparseProgress p) => p.Phase switch
    {
        HyperSparseTrainingPhase.Warmup => p.WarmupEpochsDone,
        HyperSparseTrainingPhase.Art => p.ArtEpochsDone,
        _ => p.FineTuneEpochsDone,
    };

    /// <summary>
    /// Seconds left: with a time budget, the budget left (the plan ends there); otherwise remaining epochs × measured seconds
    /// per epoch of their kind, an upper bound while ART may still run to its cap.
    /// </summary>
    public (TimeSpan Remaining, bool UpperBound)? Eta()
    {
        lock (gate)
        {
            if (Budget is { } b) return (TimeSpan.FromSeconds(Math.Max(0, b.Budget - b.Used)), false);
            var plain = epochs.Where(e => e.Phase != "Art").TakeLast(5).Select(e => e.Seconds).DefaultIfEmpty().Average();
            var art = epochs.Where(e => e.Phase == "Art").TakeLast(5).Select(e => e.Seconds).DefaultIfEmpty().Average();
            if (plain <= 0 && art <= 0) return null;
            if (plain <= 0) plain = art / 1.7;
            if (art <= 0) art = plain * 1.7;   // the pruned-copy probe makes ART epochs slower; replaced by the measured value after one
            var artLeft = ArtFinishedAfter is null ? Math.Max(0, MaxArtEpochs - ArtDone) : 0;
            var seconds = (WarmupEpochs - WarmupDone) * plain + artLeft * art + (FineTuneEpochs - FineTuneDone) * plain;
            return (TimeSpan.FromSeconds(Math.Max(0, seconds)), artLeft > 0);
        }
    }
}
