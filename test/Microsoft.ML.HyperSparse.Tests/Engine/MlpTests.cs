using Microsoft.ML.HyperSparse.Engine.Models;
using TorchSharp;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>LeNet-300-100 on the flattened image.</summary>
[TestClass]
public sealed class MlpTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    [TestMethod]
    public void Mlp_Mnist_Has266200PrunableWeights()
    {
        using var model = new Mlp(new ImageShape(1, 28, 28), 10);
        Assert.AreEqual(784L * 300 + 300 * 100 + 100 * 10, ResNetTests.PrunableCount(model));
        Assert.AreEqual(266_200L + 300 + 100 + 10, ResNetTests.TrainableCount(model));
        var layers = model.PrunableLayers();
        Assert.HasCount(3, layers);
        CollectionAssert.AreEqual(new long[] { 300, 784 }, layers[0].Shape);
    }

    [TestMethod]
    [DataRow(1, 28, 28)]
    [DataRow(3, 32, 32)]
    [DataRow(2, 5, 7)]
    public void Mlp_Forward_GivesBatchByClasses(int channels, int height, int width)
    {
        using var scope = NewDisposeScope();
        using var model = new Mlp(new ImageShape(channels, height, width), 5);
        CollectionAssert.AreEqual(new long[] { 3, 5 }, model.call(randn(3, channels, height, width)).shape);
    }

    [TestMethod]
    public void Mlp_Constructor_RejectsOneClassAndEmptyImage()
    {
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Mlp(new ImageShape(1, 28, 28), 1)).ParamName);
        Assert.AreEqual("input", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Mlp(new ImageShape(1, 0, 28), 10)).ParamName);
    }
}
