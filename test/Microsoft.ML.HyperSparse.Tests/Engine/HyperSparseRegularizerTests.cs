using Microsoft.ML.HyperSparse.Engine.Regularization;
using TorchSharp;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Spec §1.2: ∂L_HS/∂wᵢ = sign(wᵢ)·s·sech²(s|wᵢ|)·A/T over the one global vector, s = 0.6585/a_(⌊κN⌋),
/// A = Σ|w|, T = Σ tanh(s|w|), all treated as constants.
/// </summary>
[TestClass]
public sealed class HyperSparseRegularizerTests
{
    // §1.2 worked example: κ = 0.5, N = 10, k = 5, a_(5) = 0.1, s = 6.585, A = 1.61, T = 5.102207.
    private static readonly float[] Example = { 0.5f, -0.3f, 0.1f, -0.05f, 0.02f, 0.0f, 0.2f, -0.01f, 0.4f, 0.03f };
    private static readonly double[] ExampleGradient =
        { 0.011446, -0.153899, 1.385229, -1.867972, 2.042267, 0, 0.519436, -2.068910, 0.042399, 1.998867 };

    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    [TestMethod]
    public void HyperSparseRegularizer_Gradients_WorkedExampleMatchesTable()
    {
        using var scope = NewDisposeScope();
        var grads = new HyperSparseRegularizer(0.5).Gradients(new[] { Vector(Example) });

        Assert.HasCount(1, grads);
        CollectionAssert.AreEqual(new long[] { 10 }, grads[0].shape);
        var g = Values(grads[0]);
        for (var i = 0; i < g.Length; i++)
            Assert.AreEqual(ExampleGradient[i], g[i], 1e-6, $"∂L_HS/∂w[{i}] for w = {Example[i]}");
    }

    [TestMethod]
    public void HyperSparseRegularizer_Gradients_SplitAcrossTensorsEqualsGlobalVector()
    {
        using var scope = NewDisposeScope();
        var regularizer = new HyperSparseRegularizer(0.5);
        var global = Values(regularizer.Gradients(new[] { Vector(Example) })[0]);

        // Same 10 weights as three layers of different shapes: 2×2, 3, 3×1. A per-layer threshold or per-layer A/T
        // would change the numbers (layer 1 alone has a_(⌊0.5·4⌋) = 0.1 but layer 3 has 0.03).
        var layers = new[]
        {
            Shaped(Example[..4], 2, 2),
            Shaped(Example[4..7], 3),
            Shaped(Example[7..], 3, 1),
        };
        var split = regularizer.Gradients(layers);

        Assert.HasCount(3, split);
        for (var i = 0; i < layers.Length; i++)
            CollectionAssert.AreEqual(layers[i].shape, split[i].shape, $"gradient {i} has its weight's shape");
        CollectionAssert.AreEqual(global, Concat(split), "split result must be bit-identical to the global one");

        // Two tensors, the other way round (7 + 3).
        var two = regularizer.Gradients(new[] { Shaped(Example[..7], 7, 1, 1), Shaped(Example[7..], 1, 3) });
        CollectionAssert.AreEqual(global, Concat(two));
    }

    [TestMethod]
    public void HyperSparseRegularizer_Gradients_MatchFiniteDifferenceOfSurrogateLoss()
    {
        using var scope = NewDisposeScope();
        const double kappa = 0.9;
        var w = TieFree(200, seed: 7, low: 0.001, high: 0.5);
        var grads = Values(new HyperSparseRegularizer(kappa).Gradients(new[] { Shaped(w, 20, 10) })[0]);

        // Frozen constants s₀, A₀, T₀ from the current weights (in double, from the same float values).
        var a = w.Select(x => Math.Abs((double)x)).ToArray();
        var sorted = a.OrderBy(x => x).ToArray();
        var s0 = 0.6585 / sorted[(int)Math.Floor(kappa * a.Length)];
        var a0 = a.Sum();
        var t0 = a.Sum(x => Math.Tanh(s0 * x));
        double Surrogate(double[] v) => a0 / t0 * v.Sum(x => Math.Tanh(s0 * Math.Abs(x)));

        const double h = 1e-6;
        var v = w.Select(x => (double)x).ToArray();
        for (var i = 0; i < v.Length; i++)
        {
            var keep = v[i];
            v[i] = keep + h; var plus = Surrogate(v);
            v[i] = keep - h; var minus = Surrogate(v);
            v[i] = keep;
            var numeric = (plus - minus) / (2 * h);
            Assert.AreEqual(numeric, grads[i], 1e-4 * Math.Max(1, Math.Abs(numeric)), $"weight {i} = {w[i]}");
        }
    }

