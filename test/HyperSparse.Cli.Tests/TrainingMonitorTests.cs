using HyperSparse.Cli.Training;
using Microsoft.ML.HyperSparse;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// The CLI's progress comes from the trainer's typed progress (<see cref="HyperSparseProgress"/>), never from log text;
/// these pin how the monitor turns reports into phases, the stop rule, the plan and the ETA. The end-to-end
/// <c>TrainCommand_LogWordingScrambled_ProgressIsUnchanged</c> shows the live trainer's reports drive it.
/// </summary>
[TestClass]
public sealed class TrainingMonitorTests
{
    private static HyperSparseProgress Epoch(HyperSparseTrainingPhase phase, int phaseEpoch, int global, double accuracy, double seconds,
        (int Warmup, int Art, int FineTune) done, (int Warmup, int Art, int FineTune) plan, double? lambda = null, double? pruned = null,
        HyperSparseArtStopReason stop = HyperSparseArtStopReason.NotApplicable, HyperSparseProgressKind kind = HyperSparseProgressKind.EpochFinished) => new()
    {
        Kind = kind,
        Phase = phase,
        EpochsDone = global,
        WarmupEpochsDone = done.Warmup, ArtEpochsDone = done.Art, FineTuneEpochsDone = done.FineTune,
        WarmupEpochs = plan.Warmup, MaxArtEpochs = plan.Art, FineTuneEpochs = plan.FineTune,
        ArtStopReason = stop,
        Epoch = kind != HyperSparseProgressKind.EpochFinished ? null
            : new HyperSparseEpoch
            {
                Phase = phase, Epoch = global - 1, PhaseEpoch = phaseEpoch - 1, LearningRate = 0.1, Lambda = lambda ?? 0, TrainLoss = 1.0,
                TrainAccuracy = accuracy, PrunedTrainAccuracy = pruned, Sparsity = 0, Seconds = seconds,
            },
    };

    [TestMethod]
    public void Report_PhasesStopRuleAndEta()
    {
        var monitor = new TrainingMonitor(warmupEpochs: 2, maxArtEpochs: 10, fineTuneEpochs: 3, oneShot: false);
        var shown = new List<EpochProgress>();
        var statuses = new List<string>();
        monitor.Epoch += shown.Add;
        monitor.Status += statuses.Add;
        Assert.IsFalse(monitor.DataRead);
        monitor.Report(new HyperSparseProgress { Kind = HyperSparseProgressKind.Started, WarmupEpochs = 2, MaxArtEpochs = 10, FineTuneEpochs = 3 });
        Assert.IsTrue(monitor.DataRead);
        Assert.IsEmpty(statuses, "a fresh start has nothing to say");
        monitor.Report(Epoch(HyperSparseTrainingPhase.Warmup, 1, 1, 60, 3.0, (1, 0, 0), (2, 10, 3)));
        monitor.Report(Epoch(HyperSparseTrainingPhase.Warmup, 2, 2, 70, 3.0, (2, 0, 0), (2, 10, 3)));
        monitor.Report(Epoch(HyperSparseTrainingPhase.Art, 1, 3, 70, 5.0, (2, 1, 0), (2, 10, 3), lambda: 2e-4, pruned: 20));
        var e = shown[^1];
        Assert.AreEqual(("Art", 1, 3), (e.Phase, e.PhaseEpoch, e.GlobalEpoch), "1-based as shown");
        Assert.AreEqual(2e-4, e.Lambda!.Value, 1e-12);
        Assert.AreEqual(20, e.PrunedTrainAccuracy!.Value, 1e-12);
        var eta = monitor.Eta()!.Value;
        Assert.IsTrue(eta.UpperBound, "ART may still run to its cap");
        Assert.AreEqual(9 * 5.0 + 3 * 3.0, eta.Remaining.TotalSeconds, 1e-6);

        monitor.Report(Epoch(HyperSparseTrainingPhase.Art, 2, 4, 70, 5.0, (2, 2, 0), (2, 10, 3), lambda: 3e-4, pruned: 75));
        monitor.Report(Epoch(HyperSparseTrainingPhase.Art, 2, 4, 70, 5.0, (2, 2, 0), (2, 2, 3), stop: HyperSparseArtStopReason.StopRuleFired,
            kind: HyperSparseProgressKind.ArtEnded));
        Assert.IsTrue(monitor.StopRuleFired);
        Assert.AreEqual(2, monitor.ArtFinishedAfter);
        CollectionAssert.Contains(statuses, "ART stop rule fired after 2 ART epochs; fine-tuning the selected pruned copy.");
        eta = monitor.Eta()!.Value;
        Assert.IsFalse(eta.UpperBound);
        Assert.AreEqual(3 * 3.0, eta.Remaining.TotalSeconds, 1e-6);
        Assert.HasCount(4, monitor.Epochs);
    }

