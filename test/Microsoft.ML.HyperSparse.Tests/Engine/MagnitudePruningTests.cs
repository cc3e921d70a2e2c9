using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Spec §2.3: over the global conv+linear |w|, τ = a_(k) with k = ⌊κN⌋ (Python float math), keep |w| &gt; τ strictly,
/// which keeps N − k − 1 weights when there are no ties; no per-layer quotas.
/// </summary>
[TestClass]
public sealed class MagnitudePruningTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    private static PrunableLayer Layer(string name, float[] values, params long[] shape) => new(name, Param(values, shape));

    [TestMethod]
    [DataRow(10L, 0.5, 5L, DisplayName = "worked example: ⌊0.5·10⌋ = 5")]
    [DataRow(10L, 0.9, 9L, DisplayName = "0.9·10 = 9.0 exactly in double, so 9 (not 8)")]
    [DataRow(100L, 0.29, 28L, DisplayName = "0.29·100 = 28.999999999999996 in double, Python floors to 28")]
    [DataRow(100L, 0.57, 56L, DisplayName = "0.57·100 = 56.99999999999999 in double → 56")]
    [DataRow(3L, 0.1, 0L, DisplayName = "0.1·3 = 0.30000000000000004 → 0")]
    [DataRow(1L, 0.99, 0L, DisplayName = "one weight: k = 0")]
    [DataRow(1_855_584L, 0.98, 1_818_472L, DisplayName = "ResNet-32/C10 at 98 %")]
    public void MagnitudePruning_ThresholdIndex_IsFloorOfKappaTimesNInDouble(long count, double kappa, long expected)
    {
        Assert.AreEqual(expected, MagnitudePruning.ThresholdIndex(count, kappa));
    }

    [TestMethod]
    // §3 kept-weights table: N − ⌊κN⌋ − 1.
    [DataRow(1_855_584L, 0.90, 185_558L)]
    [DataRow(1_855_584L, 0.98, 37_111L)]
    [DataRow(1_855_584L, 0.998, 3_711L)]
    [DataRow(1_867_104L, 0.995, 9_335L)]
    [DataRow(20_024_000L, 0.90, 2_002_399L)]
    [DataRow(20_024_000L, 0.99, 200_239L)]
    [DataRow(20_070_080L, 0.99, 200_700L)]
    [DataRow(20_121_280L, 0.998, 40_242L)]
    public void MagnitudePruning_ThresholdIndex_GivesKeptCountsOfSpecTable(long count, double kappa, long kept)
    {
        Assert.AreEqual(kept, count - MagnitudePruning.ThresholdIndex(count, kappa) - 1);
    }

    [TestMethod]
    public void MagnitudePruning_ThresholdIndex_RejectsRateOutsideOpenUnitInterval()
    {
        foreach (var kappa in new[] { 0.0, -0.5, 1.0, 1.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudePruning.ThresholdIndex(10, kappa), $"κ = {kappa}");
            Assert.AreEqual("pruningRate", ex.ParamName);
            StringAssert.Contains(ex.Message, "pruningRate");
        }
        var empty = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudePruning.ThresholdIndex(0, 0.5));
        Assert.AreEqual("count", empty.ParamName);
    }

    [TestMethod]
    public void MagnitudePruning_Threshold_IsElementKOfAscendingMagnitudes()
    {
        using var scope = NewDisposeScope();
        var w = new[] { 0.5f, -0.3f, 0.1f, -0.05f, 0.02f, 0.0f, 0.2f, -0.01f, 0.4f, 0.03f };
        using var magnitudes = MagnitudePruning.Magnitudes(new[] { Vector(w[..3]), Shaped(w[3..], 7, 1) });
        CollectionAssert.AreEqual(w.Select(Math.Abs).ToArray(), Values(magnitudes));
        // sorted: 0, .01, .02, .03, .05, .1, .2, .3, .4, .5
        Assert.AreEqual(0.1f, MagnitudePruning.Threshold(magnitudes, 0.5));
        Assert.AreEqual(0.5f, MagnitudePruning.Threshold(magnitudes, 0.9));
        Assert.AreEqual(0.0f, MagnitudePruning.Threshold(magnitudes, 0.05));
        Assert.AreEqual(0.01f, MagnitudePruning.Threshold(magnitudes, 0.1));
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_WorkedExampleKeepsFourOfTen()
    {
        using var scope = NewDisposeScope();
        var w = new[] { 0.5f, -0.3f, 0.1f, -0.05f, 0.02f, 0.0f, 0.2f, -0.01f, 0.4f, 0.03f };
        using var mask = MagnitudePruning.ComputeMask(new[] { Layer("fc.weight", w, 2, 5) }, 0.5);

        // τ = a_(5) = 0.1 and |w| > 0.1 strictly: 0.5, −0.3, 0.2, 0.4.
        Assert.AreEqual(4L, mask.Kept);
        Assert.AreEqual(10L, mask.Total);
        CollectionAssert.AreEqual(new[] { 1f, 1f, 0f, 0f, 0f, 0f, 1f, 0f, 1f, 0f }, Values(mask.Layers[0].Mask));
        CollectionAssert.AreEqual(new long[] { 2, 5 }, mask.Layers[0].Mask.shape);
        Assert.AreEqual("fc.weight", mask.Layers[0].Name);
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_KeepsNMinusKMinusOneWithoutTies()
    {
        foreach (var n in new[] { 10, 37, 100, 1000, 4099 })
            foreach (var kappa in new[] { 0.1, 0.29, 0.5, 0.9, 0.98 })
            {
                using var scope = NewDisposeScope();
                var w = TieFree(n, seed: n);
                // Spread over two layers of unequal size.
                var cut = n / 3;
                using var mask = MagnitudePruning.ComputeMask(
                    new[] { Layer("a.weight", w[..cut], cut), Layer("b.weight", w[cut..], n - cut) }, kappa);
                var k = (long)Math.Floor(kappa * n);
                Assert.AreEqual(n - k - 1, mask.Kept, $"N = {n}, κ = {kappa}");
                // And exactly the largest-magnitude ones are kept.
                var keptMagnitudes = w.Zip(Concat(mask.Layers.Select(l => l.Mask))).Where(p => p.Second == 1f).Select(p => Math.Abs(p.First));
                var prunedMagnitudes = w.Zip(Concat(mask.Layers.Select(l => l.Mask))).Where(p => p.Second == 0f).Select(p => Math.Abs(p.First));
                Assert.IsTrue(keptMagnitudes.DefaultIfEmpty(float.MaxValue).Min() > prunedMagnitudes.Max(), $"N = {n}, κ = {kappa}");
            }
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_WeightEqualToThresholdIsPruned()
    {
        using var scope = NewDisposeScope();
        // κ = 0.2, N = 5, k = 1: τ = a_(1) = 0.1. The three ±0.1 are equal to τ, so all of them go, leaving 2 (not N−k−1 = 3).
        using var mask = MagnitudePruning.ComputeMask(new[] { Layer("w", new[] { 0.1f, -0.1f, 0.3f, 0.1f, -0.2f }, 5) }, 0.2);
        CollectionAssert.AreEqual(new[] { 0f, 0f, 1f, 0f, 1f }, Values(mask.Layers[0].Mask));
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_IsGlobalNotPerLayer()
    {
        using var scope = NewDisposeScope();
        // Layer "small" holds the 6 smallest magnitudes of 12; κ = 0.5 → k = 6, τ = a_(6) = 0.4 → keep 5, all from "large".
        var small = new[] { 0.01f, -0.02f, 0.03f, -0.04f, 0.05f, 0.06f };
        var large = new[] { 0.4f, -0.5f, 0.6f, -0.7f, 0.8f, 0.9f };
        using var mask = MagnitudePruning.ComputeMask(
            new[] { Layer("first.weight", small, 2, 3), Layer("last.weight", large, 3, 2) }, 0.5);

        Assert.AreEqual(0L, PruningMask.KeptIn(mask.Layers[0].Mask), "the all-small layer is pruned entirely");
        CollectionAssert.AreEqual(new[] { 0f, 1f, 1f, 1f, 1f, 1f }, Values(mask.Layers[1].Mask));
        Assert.AreEqual(5L, mask.Kept);
    }

    [TestMethod]
    public void MagnitudePruning_Prune_ZeroesPrunedWeightsInPlaceAndLeavesKeptOnes()
    {
        using var scope = NewDisposeScope();
        var w = new[] { 0.5f, -0.3f, 0.1f, -0.05f, 0.02f, 0.0f, 0.2f, -0.01f, 0.4f, 0.03f };
        var layers = new[] { Layer("a", w[..4], 4), Layer("b", w[4..], 2, 3) };
        using var mask = MagnitudePruning.Prune(layers, 0.5);

        Assert.AreEqual(4L, mask.Kept);
        CollectionAssert.AreEqual(new[] { 0.5f, -0.3f, 0f, 0f, 0f, 0f, 0.2f, 0f, 0.4f, 0f },
            Concat(layers.Select(l => (Tensor)l.Weight)));
        Assert.IsTrue(layers[0].Weight.requires_grad, "pruning keeps the parameter trainable");
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_MinimumPerLayerRefillsACollapsedLayerAndKeepsTheTotal()
    {
        using var scope = NewDisposeScope();
        // The global rule keeps 5 of 12, all from "last" (see IsGlobalNotPerLayer). With a minimum of 2, "first" keeps its two
        // largest (−0.05 is not one of them, 0.06 and 0.05 are), and "last" gives back its two smallest kept (−0.5, 0.6).
        var small = new[] { 0.01f, -0.02f, 0.03f, -0.04f, 0.05f, 0.06f };
        var large = new[] { 0.4f, -0.5f, 0.6f, -0.7f, 0.8f, 0.9f };
        var layers = new[] { Layer("first.weight", small, 2, 3), Layer("last.weight", large, 3, 2) };
        using var mask = MagnitudePruning.ComputeMask(layers, 0.5, minimumPerLayer: 2);

        CollectionAssert.AreEqual(new[] { 0f, 0f, 0f, 0f, 1f, 1f }, Values(mask.Layers[0].Mask));
        CollectionAssert.AreEqual(new[] { 0f, 0f, 0f, 1f, 1f, 1f }, Values(mask.Layers[1].Mask));
        Assert.AreEqual(5L, mask.Kept, "the total is the global rule's: N − ⌊κN⌋ − 1");
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_MinimumPerLayerTakesFromTheSmallestKeptAcrossLayersButNoLayerBelowItsMinimum()
    {
        using var scope = NewDisposeScope();
        // N = 16, κ = 0.5: τ = a_(8) and the rule keeps 7: b's 0.30 and 0.31, c's five. a (4 tiny weights) collapses.
        var a = new[] { 0.001f, 0.002f, -0.003f, 0.004f };
        var b = new[] { 0.30f, -0.31f, 0.01f, 0.02f, 0.03f, 0.04f };
        var c = new[] { 0.20f, 0.90f, -0.80f, 0.70f, 0.60f, 0.05f };
        var layers = new[] { Layer("a", a, 4), Layer("b", b, 6), Layer("c", c, 6) };
        using (var plain = MagnitudePruning.ComputeMask(layers, 0.5))
        {
            CollectionAssert.AreEqual(new long[] { 0, 2, 5 }, plain.Layers.Select(l => PruningMask.KeptIn(l.Mask)).ToArray());
        }
        using var mask = MagnitudePruning.ComputeMask(layers, 0.5, minimumPerLayer: 2);
        // a gets 0.004 and −0.003. Two kept weights are given back: b is at its minimum (2), so both come from c — its
        // smallest kept, 0.20 and 0.60 — even though b's 0.30 is smaller than c's 0.60.
        CollectionAssert.AreEqual(new[] { 0f, 0f, 1f, 1f }, Values(mask.Layers[0].Mask));
        CollectionAssert.AreEqual(new[] { 1f, 1f, 0f, 0f, 0f, 0f }, Values(mask.Layers[1].Mask));
        CollectionAssert.AreEqual(new[] { 0f, 1f, 1f, 1f, 0f, 0f }, Values(mask.Layers[2].Mask));
        Assert.AreEqual(7L, mask.Kept);
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_MinimumPerLayerAboveALayersSizeKeepsTheWholeLayer()
    {
        using var scope = NewDisposeScope();
        var w = TieFree(40, seed: 3);
        var tiny = new[] { 1e-4f, -2e-4f };
        var layers = new[] { Layer("tiny", tiny, 2), Layer("big", w, 40) };
        using var mask = MagnitudePruning.ComputeMask(layers, 0.7, minimumPerLayer: 5);
        Assert.AreEqual(2L, PruningMask.KeptIn(mask.Layers[0].Mask), "a layer smaller than the minimum keeps all its weights");
        Assert.AreEqual(42L - (long)Math.Floor(0.7 * 42) - 1, mask.Kept);
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_MinimumPerLayerZeroOrAlreadyMetIsThePapersMask()
    {
        using var scope = NewDisposeScope();
        var w = TieFree(300, seed: 11);
        var layers = new[] { Layer("a", w[..100], 100), Layer("b", w[100..], 200) };
        using var paper = MagnitudePruning.ComputeMask(layers, 0.9);
        using var zero = MagnitudePruning.ComputeMask(layers, 0.9, minimumPerLayer: 0);
        var least = paper.Layers.Min(l => PruningMask.KeptIn(l.Mask));
        using var met = MagnitudePruning.ComputeMask(layers, 0.9, minimumPerLayer: (int)least);
        CollectionAssert.AreEqual(Concat(paper.Layers.Select(l => l.Mask)), Concat(zero.Layers.Select(l => l.Mask)));
        CollectionAssert.AreEqual(Concat(paper.Layers.Select(l => l.Mask)), Concat(met.Layers.Select(l => l.Mask)));
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_MinimumPerLayerBeyondWhatKappaKeeps_ThrowsNamingTheNumbers()
    {
        using var scope = NewDisposeScope();
        var w = TieFree(20, seed: 1);
        var layers = new[] { Layer("a", w[..10], 10), Layer("b", w[10..], 10) };
        // κ = 0.9 keeps 20 − 18 − 1 = 1 weight; a minimum of 1 per layer needs 2.
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudePruning.ComputeMask(layers, 0.9, minimumPerLayer: 1));
        StringAssert.Contains(ex.Message, "MinWeightsPerLayer 1 needs 2 kept weights over 2 layers");
        StringAssert.Contains(ex.Message, "keeps only 1");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudePruning.ComputeMask(layers, 0.5, minimumPerLayer: -1));
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_MinimumPerLayerOnRandomLayersAlwaysExactTotalAndEveryLayerAtItsMinimum()
    {
        var random = new Random(2024);
        var refilled = 0;
        for (var trial = 0; trial < 40; trial++)
        {
            using var scope = NewDisposeScope();
            var count = random.Next(2, 6);
            var sizes = Enumerable.Range(0, count).Select(_ => random.Next(1, 60)).ToArray();
            var scales = sizes.Select(_ => (float)Math.Pow(10, -random.Next(0, 4))).ToArray();
            var w = TieFree(sizes.Sum(), seed: trial);
            var offset = 0;
            var layers = sizes.Select((n, i) =>
            {
                var values = w[offset..(offset + n)].Select(v => v * scales[i]).ToArray();
                offset += n;
                return Layer($"l{i}", values, n);
            }).ToArray();
            var total = sizes.Sum();
            var kappa = 0.3 + 0.69 * random.NextDouble();
            var keep = total - (long)Math.Floor(kappa * total) - 1;
            var minimum = random.Next(0, 8);
            var required = sizes.Sum(n => Math.Min(n, minimum));
            if (required > keep) continue;
            using (var plain = MagnitudePruning.ComputeMask(layers, kappa))
                if (plain.Layers.Select((l, i) => PruningMask.KeptIn(l.Mask) < Math.Min(sizes[i], minimum)).Any(b => b)) refilled++;
            using var mask = MagnitudePruning.ComputeMask(layers, kappa, minimum);
            var detail = $"trial {trial}: sizes {string.Join(",", sizes)}, κ {kappa:F3}, minimum {minimum}";
            Assert.AreEqual(keep, mask.Kept, detail);
            for (var i = 0; i < count; i++)
                Assert.IsGreaterThanOrEqualTo(Math.Min(sizes[i], minimum), PruningMask.KeptIn(mask.Layers[i].Mask), detail);
        }
        Assert.IsGreaterThanOrEqualTo(10, refilled, "enough trials have a layer below its minimum under the plain rule");
    }

    [TestMethod]
    public void MagnitudePruning_ComputeMask_RejectsInvalidRate()
    {
        using var scope = NewDisposeScope();
        var layers = new[] { Layer("w", new[] { 0.1f, 0.2f }, 2) };
        foreach (var kappa in new[] { 0.0, 1.0, double.NaN })
        {
            var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudePruning.ComputeMask(layers, kappa));
            Assert.AreEqual("pruningRate", ex.ParamName);
        }
    }

    [TestMethod]
    [DataRow(61_470L, DisplayName = "LeNet-5")]
    [DataRow(2L)]
    [DataRow(3L)]
    [DataRow(100L)]
    [DataRow(1_855_584L, DisplayName = "ResNet-32")]
    public void MagnitudePruning_LargestRateKeepingAWeight_IsTheEdgeOfTheStrictRule(long count)
    {
        var largest = MagnitudePruning.LargestRateKeepingAWeight(count)!.Value;
        Assert.AreEqual(1L, MagnitudePruning.KeptCount(count, largest), $"κ = {largest:R} keeps one weight");
        Assert.AreEqual(0L, MagnitudePruning.KeptCount(count, Math.BitIncrement(largest)), $"the next double above {largest:R} keeps none");
        Assert.IsNull(MagnitudePruning.LargestRateKeepingAWeight(1), "one weight: no κ in (0, 1) keeps it");
    }

    [TestMethod]
    public void MagnitudePruning_CheckKeepsAWeight_KappaThatKeepsNoneNamesPruningRateTheCountAndTheLargestKappa()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudePruning.CheckKeepsAWeight(61_470, 0.99999));
        Assert.AreEqual("PruningRate", ex.ParamName);
        var largest = MagnitudePruning.LargestRateKeepingAWeight(61_470)!.Value;
        StringAssert.Contains(ex.Message, "The pruning rate κ = 0.99999 keeps 0 of 61,470 prunable weights");
        StringAssert.Contains(ex.Message, $"expected κ < (N − 1)/N = 61,469/61,470, i.e. κ ≤ {largest.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
        MagnitudePruning.CheckKeepsAWeight(61_470, largest);
    }
}
