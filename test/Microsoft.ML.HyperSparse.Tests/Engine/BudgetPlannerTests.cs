using System.Text.Json;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// The time-budget planner on scripted runs: epoch times and gap sequences are made up, the planner's decisions are real.
/// <see cref="ScriptedRun"/> drives it the way ArtTrainer does (same loop conditions, the real stop rule), so no TorchSharp.
/// </summary>
[TestClass]
public sealed class BudgetPlannerTests
{
    private const double Budget = 600;
    private const double LearningRate = 0.05;
    /// <summary>The planner's first guess of the firing λ for LeNet-5 at this LR.</summary>
    private static readonly double GuessLambda = BudgetPlanner.FiringLambdaGuess(Architecture.LeNet5, LearningRate, BudgetPolicy.Default.ReferenceStepsPerEpoch);

    private static BudgetSettings Settings(ScheduleKnobs fixedKnobs = ScheduleKnobs.None, bool oneShot = false, double budget = Budget) => new()
    {
        BudgetSeconds = budget,
        Fixed = fixedKnobs,
        OneShot = oneShot,
        LearningRate = LearningRate,
        StopWindowHalfSize = 1,
        SafetyArtCap = 300,
        FiringLambdaGuess = GuessLambda,
    };

    /// <summary>
    /// A gap that closes linearly in ln λ from 29 pp at λ*/16 to −1 pp at <paramref name="firingLambda"/>, then keeps
    /// closing slowly (a pruned copy that stopped improving would never beat the stop rule's stored best).
    /// </summary>
    private static Func<double, double> ClosingAt(double firingLambda) =>
        lambda => lambda < firingLambda ? 30 * Math.Log(firingLambda / lambda) / Math.Log(16) - 1 : -1 - Math.Log(lambda / firingLambda);

    [TestMethod]
    public void PlanSetting_Names_AreThePublicSettingTexts()
    {
        // The public HyperSparsePlanningDecision.Setting, the log lines and checkpoint JSON carry these names as text.
        CollectionAssert.AreEqual(
            new[] { "TimeBudget", "WarmupEpochs", "LambdaInit", "LambdaGrowth", "MaxArtEpochs", "FineTuneEpochs", "LearningRateSteps", "FiringLambda", "Warning" },
            Enum.GetValues<PlanSetting>().Select(s => s.ToString()).ToArray());
        var warning = new PlanningDecision(1.5, 2, TrainingPhase.Art, PlanSetting.Warning, "", "why");
        Assert.AreEqual("[1.5 s, after epoch 2] warning: why", warning.ToString());
        Assert.AreEqual("Warning", HyperSparseTrainingReport.ToPublic(warning).Setting);
        Assert.IsTrue(HyperSparseTrainingReport.ToPublic(warning).IsWarning);
        Assert.AreEqual("[0.0 s, after epoch 0] LambdaGrowth = 1.5: why",
            new PlanningDecision(0, 0, TrainingPhase.Warmup, PlanSetting.LambdaGrowth, "1.5", "why").ToString());
    }

    [TestMethod]
    public void BudgetPolicy_Default_PinsTheTunedValues()
    {
        var p = BudgetPolicy.Default;
        Assert.AreEqual((0.25, 0.55, 0.30, 0.15, 3), (p.WarmupShare, p.OneShotWarmupShare, p.ArtShare, p.MinFineTuneShare, p.MinFineTuneEpochs));
        Assert.AreEqual((2, 0.5, 5), (p.MeasuredWarmupEpochs, p.MeasuredWarmupMaxShare, p.WarmupReplanDivisor));
        Assert.AreEqual((1.4, 16.0, 0.75, 4.0, 64.0, 1.05, 3.0), (p.ArtCostRatio, p.SweepRange, p.ReachFraction, p.FiringMargin, p.MaxFiringFactor, p.MinGrowth, p.MaxGrowth));
        Assert.AreEqual((2, 3, 2, 1.001, 4), (p.ArtSlowdownAllowance, p.MinReachEpochs, p.LateReachDivisor, p.GrowthChangeTolerance, p.ArtCapReplanDivisor));
        Assert.AreEqual((4.0, 4, 0.25, 0.5, 1.1, 4.0, 2.0, 2.0), (p.GapJudgeDivisor, p.GapWindow, p.ClosingSlope, p.FiringGap, p.FiringRaiseThreshold, p.MaxFiringRaisePerEpoch, p.StalledNearDivisor, p.StalledFiringRaise));
        Assert.AreEqual((0.02, 0.05, 0.2), (p.ShortenShare, p.LengthenShare, p.AheadShare));
        Assert.AreEqual((100.0, 1e-3, 8, 5, 16, 3), (p.UnmeasuredEpochDivisor, p.MinEpochSeconds, p.WarmupCostWindow, p.ArtCostWindow, p.FineTuneCostWindow, p.FineTuneCostMinSamples));
        Assert.AreEqual((235, 1.7e-4, 8.5e-4), (p.ReferenceStepsPerEpoch, p.SmallNetFiringStep, p.BatchNormNetFiringStep));
    }

