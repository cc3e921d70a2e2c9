using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pretrained;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// A pretrained start as training uses it: ML.NET's ResNet-18 read with its preprocessing (channel order and means from the
/// package's own ResNetPreprocess.onnx), copied so the network reads RGB, and grayscale replicated in the exported graph.
/// </summary>
[TestClass]
public sealed class PretrainedStartTests
{
    private const int Size = 224;

    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    private static float[] RunOnnx(string file, string input, string output, float[] values, long[] shape)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(file, options);
        using var tensor = OrtValue.CreateTensorValueFromMemory(values, shape);
        using var run = new RunOptions();
        using var results = session.Run(run, [input], [tensor], [output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>
    /// The channel means we subtract are those of the package's mean image, in the order its preprocessing puts the planes:
    /// ONNX Runtime runs ResNetPreprocess.onnx on a black RGB image, whose output is minus the (BGR) mean image.
    /// </summary>
    [TestMethod]
    public void MLNetResNet18_ReadWeights_ChannelMeansAreThoseOfThePackagesPreprocessing()
    {
        PretrainedWeights weights = MLNetResNet18.ReadWeights();
        string prep = MLNetResNet18.PreprocessPath(weights.Source);
        float[] output = RunOnnx(prep, "OriginalInput", "PreprocessedInput", new float[3 * Size * Size], [1, 3, Size, Size]);
        var planeMeans = Enumerable.Range(0, 3).Select(c => -output.AsSpan(c * Size * Size, Size * Size).ToArray().Average()).ToArray();

        Assert.AreEqual(ChannelOrder.Bgr, weights.Preprocessing.Order);
        Assert.AreEqual(255f, weights.Preprocessing.ScaleFrom01);
        for (int c = 0; c < 3; c++)
            Assert.AreEqual(planeMeans[c], weights.Preprocessing.Mean[c], 1e-3, $"channel {c} (BGR)");
        // The rounded figures the platform notes give: B 103.06, G 115.90, R 123.15.
        Assert.AreEqual(103.06, weights.Preprocessing.Mean[0], 0.01);
        Assert.AreEqual(123.15, weights.Preprocessing.Mean[2], 0.01);
        CollectionAssert.AreEqual(weights.Preprocessing.Mean.Reverse().ToArray(), weights.Preprocessing.InRgb().Mean);
    }

    /// <summary>
    /// RGB pixels in 0–255 through our copy (first convolution reordered to read RGB, RGB channel means, the normalisation
    /// training uses) give the features ONNX Runtime computes from the original file on the BGR planes minus the BGR means.
    /// </summary>
    [TestMethod]
    public void MLNetResNet18_LoadedToReadRgb_FeaturesMatchOnnxRuntimeOnTheSourcesPreprocessing()
    {
        PretrainedWeights weights = MLNetResNet18.ReadWeights();
        var random = new Random(11);
        int plane = Size * Size;
        float[] rgb = Enumerable.Range(0, 3 * plane).Select(_ => (float)(255 * random.NextDouble())).ToArray();

        using var model = new ImageNetResNet("ResNet18MLNet", ImageNetResNet.ResNet18MLNetBlocks, new ImageShape(3, Size, Size), 10);
        PretrainedLoad load = PretrainedLoader.Apply(model, weights, keepHead: false);
        Assert.IsTrue(load.ReversedChannels);
        CollectionAssert.AreEqual(new[] { "fc" }, load.NewLayers.ToArray());
        Assert.AreEqual(weights.Tensors.Count, load.LoadedTensors);
        model.eval();

        Normalization normalization = PretrainedLoader.Normalization(weights, 1f / 255);
        var normalized = new float[rgb.Length];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++)
                normalized[c * plane + i] = (rgb[c * plane + i] * normalization.PixelScale - normalization.Mean[c]) / normalization.Std[c];
        float[] ours;
        using (no_grad())
        using (Tensor input = Shaped(normalized, 1, 3, Size, Size))
        using (Tensor features = model.Features(input))
            ours = Values(features);

        var bgr = new float[rgb.Length];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++)
                bgr[c * plane + i] = rgb[(2 - c) * plane + i] - weights.Preprocessing.Mean[c];
        float[] theirs = RunOnnx(weights.Source, MLNetResNet18.InputName, MLNetResNet18.FeaturesName, bgr, [1, 3, Size, Size]);

        double maxDiff = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine($"max |ours - ORT| = {maxDiff:E2} over features up to {theirs.Max(Math.Abs):F2}");
        Assert.IsGreaterThan(1.0, theirs.Max(Math.Abs));
        Assert.IsLessThanOrEqualTo(1e-4, maxDiff);
    }

