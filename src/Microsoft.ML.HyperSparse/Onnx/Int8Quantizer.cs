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
    /// <exception cref="ArgumentException">The weight's length is not a multiple of the channel count, or a value is not finite.</exception>
    public static (sbyte[] Values, float[] Scales) Quantize(ReadOnlySpan<float> weight, int outChannels)
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
