using Microsoft.ML.HyperSparse.Engine.Models;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// The ImageNet-style ResNet family: torchvision's ResNet-18/34 and ML.NET's [2, 2, 2, 3] ResNet-18 as one class, with
/// torchvision's parameter counts and state_dict names.
/// </summary>
[TestClass]
public sealed class ImageNetResNetTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    private static long ParameterCount(ImageClassifier model) => model.parameters().Sum(p => p.numel());

    /// <summary>torchvision's figures (sum of p.numel() over resnet18() / resnet34(), 1000 classes); the size of the image does not enter.</summary>
    [TestMethod]
    [DataRow(nameof(Architecture.ResNet18), 11_689_512L)]
    [DataRow(nameof(Architecture.ResNet34), 21_797_672L)]
    public void ImageNetResNet_Parameters_AreTorchvisionsFor1000Classes(string architecture, long parameters)
    {
        foreach (var shape in new[] { new ImageShape(3, 32, 32), new ImageShape(3, 224, 224) })
        {
            using var model = ModelFactory.Create(Enum.Parse<Architecture>(architecture), shape, 1000);
            Assert.AreEqual(parameters, ParameterCount(model), $"{architecture} on {shape}");
        }
    }

    /// <summary>The prunable (conv + linear weight) counts the public enum's docs quote, for 10 classes.</summary>
    [TestMethod]
    [DataRow(nameof(Architecture.ResNet18), 11_172_032L, 21)]
    [DataRow(nameof(Architecture.ResNet34), 21_272_768L, 37)]
    [DataRow(nameof(Architecture.ResNet18MLNet), 15_890_624L, 23)]
    public void ImageNetResNet_PrunableLayers_CountsFor10ClassesAt64(string architecture, long prunable, int layers)
    {
        using var model = ModelFactory.Create(Enum.Parse<Architecture>(architecture), new ImageShape(3, 64, 64), 10);
        Assert.AreEqual(prunable, ResNetTests.PrunableCount(model));
        Assert.HasCount(layers, model.PrunableLayers());
        // The classifier is 512×classes + classes, the rest does not depend on the class count.
        using var wider = ModelFactory.Create(Enum.Parse<Architecture>(architecture), new ImageShape(3, 64, 64), 1000);
        Assert.AreEqual(512L * 990, ResNetTests.PrunableCount(wider) - prunable);
    }

    [TestMethod]
    public void ImageNetResNet_StateDict_UsesTorchvisionNames()
    {
        using var model = ModelFactory.Create(Architecture.ResNet18, new ImageShape(3, 32, 32), 10);
        var state = model.state_dict();
        var shapes = new Dictionary<string, long[]>
        {
            ["conv1.weight"] = [64, 3, 7, 7],
            ["bn1.running_var"] = [64],
            ["layer1.0.conv1.weight"] = [64, 64, 3, 3],
            ["layer1.1.bn2.bias"] = [64],
            ["layer2.0.conv1.weight"] = [128, 64, 3, 3],
            ["layer2.0.downsample.0.weight"] = [128, 64, 1, 1],
            ["layer2.0.downsample.1.running_mean"] = [128],
            ["layer4.1.conv2.weight"] = [512, 512, 3, 3],
            ["fc.weight"] = [10, 512],
            ["fc.bias"] = [10],
        };
        foreach (var (name, shape) in shapes)
        {
            Assert.IsTrue(state.ContainsKey(name), $"{name} is in the state_dict");
            CollectionAssert.AreEqual(shape, state[name].shape, name);
        }
        Assert.IsFalse(state.Keys.Any(k => k.StartsWith("layer1.0.downsample", StringComparison.Ordinal)), "stage 1 keeps width and size: identity");
        Assert.IsFalse(state.Keys.Any(k => k.Contains("conv1.bias", StringComparison.Ordinal)), "convs have no bias");
        Assert.AreEqual(0, state.Keys.Count(k => k.StartsWith("layer5", StringComparison.Ordinal)));
    }

    [TestMethod]
    [DataRow(nameof(Architecture.ResNet18))]
    [DataRow(nameof(Architecture.ResNet34))]
    [DataRow(nameof(Architecture.ResNet18MLNet))]
    public void ImageNetResNet_LayerNames_AreTheBuiltNetworksInOrder(string architecture)
    {
        var kind = Enum.Parse<Architecture>(architecture);
        foreach (var (shape, classes) in new[] { (new ImageShape(3, 32, 32), 10), (new ImageShape(1, 40, 36), 3) })
        {
            using var model = ModelFactory.Create(kind, shape, classes);
            CollectionAssert.AreEqual(ModelFactory.PrunableLayerNames(kind).ToList(), model.PrunableLayers().Select(l => l.LayerName).ToList(), $"{architecture} on {shape}");
        }
    }

    [TestMethod]
    [DataRow(1, 3, 32, 32)]
    [DataRow(2, 3, 40, 40)]
    [DataRow(2, 1, 33, 47)]
    public void ImageNetResNet_Forward_GivesBatchByClasses(int batch, int channels, int height, int width)
    {
        using var scope = NewDisposeScope();
        foreach (var architecture in new[] { Architecture.ResNet18, Architecture.ResNet18MLNet })
        {
            using var model = ModelFactory.Create(architecture, new ImageShape(channels, height, width), 10);
            model.eval();
            using var _ = no_grad();
            var output = model.call(randn(batch, channels, height, width));
            CollectionAssert.AreEqual(new long[] { batch, 10 }, output.shape, $"{architecture} on {channels}×{height}×{width}");
            Assert.IsTrue(output.isfinite().all().item<bool>());
        }
    }

    [TestMethod]
    public void ImageNetResNet_Constructor_RejectsSmallImagesAndBadBlockCounts()
    {
        foreach (var shape in new[] { new ImageShape(3, 31, 32), new ImageShape(3, 64, 16) })
        {
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ModelFactory.Create(Architecture.ResNet18, shape, 10), shape.ToString());
            Assert.AreEqual("input", error.ParamName);
            StringAssert.Contains(error.Message, "at least 32×32 pixels");
        }
        var ok = new ImageShape(3, 32, 32);
        foreach (var blocks in new[] { new[] { 2, 2, 2 }, new[] { 2, 0, 2, 2 }, new[] { 1, 1, 1, 1, 1 } })
            Assert.AreEqual("blocksPerStage", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ImageNetResNet("R", blocks, ok, 10)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ImageNetResNet("R", [1, 1, 1, 1], ok, 1)).ParamName);
        using var smallest = new ImageNetResNet("R", [1, 1, 1, 1], ok, 2);
        Assert.HasCount(1 + 8 + 3 + 1, smallest.PrunableLayers()); // stem, 4 blocks × 2, 3 projections, fc
    }

    [TestMethod]
    public void ImageNetResNet_Constructor_UsesTorchvisionInitialisation()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = ModelFactory.Create(Architecture.ResNet18, new ImageShape(3, 32, 32), 10);
        var state = model.state_dict();
        // Conv Kaiming-normal, fan_out, ReLU: std = √(2 / (C_out·k·k)).
        Assert.AreEqual(Math.Sqrt(2.0 / (512 * 9)), state["layer4.0.conv2.weight"].std().item<float>(), 0.0005);
        Assert.AreEqual(Math.Sqrt(2.0 / (64 * 49)), state["conv1.weight"].std().item<float>(), 0.002);
        // nn.Linear's default: U(±1/√512) for weight and bias.
        Assert.IsTrue(state["fc.weight"].abs().max().item<float>() <= 1 / Math.Sqrt(512));
        Assert.IsFalse(state["fc.bias"].eq(0).all().item<bool>());
        Assert.IsTrue(state["layer2.0.downsample.1.weight"].eq(1).all().item<bool>());
        Assert.IsTrue(state["bn1.bias"].eq(0).all().item<bool>());
    }
}
