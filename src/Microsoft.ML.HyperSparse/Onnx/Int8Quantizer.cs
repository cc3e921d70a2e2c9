namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// Per-output-channel symmetric int8 quantisation of a weight: w ≈ q·s with s = max|w| / 127 over the channel and q in
/// [−127, 127]. Zeros stay exactly zero and a kept (non-zero) weight never becomes zero — a value that would round to 0 is
/// stored as ±1 — so the pruning mask, and with it the sparsity, survive quantisation exactly.
/// </summary>
internal static class Int8Quantizer
{
    /// <summary>max |w| / 127 per output channel: the scale before any rounding of its storage format.</summary>
    public static float[] Scales(ReadOnlySpan<float> weight, int outChannels)
    {
        if (outChannels <= 0 || weight.Length % outChannels != 0)
            throw OnnxExportErrors.Network("int8 weight", $"a length divisible by {outChannels} output channels", weight.Length.ToString());
        int perChannel = weight.Length / outChannels;
        var scales = new float[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            float max = 0f;
            foreach (float w in weight.Slice(o * perChannel, perChannel))
            {
                if (!float.IsFinite(w))
                    throw OnnxExportErrors.Network("int8 weight", "finite values", w.ToString("R"));
                max = Math.Max(max, Math.Abs(w));
            }

            scales[o] = max / 127f;
        }

        return scales;
    }

    /// <summary>Quantises <paramref name="weight"/> (row-major, output channel first) over <paramref name="outChannels"/> channels.</summary>
    /// <param name="weight">The float weight.</param>
    /// <param name="outChannels">Output channels (the first dimension).</param>
    /// <param name="storedScale">
    /// Maps a channel's scale (max |w| / 127) to the scale actually stored, which must not be smaller (e.g.
    /// <see cref="Int8ScaleTable.RoundUp"/>); null stores the scale as it is.
    /// </param>
    /// <exception cref="ArgumentException">The weight's length is not a multiple of the channel count, or a value is not finite.</exception>
    public static (sbyte[] Values, float[] Scales) Quantize(ReadOnlySpan<float> weight, int outChannels, Func<float, float>? storedScale = null)
    {
        float[] target = Scales(weight, outChannels);
        int perChannel = weight.Length / outChannels;
        var values = new sbyte[weight.Length];
        var scales = new float[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            ReadOnlySpan<float> channel = weight.Slice(o * perChannel, perChannel);
            float scale = target[o];
            // A subnormal max can give a scale of 0; such a channel is numerically zero anyway, but keep its mask: scale = max.
            if (scale == 0f && channel.IndexOfAnyExcept(0f) >= 0)
                scale = channel.ToArray().Max(Math.Abs);
            if (storedScale is not null && scale > 0f)
                scale = storedScale(scale);
            scales[o] = scale;
            for (int i = 0; i < perChannel; i++)
            {
                float w = channel[i];
                if (w == 0f)
                    continue;
                double level = Math.Round(w / (double)scale, MidpointRounding.ToEven);
                level = Math.Clamp(level, -127, 127);
                if (level == 0)
                    level = w > 0 ? 1 : -1;
                values[o * perChannel + i] = (sbyte)level;
            }
        }

        return (values, scales);
    }

    /// <summary>The float weight the ONNX graph computes: (float)q · s per element, in float32 like ONNX Runtime's Cast and Mul.</summary>
    public static float[] Dequantize(ReadOnlySpan<sbyte> values, ReadOnlySpan<float> scales)
    {
        int perChannel = values.Length / scales.Length;
        var weight = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
            weight[i] = values[i] * scales[i / perChannel];
        return weight;
    }
}

/// <summary>
/// 256 scales a quantised model's per-channel scales are rounded up to, so each channel stores one byte (an index) instead of a
/// float32: entry 16·i + j = fl(top · 2^−i · fl(2^−j/16)), i.e. 16 steps per octave (≤ 4.4 % coarser than the ideal scale)
/// over 16 octaves. top is the smallest power of two ≥ the model's largest scale, so the table (and a channel's stored scale)
/// does not move when other channels change a little — e.g. when the dead-channel shrink folds a removed channel into a
/// reader — and every entry is an exact product. The graph rebuilds the table as the outer product of its two 16-entry factors
/// (one float multiply per entry, as here, so the rebuilt scales are bit-identical) and gathers each channel's entry.
/// </summary>
internal sealed class Int8ScaleTable
{
    public const int Steps = 16;

    private Int8ScaleTable(float[] octaves, float[] fractions)
    {
        Octaves = octaves;
        Fractions = fractions;
        Values = new float[Steps * Steps];
        for (int i = 0; i < Steps; i++)
            for (int j = 0; j < Steps; j++)
                Values[i * Steps + j] = octaves[i] * fractions[j];
    }

    /// <summary>top · 2^−i for i = 0..15 (exact: scaling by a power of two).</summary>
    public float[] Octaves { get; }

    /// <summary>fl(2^−j/16) for j = 0..15.</summary>
    public float[] Fractions { get; }

    /// <summary>The 256 scales, index 16·i + j, in float32 as the graph computes them.</summary>
    public float[] Values { get; }

    /// <summary>The table for a model whose largest channel scale is <paramref name="largest"/>: top = the smallest power of two ≥ it.</summary>
    public static Int8ScaleTable For(float largest)
    {
        if (!(largest > 0f) || !float.IsFinite(largest))
            throw OnnxExportErrors.Network("int8 scales", "a positive finite largest scale", largest.ToString("R"));
        float top = MathF.ScaleB(1f, MathF.ILogB(largest));
        if (top < largest)
            top = MathF.ScaleB(top, 1);
        var octaves = Enumerable.Range(0, Steps).Select(i => MathF.ScaleB(top, -i)).ToArray();
        var fractions = Enumerable.Range(0, Steps).Select(j => (float)Math.Pow(2, -j / (double)Steps)).ToArray();
        return new Int8ScaleTable(octaves, fractions);
    }

    /// <summary>The index of the smallest table scale ≥ <paramref name="scale"/> (the last entry when all are larger).</summary>
    public byte Code(float scale)
    {
        int best = -1;
        for (int k = 0; k < Values.Length; k++)
            if (Values[k] >= scale && (best < 0 || Values[k] < Values[best]))
                best = k;
        if (best >= 0)
            return (byte)best;
        // Larger than the top entry cannot happen for the model's own scales; clamp to the largest entry.
        return (byte)Array.IndexOf(Values, Values.Max());
    }

    /// <summary>
    /// The stored scale for a channel scale: the table entry <see cref="Code"/> picks. A channel over 2^16 times smaller than
    /// the largest gets the smallest entry, still ≥ its ideal scale, so its levels stay within ±127 (it uses fewer of them).
    /// </summary>
    public float RoundUp(float scale) => Values[Code(scale)];
}
