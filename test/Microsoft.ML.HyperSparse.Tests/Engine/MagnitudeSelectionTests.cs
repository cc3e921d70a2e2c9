using Microsoft.ML.HyperSparse.Engine.Pruning;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>The radix selection behind the HS term's per-batch threshold must return exactly what kthvalue returns.</summary>
[TestClass]
public sealed class MagnitudeSelectionTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    private static float KthValue(float[] values, long k)
    {
        using var scope = NewDisposeScope();
        var (v, _) = tensor(values).kthvalue(k + 1, 0);
        return v.item<float>();
    }

    private static void AssertMatchesKthValue(float[] values, string what)
    {
        var scratch = new float[values.Length];
        var copy = (float[])values.Clone();
        var ranks = new[] { 0L, values.Length - 1L, values.Length / 2, (long)Math.Floor(0.9 * values.Length), (long)Math.Floor(0.98 * values.Length) };
        foreach (var k in ranks.Where(k => k >= 0 && k < values.Length).Distinct())
        {
            var expected = KthValue(values, k);
            var actual = MagnitudeSelection.KthSmallest(values, k, scratch);
            Assert.AreEqual(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(actual), $"{what}: rank {k} of {values.Length}: kthvalue {expected:R}, radix {actual:R}");
        }
        CollectionAssert.AreEqual(copy, values, $"{what}: the input is only read");
    }

    [TestMethod]
    public void MagnitudeSelection_KthSmallest_EqualsKthValueOnRandomMagnitudes()
    {
        var random = new Random(7);
        foreach (var n in new[] { 1, 2, 3, 10, 257, 4_096, 61_470, 270_000 })
        {
            // Gaussian-like weights of a trained layer: most magnitudes within two octaves.
            var values = Enumerable.Range(0, n).Select(_ => MathF.Abs((float)(random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 0.05f)).ToArray();
            AssertMatchesKthValue(values, $"random n={n}");
        }
    }

    [TestMethod]
    public void MagnitudeSelection_KthSmallest_EqualsKthValueWithTiesZerosAndExtremes()
    {
        var random = new Random(3);
        // Heavy ties: 5 distinct values.
        AssertMatchesKthValue(Enumerable.Range(0, 1_000).Select(_ => new[] { 0f, 0.1f, 0.25f, 1e-3f, 7f }[random.Next(5)]).ToArray(), "ties");
        // All equal, all zero, +0 and −0 mixed (|w| of a negative zero is −0 only if a caller forgets Abs; both are zero).
        AssertMatchesKthValue(Enumerable.Repeat(0.125f, 333).ToArray(), "all equal");
        AssertMatchesKthValue(new float[500], "all zero");
        AssertMatchesKthValue(Enumerable.Range(0, 100).Select(i => i % 3 == 0 ? -0f : i % 3 == 1 ? 0f : i * 1e-3f).ToArray(), "signed zeros");
        // Values differing only in the last mantissa bits (the third pass), subnormals, huge and infinite values.
        var near = Enumerable.Range(0, 300).Select(i => BitConverter.UInt32BitsToSingle(0x3DCC_CC00u + (uint)(i * 37 % 128))).ToArray();
        AssertMatchesKthValue(near, "last-bit differences");
        AssertMatchesKthValue(new[] { float.Epsilon, 1e-40f, 1e-39f, 0f, 1e30f, float.MaxValue, float.PositiveInfinity, 1f }, "extremes");
    }

    /// <summary>
    /// The bracketed selection answers exactly when rank k lies inside [low, high] — i.e. #(x &lt; low) ≤ k &lt; #(x ≤ high) —
    /// with kthvalue's value, and declines otherwise; on lengths that are and are not whole vectors, with ties and zeros.
    /// </summary>
    [TestMethod]
    public void MagnitudeSelection_KthSmallest_RejectsBadArguments()
    {
        var values = new[] { 0.5f, 0.1f, 0.3f };
        var scratch = new float[3];
        var low = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudeSelection.KthSmallest(values, -1, scratch));
        StringAssert.Contains(low.Message, "[0, 3)");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudeSelection.KthSmallest(values, 3, scratch));
        var negative = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudeSelection.KthSmallest(new[] { 0.5f, -0.1f }, 0, new float[2]));
        StringAssert.Contains(negative.Message, "non-negative");
        var shortScratch = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MagnitudeSelection.KthSmallest(values, 1, new float[2]));
        StringAssert.Contains(shortScratch.Message, "3 floats");
    }
}