    [TestMethod]
    public void Steps_HalfAndThreeQuartersOfTheFineTune_AsThePapers80And120Of160()
    {
        CollectionAssert.AreEqual(new[] { 80, 120 }, BudgetPlanner.Steps(160));
        CollectionAssert.AreEqual(new[] { 1, 2 }, BudgetPlanner.Steps(3));
        CollectionAssert.AreEqual(new[] { 1 }, BudgetPlanner.Steps(2));
        CollectionAssert.AreEqual(Array.Empty<int>(), BudgetPlanner.Steps(1));
    }

    [TestMethod]
    public void FiringLambdaGuess_PerStepAtTheReferenceAndLargerForFewerStepsPerEpoch()
    {
        Assert.AreEqual(1.7e-4 / 0.05, BudgetPlanner.FiringLambdaGuess(Architecture.LeNet5, 0.05, 235), 1e-12);
        Assert.AreEqual(2 * 1.7e-4 / 0.05, BudgetPlanner.FiringLambdaGuess(Architecture.LeNet5, 0.05, 235 / 4 + 1), 1e-4);
        Assert.IsGreaterThan(BudgetPlanner.FiringLambdaGuess(Architecture.LeNet5, 0.05, 235), BudgetPlanner.FiringLambdaGuess(Architecture.ResNet20, 0.05, 235),
            "batch-normalised networks need more λ");
    }

    [TestMethod]
    public void TrainingSchedule_Lambda_PapersFormulaWhileGrowthConstantAndContinuousWhenItChanges()
    {
        var schedule = TrainingSchedule.From(new TrainingOptions { LambdaInit = 5e-6, LambdaGrowth = 1.05 });
        for (var k = 0; k < 50; k += 7)
            Assert.AreEqual(ArtSchedule.Lambda(5e-6, 1.05, 60, 60 + k), schedule.Lambda(k), 1e-18);
        var before = schedule.Lambda(9);
        schedule.ChangeGrowth(9, 1.5);
        Assert.AreEqual(before, schedule.Lambda(9), 1e-18, "λ of the epochs already run does not change");
        Assert.AreEqual(before * 1.5, schedule.Lambda(10), 1e-15);
        Assert.AreEqual(before * 1.5 * 1.5, schedule.Lambda(11), 1e-15);
    }

    [TestMethod]
    public void Plan_FastEpochs_LongerWarmupAndFineTuneThanSlowEpochs()
    {
        var fast = new ScriptedRun(Settings(), ClosingAt(GuessLambda), warmup: 2).Run();
        var slow = new ScriptedRun(Settings(), ClosingAt(GuessLambda), warmup: 8).Run();

        Assert.IsGreaterThan(slow.WarmupEpochs, fast.WarmupEpochs);
        Assert.IsGreaterThan(slow.FineTuneEpochs, fast.FineTuneEpochs);
        // Warm-up takes its share of the budget at either speed.
        Assert.AreEqual(BudgetPolicy.Default.WarmupShare * Budget, fast.WarmupEpochs * 2.0, 2 * 2.0);
        Assert.AreEqual(BudgetPolicy.Default.WarmupShare * Budget, slow.WarmupEpochs * 8.0, 2 * 8.0);
        foreach (var run in new[] { fast, slow })
        {
            Assert.IsTrue(run.StopRuleFired, run.ToString());
            Assert.IsTrue(run.EndSeconds <= Budget && run.EndSeconds >= 0.95 * Budget, run.ToString());
        }
    }

