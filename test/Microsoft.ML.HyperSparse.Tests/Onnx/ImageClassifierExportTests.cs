using System.Diagnostics;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.HyperSparse.Tests.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// The export path end to end for every engine architecture: a TorchSharp model with non-trivial batch-norm statistics and
/// affine parameters, pruned globally to κ = 0.9 with the engine's magnitude pruning, described, written in each weight
/// encoding and scored by ONNX Runtime, against the same model's TorchSharp eval-mode logits.
/// </summary>
[TestClass]
public sealed class ImageClassifierExportTests
{
    private const double PruningRate = 0.9;
    private const int Batch = 3;
    private const int ClassCount = 10;
    private const float PixelScale = 1f / 255;
    private const double Tolerance = 1e-4;

    [ClassInitialize]
    public static void Initialize(TestContext context) => EngineTestTensors.Load();

    [ClassCleanup]
    public static void Cleanup() => EngineTestTensors.Release();

    // Architecture is internal, so the data rows carry its name; each at the smallest input it is meant for.
    public static IEnumerable<object[]> Architectures() =>
    [
        [nameof(Architecture.LeNet5), 1, 28, 28],
        [nameof(Architecture.Mlp), 1, 28, 28],
        [nameof(Architecture.ResNet20), 3, 32, 32],
        [nameof(Architecture.ResNet32), 3, 32, 32],
        [nameof(Architecture.Vgg19), 3, 32, 32],
        // The ImageNet-style ResNets (7×7/2 stem conv, 3×3/2 max-pool with pad 1) at their smallest input and at one whose
        // stride-2 layers meet odd sizes (40 → 20 → 10 → 5 → 3 → 2).
        [nameof(Architecture.ResNet18), 3, 32, 32],
        [nameof(Architecture.ResNet18), 3, 40, 40],
        [nameof(Architecture.ResNet18MLNet), 3, 32, 32],
        [nameof(Architecture.ResNet18MLNet), 3, 40, 40],
    ];