    /// <summary>
    /// A one-channel graph input into a three-channel network: the exported model repeats the plane (broadcast in the mean
    /// subtraction) and scores what the network scores on the replicated image.
    /// </summary>
    [TestMethod]
    public void Writer_GrayscaleInputIntoRgbNetwork_ScoresTheReplicatedImage()
    {
        manual_seed(3);
        const int side = 32;
        using var model = new ImageNetResNet("ResNet18", [1, 1, 1, 1], new ImageShape(3, side, side), 4);
        model.eval();
        var normalization = new Normalization(1f / 255, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);
        var random = new Random(5);
        float[] gray = Enumerable.Range(0, 2 * side * side).Select(_ => (float)(255 * random.NextDouble())).ToArray();
        var dataset = new ImageDataset(gray, [0, 1], 1, side, side, 4).ReplicateChannels(3);
        Assert.AreEqual(3, dataset.Channels);

        float[] ours;
        var normalized = new float[dataset.Pixels.Length];
        int plane = side * side;
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < plane; i++)
                {
                    int at = (n * 3 + c) * plane + i;
                    Assert.AreEqual(gray[n * plane + i], dataset.Pixels[at]);
                    normalized[at] = (dataset.Pixels[at] * normalization.PixelScale - normalization.Mean[c]) / normalization.Std[c];
                }
        using (no_grad())
        using (Tensor input = Shaped(normalized, 2, 3, side, side))
        using (Tensor logits = model.call(input))
            ours = Values(logits);

        var description = model.DescribeNetwork("Features", normalization, inputChannels: 1);
        Assert.AreEqual(1, description.GraphInputChannels);
        string file = Path.Combine(Path.GetTempPath(), $"hs-gray-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(file, OnnxModelWriter.Write(description, new OnnxExportOptions { WeightEncoding = OnnxWeightEncoding.Compact, LogitsOutputName = "Logits" }).Bytes);
            float[] theirs = RunOnnx(file, "Features", "Logits", gray, [2, 1, side, side]);
            double maxDiff = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
            Assert.IsLessThanOrEqualTo(1e-4, maxDiff, $"max |ours - ORT| = {maxDiff:E2}");
            Assert.IsGreaterThan(1e-3, theirs.Max(Math.Abs));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void PretrainedLoader_Apply_WrongShapeOrArchitecture_NamesTheFileTensorAndShapes()
    {
        PretrainedWeights weights = MLNetResNet18.ReadWeights();
        var tensors = weights.Tensors.ToDictionary(p => p.Key, p => p.Value);
        tensors["layer2.0.conv1.weight"] = new PretrainedTensor([64, 64, 3, 3], new float[64 * 64 * 9]);
        var bad = new PretrainedWeights
        {
            Source = "/data/net.pt", Format = "test", Blocks = weights.Blocks, InputChannels = 3, Tensors = tensors, Preprocessing = weights.Preprocessing,
        };
        using var model = new ImageNetResNet("ResNet18MLNet", ImageNetResNet.ResNet18MLNetBlocks, new ImageShape(3, 64, 64), 10);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedLoader.Apply(model, bad, keepHead: false));
        StringAssert.Contains(e.Message, "/data/net.pt");
        StringAssert.Contains(e.Message, "layer2.0.conv1.weight");
        StringAssert.Contains(e.Message, "[64, 64, 3, 3]");
        StringAssert.Contains(e.Message, "[128, 64, 3, 3]");

        using var other = new ImageNetResNet("ResNet18", ImageNetResNet.ResNet18Blocks, new ImageShape(3, 64, 64), 10);
        e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedLoader.Apply(other, weights, keepHead: false));
        StringAssert.Contains(e.Message, "[2, 2, 2, 3]");
        StringAssert.Contains(e.Message, "[2, 2, 2, 2]");

        e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedLoader.Apply(model, weights, keepHead: true));
        StringAssert.Contains(e.Message, "no classifier");
    }
}
