using System.Text.Json.Nodes;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse;

/// <summary>The three phases of a run: dense warm-up, Adaptive Regularized Training, masked fine-tune.</summary>
public enum HyperSparseTrainingPhase
{
    /// <summary>Dense training before ART (or before the one-shot prune).</summary>
    Warmup,
    /// <summary>Adaptive Regularized Training: the regulariser grows until the pruned copy matches the dense network.</summary>
    Art,
    /// <summary>The pruned network is trained with its mask.</summary>
    FineTune,
}

/// <summary>How the ART phase ended.</summary>
public enum HyperSparseArtStopReason
{
    /// <summary>It has not ended yet, or there is none (one-shot magnitude pruning).</summary>
    NotApplicable,
    /// <summary>The paper's rule: the pruned copy's windowed train accuracy passed the dense network's.</summary>
    StopRuleFired,
    /// <summary>The ART cap (or the time budget) forced the prune before the stop rule fired.</summary>
    CapReached,
}

/// <summary>What a <see cref="HyperSparseProgress"/> report is about.</summary>
public enum HyperSparseProgressKind
{
    /// <summary>The data is read and training starts (or resumes: see <see cref="HyperSparseProgress.ResumedFrom"/>).</summary>
    Started,
    /// <summary>An epoch finished; its figures are in the report.</summary>
    EpochFinished,
    /// <summary>ART ended (<see cref="HyperSparseProgress.ArtStopReason"/> says how); fine-tuning follows.</summary>
    ArtEnded,
}

/// <summary>
/// Progress of <see cref="HyperSparseClassificationTrainer.Fit"/> as data, handed to
/// <see cref="HyperSparseClassificationTrainer.Options.Progress"/>: when training starts, after every epoch and when ART
/// ends. The same is logged on <c>MLContext.Log</c> for people; programs should read this instead of the log's wording.
/// </summary>
/// <remarks>Reported on the training thread; a <see cref="Progress{T}"/> created on a UI thread posts it there.</remarks>
public sealed class HyperSparseProgress
{
    /// <summary>What happened.</summary>
    public HyperSparseProgressKind Kind { get; init; }
    /// <summary>The finished epoch's phase (<see cref="HyperSparseProgressKind.EpochFinished"/>), else the phase of the next epoch.</summary>
    public HyperSparseTrainingPhase Phase { get; init; }
    /// <summary>Epochs finished so far, all phases (a resumed run counts the earlier sessions' epochs).</summary>
    public int EpochsDone { get; init; }
    /// <summary>Warm-up epochs finished.</summary>
    public int WarmupEpochsDone { get; init; }
    /// <summary>ART epochs finished.</summary>
    public int ArtEpochsDone { get; init; }
    /// <summary>Fine-tune epochs finished.</summary>
    public int FineTuneEpochsDone { get; init; }
    /// <summary>Warm-up length in force (a <see cref="HyperSparseClassificationTrainer.Options.TimeBudget"/> may re-plan it).</summary>
    public int WarmupEpochs { get; init; }
    /// <summary>The ART cap in force; once ART has ended, the epochs it ran. 0 for one-shot magnitude pruning.</summary>
    public int MaxArtEpochs { get; init; }
    /// <summary>Fine-tune length in force.</summary>
    public int FineTuneEpochs { get; init; }
    /// <summary>How ART ended, once it has.</summary>
    public HyperSparseArtStopReason ArtStopReason { get; init; }
    /// <summary>Training time so far in seconds (earlier sessions of a resumed run included).</summary>
    public double TrainingSeconds { get; init; }
    /// <summary>The time budget, when one was given.</summary>
    public TimeSpan? TimeBudget { get; init; }
    /// <summary><see cref="HyperSparseProgressKind.Started"/> after a resume: the checkpoint file it resumed from (name only).</summary>
    public string? ResumedFrom { get; init; }
    /// <summary>The finished epoch (<see cref="HyperSparseProgressKind.EpochFinished"/> only): loss, accuracies, λ, sparsity, time.</summary>
    public HyperSparseEpoch? Epoch { get; init; }
    /// <summary>The time-budget planner's decisions taken since the previous report, oldest first.</summary>
    public IReadOnlyList<HyperSparsePlanningDecision> Decisions { get; init; } = Array.Empty<HyperSparsePlanningDecision>();