    [TestMethod]
    public void Plan_SlowEpochs_ShorterArtWithHigherGrowth()
    {
        var fast = new ScriptedRun(Settings(), ClosingAt(GuessLambda), warmup: 2).Run();
        var slow = new ScriptedRun(Settings(), ClosingAt(GuessLambda), warmup: 8).Run();

        Assert.IsGreaterThan(fast.PlannedGrowth, slow.PlannedGrowth, $"fast η {fast.PlannedGrowth}, slow η {slow.PlannedGrowth}");
        Assert.IsLessThan(fast.ArtEpochs, slow.ArtEpochs);
        // Either way λ starts at λ*/16 and reaches λ* within ART's share of the budget.
        Assert.AreEqual(GuessLambda / BudgetPolicy.Default.SweepRange, fast.Lambdas[0], 1e-12);
        Assert.AreEqual(GuessLambda / BudgetPolicy.Default.SweepRange, slow.Lambdas[0], 1e-12);
        Assert.IsLessThanOrEqualTo(BudgetPolicy.Default.ArtShare * Budget + 3 * 8 * BudgetPolicy.Default.ArtCostRatio, slow.ArtSeconds);
    }

    [TestMethod]
    public void Replan_FirstArtEpochSlowerThanGuessed_RaisesGrowth()
    {
        // ART epochs cost 4× a warm-up epoch (the planner guesses 1.4× until it has measured one): fewer ART epochs fit.
        var run = new ScriptedRun(Settings(), ClosingAt(GuessLambda), warmup: 4, art: 16).Run();

        var raised = run.Decisions.Where(d => d.Setting == PlanSetting.LambdaGrowth && d.Phase == TrainingPhase.Art).ToList();
        Assert.IsNotEmpty(raised, run.ToString());
        Assert.AreEqual(0, raised[0].Epoch - run.WarmupEpochs - 1, "re-planned right after the first ART epoch was measured");
        StringAssert.Contains(raised[0].Reason, "raised from");
        Assert.IsGreaterThan(run.PlannedGrowth, run.FinalGrowth);
        Assert.IsTrue(run.StopRuleFired, run.ToString());
        Assert.IsLessThanOrEqualTo(Budget * 1.02, run.EndSeconds);
    }

    [TestMethod]
    public void Replan_PrunedAccuracyLagging_RaisesFiringEstimateAndGrowth()
    {
        // The stop rule really needs 10× the planner's first guess.
        var lagging = new ScriptedRun(Settings(), ClosingAt(10 * GuessLambda), warmup: 2).Run();
        var onTarget = new ScriptedRun(Settings(), ClosingAt(GuessLambda), warmup: 2).Run();

        Assert.IsTrue(lagging.Decisions.Any(d => d.Setting == PlanSetting.FiringLambda), lagging.ToString());
        Assert.IsTrue(lagging.Decisions.Any(d => d.Setting == PlanSetting.LambdaGrowth && d.Phase == TrainingPhase.Art), lagging.ToString());
        Assert.IsGreaterThan(lagging.PlannedGrowth, lagging.FinalGrowth);
        Assert.IsTrue(lagging.StopRuleFired, "raising η let the stop rule fire within the budget\n" + lagging);
        Assert.IsLessThanOrEqualTo(Budget, lagging.EndSeconds);

        // A gap closing as planned changes nothing during ART.
        Assert.IsFalse(onTarget.Decisions.Any(d => d.Phase == TrainingPhase.Art && d.Setting is PlanSetting.LambdaGrowth or PlanSetting.FiringLambda), onTarget.ToString());
        Assert.AreEqual(onTarget.PlannedGrowth, onTarget.FinalGrowth);
    }