    [TestMethod]
    [DynamicData(nameof(Architectures))]
    public void ImageClassifier_Describe_PrunedModelScoredByOrtMatchesTorchSharpInEveryEncoding(string architecture, int channels, int height, int width)
    {
        var shape = new ImageShape(channels, height, width);
        var random = new Random(5);
        torch.random.manual_seed(17);
        using ImageClassifier model = ModelFactory.Create(Enum.Parse<Architecture>(architecture), shape, ClassCount);
        float[] mean = Enumerable.Range(0, channels).Select(c => 0.3f + 0.1f * c).ToArray();
        float[] std = Enumerable.Range(0, channels).Select(c => 0.2f + 0.05f * c).ToArray();

        IReadOnlyList<PrunableLayer> layers = model.PrunableLayers();
        RandomizeWeightsAndBiases(model, layers, random);
        long total = layers.Sum(l => l.Count);
        long kept;
        using (PruningMask mask = MagnitudePruning.Prune(layers, PruningRate))
            kept = mask.Kept;
        // Strict |w| > τ: N − ⌊κN⌋ − 1 kept, fewer only where weights tie at τ (millions of uniform floats do tie).
        Assert.IsTrue(kept <= total - MagnitudePruning.ThresholdIndex(total, PruningRate) - 1 && kept > (1 - PruningRate - 1e-3) * total,
            $"kept {kept} of {total}");
        Assert.AreEqual(kept, layers.Sum(l => PruningMask.KeptIn(l.Weight)), "pruned weights are zero in the model");
        RescaleKeptWeights(layers);
        int batchNorms = SetBatchNormStatistics(model, Normalized(Pixels(shape, 4, random), shape, mean, std, 4), random);

        float[] pixels = Pixels(shape, Batch, random);
        float[] expected;
        model.eval();
        using (no_grad())
        using (Tensor input = Normalized(pixels, shape, mean, std, Batch))
        using (Tensor logits = model.call(input))
            expected = EngineTestTensors.Values(logits);
        AssertDependsOnInput(expected);

        var net = new NetworkDescription
        {
            InputName = "image", Channels = channels, Height = height, Width = width, ClassCount = ClassCount,
            PixelScale = PixelScale, Mean = mean, Std = std, Nodes = model.Describe(),
        };
        float[]? dense = null;
        foreach (OnnxWeightEncoding encoding in new[] { OnnxWeightEncoding.Dense, OnnxWeightEncoding.SparseInitializer, OnnxWeightEncoding.Compact })
        {
            var clock = Stopwatch.StartNew();
            OnnxExportResult result = OnnxModelWriter.Write(net, new() { WeightEncoding = encoding, LogitsOutputName = "Logits" });
            TimeSpan export = clock.Elapsed;
            float[] actual = OrtRunner.Run(result.Bytes, net, pixels, Batch, "Logits")["Logits"];
            double maxError = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
            // The dead-channel shrink is on (the default) and removes channels of LeNet-5, the MLP and VGG-19 here (the line
            // below prints how many), so this checks it against TorchSharp too.
            Console.WriteLine($"{architecture} {shape} {encoding}: {batchNorms} BN, {result.Bytes.Length:N0} B, " +
                              $"output channels {result.Size.Layers.Sum(l => l.OriginalShape[0])} → {result.Size.Layers.Sum(l => l.Shape[0])}, " +
                              $"export {export.TotalMilliseconds:F0} ms, ORT {(clock.Elapsed - export).TotalMilliseconds:F0} ms, " +
                              $"max |Δlogit| {maxError:E2}, logits in [{actual.Min():F3}, {actual.Max():F3}]");

            Assert.HasCount(expected.Length, actual);
            Assert.IsTrue(maxError <= Tolerance, $"{architecture} {encoding}: max |TorchSharp − ORT| logit difference {maxError:E3}");
            if (encoding != OnnxWeightEncoding.Dense)
                Assert.IsTrue(result.Size.Layers.Any(l => l.Encoding == encoding), $"{architecture} {encoding}: no layer used the encoding");
            dense ??= actual;
            CollectionAssert.AreEqual(Bits(dense), Bits(actual), $"{architecture} {encoding}: bit-identical to the dense file");
        }
    }

