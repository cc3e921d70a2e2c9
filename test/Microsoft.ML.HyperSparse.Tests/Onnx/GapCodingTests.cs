using Microsoft.ML.HyperSparse.Onnx;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

[TestClass]
public sealed class GapCodingTests
{
    [TestMethod]
    public void GapCoding_Encode_FirstGapIsPositionLaterGapsAreDistances()
    {
        float[] weight = new float[10];
        weight[0] = 1f;
        weight[3] = 2f;
        weight[9] = 3f;
        (byte[] gaps, float[] values) = GapCoding.Encode(weight);
        CollectionAssert.AreEqual(new byte[] { 0, 3, 6 }, gaps);
        CollectionAssert.AreEqual(new[] { 1f, 2f, 3f }, values);
    }

    [TestMethod]
    public void GapCoding_Encode_LongGapsGetZeroFillers()
    {
        float[] weight = new float[2000];
        weight[600] = 1f;
        weight[1111] = 2f;
        (byte[] gaps, float[] values) = GapCoding.Encode(weight);
        // 600 = 255 + 255 + 90; 1111 - 600 = 511 = 255 + 255 + 1.
        CollectionAssert.AreEqual(new byte[] { 255, 255, 90, 255, 255, 1 }, gaps);
        CollectionAssert.AreEqual(new[] { 0f, 0f, 1f, 0f, 0f, 2f }, values);
        CollectionAssert.AreEqual(weight, GapCoding.Decode(gaps, values, weight.Length));
    }

    [TestMethod]
    public void GapCoding_Decode_RoundTripsRandomSparseWeights()
    {
        var random = new Random(5);
        foreach (double sparsity in new[] { 0.0, 0.5, 0.9, 0.99, 0.999, 1.0 })
        {
            float[] weight = TestNetworks.Sparse(random, 5000, sparsity);
            (byte[] gaps, float[] values) = GapCoding.Encode(weight);
            CollectionAssert.AreEqual(weight, GapCoding.Decode(gaps, values, weight.Length), $"sparsity {sparsity}");
        }
    }

    [TestMethod]
    public void GapCoding_Decode_PositionOutsideWeightThrows()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => GapCoding.Decode([5, 5], [1f, 2f], 8));
        StringAssert.Contains(error.Message, "positions below 8");
    }
}