    [TestMethod]
    public void Replan_GapNeverCloses_CapForcesPruneAfterLambdaGrewPastTheFiringRange()
    {
        var run = new ScriptedRun(Settings(), _ => 25, warmup: 2).Run();

        Assert.IsFalse(run.StopRuleFired);
        var cap = run.Decisions.Single(d => d.Setting == PlanSetting.MaxArtEpochs && d.Reason.StartsWith("the cap forces the prune", StringComparison.Ordinal));
        Assert.AreEqual(run.ArtEpochs.ToString(), cap.Value);
        // The stop rule got its chance: λ went well past the planner's first guess of the firing range before the cap.
        Assert.IsGreaterThanOrEqualTo(BudgetPolicy.Default.FiringMargin * GuessLambda, run.Lambdas[^1]);
        // What was left fits the minimum fine-tune: its share of the budget, and the run ends within the budget.
        Assert.IsGreaterThanOrEqualTo(BudgetPolicy.Default.MinFineTuneShare * Budget - 2, run.FineTuneSeconds);
        Assert.IsLessThanOrEqualTo(Budget, run.EndSeconds);
    }

    [TestMethod]
    public void Plan_FewArtEpochsFitAndTheyAreTwiceAsSlowAsGuessed_LambdaStillReachesTheMarginBeforeTheCap()
    {
        // A 35 s budget, warm-up epochs 2.5 s (the first 4.4 s), ART epochs 7 s where the planner guessed 3.5 s (1.4× warm-up).
        // The gap never closes: the cap must come only after λ went past FiringMargin·λ*.
        var run = new ScriptedRun(Settings(budget: 35), _ => 25, warmup: 2.5, warmupCost: e => e == 0 ? 4.4 : 2.5, artCost: _ => 7).Run();

        Assert.IsFalse(run.StopRuleFired);
        Assert.IsTrue(run.Decisions.Any(d => d.Setting == PlanSetting.MaxArtEpochs && d.Reason.StartsWith("the cap forces the prune", StringComparison.Ordinal)), run.ToString());
        Assert.IsGreaterThanOrEqualTo(BudgetPolicy.Default.FiringMargin * GuessLambda * 0.999, run.Lambdas[^1], run.ToString());
    }

    [TestMethod]
    public void Plan_ArtEpochsFarSlowerThanGuessed_CapBeforeTheMarginIsAWarning()
    {
        // ART epochs 3× the guess: only one fits before the minimum fine-tune. The plan cannot keep its promise and says so.
        var run = new ScriptedRun(Settings(budget: 35), _ => 25, warmup: 2.5, warmupCost: e => e == 0 ? 4.4 : 2.5, artCost: _ => 10.5).Run();

        Assert.AreEqual(1, run.ArtEpochs);
        var warning = run.Decisions.Single(d => d.IsWarning);
        StringAssert.Contains(warning.Reason, "before the stop rule has had its full chance");
        StringAssert.Contains(warning.Reason, "ART ends after 1 epoch(s)");
    }

    [TestMethod]
    public void PlanFineTune_BudgetNearlyUsed_RunsTheMinimumFineTuneAndSaysSo()
    {
        // The fourth ART epoch takes 450 s (the machine got busy): after it the budget is used up.
        var run = new ScriptedRun(Settings(), _ => 25, warmup: 2, artCost: k => k == 3 ? 450 : 2.8).Run();

        Assert.AreEqual(BudgetPolicy.Default.MinFineTuneEpochs, run.FineTuneEpochs, run.ToString());
        var fineTune = run.Decisions.Single(d => d.Setting == PlanSetting.FineTuneEpochs);
        StringAssert.Contains(fineTune.Reason, "nearly used");
        Assert.IsTrue(run.Decisions.Any(d => d.Setting == PlanSetting.MaxArtEpochs && d.Reason.StartsWith("the cap forces the prune", StringComparison.Ordinal)));
        CollectionAssert.AreEqual(new[] { 1, 2 }, run.Schedule.LearningRateSteps);
    }

