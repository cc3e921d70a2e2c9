using Microsoft.ML.HyperSparse.Engine.Regularization;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Spec §1.1: L1 = Σ|w| over the global weight set, so ∂R/∂w = sign(w) with sign(0) = 0.</summary>
[TestClass]
public sealed class L1RegularizerTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    [TestMethod]
    public void L1Regularizer_Gradients_AreSignOfWeights()
    {
        using var scope = NewDisposeScope();
        var a = Shaped(new[] { 0.5f, -0.3f, 0f, 1e-8f }, 2, 2);
        var b = Vector(-2f, 0.02f, -0f);
        var grads = new L1Regularizer().Gradients(new[] { a, b });

        Assert.HasCount(2, grads);
        CollectionAssert.AreEqual(a.shape, grads[0].shape);
        CollectionAssert.AreEqual(b.shape, grads[1].shape);
        CollectionAssert.AreEqual(new[] { 1f, -1f, 0f, 1f, -1f, 1f, 0f }, Concat(grads));
    }

    [TestMethod]
    public void L1Regularizer_AddToGradients_AddsLambdaTimesSign()
    {
        using var scope = NewDisposeScope();
        var w = Param(new[] { 0.5f, -0.3f, 0f }, 3);
        new L1Regularizer().AddToGradients(new[] { w }, 0.5);
        CollectionAssert.AreEqual(new[] { 0.5f, -0.5f, 0f }, Values(w.grad!));
        new L1Regularizer().AddToGradients(new[] { w }, 0.5);
        CollectionAssert.AreEqual(new[] { 1f, -1f, 0f }, Values(w.grad!), "a second call accumulates");
    }

    [TestMethod]
    public void L1Regularizer_Create_ReturnsRegularizerOfEachKind()
    {
        Assert.IsInstanceOfType<L1Regularizer>(WeightRegularizer.Create(RegularizerKind.L1, 0.9));
        Assert.IsInstanceOfType<L2Regularizer>(WeightRegularizer.Create(RegularizerKind.L2, 0.9));
        var hs = WeightRegularizer.Create(RegularizerKind.HyperSparse, 0.98);
        Assert.IsInstanceOfType<HyperSparseRegularizer>(hs);
        Assert.AreEqual(0.98, ((HyperSparseRegularizer)hs).PruningRate);
        Assert.AreEqual(RegularizerKind.L1, new L1Regularizer().Kind);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => WeightRegularizer.Create((RegularizerKind)42, 0.9));
    }
}