    [TestMethod]
    public void HyperSparseRegularizer_Gradients_ZeroWeightHasZeroGradient()
    {
        using var scope = NewDisposeScope();
        var w = new[] { 0.4f, 0f, -0.2f, 0f, 0.1f, 0.05f, 0f, -0.7f };
        // κ = 0.5, N = 8, k = 4: a_(4) = 0.1 > 0 (three zeros are fewer than κN).
        var g = Values(new HyperSparseRegularizer(0.5).Gradients(new[] { Vector(w) })[0]);

        // sign(0) = 0, so the HS gradient is exactly 0 where w = 0 (PyTorch's abs gradient at 0).
        foreach (var i in new[] { 1, 3, 6 }) Assert.AreEqual(0f, g[i], $"w[{i}] = 0");
        // The others are non-zero and carry the weight's sign.
        foreach (var i in new[] { 0, 2, 4, 5, 7 }) Assert.AreEqual(Math.Sign(w[i]), Math.Sign(g[i]), $"sign at {i}");
    }

    [TestMethod]
    public void HyperSparseRegularizer_Gradients_MoreThanKappaNZerosGiveNoNaN()
    {
        using var scope = NewDisposeScope();
        // κ = 0.5, N = 10, k = 5; 8 zeros put a_(5) = 0, so s = 0.6585/0 would be infinite.
        var w = new[] { 0f, 0f, 0.3f, 0f, 0f, -0.2f, 0f, 0f, 0f, 0f };
        var g = Values(new HyperSparseRegularizer(0.5).Gradients(new[] { Vector(w) })[0]);

        foreach (var x in g) Assert.IsTrue(float.IsFinite(x), $"gradient {x} is not finite");
        for (var i = 0; i < w.Length; i++)
        {
            // Zeros: sign(0) = 0. Non-zeros: lim s→∞ of s·sech²(s·a) = 0 for a > 0.
            Assert.AreEqual(0f, g[i], 1e-6f, $"w[{i}] = {w[i]}");
        }

        // The same through AddToGradients (the CPU path): no NaN, nothing added.
        var p = Param(w, 10);
        new HyperSparseRegularizer(0.5).AddToGradients(new[] { p }, 10.0);
        CollectionAssert.AreEqual(new float[10], Values(p.grad!), "AddToGradients adds 0 everywhere");
    }

    [TestMethod]
    public void HyperSparseRegularizer_Gradients_AllZeroWeightsGiveZeros()
    {
        using var scope = NewDisposeScope();
        var g = Values(new HyperSparseRegularizer(0.9).Gradients(new[] { zeros(3, 4) })[0]);
        CollectionAssert.AreEqual(new float[12], g);
    }

    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_AddsLambdaTimesGradientToExistingGrad()
    {
        using var scope = NewDisposeScope();
        const double lambda = 0.25;
        var w = Param(Example, 2, 5);
        // Give w an existing gradient c through a real backward pass: ∂(Σ w⊙c)/∂w = c.
        var c = Shaped(Enumerable.Range(1, 10).Select(i => i / 10f).ToArray(), 2, 5);
        w.mul(c).sum().backward();
        var gradBefore = w.grad;

        new HyperSparseRegularizer(0.5).AddToGradients(new[] { w }, lambda);

        Assert.IsNotNull(w.grad);
        var actual = Values(w.grad);
        var cv = Values(c);
        for (var i = 0; i < actual.Length; i++)
            Assert.AreEqual(cv[i] + lambda * ExampleGradient[i], actual[i], 1e-6, $"grad[{i}] = c + λ·∂L_HS/∂w");
        CollectionAssert.AreEqual(actual, Values(gradBefore!), "the existing gradient tensor is updated in place");
    }

    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_CreatesGradWhenMissing()
    {
        using var scope = NewDisposeScope();
        const double lambda = 3.0;
        var first = Param(Example[..6], 2, 3);
        var second = Param(Example[6..], 4);
        Assert.IsNull(first.grad);
        Assert.IsNull(second.grad);

        new HyperSparseRegularizer(0.5).AddToGradients(new[] { first, second }, lambda);

        Assert.IsNotNull(first.grad);
        Assert.IsNotNull(second.grad);
        CollectionAssert.AreEqual(first.shape, first.grad.shape);
        CollectionAssert.AreEqual(second.shape, second.grad.shape);
        var actual = Concat(new[] { first.grad, second.grad });
        for (var i = 0; i < actual.Length; i++)
            Assert.AreEqual(lambda * ExampleGradient[i], actual[i], 3e-6, $"grad[{i}] = λ·∂L_HS/∂w");
        // The weights themselves are not touched.
        CollectionAssert.AreEqual(Example, Concat(new Tensor[] { first, second }));
    }

