using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// <see cref="HyperSparseClassificationTrainer.Options.TimeBudget"/> as users meet it: which settings count as explicit, and
/// one short real run (LeNet-5 on 1,500 Fashion-MNIST images) that must end near its budget with the plan in the report.
/// </summary>
[TestClass]
public sealed class HyperSparseTimeBudgetTests
{
    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
    }

    [TestMethod]
    public void Options_SetterCalled_KnobIsExplicitOnlyWithABudget()
    {
        var defaults = new HyperSparseClassificationTrainer.Options { TimeBudget = TimeSpan.FromMinutes(20) };
        Assert.AreEqual(ScheduleKnobs.None, defaults.ToEngine().FixedKnobs, "nothing set: the planner chooses every knob");
        Assert.AreEqual(TimeSpan.FromMinutes(20), defaults.ToEngine().TimeBudget);

        // Setting a knob to its default value still fixes it: the user said so.
        var some = new HyperSparseClassificationTrainer.Options { TimeBudget = TimeSpan.FromMinutes(20), LambdaGrowth = 1.05, FineTuneEpochs = 30 };
        Assert.AreEqual(ScheduleKnobs.LambdaGrowth | ScheduleKnobs.FineTuneEpochs, some.ToEngine().FixedKnobs);
        some.LearningRateSteps = new[] { 10, 20 };
        some.WarmupEpochs = 5;
        some.MaxArtEpochs = 9;
        some.LambdaInit = 1e-4;
        Assert.AreEqual(ScheduleKnobs.All, some.ToEngine().FixedKnobs);
        Assert.AreEqual(1.05, some.LambdaGrowth);

        // Without a budget nothing is planned and the engine options (and so checkpoint fingerprints) are as before.
        var plain = new HyperSparseClassificationTrainer.Options { LambdaGrowth = 1.3 };
        Assert.AreEqual(ScheduleKnobs.None, plain.ToEngine().FixedKnobs);
        Assert.IsNull(plain.ToEngine().TimeBudget);
    }

    [TestMethod]
    public void Options_NonPositiveBudget_ThrowsNamingTheOption()
    {
        var ml = new MLContext();
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.HyperSparseClassification(
            new HyperSparseClassificationTrainer.Options { TimeBudget = TimeSpan.Zero }));
        Assert.AreEqual("TimeBudget", ex.ParamName);
        StringAssert.Contains(ex.Message, "positive");
    }

    [TestMethod]
    public void Fit_TimeBudget35Seconds_FollowsAndReportsThePlan()
    {
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        var images = FashionMnist.Read(dir, train: true, limit: 1500);
        var ml = new MLContext(seed: 3);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("HyperSparse", StringComparison.Ordinal)) lock (log) log.Add(e.RawMessage); };
        var budget = TimeSpan.FromSeconds(35);
        var options = new HyperSparseClassificationTrainer.Options
        {
            Architecture = HyperSparseArchitecture.LeNet5,
            PruningRate = 0.9,
            TimeBudget = budget,
            BatchSize = 64,
            LearningRate = 0.05,
            CropPadding = 2,
            HorizontalFlip = false,
        };

        var watch = Stopwatch.StartNew();
        var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(options).Fit(Data(ml, images));
        var fitSeconds = watch.Elapsed.TotalSeconds;
        var report = model.Report;
        var plan = report.TimeBudget;

        Assert.IsNotNull(plan);
        var context = $"Fit {fitSeconds:F1} s, training {plan.UsedSeconds:F1} s of {budget.TotalSeconds} s\n" + string.Join("\n", plan.Decisions) + "\n" + string.Join("\n", report.Notes);
        Assert.AreEqual(budget, plan.Budget);
        // How close the run ends to its budget is a benchmark figure (build/bench-budget.sh), not a timed assertion: on a
        // shared CI box epoch times move under the planner. Here: the run either ends within the budget's reach or the plan
        // said in advance, in its warning that this network and data cannot fit the budget (not any warning: "λ can grow at
        // most …" or "only one ART epoch fits …" say nothing about overrunning). That warning is also a report note.
        var cannotFit = plan.Decisions.Where(d => d.Setting == "Warning" && d.Reason.StartsWith("the budget is too short for this network and data", StringComparison.Ordinal)).ToList();
        Assert.IsTrue(cannotFit.Count > 0 || plan.UsedSeconds <= 2 * budget.TotalSeconds, context);
        // The plan fits the budget by the planner's own measurements, not by the wall clock: the epochs before the fine-tune
        // plus the fine-tune epochs it planned, at the fine-tune's median epoch time, end within the budget (slack: a quarter
        // of it and one epoch, for a shared machine) — unless it said in advance that it cannot. A planner that plans past the
        // budget fails here even when its epochs are fast enough to stay under the loose 2× wall-time bound above.
        var fineTune = report.Epochs.Where(e => e.Phase == HyperSparseTrainingPhase.FineTune).Select(e => e.Seconds).Order().ToList();
        var median = fineTune[fineTune.Count / 2];
        var predicted = report.Epochs.Where(e => e.Phase != HyperSparseTrainingPhase.FineTune).Sum(e => e.Seconds) + plan.PlannedFineTuneEpochs * median;
        Assert.IsTrue(cannotFit.Count > 0 || predicted <= 1.25 * budget.TotalSeconds + median,
            $"planned end {predicted:F1} s (fine-tune {plan.PlannedFineTuneEpochs} × {median:F2} s)\n" + context);
        foreach (var warning in cannotFit)
        {
            StringAssert.Contains(warning.Reason, "past the budget", context);
            Assert.IsTrue(report.Notes.Contains("Time budget: " + warning.Reason), context);
        }
        Assert.AreEqual(plan.UsedSeconds, plan.WarmupSeconds + plan.ArtSeconds + plan.FineTuneSeconds, 1.0, context);
        Assert.IsTrue(plan.WarmupSeconds > 0 && plan.ArtSeconds > 0 && plan.FineTuneSeconds > 0, context);

        // The plan is in the report: every knob the planner chose, with a reason; the run followed it.
        foreach (var setting in new[] { "WarmupEpochs", "LambdaInit", "LambdaGrowth", "MaxArtEpochs", "FineTuneEpochs", "LearningRateSteps" })
            Assert.IsTrue(plan.Decisions.Any(d => d.Setting == setting && d.Reason.Length > 20), setting + "\n" + context);
        Assert.IsEmpty(plan.FixedSettings);
        Assert.AreEqual(plan.PlannedWarmupEpochs, report.WarmupEpochs);
        Assert.AreEqual(plan.PlannedFineTuneEpochs, report.FineTuneEpochs);
        Assert.HasCount(report.ArtEpochs, plan.LambdaPath);
        Assert.HasCount(report.ArtEpochs, plan.AccuracyGaps);
        Assert.AreEqual(plan.PlannedLambdaInit, plan.LambdaPath[0]);
        var art = report.Epochs.Where(e => e.Phase == HyperSparseTrainingPhase.Art).ToList();
        for (var k = 0; k < art.Count; k++)
        {
            Assert.AreEqual(art[k].Lambda, plan.LambdaPath[k]);
            Assert.AreEqual(art[k].AccuracyGap!.Value, plan.AccuracyGaps[k], 1e-9);
            if (k > 0) Assert.IsGreaterThanOrEqualTo(BudgetPolicy.Default.MinGrowth - 1e-9, art[k].Lambda / art[k - 1].Lambda, "λ grows every ART epoch");
        }
        // The stop rule got its chance: it fired, or λ had grown past the range where it was expected to fire — unless the
        // machine made ART epochs so slow that too few fit, which the plan then says. Either way the report says how ART ended.
        Assert.IsTrue(plan.StopRuleFired != plan.CapForcedPrune, context);
        var firingGuess = BudgetPlanner.FiringLambdaGuess(Microsoft.ML.HyperSparse.Engine.Models.Architecture.LeNet5, 0.05, 1500 / 64 + 1);
        Assert.IsTrue(plan.StopRuleFired || plan.LambdaPath[^1] >= BudgetPolicy.Default.FiringMargin * firingGuess
            || plan.Warnings.Any(w => w.Contains("before the stop rule has had its full chance", StringComparison.Ordinal)), context);
        if (plan.CapForcedPrune) Assert.IsTrue(report.Notes.Any(n => n.Contains("cap of", StringComparison.Ordinal)), context);
        Assert.AreEqual(61_470 - (long)Math.Floor(0.9 * 61_470) - 1, report.KeptWeights);

        // Progress: the budget left after every epoch, and every decision, reached MLContext.Log.
        Assert.AreEqual(report.Epochs.Count, log.Count(l => l.StartsWith("Budget: ", StringComparison.Ordinal)), context);
        Assert.AreEqual(plan.Decisions.Count, log.Count(l => l.StartsWith("Plan: ", StringComparison.Ordinal)), context);
        Assert.IsNotNull(report.ToJson());
    }

    private static IDataView Data(MLContext ml, ImageDataset images)
    {
        var rows = Enumerable.Range(0, images.Count).Select(i => new Row
        {
            Features = images.Pixels.AsSpan(i * images.ImageSize, images.ImageSize).ToArray(),
            Label = (uint)images.Labels[i],
        }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 28, 28);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), 10);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }
}
