using System.Text.Json;
using Microsoft.ML.HyperSparse.Engine.Checkpoints;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Engine.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Two rules of the training loop on a tiny synthetic set (40 images of 1×8×8, an MLP, 5 batches an epoch, one libtorch
/// thread): cancellation stops inside the epoch in flight, after the batch in flight; and fine-tuning starts with a fresh
/// SGD, so momentum restarts at zero (the reference builds a new optimiser for the fine-tune phase).
/// </summary>
[TestClass]
public sealed class ArtTrainerPhaseRuleTests
{
    private const int Images = 40;
    private const int BatchSize = 8;
    private const int BatchesPerEpoch = Images / BatchSize;

    [ClassInitialize]
    public static void Load(TestContext _) => EngineTestTensors.Load();

    [ClassCleanup]
    public static void Release() => EngineTestTensors.Release();

    /// <summary>Two classes told apart by which half of the image is bright, plus noise.</summary>
    private static ImageDataset Synthetic() => EngineTestTensors.BrightHalves(Images, channels: 1, size: 8, seed: 11);

    private static TrainingOptions Tiny(string? checkpoints = null) => new()
    {
        Architecture = Architecture.Mlp,
        PruningRate = 0.9,
        WarmupEpochs = 1,
        LambdaInit = 1e-4,
        LambdaGrowth = 1.5,
        MaxArtEpochs = 1,
        FineTuneEpochs = 1,
        LearningRateSteps = Array.Empty<int>(),
        BatchSize = BatchSize,
        LearningRate = 0.05,
        Momentum = 0.9,
        CropPadding = 0,
        HorizontalFlip = false,
        Seed = 5,
        Threads = 1,
        CheckpointDirectory = checkpoints,
    };

    /// <summary>
    /// L1, counting the ART batches: the loop calls <see cref="WeightRegularizer.AddToGradients"/> once per ART batch, after
    /// that batch's backward pass and before its step. It cancels the run during the batch numbered <paramref name="cancelAt"/>.
    /// </summary>
    private sealed class CancellingRegularizer(CancellationTokenSource source, int cancelAt) : WeightRegularizer
    {
        private readonly WeightRegularizer inner = Create(RegularizerKind.L1, 0.9);

        public int Batches { get; private set; }

        public override RegularizerKind Kind => inner.Kind;

        public override IReadOnlyList<Tensor> Gradients(IReadOnlyList<Tensor> weights) => inner.Gradients(weights);

        public override void AddToGradients(IReadOnlyList<Tensor> weights, double lambda)
        {
            if (++Batches == cancelAt) source.Cancel();
            base.AddToGradients(weights, lambda);
        }
    }

    [TestMethod]
    public void ArtTrainer_Train_CancelledInsideAnArtEpoch_FinishesTheBatchInFlightAndStartsNoOther()
    {
        // Cancel while the second of the first ART epoch's five batches is running: that batch may finish its step, the
        // third must not start, and the epoch must not end (no ART epoch record, no probe).
        using var cts = new CancellationTokenSource();
        var regularizer = new CancellingRegularizer(cts, cancelAt: 2);
        var epochs = new List<EpochRecord>();
        var trainer = new ArtTrainer(Tiny(), epochs.Add) { Regularizer = regularizer };

        Assert.ThrowsExactly<OperationCanceledException>(() => trainer.Train(Synthetic(), null, Normalization.ScaleOnly(1, 1f / 255), cts.Token));

        Assert.AreEqual(TrainingPhase.Warmup, epochs.Single().Phase, "only the warm-up epoch ended; the ART epoch was cut short");
        Assert.AreEqual(2, regularizer.Batches,
            $"ART batches that ran: {regularizer.Batches} of {BatchesPerEpoch}; cancelled in batch 2, so batch 3 must not start");
    }

    [TestMethod]
    public void ArtTrainer_Train_FineTuneStartsWithAFreshOptimizer_NoMomentumCarriedOverFromArt()
    {
        // A checkpoint holds the SGD momentum buffers that exist ("velocity/i"). The one written at the end of warm-up must
        // hold them (momentum 0.9, five steps taken), so their absence later means something. The one written when ART ends
        // is taken right after the switch to fine-tuning: the fresh optimiser has taken no step, so it must hold none.
        var dir = Path.Combine(Path.GetTempPath(), "hs-fresh-sgd-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var cts = new CancellationTokenSource();
            // Cancelling in the ART epoch's callback lets that epoch finish its phase switch and checkpoint, then stops the
            // run before the first fine-tune batch.
            var trainer = new ArtTrainer(Tiny(dir), e => { if (e.Phase == TrainingPhase.Art) cts.Cancel(); });
            Assert.ThrowsExactly<OperationCanceledException>(() => trainer.Train(Synthetic(), null, Normalization.ScaleOnly(1, 1f / 255), cts.Token));

            var checkpoints = new CheckpointDirectory(dir);
            using (var warmup = CheckpointFile.Read(checkpoints.PathForEpoch(1)))
            {
                Assert.AreEqual("Warmup", Phase(warmup), "written at the end of the warm-up epoch");
                var velocity = Velocity(warmup);
                Assert.IsNotEmpty(velocity, "the warm-up's SGD has momentum buffers, and checkpoints save them");
                Assert.IsTrue(velocity.Any(v => v.abs().max().item<float>() > 0), "the warm-up's momentum is not zero");
            }
            using (var switched = CheckpointFile.Read(checkpoints.PathForEpoch(2)))
            {
                Assert.AreEqual("FineTune", Phase(switched), "the checkpoint after ART is taken at the start of fine-tuning");
                Assert.AreEqual(0, JsonDocument.Parse(switched.MetadataJson).RootElement.GetProperty("PhaseEpoch").GetInt32());
                var carried = Velocity(switched);
                Assert.IsEmpty(carried,
                    $"{carried.Count} momentum buffers survived the switch to fine-tuning; the paper's rule is a new SGD whose momentum starts at zero");
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    private static string Phase(CheckpointData checkpoint) =>
        JsonDocument.Parse(checkpoint.MetadataJson).RootElement.GetProperty("Phase").GetString()!;

    private static List<Tensor> Velocity(CheckpointData checkpoint) =>
        checkpoint.Tensors.Where(t => t.Key.StartsWith("velocity/", StringComparison.Ordinal)).Select(t => t.Value).ToList();
}
