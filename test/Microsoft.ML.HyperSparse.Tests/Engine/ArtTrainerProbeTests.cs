using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// The ART probe is the paper's stop-rule input: the accuracy of the magnitude-pruned copy of the model at the end of the
/// ART epoch, scored in eval mode on the (augmented) training data. Pinned on a real Fashion-MNIST slice with LeNet-5: the
/// run keeps that pruned copy unchanged to the end (one ART epoch, then a fine-tune whose learning rate is stepped down
/// below float's resolution), so the returned model is the copy the probe scored, and scoring it again here must give the
/// reported accuracy exactly. Any faster probe must keep this test passing. Both probe runtimes are pinned.
/// </summary>
[TestClass]
public sealed class ArtTrainerProbeTests
{
    [ClassInitialize]
    public static void Load(TestContext _) => EngineTestTensors.Load();

    [ClassCleanup]
    public static void Release() => EngineTestTensors.Release();

    [TestMethod]
    public void TrainingOptions_Probe_DefaultsToOnnxRuntime() =>
        Assert.AreEqual(ProbeRuntime.OnnxRuntime, new TrainingOptions().Probe);

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void ArtTrainer_TorchProbe_IsThePrunedCopysAccuracyOnTheAugmentedTrainingData() => ProbeIsThePrunedCopysAccuracy(ProbeRuntime.Torch);

    /// <summary>
    /// Through ONNX Runtime the probe must be the same pruned copy on the same images: scoring the returned copy again through
    /// ONNX Runtime gives the reported accuracy exactly, and libtorch's eval forward of it (the reference's way) differs by at
    /// most one image of 600 (float rounding of different kernels).
    /// </summary>
    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void ArtTrainer_OnnxRuntimeProbe_IsThePrunedCopysAccuracyOnTheAugmentedTrainingData() => ProbeIsThePrunedCopysAccuracy(ProbeRuntime.OnnxRuntime);

    private static void ProbeIsThePrunedCopysAccuracy(ProbeRuntime runtime)
    {
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        var train = FashionMnist.Read(dir, train: true, limit: 600);
        var options = new TrainingOptions
        {
            Architecture = Architecture.LeNet5,
            PruningRate = 0.9,
            WarmupEpochs = 1,
            MaxArtEpochs = 1,
            FineTuneEpochs = 1,
            LambdaInit = 1e-4,
            LambdaGrowth = 1.5,
            BatchSize = 64,
            LearningRate = 0.05,
            // The fine-tune's rate is 0.05 × 1e-300 from its first epoch: as a float step it is 0, so the pruned copy stays as scored.
            LearningRateSteps = [0],
            LearningRateDecay = 1e-300,
            CropPadding = 2,
            HorizontalFlip = true,
            Seed = 3,
            Threads = 1,
            Probe = runtime,
        };
        var normalization = Normalization.FromData(train, 1f / 255);
        using var result = new ArtTrainer(options).Train(train, null, normalization);

        var art = result.Report.Epochs.Single(e => e.Phase == TrainingPhase.Art);
        Assert.IsNotNull(art.PrunedTrainAccuracy);
        Assert.IsTrue(art.ProbeSeconds is > 0, $"the ART epoch reports its probe time, found {art.ProbeSeconds}");
        Assert.IsTrue(art.ProbeSeconds < art.Seconds, "the probe is part of the ART epoch");
        Assert.IsTrue(result.Report.Epochs.Where(e => e.Phase != TrainingPhase.Art).All(e => e.ProbeSeconds is null), "only ART epochs probe");

        // The returned model is the pruned copy: exactly κ of the prunable weights are zero.
        var weights = result.Model.PrunableLayers().Select(l => (Tensor)l.Weight).ToList();
        long total = weights.Sum(w => w.numel()), zeros = weights.Sum(w => w.eq(0).sum().item<long>());
        // The reference prunes every weight with |w| ≤ τ, τ the (⌊κN⌋+1)-th smallest magnitude.
        Assert.AreEqual(Microsoft.ML.HyperSparse.Engine.Pruning.MagnitudePruning.ThresholdIndex(total, 0.9) + 1, zeros, "the model is the magnitude-pruned copy");

        // Score it as the paper's rule does: eval mode, the training data with its augmentation, the probe's own stream.
        var loader = new BatchLoader(train, ArtTrainer.ProbeBatchSize(options), normalization,
            new Augmentation(options.CropPadding, options.HorizontalFlip), shuffle: false, options.Seed + ArtTrainer.ProbeSeedOffset);
        result.Model.eval();
        long correct = 0, seen = 0;
        using (no_grad())
        {
            foreach (var batch in loader.Epoch(art.Epoch))
            {
                using var scope = NewDisposeScope();
                var (images, labels) = batch.ToTensors();
                correct += result.Model.call(images).argmax(1).eq(labels).sum().item<long>();
                seen += batch.Count;
            }
        }
        Assert.AreEqual(train.Count, seen);
        if (runtime == ProbeRuntime.Torch)
        {
            Assert.AreEqual(100.0 * correct / seen, art.PrunedTrainAccuracy!.Value, 0.0,
                "the probe's accuracy is the pruned copy's on the augmented training data");
        }
        else
        {
            var raw = new BatchLoader(train, ArtTrainer.ProbeBatchSize(options), Normalization.ScaleOnly(train.Channels, 1f),
                new Augmentation(options.CropPadding, options.HorizontalFlip), shuffle: false, options.Seed + ArtTrainer.ProbeSeedOffset);
            var (ortCorrect, ortSeen) = OnnxProbe.Score(result.Model, normalization, raw, art.Epoch, threads: 1,
                v => new AssertFailedException($"non-finite logit {v}"), CancellationToken.None);
            Assert.AreEqual(train.Count, ortSeen);
            Assert.AreEqual(100.0 * ortCorrect / ortSeen, art.PrunedTrainAccuracy!.Value, 0.0,
                "the probe's accuracy is the pruned copy's through ONNX Runtime on the augmented training data");
            Assert.IsTrue(Math.Abs(ortCorrect - correct) <= 1,
                $"ONNX Runtime and libtorch score the same pruned copy on the same images: {ortCorrect} vs {correct} correct of {seen}");
        }
        // Not trivially the dense model's running accuracy.
        Assert.AreNotEqual(art.TrainAccuracy, art.PrunedTrainAccuracy!.Value);
    }
}
