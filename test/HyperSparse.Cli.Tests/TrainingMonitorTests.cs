using HyperSparse.Cli.Training;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// The CLI's progress comes from the trainer's per-epoch MLContext.Log line; these pin the wording it parses
/// (the end-to-end test checks the live trainer still produces it).
/// </summary>
[TestClass]
public sealed class TrainingMonitorTests
{
    [TestMethod]
    public void TryParseEpoch_ArtLine_ReadsEveryField()
    {
        var e = TrainingMonitor.TryParseEpoch(
            "HyperSparse: Art epoch 3 (global 13): loss 0.4160, train acc 84.60 %, λ 0.00045, pruned train acc 66.70 %, validation acc 84.20 %, sparsity 0.00 %, 10.8 s");
        Assert.IsNotNull(e);
        Assert.AreEqual("Art", e.Phase);
        Assert.AreEqual(3, e.PhaseEpoch);
        Assert.AreEqual(13, e.GlobalEpoch);
        Assert.AreEqual(0.416, e.Loss, 1e-9);
        Assert.AreEqual(84.6, e.TrainAccuracy, 1e-9);
        Assert.AreEqual(0.00045, e.Lambda!.Value, 1e-12);
        Assert.AreEqual(66.7, e.PrunedTrainAccuracy!.Value, 1e-9);
        Assert.AreEqual(84.2, e.ValidationAccuracy!.Value, 1e-9);
        Assert.AreEqual(0.0, e.Sparsity, 1e-12);
        Assert.AreEqual(10.8, e.Seconds, 1e-9);
    }

    [TestMethod]
    public void TryParseEpoch_FineTuneLineWithoutValidation_LeavesOptionalFieldsNull()
    {
        var e = TrainingMonitor.TryParseEpoch("HyperSparse: FineTune epoch 2 (global 20): loss 0.3570, train acc 86.80 %, sparsity 98.00 %, 8.9 s");
        Assert.IsNotNull(e);
        Assert.AreEqual("FineTune", e.Phase);
        Assert.IsNull(e.Lambda);
        Assert.IsNull(e.PrunedTrainAccuracy);
        Assert.IsNull(e.ValidationAccuracy);
        Assert.AreEqual(0.98, e.Sparsity, 1e-12);
    }

    [TestMethod]
    public void OnLog_PhasesStopRuleAndEta()
    {
        var monitor = new TrainingMonitor(warmupEpochs: 2, maxArtEpochs: 10, fineTuneEpochs: 3, oneShot: false);
        monitor.OnLog("HyperSparse", "Channel started");
        monitor.OnLog("Other", "HyperSparse-looking text from another source");
        Assert.IsEmpty(monitor.Epochs);
        monitor.OnLog("HyperSparse", "HyperSparse: Warmup epoch 1 (global 1): loss 1.0, train acc 60.00 %, sparsity 0.00 %, 3.0 s");
        monitor.OnLog("HyperSparse", "HyperSparse: Warmup epoch 2 (global 2): loss 1.0, train acc 70.00 %, sparsity 0.00 %, 3.0 s");
        monitor.OnLog("HyperSparse", "HyperSparse: Art epoch 1 (global 3): loss 1.0, train acc 70.00 %, λ 0.0002, pruned train acc 20.00 %, sparsity 0.00 %, 5.0 s");
        var eta = monitor.Eta()!.Value;
        Assert.IsTrue(eta.UpperBound, "ART may still run to its cap");
        Assert.AreEqual(9 * 5.0 + 3 * 3.0, eta.Remaining.TotalSeconds, 1e-6);
        monitor.OnLog("HyperSparse", "ART stop rule fired after 2 ART epochs; fine-tuning the pruned copy of ART epoch 1.");
        monitor.OnLog("HyperSparse", "HyperSparse: Art epoch 2 (global 4): loss 1.0, train acc 70.00 %, λ 0.0003, pruned train acc 75.00 %, sparsity 0.00 %, 5.0 s");
        Assert.IsTrue(monitor.StopRuleFired);
        Assert.AreEqual(2, monitor.ArtFinishedAfter);
        eta = monitor.Eta()!.Value;
        Assert.IsFalse(eta.UpperBound);
        Assert.AreEqual(3 * 3.0, eta.Remaining.TotalSeconds, 1e-6);
        Assert.HasCount(4, monitor.Epochs);
    }

    [TestMethod]
    public void OnLog_BudgetLine_FollowsThePlanAndEtaIsTheBudgetLeft()
    {
        var monitor = new TrainingMonitor(warmupEpochs: 60, maxArtEpochs: 300, fineTuneEpochs: 160, oneShot: false);
        monitor.OnLog("HyperSparse", "HyperSparse: Warmup epoch 1 (global 1): loss 1.0, train acc 60.00 %, sparsity 0.00 %, 3.0 s");
        var statuses = new List<string>();
        monitor.Status += statuses.Add;
        monitor.OnLog("HyperSparse", "Budget: 3.2 s of 600 s used, 596.8 s left; plan: warm-up 47, ART ≤ 61, fine-tune 80");
        Assert.IsEmpty(statuses, "the budget line feeds the progress display; it is not printed on its own");
        Assert.AreEqual(47, monitor.WarmupEpochs);
        Assert.AreEqual(61, monitor.MaxArtEpochs);
        Assert.AreEqual(80, monitor.FineTuneEpochs);
        Assert.AreEqual((3.2, 600.0), monitor.Budget);
        var eta = monitor.Eta()!.Value;
        Assert.AreEqual(596.8, eta.Remaining.TotalSeconds, 1e-6);
        Assert.IsFalse(eta.UpperBound);
        Assert.AreEqual("budget left 9m56s of 10m00s", ProgressView.EtaText(monitor));

        // A cap set by the budget is read from the trainer's line, not from the options.
        monitor.OnLog("HyperSparse", "ART cap of 12 epochs (set by the time budget) reached without the stop rule firing; pruning anyway (pruned copy of ART epoch 11, 1-based).");
        Assert.AreEqual(12, monitor.ArtFinishedAfter);
        Assert.IsFalse(monitor.StopRuleFired);
        // One-shot runs have no ART in their plan.
        var oneShot = new TrainingMonitor(warmupEpochs: 60, maxArtEpochs: 300, fineTuneEpochs: 160, oneShot: true);
        oneShot.OnLog("HyperSparse", "Budget: 3.2 s of 600 s used, 596.8 s left; plan: warm-up 100, fine-tune 80");
        Assert.AreEqual(100, oneShot.WarmupEpochs);
        Assert.AreEqual(0, oneShot.MaxArtEpochs);
    }

    [TestMethod]
    public void ResumeMismatch_ListsDifferingSettings()
    {
        var text = ResumeMismatch.TryDescribe(
            "Checkpoint 'x' was written by a run with other options or data; resume needs the same options (except threads and paths). " +
            "Saved: {\"Options\":{\"WarmupEpochs\":5,\"Seed\":42},\"Count\":300}  Now: {\"Options\":{\"WarmupEpochs\":6,\"Seed\":42},\"Count\":270}");
        Assert.AreEqual("settings: WarmupEpochs 5 → 6, training images 300 → 270", text);
    }
}