    [TestMethod]
    public void Plan_ExplicitSettings_KeptExactlyAndWarnsWhenArtWillNotStop()
    {
        // The paper's λ schedule with a 10-epoch warm-up, set explicitly: far too slow for this budget.
        var knobs = ScheduleKnobs.LambdaInit | ScheduleKnobs.LambdaGrowth | ScheduleKnobs.WarmupEpochs;
        var start = new TrainingSchedule { WarmupEpochs = 10, MaxArtEpochs = 300, FineTuneEpochs = 160, LearningRateSteps = new[] { 80, 120 } };
        start.SetLambdaPath(5e-6, 1.05);
        var run = new ScriptedRun(Settings(knobs), ClosingAt(GuessLambda), warmup: 4, schedule: start).Run();

        Assert.AreEqual(10, run.WarmupEpochs);
        Assert.AreEqual(5e-6, run.Schedule.LambdaInit);
        Assert.AreEqual(1.05, run.FinalGrowth);
        for (var k = 0; k < run.Lambdas.Count; k++)
            Assert.AreEqual(5e-6 * Math.Pow(1.05, k), run.Lambdas[k], 1e-15, "λ path exactly the user's");
        Assert.IsFalse(run.Decisions.Any(d => d.Setting is PlanSetting.LambdaInit or PlanSetting.LambdaGrowth or PlanSetting.WarmupEpochs), run.ToString());
        var warning = run.Decisions.Single(d => d.IsWarning && d.Reason.Contains("LambdaGrowth = 1.05"));
        StringAssert.StartsWith(warning.Reason, "ART is predicted not to stop within the budget");
        Assert.AreEqual(run.WarmupEpochs, warning.Epoch, "warned when ART was planned, before its first epoch");
        Assert.IsFalse(run.StopRuleFired);
        // The knobs left to the planner are still planned.
        Assert.IsTrue(run.Decisions.Any(d => d.Setting == PlanSetting.FineTuneEpochs));
    }

    [TestMethod]
    public void Plan_ExplicitSettingsThatReachTheFiringRange_NoWarning()
    {
        var start = new TrainingSchedule { WarmupEpochs = 60, MaxArtEpochs = 300, FineTuneEpochs = 160, LearningRateSteps = new[] { 80, 120 } };
        start.SetLambdaPath(GuessLambda / 8, 1.3);
        var run = new ScriptedRun(Settings(ScheduleKnobs.LambdaInit | ScheduleKnobs.LambdaGrowth), ClosingAt(GuessLambda), warmup: 2, schedule: start).Run();

        Assert.IsFalse(run.Decisions.Any(d => d.IsWarning), run.ToString());
        Assert.AreEqual(1.3, run.FinalGrowth);
        Assert.IsTrue(run.StopRuleFired);
    }

    [TestMethod]
    public void Plan_ExplicitWarmupLongerThanTheBudget_Warns()
    {
        var start = new TrainingSchedule { WarmupEpochs = 400, MaxArtEpochs = 300, FineTuneEpochs = 160, LearningRateSteps = new[] { 80, 120 } };
        start.SetLambdaPath(5e-6, 1.05);
        var planner = new BudgetPlanner(Settings(ScheduleKnobs.WarmupEpochs));
        planner.Start(start);
        planner.AfterEpoch(new EpochObservation(TrainingPhase.Warmup, 0, 2, 50), start);

        Assert.AreEqual(400, start.WarmupEpochs);
        var warning = planner.Decisions.Single(d => d.IsWarning);
        StringAssert.Contains(warning.Reason, "fixed warm-up of 400 epochs");
    }

