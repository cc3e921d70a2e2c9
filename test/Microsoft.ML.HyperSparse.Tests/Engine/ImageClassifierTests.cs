using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Onnx;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Spec §1.1/§6: the prunable set is every Conv2d and Linear weight in registration order (no biases, no BN), and
/// Describe() exposes exactly those weights as prunable Conv2d/Linear nodes.
/// </summary>
[TestClass]
public sealed class ImageClassifierTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    // Architecture is internal, so the data rows carry its name.
    public static IEnumerable<object[]> Architectures() => new[]
    {
        new object[] { nameof(Architecture.LeNet5), 5 },
        new object[] { nameof(Architecture.Mlp), 3 },
        new object[] { nameof(Architecture.ResNet20), 22 },
        new object[] { nameof(Architecture.ResNet32), 34 },
        new object[] { nameof(Architecture.Vgg19), 17 },
    };

    [TestMethod]
    [DynamicData(nameof(Architectures))]
    public void ImageClassifier_Describe_ListsOneWeightNodePerPrunableLayerWithSameValues(string architecture, int layerCount)
    {
        using var model = ModelFactory.Create(Enum.Parse<Architecture>(architecture), new ImageShape(3, 32, 32), 10);
        var layers = model.PrunableLayers();
        var weightNodes = model.Describe().Where(n => n is Conv2dNode or LinearNode).ToList();

        Assert.HasCount(layerCount, layers);
        Assert.HasCount(layerCount, weightNodes);
        // Same layers as a set (node name + ".weight" is the parameter name) ...
        CollectionAssert.AreEquivalent(layers.Select(l => l.Name).ToList(), weightNodes.Select(n => n.Name + ".weight").ToList());
        // ... and in the same order: layer i of the prunable set (and so of every PruningMask) is weight node i.
        for (var i = 0; i < layers.Count; i++)
        {
            var (weights, prunable, shape) = weightNodes[i] switch
            {
                Conv2dNode c => (c.Weight, c.Prunable, new long[] { c.OutChannels, c.InChannels, c.KernelH, c.KernelW }),
                LinearNode l => (l.Weight, l.Prunable, new long[] { l.OutFeatures, l.InFeatures }),
                _ => throw new InvalidOperationException(),
            };
            Assert.IsTrue(prunable, weightNodes[i].Name);
            CollectionAssert.AreEqual(layers[i].Shape, shape, $"{layers[i].Name} vs node {weightNodes[i].Name}");
            Assert.IsTrue(weights.AsSpan().SequenceEqual(Values(layers[i].Weight)), $"{layers[i].Name} vs node {weightNodes[i].Name}: values");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Architectures))]
    public void ImageClassifier_PrunableLayers_AreConvAndLinearWeightsOnly(string architecture, int layerCount)
    {
        using var model = ModelFactory.Create(Enum.Parse<Architecture>(architecture), new ImageShape(3, 32, 32), 10);
        var layers = model.PrunableLayers();
        Assert.HasCount(layerCount, layers);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var layer in layers)
        {
            Assert.IsTrue(parameters.ContainsKey(layer.Name), $"{layer.Name} is a parameter of the model");
            Assert.AreEqual(parameters[layer.Name].Handle, layer.Weight.Handle, $"{layer.Name} is the live parameter, not a copy");
            Assert.IsTrue(layer.Shape.Length is 2 or 4, $"{layer.Name}: only conv (4-D) and linear (2-D) weights");
        }
        // Every other parameter is a bias or BatchNorm γ/β (1-D).
        foreach (var (name, p) in parameters.Where(p => layers.All(l => l.Name != p.Key)).Select(p => (p.Key, p.Value)))
            Assert.AreEqual(1, p.shape.Length, $"{name} is not prunable but is not 1-D");
        Assert.AreEqual(layers.Count, layers.Select(l => l.Name).Distinct().Count());
    }

    /// <summary>
    /// KeepDenseLayers is checked against names known without building a network; they must be the built network's
    /// (state-dict names without ".weight"), in order, whatever the image shape and class count.
    /// </summary>
    [TestMethod]
    [DynamicData(nameof(Architectures))]
    public void ModelFactory_PrunableLayerNames_AreTheBuiltNetworksLayerNames(string architecture, int layerCount)
    {
        var kind = Enum.Parse<Architecture>(architecture);
        var names = ModelFactory.PrunableLayerNames(kind);
        Assert.HasCount(layerCount, names);
        foreach (var (shape, classes) in new[] { (new ImageShape(3, 32, 32), 10), (new ImageShape(1, 28, 28), 3) })
        {
            using var model = ModelFactory.Create(kind, shape, classes);
            CollectionAssert.AreEqual(model.PrunableLayers().Select(l => l.LayerName).ToList(), names.ToList(), $"{architecture} on {shape}");
            CollectionAssert.AreEqual(model.PrunableLayers().Select(l => l.Name).ToList(), names.Select(n => n + ".weight").ToList());
        }
    }

    /// <summary>Layers kept dense are described as not prunable (so written dense); the rest keep Prunable.</summary>
    [TestMethod]
    public void ImageClassifier_DescribeKeptDense_MarksOnlyThoseNodesNotPrunable()
    {
        using var model = ModelFactory.Create(Architecture.ResNet20, new ImageShape(3, 32, 32), 10);
        var keptDense = new HashSet<string> { "conv1", "layer2.0.shortcut.conv", "fc" };
        var nodes = model.Describe(keptDense);
        var plain = model.Describe();
        Assert.HasCount(plain.Count, nodes);
        foreach (var node in nodes)
        {
            bool? prunable = node switch { Conv2dNode c => c.Prunable, LinearNode l => l.Prunable, _ => null };
            if (prunable is null) continue;
            Assert.AreEqual(!keptDense.Contains(node.Name), prunable.Value, node.Name);
        }
        var conv1 = (Conv2dNode)nodes.First(n => n.Name == "conv1");
        CollectionAssert.AreEqual(((Conv2dNode)plain.First(n => n.Name == "conv1")).Weight, conv1.Weight, "same weights, only the flag differs");
    }

    /// <summary>§1.1: the reference walks model.modules() in registration order, which for these networks is forward order.</summary>
    [TestMethod]
    public void ImageClassifier_PrunableLayers_FollowRegistrationOrder()
    {
        using var model = ModelFactory.Create(Architecture.ResNet20, new ImageShape(3, 32, 32), 10);
        var names = model.PrunableLayers().Select(l => l.Name).ToList();
        Assert.AreEqual("conv1.weight, layer1.0.conv1.weight, layer1.0.conv2.weight", string.Join(", ", names.Take(3)));
        // The first block of stage 2 has a shortcut, listed after its two convs.
        var i = names.IndexOf("layer2.0.conv1.weight");
        Assert.AreEqual("layer2.0.conv1.weight, layer2.0.conv2.weight, layer2.0.shortcut.conv.weight", string.Join(", ", names.Skip(i).Take(3)));
        Assert.AreEqual("fc.weight", names[^1]);

        using var vgg = ModelFactory.Create(Architecture.Vgg19, new ImageShape(3, 32, 32), 10);
        Assert.AreEqual(
            string.Join(", ", Enumerable.Range(0, 16).Select(i => $"convs.{i}.weight").Append("classifier.weight")),
            string.Join(", ", vgg.PrunableLayers().Select(l => l.Name)));
    }
}