    /// <summary>
    /// AddToGradients works on the tensors' memory (|w| buffer, radix-selected threshold, vectorised tanh and update); it
    /// must give what the tensor formula (<see cref="HyperSparseRegularizer.Gradients"/>) gives, on LeNet-5's five weight
    /// shapes with exact zeros and ties, at every κ the benchmarks use.
    /// </summary>
    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_CpuPathEqualsTensorFormula()
    {
        var shapes = new[] { new long[] { 6, 1, 5, 5 }, new long[] { 16, 6, 5, 5 }, new long[] { 120, 400 }, new long[] { 84, 120 }, new long[] { 10, 84 } };
        foreach (var kappa in new[] { 0.5, 0.9, 0.98, 0.995 })
        {
            using var scope = NewDisposeScope();
            manual_seed(11);
            var weights = shapes.Select(s => new TorchSharp.Modules.Parameter(randn(s).mul_(0.05f), requires_grad: true)).ToArray();
            using (no_grad())
            {
                weights[1].view(-1).narrow(0, 0, 300).zero_();                 // exact zeros: sign 0, no push
                weights[3].view(-1).narrow(0, 0, 200).fill_(0.0123f);          // ties
            }
            var existing = weights.Select(w => randn(w.shape)).ToArray();
            for (var i = 0; i < weights.Length; i++) weights[i].grad = existing[i].clone();
            const double lambda = 0.37;
            var regularizer = new HyperSparseRegularizer(kappa);

            var formula = regularizer.Gradients(weights);
            regularizer.AddToGradients(weights, lambda);

            for (var i = 0; i < weights.Length; i++)
            {
                var expected = Values(existing[i].add(formula[i], alpha: lambda));
                var actual = Values(weights[i].grad!);
                var largest = expected.Max(MathF.Abs);
                for (var j = 0; j < actual.Length; j++)
                    Assert.AreEqual(expected[j], actual[j], 2e-6 * largest, $"κ {kappa}, layer {i}, element {j}");
            }
        }
    }