    [TestMethod]
    public void FineTune_EpochsGetSlower_ShortensKeepingAppliedSteps()
    {
        // Fine-tune epochs cost 2 s at first, then 4 s from the 60 % mark on.
        var run = new ScriptedRun(Settings(), ClosingAt(GuessLambda), warmup: 2, fineTuneCost: (d, planned) => d >= planned * 0.6 ? 4 : 2).Run();

        var planned = int.Parse(run.Decisions.First(d => d.Setting == PlanSetting.FineTuneEpochs).Value);
        Assert.IsLessThan(planned, run.FineTuneEpochs, run.ToString());
        var shortened = run.Decisions.First(d => d.Setting == PlanSetting.FineTuneEpochs && d.Reason.StartsWith("shortened", StringComparison.Ordinal));
        // The step at 1/2 was applied before the epochs got slower and stays; the step at 3/4 moves with the new length.
        Assert.AreEqual(planned / 2, run.Schedule.LearningRateSteps[0]);
        Assert.IsLessThan(planned * 3 / 4, run.Schedule.LearningRateSteps[1]);
        Assert.IsTrue(run.Schedule.LearningRateSteps[1] >= shortened.Epoch - run.WarmupEpochs - run.ArtEpochs, "a step never moves into the past");
        Assert.IsLessThanOrEqualTo(Budget + 4, run.EndSeconds);
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(4)]
    public void Replan_NoisyEpochTimes_EndsWithinTenPercentOfTheBudget(int seed)
    {
        // A shared machine: every epoch takes 0.5× to 2× its usual time, at random.
        var random = new Random(seed);
        double Noise() => Math.Pow(2, random.NextDouble() * 2 - 1);
        var run = new ScriptedRun(Settings(budget: 120), ClosingAt(GuessLambda), warmup: 1,
            warmupCost: _ => 1 * Noise(), artCost: _ => 1.4 * Noise(), fineTuneCost: (_, _) => 1 * Noise()).Run();

        Assert.IsTrue(run.EndSeconds is >= 108 and <= 132, run.ToString());
        Assert.IsTrue(run.StopRuleFired, run.ToString());
        Assert.IsLessThanOrEqualTo(6, run.Decisions.Count(d => d.Setting == PlanSetting.FineTuneEpochs), "the fine-tune length does not chase every slow or fast epoch\n" + run);
    }

    [TestMethod]
    public void Replan_ShortBudgetFineTuneFasterThanWarmup_LengthensToUseTheBudget()
    {
        // Measured on the busy test machine: a 35 s budget, the first warm-up epoch paying for set-up (4.7 s), warm-up
        // epochs 3.8 s, ART epochs 1.6 s, fine-tune epochs 2.5 s.
        var run = new ScriptedRun(Settings(budget: 35), ClosingAt(GuessLambda), warmup: 3.8, warmupCost: e => e == 0 ? 4.7 : 3.8,
            artCost: _ => 1.6, fineTuneCost: (_, _) => 2.5).Run();

        Assert.IsTrue(run.Decisions.Any(d => d.Setting == PlanSetting.FineTuneEpochs && d.Reason.StartsWith("lengthened", StringComparison.Ordinal)), run.ToString());
        Assert.IsTrue(run.EndSeconds is >= 31.5 and <= 35, run.ToString());
    }

    [TestMethod]
    public void Plan_FirstEpochSlowedBySetUpAndABusyMachine_MeasuresASecondAndEndsNearTheBudget()
    {
        // Measured in the full test run (three test hosts on two cores): the first warm-up epoch took 6.3 s, the ones after it
        // 2.5 s. One epoch is not enough to plan from: warm-up runs a second, and the fine-tune grows into the time left.
        var run = new ScriptedRun(Settings(budget: 35), ClosingAt(GuessLambda), warmup: 2.5, warmupCost: e => e == 0 ? 6.3 : 2.5,
            artCost: _ => 3.5, fineTuneCost: (_, _) => 2.5).Run();

        Assert.IsGreaterThanOrEqualTo(2, run.WarmupEpochs, run.ToString());
        Assert.IsTrue(run.EndSeconds is >= 0.9 * 35 and <= 1.1 * 35, run.ToString());
    }

    [TestMethod]
    public void Plan_OneShot_WarmupTakesArtsShareToo()
    {
        var run = new ScriptedRun(Settings(oneShot: true), ClosingAt(GuessLambda), warmup: 2).Run();
        Assert.AreEqual(0, run.ArtEpochs);
        Assert.AreEqual(BudgetPolicy.Default.OneShotWarmupShare * Budget / 2, run.WarmupEpochs, 2);
        Assert.IsFalse(run.Decisions.Any(d => d.Setting is PlanSetting.LambdaInit or PlanSetting.LambdaGrowth));
        Assert.IsTrue(run.EndSeconds <= Budget && run.EndSeconds >= 0.95 * Budget, run.ToString());
    }

