using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Which layers KeepDenseLayers keeps dense: exact names (with or without ".weight") and glob patterns over the
/// architecture's prunable layer names; an entry matching nothing, an empty entry, or entries matching every layer are
/// errors that name the option and list every valid name. Pure string logic: no network is built.
/// </summary>
[TestClass]
public sealed class LayerSelectionTests
{
    private const string Option = "KeepDenseLayers";
    private static readonly IReadOnlyList<string> LeNet5 = ModelFactory.PrunableLayerNames(Architecture.LeNet5);
    private static readonly IReadOnlyList<string> ResNet20 = ModelFactory.PrunableLayerNames(Architecture.ResNet20);

    private static IReadOnlyList<string> Resolve(IReadOnlyList<string> layers, params string[] entries) =>
        LayerSelection.Resolve(layers, entries, "Net", Option);

    [TestMethod]
    [DataRow("fc1", "fc1", true)]
    [DataRow("fc1", "fc2", false)]
    [DataRow("fc1", "fc", false)]
    [DataRow("fc", "fc1", false)]
    [DataRow("fc1", "fc*", true)]
    [DataRow("fc", "fc*", true)]
    [DataRow("fc1", "f?1", true)]
    [DataRow("fc1", "f?", false)]
    [DataRow("layer2.0.shortcut.conv", "layer2.*", true)]
    [DataRow("layer2.0.shortcut.conv", "*.conv", true)]
    [DataRow("layer2.0.shortcut.conv", "*conv?", false)]
    [DataRow("layer2.0.conv1", "layer?.0.conv1", true)]
    [DataRow("layer2.0.conv1", "*", true)]
    [DataRow("layer2.0.conv1", "**conv*1", true)]
    [DataRow("layer2.0.conv1", "Layer2.0.conv1", false)]
    [DataRow("convs.10", "convs.1?", true)]
    [DataRow("convs.1", "convs.1?", false)]
    public void LayerSelection_Matches_GlobOverTheWholeName(string name, string pattern, bool expected) =>
        Assert.AreEqual(expected, LayerSelection.Matches(name, pattern), $"'{pattern}' on '{name}'");

    [TestMethod]
    public void LayerSelection_Resolve_ExactNamesWithOrWithoutWeightSuffix_InNetworkOrder()
    {
        CollectionAssert.AreEqual(new[] { "conv1", "fc3" }, Resolve(LeNet5, "fc3.weight", "conv1").ToArray());
        // The state-dict names (with .weight) resolve the same way, and a repeated layer is selected once.
        CollectionAssert.AreEqual(new[] { "conv1" },
            LayerSelection.Resolve(LeNet5.Select(n => n + ".weight").ToList(), new[] { "conv1", "conv1.weight" }, "Net", Option).ToArray());
    }

    [TestMethod]
    public void LayerSelection_Resolve_Globs_SelectEveryMatchingLayer()
    {
        CollectionAssert.AreEqual(new[] { "fc1", "fc2", "fc3" }, Resolve(LeNet5, "fc*").ToArray());
        // "layer3.*" reaches the projection shortcut too; "layer?.0.conv1" the first block of every stage.
        CollectionAssert.AreEqual(new[] { "layer3.0.conv1", "layer3.0.conv2", "layer3.0.shortcut.conv", "layer3.1.conv1", "layer3.1.conv2", "layer3.2.conv1", "layer3.2.conv2" },
            Resolve(ResNet20, "layer3.*").ToArray());
        CollectionAssert.AreEqual(new[] { "layer1.0.conv1", "layer2.0.conv1", "layer3.0.conv1" }, Resolve(ResNet20, "layer?.0.conv1").ToArray());
        CollectionAssert.AreEqual(new[] { "conv1", "fc" }, Resolve(ResNet20, "conv1", "fc").ToArray(), "the stem conv and the classifier");
    }

    [TestMethod]
    public void LayerSelection_Resolve_NullOrNoEntries_SelectsNothing()
    {
        Assert.IsEmpty(LayerSelection.Resolve(LeNet5, null, "Net", Option));
        Assert.IsEmpty(Resolve(LeNet5));
    }

    [TestMethod]
    [DataRow("conv9")]
    [DataRow("fc")]
    [DataRow("FC1")]
    [DataRow("layer*")]
    public void LayerSelection_Resolve_EntryMatchingNoLayer_ThrowsNamingOptionEntryAndEveryLayer(string entry)
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => LayerSelection.Resolve(LeNet5, new[] { "conv1", entry }, "LeNet5", Option));
        Assert.AreEqual(Option, ex.ParamName);
        StringAssert.Contains(ex.Message, $"Option '{Option}': entry '{entry}' matches no layer of LeNet5.");
        StringAssert.Contains(ex.Message, "over the 5 prunable layers of LeNet5: conv1, conv2, fc1, fc2, fc3.");
    }

    [TestMethod]
    public void LayerSelection_Resolve_EveryLayer_ThrowsBecauseNothingIsLeftToPrune()
    {
        foreach (var entries in new[] { new[] { "*" }, new[] { "conv*", "fc*" } })
        {
            var ex = Assert.ThrowsExactly<ArgumentException>(() => LayerSelection.Resolve(LeNet5, entries, "LeNet5", Option));
            Assert.AreEqual(Option, ex.ParamName);
            StringAssert.Contains(ex.Message, "keep every layer of LeNet5 dense");
            StringAssert.Contains(ex.Message, "conv1, conv2, fc1, fc2, fc3");
        }
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("  ")]
    [DataRow(null)]
    public void LayerSelection_Resolve_EmptyEntry_Throws(string? entry)
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => LayerSelection.Resolve(LeNet5, new[] { "fc1", entry! }, "LeNet5", Option));
        Assert.AreEqual(Option, ex.ParamName);
        StringAssert.Contains(ex.Message, "is empty");
    }

    [TestMethod]
    public void TrainingOptions_Validate_UnknownKeepDenseLayer_ThrowsBeforeAnyNetworkIsBuilt()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() =>
            new Microsoft.ML.HyperSparse.Engine.Training.TrainingOptions { Architecture = Architecture.Mlp, KeepDenseLayers = new[] { "conv1" } }.Validate());
        Assert.AreEqual(Option, ex.ParamName);
        StringAssert.Contains(ex.Message, "entry 'conv1' matches no layer of Mlp");
        StringAssert.Contains(ex.Message, "fc1, fc2, fc3");
    }
}
