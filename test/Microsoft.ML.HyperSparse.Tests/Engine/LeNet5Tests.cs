using Microsoft.ML.HyperSparse.Engine.Models;
using TorchSharp;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>LeNet-5: conv5×5 pad 2 → 6, pool, conv5×5 → 16, pool, then 120-84-classes.</summary>
[TestClass]
public sealed class LeNet5Tests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    [TestMethod]
    public void LeNet5_Mnist_Has61470PrunableWeights()
    {
        using var model = new LeNet5(new ImageShape(1, 28, 28), 10);
        // 150 + 2400 + 400·120 + 120·84 + 84·10
        Assert.AreEqual(61_470L, ResNetTests.PrunableCount(model));
        Assert.HasCount(5, model.PrunableLayers());
        Assert.AreEqual(400, model.FlatFeatures);
        // Biases: 6 + 16 + 120 + 84 + 10.
        Assert.AreEqual(61_470L + 236, ResNetTests.TrainableCount(model));
    }

    [TestMethod]
    [DataRow(1, 28, 28, 400)]
    [DataRow(3, 32, 32, 576)]
    [DataRow(1, 12, 12, 16)]
    [DataRow(3, 29, 31, 16 * 5 * 5)]
    public void LeNet5_Forward_GivesBatchByClasses(int channels, int height, int width, int flat)
    {
        using var scope = NewDisposeScope();
        using var model = new LeNet5(new ImageShape(channels, height, width), 3);
        Assert.AreEqual(flat, model.FlatFeatures);
        CollectionAssert.AreEqual(new long[] { 4, 3 }, model.call(randn(4, channels, height, width)).shape);
    }

    [TestMethod]
    public void LeNet5_Constructor_RejectsTooSmallImageAndOneClass()
    {
        // 11 → conv1 11 → pool 5 → conv2 1 → pool 0.
        Assert.AreEqual("input", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new LeNet5(new ImageShape(1, 11, 28), 10)).ParamName);
        Assert.AreEqual("input", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new LeNet5(new ImageShape(1, 28, 11), 10)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new LeNet5(new ImageShape(1, 28, 28), 1)).ParamName);
    }
}