    [TestMethod]
    public void Decisions_EveryOneHasTimeWhatAndWhy()
    {
        var run = new ScriptedRun(Settings(), ClosingAt(10 * GuessLambda), warmup: 3, art: 6).Run();
        Assert.AreEqual(PlanSetting.TimeBudget, run.Decisions[0].Setting);
        Assert.AreEqual(0, run.Decisions[0].AtSeconds);
        foreach (var pair in run.Decisions.Zip(run.Decisions.Skip(1)))
            Assert.IsLessThanOrEqualTo(pair.Second.AtSeconds, pair.First.AtSeconds, "in time order");
        foreach (var d in run.Decisions)
        {
            Assert.IsFalse(string.IsNullOrWhiteSpace(d.Setting.ToString()));
            Assert.IsGreaterThan(20, d.Reason.Length, d.ToString());
            Assert.IsTrue(d.IsWarning || d.Value.Length > 0, d.ToString());
        }
        foreach (var setting in new[] { PlanSetting.WarmupEpochs, PlanSetting.LambdaInit, PlanSetting.LambdaGrowth, PlanSetting.MaxArtEpochs, PlanSetting.FineTuneEpochs, PlanSetting.LearningRateSteps })
            Assert.IsTrue(run.Decisions.Any(d => d.Setting == setting), setting + "\n" + run);
    }

    [TestMethod]
    public void State_SavedMidArtAndRestored_ReplansAsTheUninterruptedRun()
    {
        var whole = new ScriptedRun(Settings(), ClosingAt(10 * GuessLambda), warmup: 2).Run();
        var interrupted = new ScriptedRun(Settings(), ClosingAt(10 * GuessLambda), warmup: 2);
        interrupted.Run(stopAfterEpochs: whole.WarmupEpochs + 5);

        // What a checkpoint keeps: the planner's state and the schedule, as JSON.
        var stateJson = JsonSerializer.Serialize(interrupted.Planner.State, ArtTrainer.JsonOptions);
        var scheduleJson = JsonSerializer.Serialize(interrupted.Schedule, ArtTrainer.JsonOptions);
        var restored = interrupted.Resume(
            new BudgetPlanner(Settings(), JsonSerializer.Deserialize<BudgetPlannerState>(stateJson, ArtTrainer.JsonOptions)),
            JsonSerializer.Deserialize<TrainingSchedule>(scheduleJson, ArtTrainer.JsonOptions)!).Run();

        CollectionAssert.AreEqual(whole.Decisions.Select(d => d.ToString()).ToList(), restored.Decisions.Select(d => d.ToString()).ToList());
        CollectionAssert.AreEqual(whole.Lambdas.ToList(), restored.Lambdas.ToList());
        Assert.AreEqual(whole.FineTuneEpochs, restored.FineTuneEpochs);
    }

    /// <summary>
    /// The trainer's loop without tensors: warm-up until the schedule's length, ART with the real stop rule (dense train
    /// accuracy 85 %, pruned = dense − gap(λ)) until it fires or the cap, then fine-tune; the clock advances by the scripted
    /// epoch costs and the planner is called after every epoch, as ArtTrainer calls it.
    /// </summary>
    private sealed class ScriptedRun
    {
        private readonly Func<double, double> gap;
        private readonly Func<int, double> warmupCost;
        private readonly Func<int, double> artCost;
        private readonly Func<int, int, double> fineTuneCost;
        private readonly ArtStopRule<int> stopRule = new(1);
        private TrainingPhase phase = TrainingPhase.Warmup;
        private int phaseEpoch;
        private double clock;
        private bool stopped;
        private readonly List<double> lambdas = new();
        private readonly List<double> plannedGrowths = new();

        public ScriptedRun(BudgetSettings settings, Func<double, double> gap, double warmup, double? art = null,
            Func<int, double>? artCost = null, Func<int, int, double>? fineTuneCost = null, TrainingSchedule? schedule = null,
            Func<int, double>? warmupCost = null)
        {
            this.gap = gap;
            this.warmupCost = warmupCost ?? (_ => warmup);
            var artSeconds = art ?? warmup * 1.4;
            this.artCost = artCost ?? (_ => artSeconds);
            this.fineTuneCost = fineTuneCost ?? ((_, _) => warmup);
            Planner = new BudgetPlanner(settings);
            Schedule = schedule ?? TrainingSchedule.From(new TrainingOptions());
        }

