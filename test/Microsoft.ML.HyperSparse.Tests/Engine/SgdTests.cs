using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using Microsoft.ML.HyperSparse.Engine.Training;
using TorchSharp;
using TorchSharp.Modules;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Spec §2.4/§6: PyTorch SGD (momentum 0.9, dampening 0, no Nesterov, coupled wd 1e-4 on all parameters):
/// g += wd·w; v = g on the first step, μ·v + g after; w −= lr·v. A fresh optimiser restarts momentum.
/// </summary>
[TestClass]
public sealed class SgdTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    private static Tensor LinearLoss(Tensor w, Tensor b, Tensor x, Tensor y) =>
        nn.functional.mse_loss(x.matmul(w.t()).add(b), y);

    [TestMethod]
    public void Sgd_Step_MatchesTorchSharpSgdOverFiveSteps()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(1234);
        var w0 = randn(new long[] { 3, 4 }, generator: generator);
        var b0 = randn(new long[] { 3 }, generator: generator);
        var x = randn(new long[] { 8, 4 }, generator: generator);
        var y = randn(new long[] { 8, 3 }, generator: generator);

        var refW = new Parameter(w0.clone());
        var refB = new Parameter(b0.clone());
        using var reference = optim.SGD(new[] { refW, refB }, 0.1, momentum: 0.9, weight_decay: 1e-4);
        var ourW = new Parameter(w0.clone());
        var ourB = new Parameter(b0.clone());
        using var ours = new Sgd(new Tensor[] { ourW, ourB }, momentum: 0.9, weightDecay: 1e-4);

        for (var step = 0; step < 5; step++)
        {
            reference.zero_grad();
            LinearLoss(refW, refB, x, y).backward();
            reference.step();

            ours.ZeroGrad();
            LinearLoss(ourW, ourB, x, y).backward();
            ours.Step(0.1);
        }

        var expected = Concat(new Tensor[] { refW, refB });
        var actual = Concat(new Tensor[] { ourW, ourB });
        Assert.IsTrue(expected.Zip(Concat(new[] { w0, b0 })).Any(p => Math.Abs(p.First - p.Second) > 1e-3), "the problem moves the weights");
        for (var i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], actual[i], 1e-6, $"parameter element {i}");
    }

    [TestMethod]
    public void Sgd_Step_FirstStepUsesGradientAsVelocityThenMomentum()
    {
        using var scope = NewDisposeScope();
        const double lr = 0.1, mu = 0.9, wd = 1e-4;
        var w = Param(new[] { 1f, -2f }, 2);
        var c = Vector(0.5f, 3f); // loss Σ c⊙w has gradient c
        using var sgd = new Sgd(new Tensor[] { w }, mu, wd);
        Assert.IsNull(sgd.Velocity[0]);

        w.mul(c).sum().backward();
        sgd.Step(lr);
        // v₁ = g = c + wd·w₀ (no μ·0, no dampening); w₁ = w₀ − lr·v₁.
        double[] w0 = { 1, -2 }, cv = { 0.5, 3 };
        var v1 = new[] { cv[0] + wd * w0[0], cv[1] + wd * w0[1] };
        var w1 = new[] { w0[0] - lr * v1[0], w0[1] - lr * v1[1] };
        AssertClose(v1, Values(sgd.Velocity[0]!), "v₁");
        AssertClose(w1, Values(w), "w₁");

        sgd.ZeroGrad();
        w.mul(c).sum().backward();
        sgd.Step(lr);
        // v₂ = μ·v₁ + c + wd·w₁; w₂ = w₁ − lr·v₂.
        var v2 = new[] { mu * v1[0] + cv[0] + wd * w1[0], mu * v1[1] + cv[1] + wd * w1[1] };
        AssertClose(v2, Values(sgd.Velocity[0]!), "v₂");
        AssertClose(new[] { w1[0] - lr * v2[0], w1[1] - lr * v2[1] }, Values(w), "w₂");
    }

    [TestMethod]
    public void Sgd_Step_FreshInstanceRestartsMomentum()
    {
        using var scope = NewDisposeScope();
        const double lr = 0.1, wd = 1e-4;
        var w = Param(new[] { 1f, -2f }, 2);
        var c = Vector(0.5f, 3f);
        using (var first = new Sgd(new Tensor[] { w }, 0.9, wd))
            for (var i = 0; i < 3; i++)
            {
                first.ZeroGrad();
                w.mul(c).sum().backward();
                first.Step(lr);
            }
        var before = Values(w).Select(v => (double)v).ToArray();

        using var fresh = new Sgd(new Tensor[] { w }, 0.9, wd);
        Assert.IsNull(fresh.Velocity[0]);
        fresh.ZeroGrad();
        w.mul(c).sum().backward();
        fresh.Step(lr);
        // A plain gradient step: no trace of the old velocity.
        AssertClose(new[] { before[0] - lr * (0.5 + wd * before[0]), before[1] - lr * (3 + wd * before[1]) }, Values(w), "w after restart");
    }

    [TestMethod]
    public void Sgd_LoadVelocity_ResumesLikeTheOriginal()
    {
        using var scope = NewDisposeScope();
        var a = Param(new[] { 1f, -2f, 0.5f }, 3);
        var b = Param(new[] { 1f, -2f, 0.5f }, 3);
        var c = Vector(0.5f, 3f, -1f);
        using var original = new Sgd(new Tensor[] { a }, 0.9, 1e-4);
        original.ZeroGrad();
        a.mul(c).sum().backward();
        original.Step(0.1);
        b.detach().copy_(a.detach());

        using var resumed = new Sgd(new Tensor[] { b }, 0.9, 1e-4);
        resumed.LoadVelocity(0, original.Velocity[0]!);
        foreach (var (p, sgd) in new[] { (a, original), (b, resumed) })
        {
            sgd.ZeroGrad();
            p.mul(c).sum().backward();
            sgd.Step(0.1);
        }
        CollectionAssert.AreEqual(Values(a), Values(b));
    }

    [TestMethod]
    public void Sgd_Step_MaskedFineTuneKeepsPrunedWeightsExactlyZero()
    {
        using var scope = NewDisposeScope();
        manual_seed(42);
        using var model = new LeNet5(new ImageShape(1, 12, 12), 3);
        var layers = model.PrunableLayers();
        using var mask = MagnitudePruning.Prune(layers, 0.9);
        var afterPrune = layers.Select(l => Values(l.Weight)).ToArray();
        var maskValues = mask.Layers.Select(l => Values(l.Mask)).ToArray();
        using var sgd = new Sgd(model.parameters(), momentum: 0.9, weightDecay: 1e-4);
        using var generator = new Generator(7);

        for (var step = 0; step < 20; step++)
        {
            sgd.ZeroGrad();
            var x = randn(new long[] { 8, 1, 12, 12 }, generator: generator);
            var y = randint(0, 3, new long[] { 8 }, generator: generator);
            nn.functional.cross_entropy(model.call(x), y).backward();
            mask.ApplyToGradients(layers);
            mask.ApplyToWeights(layers);
            sgd.Step(0.1);
        }

        for (var l = 0; l < layers.Count; l++)
        {
            var now = Values(layers[l].Weight);
            for (var i = 0; i < now.Length; i++)
            {
                if (maskValues[l][i] == 0f)
                    Assert.AreEqual(0f, now[i], $"{layers[l].Name}[{i}] is pruned and must stay exactly 0");
                else
                    Assert.AreNotEqual(afterPrune[l][i], now[i], $"{layers[l].Name}[{i}] is kept and must train");
            }
        }
    }

    [TestMethod]
    public void Sgd_Constructor_RejectsInvalidHyperParameters()
    {
        Assert.AreEqual("momentum", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Sgd(Array.Empty<Tensor>(), 1.0, 0)).ParamName);
        Assert.AreEqual("momentum", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Sgd(Array.Empty<Tensor>(), -0.1, 0)).ParamName);
        Assert.AreEqual("weightDecay", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Sgd(Array.Empty<Tensor>(), 0.9, -1e-4)).ParamName);
    }

    private static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.HasCount(expected.Length, actual);
        for (var i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], actual[i], 1e-6, $"{what}[{i}]");
    }
}