    /// <summary>
    /// From the second mini-batch on, the threshold is first looked for in a bracket around the previous one. Over a run of
    /// mini-batches whose weights shrink slowly (the bracket holds it), jump (it does not) and gain zeros, every call must
    /// still equal the tensor formula, and both ways of finding the threshold must have been used.
    /// </summary>
    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_ThresholdFromBracketEqualsTensorFormulaAcrossMiniBatches()
    {
        var shapes = new[] { new long[] { 16, 6, 5, 5 }, new long[] { 120, 400 }, new long[] { 10, 84 } };
        using var scope = NewDisposeScope();
        manual_seed(5);
        var weights = shapes.Select(s => new TorchSharp.Modules.Parameter(randn(s).mul_(0.05f), requires_grad: true)).ToArray();
        var regularizer = new HyperSparseRegularizer(0.9);
        for (var batch = 0; batch < 12; batch++)
        {
            using (no_grad())
                foreach (var w in weights)
                {
                    if (batch == 6) w.mul_(3f);                                    // a jump: outside any bracket
                    else w.mul_(0.995f).add_(randn(w.shape).mul_(1e-4f));          // SGD-like drift
                    if (batch == 9) w.view(-1).narrow(0, 0, w.numel() / 2).zero_(); // many exact zeros at once
                }
            foreach (var w in weights) w.grad = zeros_like(w);
            var formula = regularizer.Gradients(weights);
            regularizer.AddToGradients(weights, 1.0);
            for (var i = 0; i < weights.Length; i++)
            {
                var expected = Values(formula[i]);
                var actual = Values(weights[i].grad!);
                var largest = expected.Max(MathF.Abs);
                for (var j = 0; j < actual.Length; j++)
                    Assert.AreEqual(expected[j], actual[j], 2e-6 * largest, $"mini-batch {batch}, layer {i}, element {j}");
            }
        }
        Assert.IsTrue(regularizer.BracketHits >= 8, $"the bracket held the drifting threshold ({regularizer.BracketHits} hits)");
        Assert.IsTrue(regularizer.FullSelections >= 2, $"the first batch and the jump needed the full selection ({regularizer.FullSelections})");
    }

    /// <summary>
    /// The CPU path cuts the weights into pieces of <see cref="HyperSparseRegularizer.PieceLength"/> floats and runs them on
    /// several threads. On shapes of many pieces (one a piece and a bit, one of an odd length, one smaller than a piece),
    /// over mini-batches that hit and miss the threshold bracket, one, two and three threads must add the same gradients to
    /// the bit, and these must equal the tensor formula.
    /// </summary>
    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_ManyPieces_SameBitsOnAnyThreadCountAndEqualsTensorFormula()
    {
        var piece = HyperSparseRegularizer.PieceLength;
        var shapes = new[] { new long[] { 64, 64, 3, 3 }, new long[] { piece + 37 }, new long[] { 3 * piece - 5 }, new long[] { 10, 84 } };
        using var scope = NewDisposeScope();
        manual_seed(23);
        var start = shapes.Select(s => randn(s).mul_(0.05f)).ToArray();
        using (no_grad()) start[2].narrow(0, 1000, 5000).zero_();                 // exact zeros across a piece
        var threadCounts = new[] { 1, 2, 3 };
        var runs = threadCounts.Select(t => (
            Weights: start.Select(w => new TorchSharp.Modules.Parameter(w.clone(), requires_grad: true)).ToArray(),
            Regularizer: new HyperSparseRegularizer(0.98) { Threads = t })).ToArray();
        for (var batch = 0; batch < 8; batch++)
        {
            float[][]? first = null;
            foreach (var (weights, regularizer) in runs)
            {
                using (no_grad())
                    foreach (var w in weights)
                    {
                        if (batch == 5) w.mul_(2f);                                    // a jump: the bracket misses
                        else w.mul_(0.997f);                                          // a drift: it holds
                    }
                foreach (var w in weights) w.grad = full_like(w, 0.25f);
                var formula = regularizer.Gradients(weights);
                regularizer.AddToGradients(weights, 0.5);
                var grads = weights.Select(w => Values(w.grad!)).ToArray();
                for (var i = 0; i < weights.Length; i++)
                {
                    var expected = Values(formula[i].mul(0.5).add(0.25f));
                    var largest = expected.Max(MathF.Abs);
                    for (var j = 0; j < expected.Length; j++)
                        if (MathF.Abs(expected[j] - grads[i][j]) > 2e-6 * largest)
                            Assert.Fail($"{regularizer.Threads} thread(s), mini-batch {batch}, layer {i}, element {j}: {grads[i][j]} vs formula {expected[j]}");
                }
                if (first is null) { first = grads; continue; }
                for (var i = 0; i < grads.Length; i++)
                    CollectionAssert.AreEqual(first[i], grads[i], $"{regularizer.Threads} threads vs 1, mini-batch {batch}, layer {i}: not the same bits");
            }
        }
        foreach (var (_, regularizer) in runs)
        {
            Assert.IsTrue(regularizer.BracketHits >= 5, $"{regularizer.Threads} thread(s): the bracket held the drifting threshold ({regularizer.BracketHits} hits)");
            Assert.IsTrue(regularizer.FullSelections >= 2, $"{regularizer.Threads} thread(s): the first batch and the jump needed the full selection ({regularizer.FullSelections})");
        }
    }

