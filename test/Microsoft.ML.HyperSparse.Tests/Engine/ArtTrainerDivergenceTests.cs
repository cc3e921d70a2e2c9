using Microsoft.ML.HyperSparse.Engine.Checkpoints;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Hostile hyper-parameters on the engine: a run that diverges stops at the first non-finite number (or at a λ beyond
/// float32) with an error naming the epoch, phase, λ and learning rate, and writes no checkpoint of that epoch; a κ that
/// keeps no weight fails before the first epoch. 200 Fashion-MNIST images, one libtorch thread, seconds each.
/// </summary>
[TestClass]
public sealed class ArtTrainerDivergenceTests
{
    private static ImageDataset train = null!;
    private static Normalization norm = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        TorchRuntime.EnsureLoaded();
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        train = FashionMnist.Read(dir, train: true, limit: 200);
        norm = Normalization.FromData(train, 1f / 255);
    }

    /// <summary>LeNet-5, 10 mini-batches per epoch, 1 warm-up, ≤ 3 ART, 1 fine-tune epoch.</summary>
    private static TrainingOptions Small(string? checkpoints = null) => new()
    {
        Architecture = Architecture.LeNet5,
        PruningRate = 0.9,
        WarmupEpochs = 1,
        LambdaInit = 2e-4,
        LambdaGrowth = 1.5,
        MaxArtEpochs = 3,
        FineTuneEpochs = 1,
        LearningRateSteps = Array.Empty<int>(),
        BatchSize = 20,
        LearningRate = 0.05,
        CropPadding = 0,
        HorizontalFlip = false,
        Seed = 3,
        Threads = 1,
        CheckpointDirectory = checkpoints,
    };

    private static string TempFolder() => Path.Combine(Path.GetTempPath(), "hs-diverge-" + Guid.NewGuid().ToString("N"));

    private static List<int> CheckpointEpochs(string dir) =>
        Directory.EnumerateFiles(dir, "epoch-*" + CheckpointDirectory.Extension).Select(f => int.Parse(Path.GetFileNameWithoutExtension(f)[6..])).Order().ToList();

    [TestMethod]
    public void ArtTrainer_Train_LearningRate1e30_StopsInTheFirstWarmupEpochWithoutWritingItsCheckpoint()
    {
        var dir = TempFolder();
        try
        {
            var epochs = new List<EpochRecord>();
            var trainer = new ArtTrainer(Small(dir) with { LearningRate = 1e30 }, epochs.Add);
            var ex = Assert.ThrowsExactly<TrainingDivergedException>(() => trainer.Train(train, null, norm));
            TestContext.WriteLine(ex.Message);
            Assert.AreEqual(1, ex.Epoch);
            Assert.AreEqual(TrainingPhase.Warmup, ex.Phase);
            Assert.AreEqual(1e30, ex.LearningRate);
            Assert.AreEqual(0.0, ex.Lambda);
            StringAssert.StartsWith(ex.Message, "Training diverged in epoch 1 (Warmup): ");
            StringAssert.Contains(ex.Message, "(learning rate 1e+30, λ 0). Lower LearningRate (now 1e+30).");
            Assert.IsEmpty(epochs, "no epoch finished");
            Assert.IsEmpty(CheckpointEpochs(dir), "the diverged epoch wrote no checkpoint");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void ArtTrainer_Train_LambdaGrowth1e300_StopsBeforeTheArtEpochWhoseLambdaExceedsFloat32()
    {
        // λ = 1e-3 in ART epoch 1 (global 2), then 1e-3 · 1e300 = 1e297 > float.MaxValue for ART epoch 2 (global 3).
        var dir = TempFolder();
        try
        {
            var epochs = new List<EpochRecord>();
            // κ 0.99: the pruned copy is far below the dense model, so the stop rule cannot end ART after its first epoch.
            var trainer = new ArtTrainer(Small(dir) with { LambdaInit = 1e-3, LambdaGrowth = 1e300, PruningRate = 0.99 }, epochs.Add);
            var ex = Assert.ThrowsExactly<TrainingDivergedException>(() => trainer.Train(train, null, norm));
            TestContext.WriteLine(ex.Message);
            Assert.AreEqual(3, ex.Epoch);
            Assert.AreEqual(TrainingPhase.Art, ex.Phase);
            Assert.AreEqual("λ", ex.Quantity);
            Assert.AreEqual(1e-3 * 1e300, ex.Lambda);
            Assert.AreEqual(0.05, ex.LearningRate);
            Assert.AreEqual("Training diverged in epoch 3 (Art): λ of ART epoch 2 is 1e+297, beyond the largest float32 3.4028235e+38 " +
                            "the regulariser's tensors can hold (learning rate 0.05); the epoch did not run. " +
                            "Lower LambdaInit (now 0.001) or LambdaGrowth (now 1e+300), or LearningRate (now 0.05).", ex.Message);
            CollectionAssert.AreEqual(new[] { TrainingPhase.Warmup, TrainingPhase.Art }, epochs.Select(e => e.Phase).ToArray());
            CollectionAssert.AreEqual(new[] { 1, 2 }, CheckpointEpochs(dir), "the finite epochs are checkpointed, the refused one is not");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void ArtTrainer_Train_PruningRateThatKeepsNoWeight_FailsBeforeTheFirstEpoch(bool oneShot)
    {
        var method = oneShot ? PruningMethod.OneShotMagnitude : PruningMethod.Art;
        // LeNet-5 on 28×28 has N = 61,470 prunable weights: κ = 0.99999 gives ⌊κN⌋ = 61,469 = N − 1, so N − ⌊κN⌋ − 1 = 0.
        var epochs = 0;
        var trainer = new ArtTrainer(Small() with { PruningRate = 0.99999, Method = method }, _ => epochs++);
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Train(train, null, norm));
        TestContext.WriteLine(ex.Message);
        Assert.AreEqual("PruningRate", ex.ParamName);
        StringAssert.Contains(ex.Message, "The pruning rate κ = 0.99999 keeps 0 of 61,470 prunable weights");
        StringAssert.Contains(ex.Message, "expected κ < (N − 1)/N = 61,469/61,470, i.e. κ ≤ 0.99998");
        Assert.AreEqual(0, epochs);
    }
}