    internal static HyperSparseProgress From(TrainingEvent e, TimeSpan? budget) => new()
    {
        Kind = e.Kind switch
        {
            TrainingEventKind.Started => HyperSparseProgressKind.Started,
            TrainingEventKind.ArtEnded => HyperSparseProgressKind.ArtEnded,
            _ => HyperSparseProgressKind.EpochFinished,
        },
        Phase = ToPublic(e.Phase),
        EpochsDone = e.EpochsDone,
        WarmupEpochsDone = e.WarmupEpochsDone,
        ArtEpochsDone = e.ArtEpochsDone,
        FineTuneEpochsDone = e.FineTuneEpochsDone,
        WarmupEpochs = e.WarmupEpochs,
        MaxArtEpochs = e.MaxArtEpochs,
        FineTuneEpochs = e.FineTuneEpochs,
        ArtStopReason = e.ArtStopReason switch
        {
            Engine.Training.ArtStopReason.StopRuleFired => HyperSparseArtStopReason.StopRuleFired,
            Engine.Training.ArtStopReason.CapReached => HyperSparseArtStopReason.CapReached,
            _ => HyperSparseArtStopReason.NotApplicable,
        },
        TrainingSeconds = e.TrainingSeconds,
        TimeBudget = budget,
        ResumedFrom = e.ResumedFrom,
        Epoch = e.Epoch is { } r ? HyperSparseTrainingReport.ToPublic(r) : null,
        Decisions = e.Decisions.Select(HyperSparseTrainingReport.ToPublic).ToArray(),
    };

    internal static HyperSparseTrainingPhase ToPublic(TrainingPhase phase) => phase switch
    {
        TrainingPhase.Warmup => HyperSparseTrainingPhase.Warmup,
        TrainingPhase.Art => HyperSparseTrainingPhase.Art,
        _ => HyperSparseTrainingPhase.FineTune,
    };
}

/// <summary>One setting that differs between a checkpoint's run and the run asked to resume it.</summary>
/// <param name="Setting">The option or data property, e.g. "WarmupEpochs", "training images", "data statistics (Mean)".</param>
/// <param name="Saved">Its value in the checkpoint's run (JSON).</param>
/// <param name="Current">Its value now (JSON).</param>
public sealed record HyperSparseSettingDifference(string Setting, string Saved, string Current);

/// <summary>
/// <see cref="HyperSparseClassificationTrainer.Options.Resume"/> found a checkpoint written by a run with other options or
/// data: resuming it would not continue the same run. <see cref="Differences"/> lists what differs.
/// </summary>
public sealed class HyperSparseResumeMismatchException : InvalidOperationException
{
    internal HyperSparseResumeMismatchException(string checkpointPath, IReadOnlyList<HyperSparseSettingDifference> differences, Exception inner)
        : base($"Checkpoint '{checkpointPath}' was written by a run with other options or data; resume needs the same options " +
               $"(except threads and paths). Differences: {(differences.Count == 0 ? "none found in the settings compared" : string.Join(", ", differences.Select(d => $"{d.Setting} {d.Saved} → {d.Current}")))}.", inner)
    {
        CheckpointPath = checkpointPath;
        Differences = differences;
    }

    /// <summary>The checkpoint file.</summary>
    public string CheckpointPath { get; }

    /// <summary>Every setting that differs: saved value, current value.</summary>
    public IReadOnlyList<HyperSparseSettingDifference> Differences { get; }

    internal static HyperSparseResumeMismatchException From(ResumeMismatchException e)
    {
        var differences = new List<HyperSparseSettingDifference>();
        Compare("", JsonNode.Parse(e.SavedFingerprint), JsonNode.Parse(e.CurrentFingerprint), differences);
        return new HyperSparseResumeMismatchException(e.CheckpointPath, differences, e);
    }

    private static void Compare(string path, JsonNode? a, JsonNode? b, List<HyperSparseSettingDifference> differences)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var key in oa.Select(p => p.Key).Union(ob.Select(p => p.Key)))
                Compare(path.Length == 0 || path == "Options" ? key : path + "." + key, oa[key], ob[key], differences);
            return;
        }
        var saved = a?.ToJsonString() ?? "null";
        var current = b?.ToJsonString() ?? "null";
        if (saved != current) differences.Add(new HyperSparseSettingDifference(Label(path), saved, current));
    }

    private static string Label(string key) => key switch
    {
        "Count" => "training images",
        "Mean" or "Std" or "PixelScale" => "data statistics (" + key + ")",
        _ => key,
    };
}
