using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Spec §2.1 fine-tune: weight.data *= mask and weight.grad *= mask for every conv/linear layer.</summary>
[TestClass]
public sealed class PruningMaskTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    private static PruningMask TwoLayerMask() => new(new[]
    {
        ("conv.weight", Shaped(new[] { 1f, 0f, 1f, 0f }, 2, 2)),
        ("fc.weight", Shaped(new[] { 0f, 0f, 1f, 0f, 0f, 0f }, 3, 2)),
    });

    private static PrunableLayer[] TwoLayers() => new[]
    {
        new PrunableLayer("conv.weight", Param(new[] { 1f, 2f, 3f, 4f }, 2, 2)),
        new PrunableLayer("fc.weight", Param(new[] { 5f, 6f, 7f, 8f, 9f, 10f }, 3, 2)),
    };

    [TestMethod]
    public void PruningMask_KeptTotalSparsity_CountTheMaskEntries()
    {
        using var scope = NewDisposeScope();
        using var mask = TwoLayerMask();
        Assert.AreEqual(10L, mask.Total);
        Assert.AreEqual(3L, mask.Kept);
        Assert.AreEqual(0.7, mask.Sparsity, 1e-12);
        Assert.AreEqual(2L, PruningMask.KeptIn(mask.Layers[0].Mask));
        Assert.AreEqual(0.0, new PruningMask(Array.Empty<(string, Tensor)>()).Sparsity);
    }

    [TestMethod]
    public void PruningMask_ApplyToWeights_ZeroesPrunedWeightsOnly()
    {
        using var scope = NewDisposeScope();
        using var mask = TwoLayerMask();
        var layers = TwoLayers();
        mask.ApplyToWeights(layers);
        CollectionAssert.AreEqual(new[] { 1f, 0f, 3f, 0f }, Values(layers[0].Weight));
        CollectionAssert.AreEqual(new[] { 0f, 0f, 7f, 0f, 0f, 0f }, Values(layers[1].Weight));
        Assert.IsTrue(layers[0].Weight.requires_grad);
    }

    [TestMethod]
    public void PruningMask_ApplyToGradients_ZeroesPrunedGradientsAndSkipsMissingOnes()
    {
        using var scope = NewDisposeScope();
        using var mask = TwoLayerMask();
        var layers = TwoLayers();
        // Only the first layer has a gradient: ∂(Σ 10·w)/∂w = 10.
        layers[0].Weight.mul(10f).sum().backward();
        Assert.IsNull(layers[1].Weight.grad);

        mask.ApplyToGradients(layers);

        CollectionAssert.AreEqual(new[] { 10f, 0f, 10f, 0f }, Values(layers[0].Weight.grad!));
        Assert.IsNull(layers[1].Weight.grad, "no gradient is created");
        CollectionAssert.AreEqual(new[] { 1f, 2f, 3f, 4f }, Values(layers[0].Weight), "weights are untouched");
    }

    [TestMethod]
    public void PruningMask_Apply_NameMismatchThrowsNamingBothLayers()
    {
        using var scope = NewDisposeScope();
        using var mask = TwoLayerMask();
        var renamed = new[] { TwoLayers()[0], new PrunableLayer("classifier.weight", TwoLayers()[1].Weight) };

        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => mask.ApplyToWeights(renamed));
        StringAssert.Contains(ex.Message, "fc.weight");
        StringAssert.Contains(ex.Message, "classifier.weight");
        Assert.ThrowsExactly<InvalidOperationException>(() => mask.ApplyToGradients(renamed));
        Assert.ThrowsExactly<InvalidOperationException>(() => mask.ApplyToWeights(TwoLayers()[..1]), "layer count mismatch");
    }

    [TestMethod]
    public void PruningMask_Clone_IsIndependentCopy()
    {
        using var scope = NewDisposeScope();
        using var mask = TwoLayerMask();
        using var copy = mask.Clone();
        mask.Layers[0].Mask.zero_();
        Assert.AreEqual(3L, copy.Kept);
        Assert.AreEqual("fc.weight", copy.Layers[1].Name);
    }
}
