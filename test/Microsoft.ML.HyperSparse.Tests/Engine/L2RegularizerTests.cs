using Microsoft.ML.HyperSparse.Engine.Regularization;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Spec §1.1: L2 = Σw² (no ½, no square root), so ∂R/∂w = 2w.</summary>
[TestClass]
public sealed class L2RegularizerTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    [TestMethod]
    public void L2Regularizer_Gradients_AreTwiceTheWeights()
    {
        using var scope = NewDisposeScope();
        var a = Shaped(new[] { 0.5f, -0.3f, 0f, 0.125f, -4f, 1e-8f }, 3, 2);
        var b = Vector(-2f, 0.02f);
        var grads = new L2Regularizer().Gradients(new[] { a, b });

        Assert.HasCount(2, grads);
        CollectionAssert.AreEqual(a.shape, grads[0].shape);
        CollectionAssert.AreEqual(b.shape, grads[1].shape);
        CollectionAssert.AreEqual(new[] { 1f, -0.6f, 0f, 0.25f, -8f, 2e-8f, -4f, 0.04f }, Concat(grads));
        Assert.AreEqual(RegularizerKind.L2, new L2Regularizer().Kind);
    }

    [TestMethod]
    public void L2Regularizer_AddToGradients_AddsLambdaTimesTwoW()
    {
        using var scope = NewDisposeScope();
        var w = Param(new[] { 0.5f, -0.25f }, 2);
        new L2Regularizer().AddToGradients(new[] { w }, 0.1);
        var g = Values(w.grad!);
        Assert.AreEqual(0.1f, g[0], 1e-7f);
        Assert.AreEqual(-0.05f, g[1], 1e-7f);
    }
}
