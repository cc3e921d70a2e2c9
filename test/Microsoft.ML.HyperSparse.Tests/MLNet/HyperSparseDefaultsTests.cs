using System.Text.Json;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// One source of defaults: the public options, the engine and <see cref="HyperSparseDefaults"/> agree, and the defaults are
/// the paper's reference code (hypersparse-algorithm.md §1–2) except the two documented choices (ResNet-20, the ART cap).
/// </summary>
[TestClass]
public sealed class HyperSparseDefaultsTests
{
    [TestMethod]
    public void HyperSparseDefaults_AreThePapersReferenceValues()
    {
        Assert.AreEqual(5e-6, HyperSparseDefaults.LambdaInit);
        Assert.AreEqual(1.05, HyperSparseDefaults.LambdaGrowth);
        Assert.AreEqual(60, HyperSparseDefaults.WarmupEpochs);
        Assert.AreEqual(160, HyperSparseDefaults.FineTuneEpochs);
        CollectionAssert.AreEqual(new[] { 80, 120 }, HyperSparseDefaults.LearningRateSteps.ToArray());
        Assert.AreEqual(0.1, HyperSparseDefaults.LearningRateDecay);
        Assert.AreEqual(0.1, HyperSparseDefaults.LearningRate);
        Assert.AreEqual(0.9, HyperSparseDefaults.Momentum);
        Assert.AreEqual(1e-4, HyperSparseDefaults.WeightDecay);
        Assert.AreEqual(64, HyperSparseDefaults.BatchSize);
        Assert.AreEqual(4, HyperSparseDefaults.CropPadding);
        Assert.IsTrue(HyperSparseDefaults.HorizontalFlip);
        Assert.AreEqual(1, HyperSparseDefaults.StopWindowHalfSize);
        // Ours, documented: the reference has no ART cap, and ResNet-32 is ≈4× slower than ResNet-20 on a CPU.
        Assert.AreEqual(300, HyperSparseDefaults.MaxArtEpochs);
        Assert.AreEqual(HyperSparseArchitecture.ResNet20, HyperSparseDefaults.Architecture);
    }

    [TestMethod]
    public void Options_New_IsTheEngineDefaultEverywhere()
    {
        var options = new HyperSparseClassificationTrainer.Options();
        Assert.AreEqual(HyperSparseDefaults.Architecture, options.Architecture);
        Assert.AreEqual(TrainingDefaults.Network, HyperSparseClassificationTrainer.Options.ToEngine(HyperSparseDefaults.Architecture));
        // Every engine setting, compared as the checkpoint fingerprint sees them (the JSON of the engine options).
        Assert.AreEqual(JsonSerializer.Serialize(new TrainingOptions()), JsonSerializer.Serialize(options.ToEngine()));
        Assert.AreEqual(ScheduleKnobs.None, options.FixedKnobs, "nothing is pinned until it is given");
    }

    [TestMethod]
    public void Options_KnobGivenEvenAtItsDefault_IsKeptByTheTimeBudgetPlanner_NullLetsItChoose()
    {
        var options = new HyperSparseClassificationTrainer.Options { TimeBudget = TimeSpan.FromMinutes(5), WarmupEpochs = HyperSparseDefaults.WarmupEpochs };
        Assert.AreEqual(ScheduleKnobs.WarmupEpochs, options.ToEngine().FixedKnobs);
        options.WarmupEpochs = null;
        options.LearningRateSteps = Array.Empty<int>();
        Assert.AreEqual(ScheduleKnobs.LearningRateSteps, options.ToEngine().FixedKnobs, "an empty step list is a choice too");
        Assert.AreEqual(HyperSparseDefaults.WarmupEpochs, options.ToEngine().WarmupEpochs, "null runs the default without a plan");
        options.TimeBudget = null;
        Assert.AreEqual(ScheduleKnobs.None, options.ToEngine().FixedKnobs, "without a budget nothing is planned, so nothing is pinned");
    }
}
