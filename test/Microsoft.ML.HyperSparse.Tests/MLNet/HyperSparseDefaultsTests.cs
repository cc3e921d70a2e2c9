using System.Text.Json;
using Microsoft.ML.HyperSparse.Engine.Training;
using Microsoft.ML.HyperSparse.Engine.Models;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// One source of defaults: the public options, the engine and <see cref="HyperSparseDefaults"/> agree, and the defaults are
/// the paper's reference code (hypersparse-algorithm.md §1–2) except the two documented choices (ResNet-20, the ART cap).
/// </summary>
[TestClass]
public sealed class HyperSparseDefaultsTests
{
    [TestMethod]
#pragma warning disable MSTEST0032 // the constants are the point: changing a default must fail here
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
#pragma warning restore MSTEST0032

    [TestMethod]
    public void Options_New_IsTheEngineDefaultEverywhere()
    {
        var options = new HyperSparseClassificationTrainer.Options();
        Assert.AreEqual(HyperSparseDefaults.Architecture, options.Architecture);
        Assert.AreEqual(TrainingDefaults.Network, HyperSparseClassificationTrainer.Options.ToEngine(HyperSparseDefaults.Architecture));
        // Every engine setting, compared as the checkpoint fingerprint sees them (the JSON of the engine options).
        Assert.AreEqual(JsonSerializer.Serialize(new TrainingOptions()), JsonSerializer.Serialize(options.ToEngine()));
        Assert.AreEqual(ScheduleKnobs.None, options.FixedKnobs, "nothing is pinned until it is given");
        Assert.AreEqual(HyperSparseDefaults.CalibrationImages, options.CalibrationImages, "int8 calibration's default has one source");
    }

    [TestMethod]
    public void Options_UseBFloat16_IsOffByDefault_AndMapsToTheEnginesMixedPrecision()
    {
        var options = new HyperSparseClassificationTrainer.Options();
        Assert.IsFalse(options.UseBFloat16);
        Assert.AreEqual(HyperSparseDefaults.UseBFloat16, options.UseBFloat16, "one source for the default");
        Assert.AreEqual(TrainingPrecision.Float32, options.ToEngine().Precision);
        options.UseBFloat16 = true;
        Assert.AreEqual(TrainingPrecision.BFloat16, options.ToEngine().Precision);
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

    [TestMethod]
    public void Options_Pretrained_TakesTheTransferDefaults_ValuesGivenStillWin()
    {
        var options = new HyperSparseClassificationTrainer.Options { Pretrained = HyperSparsePretrained.ImageNetResNet18() };
        var engine = options.ToEngine();
        Assert.AreEqual(Architecture.ResNet18MLNet, engine.Architecture, "the weights decide the network");
        Assert.AreEqual(HyperSparseDefaults.TransferLearningRate, engine.LearningRate);
        Assert.AreEqual(HyperSparseDefaults.TransferHeadEpochs, engine.WarmupEpochs);
        Assert.AreEqual(HyperSparseDefaults.TransferLambdaInit, engine.LambdaInit);
        Assert.AreEqual(HyperSparseDefaults.TransferLambdaGrowth, engine.LambdaGrowth);
        Assert.AreEqual(HyperSparseDefaults.TransferMaxArtEpochs, engine.MaxArtEpochs);
        Assert.AreEqual(HyperSparseDefaults.TransferFineTuneEpochs, engine.FineTuneEpochs);
        CollectionAssert.AreEqual(HyperSparseDefaults.TransferLearningRateSteps.ToArray(), engine.LearningRateSteps.ToArray());
        Assert.IsFalse(engine.FreezeBatchNormStatistics, "re-estimated in ART (measured); the head stage keeps them regardless");
        Assert.AreEqual("imagenet", engine.Pretrained!.Source);

        options.LearningRate = 0.003;
        options.WarmupEpochs = 1;
        options.FreezeBatchNormStatistics = true;
        engine = options.ToEngine();
        Assert.AreEqual(0.003, engine.LearningRate);
        Assert.AreEqual(1, engine.WarmupEpochs);
        Assert.IsTrue(engine.FreezeBatchNormStatistics);

        // From scratch nothing changes: the paper's learning rate, batch norm in train mode.
        var scratch = new HyperSparseClassificationTrainer.Options().ToEngine();
        Assert.AreEqual(HyperSparseDefaults.LearningRate, scratch.LearningRate);
        Assert.IsFalse(scratch.FreezeBatchNormStatistics);
        Assert.IsNull(scratch.Pretrained);
    }

    [TestMethod]
    public void Options_Pretrained_WithANonImageNetArchitecture_IsRefusedNamingBoth()
    {
        var ml = new Microsoft.ML.MLContext();
        var options = new HyperSparseClassificationTrainer.Options { Pretrained = HyperSparsePretrained.ImageNetResNet18(), Architecture = HyperSparseArchitecture.LeNet5 };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.HyperSparseClassification(options));
        Assert.AreEqual("Architecture", e.ParamName);
        StringAssert.Contains(e.Message, "LeNet5");
        StringAssert.Contains(e.Message, "ImageNet ResNet");
        options.Architecture = HyperSparseArchitecture.ResNet34;
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.HyperSparseClassification(options));
        StringAssert.Contains(e.Message, "[2, 2, 2, 3]");
    }
}
