using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Training;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// The dead-channel shrink on a really trained model: LeNet-5 pruned to κ = 0.995 by ART on a Fashion-MNIST slice loses
/// whole filters and neurons, and ONNX Runtime scores real test images with the shrunk file as with the unshrunk one.
/// </summary>
[TestClass]
public sealed class DeadChannelShrinkTrainedModelTests
{
    private const int TestImages = 500;
    private static ImageDataset train = null!;
    private static ImageDataset test = null!;
    private static Normalization norm = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static void Load(TestContext _)
    {
        TorchRuntime.EnsureLoaded();
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        train = FashionMnist.Read(dir, train: true, limit: 2000);
        test = FashionMnist.Read(dir, train: false, limit: TestImages);
        norm = Normalization.FromData(train, 1f / 255);
    }

    [TestMethod]
    [DataRow(0.995)] // measured: output channels 236 → 29 (conv2 16 → 3, fc1 120 → 3), file 5,328 → 3,466 B, max |Δlogit| 5e-7
    public void OnnxModelWriter_Write_LeNet5TrainedAtHighKappaLosesChannelsAndScoresRealImagesTheSame(double kappa)
    {
        // A short ART schedule (as in ArtTrainerEndToEndTests, fewer epochs): enough for κ = 0.995 to leave dead filters.
        var options = new TrainingOptions
        {
            Architecture = Architecture.LeNet5,
            PruningRate = kappa,
            WarmupEpochs = 2,
            LambdaInit = 2e-4,
            LambdaGrowth = 1.5,
            MaxArtEpochs = 3,
            FineTuneEpochs = 2,
            LearningRateSteps = Array.Empty<int>(),
            BatchSize = 64,
            LearningRate = 0.05,
            CropPadding = 0,
            HorizontalFlip = false,
            Seed = 7,
        };
        using TrainingResult result = new ArtTrainer(options).Train(train, null, norm);
        var net = result.DescribeNetwork("image");

        OnnxExportResult shrunk = OnnxModelWriter.Write(net, new() { LogitsOutputName = "Logits" });
        OnnxExportResult unshrunk = OnnxModelWriter.Write(net, new() { LogitsOutputName = "Logits", ShrinkDeadChannels = false });
        foreach (OnnxLayerSize layer in shrunk.Size.Layers)
            TestContext.WriteLine($"{layer.Name}: [{string.Join('x', layer.OriginalShape)}] kept {layer.OriginalKeptCount} → [{string.Join('x', layer.Shape)}] kept {layer.KeptCount}");
        TestContext.WriteLine($"file {unshrunk.Bytes.Length:N0} B → {shrunk.Bytes.Length:N0} B; bound {shrunk.Size.BoundBytes:N0} B");

        // The trained mask is the engine's (N − ⌊κN⌋ − 1 kept): the size report's trained figures are exactly it.
        Assert.AreEqual(result.Report.KeptWeights, shrunk.Size.Layers.Where(l => l.Prunable).Sum(l => l.OriginalKeptCount));
        Assert.AreEqual(61_470 - (long)Math.Floor(kappa * 61_470) - 1, result.Report.KeptWeights);
        CollectionAssert.AreEqual(unshrunk.Size.Layers.Select(l => string.Join('x', l.Shape)).ToArray(),
            shrunk.Size.Layers.Select(l => string.Join('x', l.OriginalShape)).ToArray());

        // Fewer channels (the logits keep their 10), a smaller file, and the same bound.
        long Channels(OnnxSizeReport size) => size.Layers.Sum(l => l.Shape[0]);
        Assert.IsLessThan(Channels(unshrunk.Size), Channels(shrunk.Size), "channels");
        Assert.AreEqual(10L, shrunk.Size.Layers[^1].Shape[0]);
        Assert.IsLessThan(unshrunk.Bytes.LongLength, shrunk.Bytes.LongLength, "file bytes");
        Assert.AreEqual(unshrunk.Size.BoundBytes, shrunk.Size.BoundBytes, 1e-9);

        float[] before = OrtRunner.Run(unshrunk.Bytes, net, test.Pixels, TestImages, "Logits")["Logits"];
        float[] after = OrtRunner.Run(shrunk.Bytes, net, test.Pixels, TestImages, "Logits")["Logits"];
        double difference = before.Zip(after, (a, b) => Math.Abs((double)a - b)).Max();
        int changed = Enumerable.Range(0, TestImages).Count(i => ArgMax(before, i) != ArgMax(after, i));
        TestContext.WriteLine($"{TestImages} test images: max |Δlogit| {difference:E2}, logits in [{after.Min():F2}, {after.Max():F2}], predictions changed {changed}");
        Assert.IsTrue(difference <= 1e-4, $"max |shrunk − unshrunk| logit {difference:E3}");
        Assert.IsTrue(before.Max() - before.Min() > 1, "the logits depend on the image");
    }

    private static int ArgMax(float[] logits, int image)
    {
        ReadOnlySpan<float> row = logits.AsSpan(image * 10, 10);
        int best = 0;
        for (int c = 1; c < row.Length; c++)
            if (row[c] > row[best])
                best = c;
        return best;
    }
}