        public BudgetPlanner Planner { get; private set; }
        public TrainingSchedule Schedule { get; private set; }

        public ScriptedRun Resume(BudgetPlanner planner, TrainingSchedule schedule)
        {
            Planner = planner;
            Schedule = schedule;
            return this;
        }

        public Result Run(int stopAfterEpochs = int.MaxValue)
        {
            Planner.Start(Schedule);
            var epochs = Planner.State.WarmupCosts.Count + Planner.State.ArtCosts.Count + Planner.State.FineTuneCosts.Count;
            while (epochs < stopAfterEpochs)
            {
                if (phase == TrainingPhase.Warmup && phaseEpoch >= Schedule.WarmupEpochs)
                {
                    (phase, phaseEpoch) = (Planner.Settings.OneShot ? TrainingPhase.FineTune : TrainingPhase.Art, 0);
                    continue;
                }
                if (phase == TrainingPhase.FineTune && phaseEpoch >= Schedule.FineTuneEpochs) break;
                EpochObservation observation;
                switch (phase)
                {
                    case TrainingPhase.Warmup:
                        clock += warmupCost(phaseEpoch);
                        observation = new EpochObservation(phase, phaseEpoch, clock, 85);
                        break;
                    case TrainingPhase.Art:
                        var lambda = Schedule.Lambda(phaseEpoch);
                        lambdas.Add(lambda);
                        clock += artCost(phaseEpoch);
                        var pruned = 85 - gap(lambda);
                        stopped = stopRule.Push(new ArtStopRule<int>.Entry(phaseEpoch, pruned, 0), 85).Stop;
                        observation = new EpochObservation(phase, phaseEpoch, clock, 85, pruned, lambda, stopped);
                        if (phaseEpoch == 0) plannedGrowths.Add(Schedule.LambdaGrowth);
                        break;
                    default:
                        clock += fineTuneCost(phaseEpoch, Schedule.FineTuneEpochs);
                        observation = new EpochObservation(phase, phaseEpoch, clock, 85);
                        break;
                }
                Planner.AfterEpoch(observation, Schedule);
                phaseEpoch++;
                epochs++;
                if (phase == TrainingPhase.Art && (stopped || phaseEpoch >= Schedule.MaxArtEpochs))
                    (phase, phaseEpoch) = (TrainingPhase.FineTune, 0);
            }
            var s = Planner.State;
            return new Result
            {
                WarmupEpochs = s.WarmupCosts.Count,
                ArtEpochs = s.ArtCosts.Count,
                FineTuneEpochs = s.FineTuneCosts.Count,
                ArtSeconds = s.ArtCosts.Sum(),
                FineTuneSeconds = s.FineTuneCosts.Sum(),
                StopRuleFired = stopped,
                EndSeconds = clock,
                Lambdas = lambdas.ToList(),
                PlannedGrowth = plannedGrowths.Count > 0 ? plannedGrowths[0] : Schedule.LambdaGrowth,
                FinalGrowth = Schedule.LambdaGrowth,
                Schedule = Schedule,
                Decisions = s.Decisions.ToList(),
            };
        }
    }

    private sealed record Result
    {
        public int WarmupEpochs { get; init; }
        public int ArtEpochs { get; init; }
        public int FineTuneEpochs { get; init; }
        public double ArtSeconds { get; init; }
        public double FineTuneSeconds { get; init; }
        public bool StopRuleFired { get; init; }
        public double EndSeconds { get; init; }
        public IReadOnlyList<double> Lambdas { get; init; } = [];
        /// <summary>η as planned when ART started.</summary>
        public double PlannedGrowth { get; init; }
        public double FinalGrowth { get; init; }
        public TrainingSchedule Schedule { get; init; } = null!;
        public IReadOnlyList<PlanningDecision> Decisions { get; init; } = [];

        public override string ToString() =>
            $"warm-up {WarmupEpochs}, ART {ArtEpochs} (fired {StopRuleFired}), fine-tune {FineTuneEpochs}, end {EndSeconds:F1} s, " +
            $"λ {string.Join(" ", Lambdas.Select(l => l.ToString("0.##e+0")))}\n" + string.Join("\n", Decisions);
    }
}