    /// <summary>
    /// The dead-channel shrink on the ImageNet-style ResNets: after pruning, 16 filters of layer1.0.conv1 and 32 of
    /// layer4.1.conv1 are zeroed with the matching input slices of the conv2 that reads them (whole channels nothing reads,
    /// a multiple of the shrink's channel block), so the shrink must remove them; the Compact file scored by ONNX Runtime
    /// still agrees with TorchSharp within the tolerance, with and without the shrink.
    /// </summary>
    [TestMethod]
    [DataRow(nameof(Architecture.ResNet18), 32)]
    [DataRow(nameof(Architecture.ResNet18MLNet), 40)]
    public void ImageClassifier_Describe_ImageNetResNetWithZeroedFiltersShrinksAndMatchesTorchSharp(string architecture, int size)
    {
        var shape = new ImageShape(3, size, size);
        var random = new Random(11);
        torch.random.manual_seed(23);
        using ImageClassifier model = ModelFactory.Create(Enum.Parse<Architecture>(architecture), shape, ClassCount);
        float[] mean = [0.4f, 0.45f, 0.5f];
        float[] std = [0.25f, 0.2f, 0.3f];

        IReadOnlyList<PrunableLayer> layers = model.PrunableLayers();
        RandomizeWeightsAndBiases(model, layers, random);
        using (MagnitudePruning.Prune(layers, PruningRate))
        {
        }
        Parameter Weight(string name) => layers.Single(l => l.LayerName == name).Weight;
        using (no_grad())
        {
            foreach (var (block, filters) in new[] { ("layer1.0", 16), ("layer4.1", 32) })
            {
                // Filters 3, 5, 7, …: spread out, so the kept channels are not simply a prefix.
                foreach (int f in Enumerable.Range(0, filters).Select(i => 3 + 2 * i))
                {
                    Weight($"{block}.conv1")[f].zero_();
                    Weight($"{block}.conv2")[.., f].zero_();
                }
            }
        }
        RescaleKeptWeights(layers);
        SetBatchNormStatistics(model, Normalized(Pixels(shape, 4, random), shape, mean, std, 4), random);

        float[] pixels = Pixels(shape, Batch, random);
        float[] expected;
        using (no_grad())
        using (Tensor input = Normalized(pixels, shape, mean, std, Batch))
        using (Tensor logits = model.call(input))
            expected = EngineTestTensors.Values(logits);
        AssertDependsOnInput(expected);

        var net = new NetworkDescription
        {
            InputName = "image", Channels = 3, Height = size, Width = size, ClassCount = ClassCount,
            PixelScale = PixelScale, Mean = mean, Std = std, Nodes = model.Describe(),
        };
        OnnxExportResult shrunk = OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.Compact, LogitsOutputName = "Logits" });
        OnnxExportResult unshrunk = OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.Compact, LogitsOutputName = "Logits", ShrinkDeadChannels = false });

        OnnxLayerSize Layer(OnnxExportResult result, string name) => result.Size.Layers.Single(l => l.Name == name);
        Assert.AreEqual(64L - 16, Layer(shrunk, "layer1.0.conv1").Shape[0], "layer1.0.conv1 output channels");
        Assert.AreEqual(64L - 16, Layer(shrunk, "layer1.0.conv2").Shape[1], "layer1.0.conv2 input channels");
        Assert.AreEqual(512L - 32, Layer(shrunk, "layer4.1.conv1").Shape[0], "layer4.1.conv1 output channels");
        Assert.AreEqual(512L, Layer(unshrunk, "layer4.1.conv1").Shape[0], "no shrink: every channel stays");
        Assert.IsLessThan(unshrunk.Bytes.LongLength, shrunk.Bytes.LongLength, "file bytes");

        foreach (var (label, result) in new[] { ("shrunk", shrunk), ("unshrunk", unshrunk) })
        {
            float[] actual = OrtRunner.Run(result.Bytes, net, pixels, Batch, "Logits")["Logits"];
            double maxError = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
            Console.WriteLine($"{architecture} {shape} Compact {label}: {result.Bytes.Length:N0} B, max |Δlogit| {maxError:E2}");
            Assert.HasCount(expected.Length, actual);
            Assert.IsTrue(maxError <= Tolerance, $"{architecture} {label}: max |TorchSharp − ORT| logit difference {maxError:E3}");
        }
    }

    /// <summary>
    /// CNTK's ResNet-18 (the one ML.NET ships) pads its stride-2 layers per side: the stem [3, 3, 2, 2], the max-pool and the
    /// stride-2 3×3 convs [1, 1, 0, 0]. Where the map entering such a layer has an even size, that is what the engine's
    /// symmetric padding computes (the last padded row and column are never read), so the same weights written with CNTK's
    /// pads score as TorchSharp does: CNTK's weights can be taken over without changing the engine's padding. (On an odd size
    /// CNTK's "same" padding is symmetric, as the engine's, while fixed pads [1, 1, 0, 0] would not even fit the shortcut.)
    /// </summary>
    [TestMethod]
    public void ImageClassifier_Describe_ResNet18MLNetWrittenWithCntkPadsScoresAsTorchSharp()
    {
        var shape = new ImageShape(3, 64, 64); // 64 → 32 → 16 → 8 → 4 → 2: every stride-2 layer meets an even size
        var random = new Random(13);
        torch.random.manual_seed(29);
        using ImageClassifier model = ModelFactory.Create(Architecture.ResNet18MLNet, shape, ClassCount);
        float[] mean = [0.4f, 0.45f, 0.5f];
        float[] std = [0.25f, 0.2f, 0.3f];
        IReadOnlyList<PrunableLayer> layers = model.PrunableLayers();
        RandomizeWeightsAndBiases(model, layers, random);
        using (MagnitudePruning.Prune(layers, PruningRate))
        {
        }
        RescaleKeptWeights(layers);
        SetBatchNormStatistics(model, Normalized(Pixels(shape, 4, random), shape, mean, std, 4), random);

        float[] pixels = Pixels(shape, Batch, random);
        float[] expected;
        using (no_grad())
        using (Tensor input = Normalized(pixels, shape, mean, std, Batch))
        using (Tensor logits = model.call(input))
            expected = EngineTestTensors.Values(logits);
        AssertDependsOnInput(expected);

        // CNTK's pads for a stride-2 k×k layer: (k − 1)/2 on top/left, (k − 3)/2 on bottom/right.
        static ImagePadding Cntk(int kernel) => new((kernel - 1) / 2, (kernel - 1) / 2, (kernel - 3) / 2, (kernel - 3) / 2);
        var nodes = model.Describe().Select(node => node switch
        {
            Conv2dNode conv when conv.StrideH == 2 && conv.KernelH > 1 => conv with { PadH = 0, PadW = 0, AsymmetricPads = Cntk(conv.KernelH) },
            MaxPoolNode pool => pool with { Pad = 0, AsymmetricPads = Cntk(pool.Kernel) },
            _ => node,
        }).ToList();
        Assert.AreEqual(new ImagePadding(3, 3, 2, 2), nodes.OfType<Conv2dNode>().Single(c => c.Name == "conv1").Pads);
        Assert.AreEqual(5, nodes.Count(n => n is Conv2dNode { AsymmetricPads: not null } or MaxPoolNode { AsymmetricPads: not null }),
            "the stem, the max-pool and the first conv of stages 2-4");

        var net = new NetworkDescription
        {
            InputName = "image", Channels = 3, Height = shape.Height, Width = shape.Width, ClassCount = ClassCount,
            PixelScale = PixelScale, Mean = mean, Std = std, Nodes = nodes,
        };
        foreach (OnnxWeightEncoding encoding in new[] { OnnxWeightEncoding.Dense, OnnxWeightEncoding.Compact })
        {
            OnnxExportResult result = OnnxModelWriter.Write(net, new() { WeightEncoding = encoding, LogitsOutputName = "Logits" });
            float[] actual = OrtRunner.Run(result.Bytes, net, pixels, Batch, "Logits")["Logits"];
            double maxError = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
            Console.WriteLine($"ResNet18MLNet {shape} CNTK pads {encoding}: max |Δlogit| {maxError:E2}");
            Assert.IsTrue(maxError <= Tolerance, $"{encoding}: max |TorchSharp − ORT| logit difference {maxError:E3}");
        }
    }

    /// <summary>
    /// Every prunable weight uniform in ±1, so that global pruning removes about κ of every layer and each layer's sparse
    /// encoding is exercised (with the reference inits κ = 0.9 would remove ResNet's N(0, 0.01) classifier entirely, and
    /// nearly all of LeNet-5's fc1, leaving logits that ignore the input). Non-zero conv biases make the batch-norm fold
    /// b' = β + (b − mean)·γ/√(var+ε) use them.
    /// </summary>
    private static void RandomizeWeightsAndBiases(ImageClassifier model, IReadOnlyList<PrunableLayer> layers, Random random)
    {
        using var _ = no_grad();
        foreach (PrunableLayer layer in layers)
            Fill(layer.Weight, random, -1, 1);
        foreach (var (_, module) in model.named_modules())
        {
            if (module is Conv2d { bias: { } convBias })
                Fill(convBias, random, -0.2, 0.2);
            else if (module is Linear { bias: { } linearBias })
                Fill(linearBias, random, -0.1, 0.1);
        }
    }

    /// <summary>
    /// Scales each pruned layer (a positive factor keeps its zeros) to He-like gain over its kept fan-in, the classifier
    /// to gain 1, so activations of the networks without batch norm (MLP, LeNet-5) and the logits stay O(1): the absolute
    /// tolerance then means something.
    /// </summary>
    private static void RescaleKeptWeights(IReadOnlyList<PrunableLayer> layers)
    {
        using var _ = no_grad();
        foreach (PrunableLayer layer in layers)
        {
            long kept = PruningMask.KeptIn(layer.Weight);
            if (kept == 0)
                continue;
            double sumOfSquares;
            using (Tensor squares = layer.Weight.square())
            using (Tensor sum = squares.sum())
                sumOfSquares = sum.item<float>();
            double rms = Math.Sqrt(sumOfSquares / kept);
            double fanIn = Math.Max(1.0, (double)kept / layer.Shape[0]);
            double gain = layer == layers[^1] ? 1 : Math.Sqrt(2);
            layer.Weight.mul_(gain / (rms * Math.Sqrt(fanIn)));
        }
    }

    /// <summary>
    /// Gives every BN random affine parameters (some γ negative) and running statistics near the pruned network's real
    /// activation statistics (one train-mode pass with momentum 1 on a calibration batch, then perturbed), so that
    /// activations stay O(1) through VGG-19's 16 layers while no BN is an identity. Returns the number of BNs.
    /// </summary>
    private static int SetBatchNormStatistics(ImageClassifier model, Tensor calibration, Random random)
    {
        List<BatchNorm2d> batchNorms = model.modules().OfType<BatchNorm2d>().ToList();
        using (no_grad())
        {
            foreach (BatchNorm2d bn in batchNorms)
            {
                Fill(bn.weight!, random, 0.5, 1.5);
                using (Tensor signs = RandomTensor(random, bn.weight!.shape, () => random.NextDouble() < 0.2 ? -1 : 1))
                    bn.weight!.mul_(signs);
                Fill(bn.bias!, random, -0.3, 0.3);
                bn.momentum = 1.0;
            }

            model.train();
            using (calibration)
            using (model.call(calibration))
            {
            }

            foreach (BatchNorm2d bn in batchNorms)
            {
                using (Tensor shift = RandomTensor(random, bn.running_mean!.shape, () => 0.2 * (random.NextDouble() - 0.5)))
                    bn.running_mean!.add_(shift);
                // A floor keeps channels the pruning made constant (variance 0) from being scaled by 1/√ε.
                using (Tensor factor = RandomTensor(random, bn.running_var!.shape, () => 0.7 + 0.6 * random.NextDouble()))
                    bn.running_var!.mul_(factor).add_(0.05);
                bn.momentum = 0.1;
            }
        }

        model.eval();
        return batchNorms.Count;
    }

    /// <summary>
    /// Two images' logits must differ by well over the tolerance, or an export that ignored (or garbled) its input could pass.
    /// </summary>
    private static void AssertDependsOnInput(float[] logits)
    {
        double spread = Enumerable.Range(0, ClassCount).Max(c => Math.Abs(logits[c] - logits[ClassCount + c]));
        Assert.IsTrue(spread > 10 * Tolerance, $"logits of different images differ by only {spread:E2}: the pruned network ignores its input");
    }

    private static void Fill(Tensor target, Random random, double low, double high)
    {
        using Tensor values = RandomTensor(random, target.shape, () => low + (high - low) * random.NextDouble());
        target.copy_(values);
    }

    private static Tensor RandomTensor(Random random, long[] shape, Func<double> next)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        float[] values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = (float)next();
        return tensor(values, shape);
    }

    private static float[] Pixels(ImageShape shape, int batch, Random random) =>
        Enumerable.Range(0, batch * shape.Size).Select(_ => (float)random.Next(256)).ToArray();

    /// <summary>(x·scale − mean[c]) / std[c] in float, the order the exported graph uses.</summary>
    private static Tensor Normalized(float[] pixels, ImageShape shape, float[] mean, float[] std, int batch)
    {
        int plane = shape.Height * shape.Width;
        float[] values = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            int c = i / plane % shape.Channels;
            values[i] = (pixels[i] * PixelScale - mean[c]) / std[c];
        }

        return tensor(values, [batch, shape.Channels, shape.Height, shape.Width]);
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
