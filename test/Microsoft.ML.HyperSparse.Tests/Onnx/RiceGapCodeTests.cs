using Microsoft.ML.HyperSparse.Onnx;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

[TestClass]
public sealed class RiceGapCodeTests
{
    [TestMethod]
    public void RiceGapCode_Encode_LaysOutRemaindersSeparatorAndUnaryCodes()
    {
        // Positions 0, 3, 9 → gaps 0, 3, 6; k = 2: remainders 00 11 10, separator 0, unary 1 | 1 | 01 (q = 0, 0, 1).
        byte[] code = RiceGapCode.Encode([0, 3, 9], 2);
        // 001110 0 1 1 01 + 3 padding zeros = 0011_1001 | 1010_0000
        CollectionAssert.AreEqual(new byte[] { 0b0011_1001, 0b1010_0000 }, code);
        CollectionAssert.AreEqual(new long[] { 0, 3, 9 }, RiceGapCode.Decode(code, 2, 3));
    }

    [TestMethod]
    public void RiceGapCode_Decode_RoundTripsRandomMasksAtEveryWidth()
    {
        var random = new Random(5);
        foreach (double density in new[] { 1.0, 0.5, 0.1, 0.02, 0.005, 0.0005 })
        {
            long[] positions = Enumerable.Range(0, 20000).Where(_ => random.NextDouble() < density).Select(i => (long)i).ToArray();
            foreach (int k in new[] { 1, 3, RiceGapCode.BestK(positions), 12 })
                CollectionAssert.AreEqual(positions, RiceGapCode.Decode(RiceGapCode.Encode(positions, k), k, positions.Length), $"density {density}, k {k}");
        }
    }

    [TestMethod]
    public void RiceGapCode_BestK_StaysWithinFivePercentOfTheMaskEntropy()
    {
        var random = new Random(11);
        const int n = 200_000;
        foreach (double density in new[] { 0.1, 0.02, 0.005 })
        {
            long[] positions = Enumerable.Range(0, n).Where(_ => random.NextDouble() < density).Select(i => (long)i).ToArray();
            double entropyBits = n * OnnxSizeReport.BinaryEntropy((double)positions.Length / n);
            long bits = RiceGapCode.StreamBits(positions, RiceGapCode.BestK(positions));
            Assert.IsLessThan(1.05 * entropyBits, bits, $"density {density}: {bits} bits vs entropy {entropyBits:F0}");
        }
    }

    [TestMethod]
    public void RiceGapCode_Encode_LongGapsNeedNoEscape()
    {
        long[] positions = [70_000, 70_001, 1_000_000];
        int k = RiceGapCode.BestK(positions);
        CollectionAssert.AreEqual(positions, RiceGapCode.Decode(RiceGapCode.Encode(positions, k), k, 3));
    }

    [TestMethod]
    public void RiceGapCode_Encode_RejectsUnsortedPositions()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => RiceGapCode.Encode([4, 4], 2));
        StringAssert.Contains(error.Message, "strictly ascending");
    }
}
