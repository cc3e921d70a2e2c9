using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>End-to-end runs on a real Fashion-MNIST slice (Debian dataset-fashion-mnist), small and fast.</summary>
[TestClass]
public sealed class ArtTrainerEndToEndTests
{
    private static ImageDataset train = null!;
    private static ImageDataset test = null!;
    private static Normalization norm = null!;

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        TorchRuntime.EnsureLoaded();
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        train = FashionMnist.Read(dir, train: true, limit: 2000);
        test = FashionMnist.Read(dir, train: false, limit: 1000);
        norm = Normalization.FromData(train, 1f / 255);
    }

    /// <summary>A short ART schedule whose λ is large enough for the stop rule to be reachable on 2,000 images.</summary>
    private static TrainingOptions Quick(double kappa = 0.9) => new()
    {
        Architecture = Architecture.LeNet5,
        PruningRate = kappa,
        WarmupEpochs = 3,
        LambdaInit = 2e-4,
        LambdaGrowth = 1.5,
        MaxArtEpochs = 6,
        FineTuneEpochs = 4,
        LearningRateSteps = new[] { 3 },
        BatchSize = 64,
        LearningRate = 0.05,
        CropPadding = 2,
        HorizontalFlip = false,
        Seed = 7,
    };

    private static double TestAccuracy(ImageClassifier model)
    {
        model.eval();
        using var _ = no_grad();
        var loader = new BatchLoader(test, 500, norm, Augmentation.None, shuffle: false, seed: 0);
        long correct = 0;
        foreach (var batch in loader.Epoch(0))
        {
            using var scope = NewDisposeScope();
            var (x, y) = batch.ToTensors();
            correct += model.call(x).argmax(1).eq(y).sum().item<long>();
        }
        return 100.0 * correct / test.Count;
    }

    private static long ExpectedKept(long n, double kappa) => n - (long)Math.Floor(kappa * n) - 1;

    [TestMethod]
    public void ArtTrainer_Train_LeNet5FashionMnist_ExactSparsityAndAccuracyFloor()
    {
        var epochs = new List<EpochRecord>();
        using var result = new ArtTrainer(Quick(), epochs.Add).Train(train, test, norm);
        var report = result.Report;
        var n = result.Model.PrunableLayers().Sum(l => l.Count);
        Assert.AreEqual(61_470, n);
        Assert.AreEqual(ExpectedKept(n, 0.9), report.KeptWeights, "kept = N − ⌊κN⌋ − 1");
        // The weights themselves are zero exactly where the mask says.
        var nonZero = result.Model.PrunableLayers().Sum(l => { using var c = l.Weight.count_nonzero(); return c.item<long>(); });
        Assert.AreEqual(report.KeptWeights, nonZero);
        Assert.AreEqual(3, report.WarmupEpochs);
        Assert.IsTrue(report.ArtEpochs is >= 1 and <= 6);
        Assert.AreEqual(4, report.FineTuneEpochs);
        Assert.AreEqual(report.Epochs.Count, epochs.Count, "one progress event per epoch");
        Assert.AreNotEqual(ArtStopReason.NotApplicable, report.ArtStopReason);
        Assert.IsNotNull(report.SelectedArtEpoch);
        // λ follows the schedule in every ART epoch.
        foreach (var e in report.Epochs.Where(e => e.Phase == TrainingPhase.Art))
            Assert.AreEqual(2e-4 * Math.Pow(1.5, e.Epoch - 3), e.Lambda, 1e-12);
        // Measured: ≈78–80 % on this slice and schedule; chance is 10 %.
        var accuracy = TestAccuracy(result.Model);
        Assert.IsTrue(accuracy > 70, $"test accuracy {accuracy:F1} %");
        Assert.AreEqual(accuracy, report.FinalValidationAccuracy!.Value, 1e-9, "the report's last validation accuracy is the model's");
    }

    [TestMethod]
    public void ArtTrainer_Train_OneShotMagnitude_SameCodePathExactSparsity()
    {
        var options = Quick(0.98) with { Method = PruningMethod.OneShotMagnitude, WarmupEpochs = 4 };
        using var result = new ArtTrainer(options).Train(train, null, norm);
        Assert.AreEqual(0, result.Report.ArtEpochs);
        Assert.AreEqual(ArtStopReason.NotApplicable, result.Report.ArtStopReason);
        Assert.AreEqual(ExpectedKept(61_470, 0.98), result.Report.KeptWeights);
        Assert.IsTrue(TestAccuracy(result.Model) > 40);
    }

    [TestMethod]
    public void ArtTrainer_Train_CapReached_PrunesAnywayAndSaysSo()
    {
        // λ = 0: ART can never close the gap, so the cap must force the prune.
        var options = Quick() with { LambdaInit = 0, MaxArtEpochs = 2, FineTuneEpochs = 1, WarmupEpochs = 1 };
        using var result = new ArtTrainer(options).Train(train, null, norm);
        Assert.AreEqual(ArtStopReason.CapReached, result.Report.ArtStopReason);
        Assert.AreEqual(2, result.Report.ArtEpochs);
        Assert.IsTrue(result.Report.Notes.Any(n => n.Contains("cap")), string.Join("\n", result.Report.Notes));
        Assert.AreEqual(ExpectedKept(61_470, 0.9), result.Report.KeptWeights);
    }

    [TestMethod]
    public void ArtTrainer_Train_SameSeed_SameWeights()
    {
        var options = Quick() with { WarmupEpochs = 1, MaxArtEpochs = 2, FineTuneEpochs = 1 };
        using var a = new ArtTrainer(options).Train(train, null, norm);
        using var b = new ArtTrainer(options).Train(train, null, norm);
        AssertSameWeights(a.Model, b.Model);
    }

    [TestMethod]
    public void ArtTrainer_Train_ResumeAfterInterruption_EqualsUninterruptedRun()
    {
        var dir = Path.Combine(Path.GetTempPath(), "hs-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = Quick() with { WarmupEpochs = 2, MaxArtEpochs = 3, FineTuneEpochs = 2, CheckpointDirectory = dir };
            using var reference = new ArtTrainer(options with { CheckpointDirectory = null }).Train(train, null, norm);

            // Interrupt in every phase boundary region: stop after epoch 3 (inside ART), then resume to the end.
            using var cts = new CancellationTokenSource();
            var trainer = new ArtTrainer(options, e => { if (e.Epoch == 3) cts.Cancel(); });
            Assert.ThrowsExactly<OperationCanceledException>(() => trainer.Train(train, null, norm, cts.Token));
            Assert.IsTrue(Directory.GetFiles(dir).Length > 0, "checkpoints were written");

            using var resumed = new ArtTrainer(options with { Resume = true }).Train(train, null, norm);
            Assert.IsTrue(resumed.Report.Notes.Any(n => n.StartsWith("Resumed")), string.Join("\n", resumed.Report.Notes));
            Assert.AreEqual(reference.Report.Epochs.Count, resumed.Report.Epochs.Count);
            Assert.AreEqual(reference.Report.SelectedArtEpoch, resumed.Report.SelectedArtEpoch);
            AssertSameWeights(reference.Model, resumed.Model);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void TrainingOptions_Validate_NamesTheOption()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ArtTrainer(Quick() with { PruningRate = 1.0 }));
        StringAssert.Contains(ex.Message, "PruningRate");
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ArtTrainer(Quick() with { BatchSize = 0 }));
        StringAssert.Contains(ex.Message, "BatchSize");
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ArtTrainer(Quick() with { Resume = true }));
        StringAssert.Contains(ex.Message, "Resume");
    }

    [TestMethod]
    public void TrainingOptions_Defaults_AreThePapers()
    {
        var o = new TrainingOptions();
        Assert.AreEqual(0.9, o.PruningRate);
        Assert.AreEqual(5e-6, o.LambdaInit);
        Assert.AreEqual(1.05, o.LambdaGrowth);
        Assert.AreEqual(60, o.WarmupEpochs);
        Assert.AreEqual(160, o.FineTuneEpochs);
        Assert.AreEqual(1, o.StopWindowHalfSize);
        Assert.AreEqual(64, o.BatchSize);
        Assert.AreEqual(0.1, o.LearningRate);
        Assert.AreEqual(0.9, o.Momentum);
        Assert.AreEqual(1e-4, o.WeightDecay);
        Assert.AreEqual(0.1, o.LearningRateDecay);
        CollectionAssert.AreEqual(new[] { 80, 120 }, o.LearningRateSteps.ToArray());
        Assert.AreEqual(RegularizerKind.HyperSparse, o.Regularizer);
        Assert.AreEqual(4, o.CropPadding);
        Assert.IsTrue(o.HorizontalFlip);
        Assert.IsNull(o.KeepDenseLayers, "every conv and linear layer is pruned, as in the paper");
    }

    private static void AssertSameWeights(ImageClassifier a, ImageClassifier b)
    {
        var sa = a.state_dict();
        var sb = b.state_dict();
        foreach (var (name, t) in sa)
            Assert.IsTrue(t.eq(sb[name]).all().item<bool>(), $"tensor '{name}' differs");
    }
}
