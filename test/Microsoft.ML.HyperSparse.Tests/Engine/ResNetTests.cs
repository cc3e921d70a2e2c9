using Microsoft.ML.HyperSparse.Engine.Models;
using TorchSharp;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Spec §3.1: CIFAR ResNet, depth 6n+2, widths w/2w/4w, 1×1+BN projection shortcuts, GAP, one linear layer.</summary>
[TestClass]
public sealed class ResNetTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    internal static long PrunableCount(ImageClassifier model) => model.PrunableLayers().Sum(l => l.Count);

    internal static long TrainableCount(ImageClassifier model) =>
        model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());

    [TestMethod]
    [DataRow(10, 1_855_584L, 1_860_522L)]
    [DataRow(100, 1_867_104L, 1_872_132L)]
    [DataRow(200, 1_879_904L, 1_885_032L)]
    public void ResNet_ResNet32DoubleWidth_HasSpecParameterCounts(int classes, long prunable, long trainable)
    {
        using var model = new ResNet(32, 32, new ImageShape(3, 32, 32), classes);
        Assert.AreEqual(prunable, PrunableCount(model), "conv + linear weights");
        Assert.AreEqual(trainable, TrainableCount(model), "plus BN γ/β and the FC bias");
    }

    [TestMethod]
    public void ResNet_PrunableLayers_ResNet32Has33ConvsAndOneLinear()
    {
        using var model = new ResNet(32, 32, new ImageShape(3, 32, 32), 10);
        var layers = model.PrunableLayers();
        // stem + 15 blocks × 2 + 2 projection shortcuts = 33 convs, then the FC.
        Assert.HasCount(34, layers);
        Assert.AreEqual(33, layers.Count(l => l.Shape.Length == 4));
        Assert.AreEqual(2, layers.Count(l => l.Shape is [_, _, 1, 1]), "the two 1×1 projection shortcuts");
        // (Order is pinned in ImageClassifierTests; here only membership.)
        CollectionAssert.AreEqual(new long[] { 32, 3, 3, 3 }, layers.Single(l => l.Name == "conv1.weight").Shape);
        CollectionAssert.AreEqual(new long[] { 10, 128 }, layers.Single(l => l.Name == "fc.weight").Shape);
        Assert.AreEqual(1, layers.Count(l => l.Shape.Length == 2), "one linear layer");
        foreach (var layer in layers)
        {
            Assert.EndsWith(".weight", layer.Name);
            Assert.DoesNotContain("bn", layer.Name, $"{layer.Name}: BatchNorm is not prunable");
        }
    }

    [TestMethod]
    public void ResNet_ResNet20_HasStandardWidthCounts()
    {
        using var model = new ResNet(20, 16, new ImageShape(3, 32, 32), 10);
        // stem 432 + stage1 6·2304 + stage2 (4608 + 5·9216 + 512) + stage3 (18432 + 5·36864 + 2048) + fc 640.
        Assert.AreEqual(270_896L, PrunableCount(model));
        Assert.HasCount(22, model.PrunableLayers()); // 1 + 9·2 + 2 shortcuts + fc
        Assert.AreEqual(20, model.Depth);
        Assert.AreEqual(16, model.Width);
    }

    [TestMethod]
    [DataRow(1, 28, 28)]
    [DataRow(3, 32, 32)]
    [DataRow(3, 20, 24)]
    public void ResNet_Forward_GivesBatchByClasses(int channels, int height, int width)
    {
        using var scope = NewDisposeScope();
        // Depth 32 at width 8 keeps it fast; the width-32 parameter counts are checked above.
        foreach (var (depth, w) in new[] { (20, 16), (32, 8) })
        {
            using var model = new ResNet(depth, w, new ImageShape(channels, height, width), 7);
            model.eval();
            using var _ = no_grad();
            var output = model.call(randn(2, channels, height, width));
            CollectionAssert.AreEqual(new long[] { 2, 7 }, output.shape, $"ResNet-{depth} on {channels}×{height}×{width}");
            Assert.IsTrue(output.isfinite().all().item<bool>());
        }
    }

    [TestMethod]
    public void ResNet_Constructor_RejectsInvalidArguments()
    {
        var shape = new ImageShape(3, 32, 32);
        foreach (var depth in new[] { 21, 2, 7, 33 })
            Assert.AreEqual("depth", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNet(depth, 16, shape, 10), $"depth {depth}").ParamName);
        Assert.AreEqual("width", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNet(20, 0, shape, 10)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNet(20, 16, shape, 1)).ParamName);
        Assert.AreEqual("input", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNet(20, 16, new ImageShape(0, 32, 32), 10)).ParamName);
        using var smallest = new ResNet(8, 4, shape, 2); // n = 1 is allowed
        Assert.HasCount(1 + 6 + 2 + 1, smallest.PrunableLayers());
    }

    [TestMethod]
    public void ResNet_Constructor_UsesReferenceInitialisation()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new ResNet(32, 32, new ImageShape(3, 32, 32), 10);
        var state = model.state_dict();
        // Linear N(0, 0.01), bias 0.
        Assert.AreEqual(0.01, state["fc.weight"].std().item<float>(), 0.001);
        Assert.IsTrue(state["fc.bias"].eq(0).all().item<bool>());
        // Conv Kaiming-normal, fan_out, ReLU: std = √(2 / (C_out·3·3)); layer3 convs have 128·9 fan-out.
        var conv = state["layer3.1.conv1.weight"];
        Assert.AreEqual(Math.Sqrt(2.0 / (128 * 9)), conv.std().item<float>(), 0.002);
        // BN γ = 1, β = 0.
        Assert.IsTrue(state["bn1.weight"].eq(1).all().item<bool>());
        Assert.IsTrue(state["layer2.0.bn2.bias"].eq(0).all().item<bool>());
    }
}
