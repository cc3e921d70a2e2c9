using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>The budget planner inside ArtTrainer on a real Fashion-MNIST slice: interrupted and resumed, the plan carries on.</summary>
[TestClass]
public sealed partial class ArtTrainerBudgetTests
{
    private static ImageDataset train = null!;
    private static Normalization norm = null!;

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        TorchRuntime.EnsureLoaded();
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        train = FashionMnist.Read(dir, train: true, limit: 1000);
        norm = Normalization.FromData(train, 1f / 255);
    }

    [TestMethod]
    public void ArtTrainer_TimeBudgetRunResumedInArt_KeepsDecisionsLambdaPathAndBudgetClock()
    {
        var dir = Path.Combine(Path.GetTempPath(), "hs-budget-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new TrainingOptions
            {
                Architecture = Architecture.LeNet5,
                PruningRate = 0.9,
                TimeBudget = TimeSpan.FromSeconds(16),
                FixedKnobs = ScheduleKnobs.None,
                BatchSize = 64,
                LearningRate = 0.05,
                CropPadding = 2,
                HorizontalFlip = false,
                Seed = 5,
                CheckpointDirectory = dir,
            };
            var firstLog = new List<string>();
            using var cts = new CancellationTokenSource();
            // Stop after the first ART epoch: the planner has planned λ_init/η and re-planned once.
            var first = new ArtTrainer(options, e => { if (e.Phase == TrainingPhase.Art) cts.Cancel(); }, firstLog.Add);
            var cancelled = false;
            try { first.Train(train, null, norm, cts.Token).Dispose(); }
            catch (OperationCanceledException) { cancelled = true; }
            Assert.IsTrue(cancelled, "cancelled after the first ART epoch\n" + string.Join("\n", firstLog));
            var decisionsBefore = firstLog.Where(l => l.StartsWith("Plan: ", StringComparison.Ordinal)).Select(l => l["Plan: ".Length..]).ToList();
            var usedBefore = double.Parse(UsedPattern().Match(firstLog.Last(l => l.StartsWith("Budget: ", StringComparison.Ordinal))).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.IsTrue(decisionsBefore.Any(d => d.Contains("LambdaInit")), string.Join("\n", firstLog));

            var resumedLog = new List<string>();
            using var resumed = new ArtTrainer(options with { Resume = true }, null, resumedLog.Add).Train(train, null, norm);
            var report = resumed.Report;
            var budget = report.Budget;
            Assert.IsNotNull(budget);
            var context = string.Join("\n", budget.Decisions) + "\n" + string.Join("\n", report.Notes);

            // Decisions made before the interruption are kept, in order, and not taken again.
            CollectionAssert.AreEqual(decisionsBefore, budget.Decisions.Take(decisionsBefore.Count).Select(d => d.ToString()).ToList(), context);
            Assert.AreEqual(1, budget.Decisions.Count(d => d.Setting == PlanSetting.LambdaInit), context);
            Assert.IsFalse(resumedLog.Any(l => l.Contains("TimeBudget =", StringComparison.Ordinal)), "the start decision is not repeated");
            // The budget clock continues: time used before the interruption counts.
            Assert.IsGreaterThan(usedBefore, budget.UsedSeconds);
            Assert.AreEqual(budget.UsedSeconds, budget.WarmupSeconds + budget.ArtSeconds + budget.FineTuneSeconds, 1.0);
            // λ continues from the planned path: λ_init as planned, and it grows by at least MinGrowth every ART epoch.
            var art = report.Epochs.Where(e => e.Phase == TrainingPhase.Art).ToList();
            Assert.IsNotEmpty(art);
            Assert.AreEqual(budget.Schedule.LambdaInit, art[0].Lambda);
            for (var k = 1; k < art.Count; k++)
                Assert.IsGreaterThanOrEqualTo(BudgetPolicy.Default.MinGrowth - 1e-9, art[k].Lambda / art[k - 1].Lambda, context);
            Assert.AreEqual(budget.Schedule.WarmupEpochs, report.WarmupEpochs);
            Assert.AreEqual(budget.Schedule.FineTuneEpochs, report.FineTuneEpochs);
            Assert.AreNotEqual(ArtStopReason.NotApplicable, report.ArtStopReason);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [GeneratedRegex(@"^Budget: (\S+) s of")]
    private static partial Regex UsedPattern();
}
