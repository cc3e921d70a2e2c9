using Microsoft.ML.HyperSparse.Engine.Models;
using TorchSharp;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Spec §3.2: CIFAR VGG-19-BN, 16 convs with bias + BN, 4 max-pools, GAP, one Linear(512, C).</summary>
[TestClass]
public sealed class Vgg19Tests
{
    private static Vgg19 cifar10 = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        Load();
        manual_seed(5);
        cifar10 = new Vgg19(new ImageShape(3, 32, 32), 10); // about 80 MB; built once for the class
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        cifar10.Dispose();
        Release();
    }

    [TestMethod]
    public void Vgg19_Cifar10_HasSpecParameterCounts()
    {
        Assert.AreEqual(20_024_000L, ResNetTests.PrunableCount(cifar10));
        Assert.AreEqual(20_040_522L, ResNetTests.TrainableCount(cifar10), "plus conv biases, BN γ/β and the FC bias");
    }

    [TestMethod]
    public void Vgg19_PrunableLayers_Has16ConvsAndOneLinear()
    {
        var layers = cifar10.PrunableLayers();
        Assert.HasCount(17, layers);
        Assert.AreEqual(16, layers.Count(l => l.Shape.Length == 4));
        // (Order is pinned in ImageClassifierTests; here only membership.)
        CollectionAssert.AreEqual(new long[] { 64, 3, 3, 3 }, layers.Single(l => l.Name == "convs.0.weight").Shape);
        CollectionAssert.AreEqual(new long[] { 10, 512 }, layers.Single(l => l.Name == "classifier.weight").Shape);
        foreach (var layer in layers) Assert.EndsWith(".weight", layer.Name, "conv biases are not prunable");
    }

    [TestMethod]
    public void Vgg19_Constructor_UsesReferenceInitialisation()
    {
        var state = cifar10.state_dict();
        // conv N(0, √(2/(9·C_in))), bias 0; convs.8 is 256 → 512 (the first 512 conv): std = √(2/2304).
        Assert.AreEqual(Math.Sqrt(2.0 / (9 * 256)), state["convs.8.weight"].std().item<float>(), 0.001);
        Assert.IsTrue(state["convs.8.bias"].eq(0).all().item<bool>());
        Assert.AreEqual(0.01, state["classifier.weight"].std().item<float>(), 0.0015);
        Assert.IsTrue(state["bns.3.weight"].eq(1).all().item<bool>());
    }

    [TestMethod]
    public void Vgg19_Forward_GivesBatchByClasses()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        cifar10.eval();
        CollectionAssert.AreEqual(new long[] { 2, 10 }, cifar10.call(randn(2, 3, 32, 32)).shape);
        foreach (var shape in new[] { new ImageShape(1, 28, 28), new ImageShape(3, 16, 24) })
        {
            using var model = new Vgg19(shape, 4);
            model.eval();
            var output = model.call(randn(2, shape.Channels, shape.Height, shape.Width));
            CollectionAssert.AreEqual(new long[] { 2, 4 }, output.shape, shape.ToString());
        }
    }

    [TestMethod]
    public void Vgg19_Constructor_RejectsTooSmallImageAndOneClass()
    {
        // Four halvings: 15 → 7 → 3 → 1 → 0.
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Vgg19(new ImageShape(3, 15, 32), 10));
        Assert.AreEqual("input", ex.ParamName);
        Assert.AreEqual("input", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Vgg19(new ImageShape(3, 32, 8), 10)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Vgg19(new ImageShape(3, 32, 32), 1)).ParamName);
    }
}
