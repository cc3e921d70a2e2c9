using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Engine.Training;
using Microsoft.ML.HyperSparse.Onnx;
using static TorchSharp.torch;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Layers kept dense (KeepDenseLayers) on LeNet-5 and 300 Fashion-MNIST images: they never reach the regulariser, the ART
/// probe's threshold, the final prune or the mask, so no zero is introduced in them; κ applies exactly to the other layers
/// (kept = N' − ⌊κN'⌋ − 1 over their N' weights); the report and the description for the writer mark them; and a checkpoint
/// resumes only with the same set of layers kept dense.
/// </summary>
[TestClass]
public sealed class ArtTrainerKeepDenseTests
{
    private static ImageDataset train = null!;
    private static Normalization norm = null!;
    private static readonly string[] KeptDense = { "conv1", "fc3" };
    private static readonly string[] Pruned = { "conv2", "fc1", "fc2" };

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        TorchRuntime.EnsureLoaded();
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        train = FashionMnist.Read(dir, train: true, limit: 300);
        norm = Normalization.FromData(train, 1f / 255);
    }

    private static TrainingOptions Tiny(PruningMethod method) => new()
    {
        Architecture = Architecture.LeNet5,
        Method = method,
        PruningRate = 0.9,
        WarmupEpochs = 1,
        LambdaInit = 2e-4,
        LambdaGrowth = 1.5,
        MaxArtEpochs = 2,
        FineTuneEpochs = 1,
        LearningRateSteps = Array.Empty<int>(),
        BatchSize = 64,
        LearningRate = 0.05,
        CropPadding = 0,
        HorizontalFlip = false,
        Seed = 3,
        KeepDenseLayers = new[] { "conv1", "f?3" },
    };

    /// <summary>The HyperSparse regulariser, recording which weight tensors it is given.</summary>
    private sealed class RecordingRegularizer(double pruningRate) : WeightRegularizer
    {
        private readonly HyperSparseRegularizer inner = new(pruningRate);

        public List<IntPtr[]> Calls { get; } = new();

        public override RegularizerKind Kind => inner.Kind;

        public override IReadOnlyList<Tensor> Gradients(IReadOnlyList<Tensor> weights)
        {
            Calls.Add(weights.Select(w => w.Handle).ToArray());
            return inner.Gradients(weights);
        }
    }

    private static long NonZero(Tensor t)
    {
        using var c = t.count_nonzero();
        return c.item<long>();
    }

    [TestMethod]
    [DataRow(nameof(PruningMethod.Art))]
    [DataRow(nameof(PruningMethod.OneShotMagnitude))]
    public void ArtTrainer_Train_KeepDenseLayers_OutsideRegularizerAndThresholdKappaExactOverTheRest(string methodName)
    {
        var method = Enum.Parse<PruningMethod>(methodName);
        var regularizer = new RecordingRegularizer(0.9);
        using var result = new ArtTrainer(Tiny(method)) { Regularizer = regularizer }.Train(train, null, norm);
        var layers = result.Model.PrunableLayers().ToDictionary(l => l.LayerName);

        // No zero introduced in the layers kept dense (trained float weights are never exactly zero on their own).
        foreach (var name in KeptDense)
            Assert.AreEqual(layers[name].Count, NonZero(layers[name].Weight), $"{name} is kept dense: every weight non-zero");

        // κ applies to the other layers exactly: kept = N' − ⌊κN'⌋ − 1 by the strict |w| > τ rule.
        var n = Pruned.Sum(name => layers[name].Count);
        Assert.AreEqual(2_400 + 48_000 + 10_080, n);
        var expectedKept = n - (long)Math.Floor(0.9 * n) - 1;
        Assert.AreEqual(expectedKept, Pruned.Sum(name => NonZero(layers[name].Weight)), "non-zeros in the pruned layers");
        var report = result.Report;
        Assert.AreEqual(n, report.PrunableWeights);
        Assert.AreEqual(expectedKept, report.KeptWeights);
        Assert.AreEqual(1.0 - (double)expectedKept / n, report.Epochs[^1].Sparsity, 1e-12, "epoch sparsity is over the pruned layers");

        // The mask covers the pruned layers only; the report lists every layer and marks those kept dense.
        CollectionAssert.AreEqual(Pruned.Select(p => p + ".weight").ToArray(), result.Mask.Layers.Select(l => l.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "conv1", "conv2", "fc1", "fc2", "fc3" }.Select(p => p + ".weight").ToArray(), report.Layers.Select(l => l.Name).ToArray());
        foreach (var layer in report.Layers)
        {
            var keptDense = KeptDense.Contains(layer.Name[..^".weight".Length]);
            Assert.AreEqual(keptDense, layer.KeptDense, layer.Name);
            if (keptDense) Assert.AreEqual(layer.Total, layer.Kept, layer.Name);
        }

        // The writer gets them as not prunable (stored dense, left out of the file's pruned-layer list).
        foreach (var node in result.DescribeNetwork("image").Nodes)
        {
            if (node is Conv2dNode conv) Assert.AreEqual(!KeptDense.Contains(conv.Name), conv.Prunable, conv.Name);
            if (node is LinearNode linear) Assert.AreEqual(!KeptDense.Contains(linear.Name), linear.Prunable, linear.Name);
        }

        // The regulariser saw the pruned layers' weights and nothing else, on every ART step; none without ART.
        if (method == PruningMethod.Art)
        {
            var expected = Pruned.Select(name => layers[name].Weight.Handle).ToArray();
            Assert.IsNotEmpty(regularizer.Calls, "ART regularised");
            foreach (var call in regularizer.Calls) CollectionAssert.AreEqual(expected, call);
        }
        else
        {
            Assert.IsEmpty(regularizer.Calls);
        }
    }

    [TestMethod]
    public void ArtTrainer_Resume_OnlyWithTheSameLayersKeptDense()
    {
        var dir = Path.Combine(Path.GetTempPath(), "hs-keepdense-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = Tiny(PruningMethod.OneShotMagnitude) with { KeepDenseLayers = new[] { "fc3" }, CheckpointDirectory = dir };
            using (new ArtTrainer(options).Train(train, null, norm)) { }

            foreach (var other in new[] { null, new[] { "fc2" }, new[] { "fc3", "conv1" } })
            {
                var ex = Assert.ThrowsExactly<ResumeMismatchException>(
                    () => new ArtTrainer(options with { Resume = true, KeepDenseLayers = other }).Train(train, null, norm).Dispose());
                StringAssert.Contains(ex.Message, "other options");
                StringAssert.Contains(ex.SavedFingerprint, "\"KeepDenseLayers\":[\"fc3\"]", "the saved set is named");
            }

            // The same layer, written another way: the check compares layers, not spellings.
            using var resumed = new ArtTrainer(options with { Resume = true, KeepDenseLayers = new[] { "f?3.weight" } }).Train(train, null, norm);
            Assert.IsTrue(resumed.Report.Notes.Any(n => n.StartsWith("Resumed", StringComparison.Ordinal)), string.Join("\n", resumed.Report.Notes));
            Assert.IsTrue(resumed.Report.Layers.Single(l => l.Name == "fc3.weight").KeptDense);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