    [TestMethod]
    public void Report_TimeBudget_FollowsThePlanShowsDecisionsAndEtaIsTheBudgetLeft()
    {
        var monitor = new TrainingMonitor(warmupEpochs: 60, maxArtEpochs: 300, fineTuneEpochs: 160, oneShot: false);
        var statuses = new List<string>();
        monitor.Status += statuses.Add;
        monitor.Report(Epoch(HyperSparseTrainingPhase.Warmup, 1, 1, 60, 3.0, (1, 0, 0), (47, 61, 80)));
        monitor.Report(new HyperSparseProgress
        {
            Kind = HyperSparseProgressKind.EpochFinished, Phase = HyperSparseTrainingPhase.Warmup, EpochsDone = 2, WarmupEpochsDone = 2,
            WarmupEpochs = 47, MaxArtEpochs = 61, FineTuneEpochs = 80, TrainingSeconds = 3.2, TimeBudget = TimeSpan.FromSeconds(600),
            Epoch = new HyperSparseEpoch
            {
                Phase = HyperSparseTrainingPhase.Warmup, Epoch = 1, PhaseEpoch = 1, LearningRate = 0.1, Lambda = 0, TrainLoss = 1, TrainAccuracy = 61,
                Sparsity = 0, Seconds = 3.0,
            },
            Decisions = new[]
            {
                new HyperSparsePlanningDecision
                {
                    AtSeconds = 3.2, Epoch = 2, Phase = HyperSparseTrainingPhase.Warmup, Setting = "WarmupEpochs", Value = "47", Reason = "measured 3.0 s per epoch",
                },
            },
        });
        Assert.AreEqual(47, monitor.WarmupEpochs);
        Assert.AreEqual(61, monitor.MaxArtEpochs);
        Assert.AreEqual(80, monitor.FineTuneEpochs);
        Assert.AreEqual((3.2, 600.0), monitor.Budget);
        var eta = monitor.Eta()!.Value;
        Assert.AreEqual(596.8, eta.Remaining.TotalSeconds, 1e-6);
        Assert.IsFalse(eta.UpperBound);
        Assert.AreEqual("budget left 9m56s of 10m00s", ProgressView.EtaText(monitor));
        CollectionAssert.Contains(statuses, "Plan: [3.2 s, after epoch 2] WarmupEpochs = 47: measured 3.0 s per epoch");

        // One-shot runs have no ART in their plan.
        var oneShot = new TrainingMonitor(warmupEpochs: 60, maxArtEpochs: 300, fineTuneEpochs: 160, oneShot: true);
        oneShot.Report(new HyperSparseProgress { Kind = HyperSparseProgressKind.Started, WarmupEpochs = 100, MaxArtEpochs = 0, FineTuneEpochs = 80 });
        Assert.AreEqual(100, oneShot.WarmupEpochs);
        Assert.AreEqual(0, oneShot.MaxArtEpochs);
    }

    [TestMethod]
    public void Report_StartedAfterAResume_SaysFromWhere()
    {
        var monitor = new TrainingMonitor(warmupEpochs: 3, maxArtEpochs: 3, fineTuneEpochs: 3, oneShot: false);
        var statuses = new List<string>();
        monitor.Status += statuses.Add;
        monitor.Report(new HyperSparseProgress
        {
            Kind = HyperSparseProgressKind.Started, Phase = HyperSparseTrainingPhase.Art, EpochsDone = 4, WarmupEpochsDone = 3, ArtEpochsDone = 1,
            WarmupEpochs = 3, MaxArtEpochs = 3, FineTuneEpochs = 3, ResumedFrom = "epoch-0004.hsckpt",
        });
        Assert.AreEqual(3, monitor.WarmupDone);
        Assert.AreEqual(1, monitor.ArtDone);
        CollectionAssert.AreEqual(new[] { "Resumed from 'epoch-0004.hsckpt' at epoch 4 (Art, phase epoch 1)." }, statuses);
    }
}