    /// <summary>
    /// Training runs with channels-last convolution weights (NHWC strides) and gradients of the same layout. The CPU path
    /// works on memory order, so it must take them (not fall back to the tensor formula) and add what the formula gives.
    /// </summary>
    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_ChannelsLastWeights_TakeTheCpuPathAndEqualTheTensorFormula()
    {
        using var scope = NewDisposeScope();
        manual_seed(31);
        var shapes = new[] { new long[] { 16, 6, 5, 5 }, new long[] { 32, 16, 3, 3 }, new long[] { 10, 84 } };
        var weights = shapes.Select(s => new TorchSharp.Modules.Parameter(randn(s).mul_(0.05f), requires_grad: true)).ToArray();
        using (no_grad())
            foreach (var w in weights.Where(w => w.dim() == 4))
                w.set_(w.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2));
        Assert.IsFalse(weights[0].is_contiguous(), "the 4-D weights have NHWC strides");
        foreach (var w in weights) w.grad = zeros_like(w).add_(0.5f);   // zeros_like keeps the weight's strides
        Assert.IsFalse(weights[1].grad!.is_contiguous(), "so do their gradients");
        var regularizer = new HyperSparseRegularizer(0.9);

        var formula = regularizer.Gradients(weights);
        regularizer.AddToGradients(weights, 0.25);

        Assert.AreEqual(1, regularizer.FullSelections, "the CPU path ran (the tensor formula counts no selections)");
        for (var i = 0; i < weights.Length; i++)
        {
            var expected = Values(formula[i].mul(0.25).add(0.5f));
            var actual = Values(weights[i].grad!);
            var largest = expected.Max(MathF.Abs);
            for (var j = 0; j < actual.Length; j++)
                Assert.AreEqual(expected[j], actual[j], 2e-6 * largest, $"layer {i}, element {j} (logical order)");
        }
    }

    /// <summary>A threshold near float's largest value must not build a bracket past it (its top would be ∞ and rejected).</summary>
    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_ThresholdNearFloatMaxDoesNotThrow()
    {
        using var scope = NewDisposeScope();
        var w = new TorchSharp.Modules.Parameter(tensor(new[] { 3.4e38f, 3.39e38f, 3.38e38f, 1f, 2f, 3f, 3.4e38f, 3.4e38f }), requires_grad: true);
        var regularizer = new HyperSparseRegularizer(0.5);
        for (var batch = 0; batch < 3; batch++) regularizer.AddToGradients(new[] { w }, 1e-45);
        Assert.AreEqual(3, regularizer.FullSelections, "no bracket past float.MaxValue was tried");
    }

    [TestMethod]
    public void HyperSparseRegularizer_AddToGradients_NonContiguousWeightsTakeTheTensorFormula()
    {
        using var scope = NewDisposeScope();
        var regularizer = new HyperSparseRegularizer(0.5);
        var transposed = Shaped(Example, 2, 5).t();   // a view: not contiguous
        Assert.IsFalse(transposed.is_contiguous());
        transposed.grad = null;
        var expected = Values(regularizer.Gradients(new[] { transposed })[0]);

        regularizer.AddToGradients(new[] { transposed }, 1.0);

        var actual = Values(transposed.grad!);
        for (var i = 0; i < actual.Length; i++)
            Assert.AreEqual(expected[i], actual[i], 1e-7, $"grad[{i}]");
    }

    [TestMethod]
    public void HyperSparseRegularizer_Constructor_RejectsPruningRateOutsideOpenUnitInterval()
    {
        foreach (var kappa in new[] { 0.0, 1.0, -0.1, double.NaN })
        {
            var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new HyperSparseRegularizer(kappa), $"κ = {kappa}");
            Assert.AreEqual("pruningRate", ex.ParamName);
        }
        Assert.AreEqual(0.9, new HyperSparseRegularizer(0.9).PruningRate);
        Assert.AreEqual(RegularizerKind.HyperSparse, new HyperSparseRegularizer(0.9).Kind);
    }
}
