namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// The <see cref="OnnxWeightEncoding.Compact"/> position code: a pruned weight, flattened row-major, becomes a list of
/// entries (gap, value). Entry k sits at position p_k = g_0 + g_1 + … + g_k, i.e. the running sum of the gaps, so the
/// first gap is the first position itself and every later gap is the distance to the previous entry (1..255).
/// A distance over 255 is bridged by filler entries of gap 255 and value 0, which write a zero where a zero already is.
/// </summary>
/// <remarks>Decoding is exactly ONNX <c>CumSum</c> over the gaps (cast to int64) followed by <c>ScatterElements</c>.</remarks>
internal static class GapCoding
{
    /// <summary>Largest gap one uint8 entry can hold.</summary>
    public const int MaxGap = byte.MaxValue;

    /// <summary>Encodes the non-zero values of <paramref name="weight"/> with their gaps.</summary>
    public static (byte[] Gaps, float[] Values) Encode(ReadOnlySpan<float> weight)
    {
        var gaps = new List<byte>();
        var values = new List<float>();
        long cursor = 0;
        for (int position = 0; position < weight.Length; position++)
        {
            if (weight[position] == 0f)
                continue;

            long gap = position - cursor;
            while (gap > MaxGap)
            {
                gaps.Add(MaxGap);
                values.Add(0f);
                gap -= MaxGap;
            }

            gaps.Add((byte)gap);
            values.Add(weight[position]);
            cursor = position;
        }

        return (gaps.ToArray(), values.ToArray());
    }

    /// <summary>Rebuilds the dense weight of <paramref name="length"/> elements (what the ONNX graph computes).</summary>
    /// <exception cref="ArgumentException">The gaps point outside the weight or the arrays differ in length.</exception>
    public static float[] Decode(ReadOnlySpan<byte> gaps, ReadOnlySpan<float> values, int length)
    {
        if (gaps.Length != values.Length)
            throw OnnxExportErrors.Network("gap-coded weight", $"{gaps.Length} values (one per gap)", $"{values.Length}");
        var weight = new float[length];
        long position = 0;
        for (int k = 0; k < gaps.Length; k++)
        {
            position += gaps[k];
            if (position >= length)
                throw OnnxExportErrors.Network("gap-coded weight", $"positions below {length}", $"{position} at entry {k}");
            weight[position] = values[k];
        }

        return weight;
    }
}
