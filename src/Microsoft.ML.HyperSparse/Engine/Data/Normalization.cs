namespace Microsoft.ML.HyperSparse.Engine.Data;

/// <summary>
/// Per-channel pixel normalisation: normalised = (raw × <see cref="PixelScale"/> − Mean[c]) / Std[c].
/// </summary>
internal sealed record Normalization
{
    /// <summary>Creates the normalisation; <paramref name="mean"/> and <paramref name="std"/> have one entry per channel.</summary>
    internal Normalization(float pixelScale, float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (!float.IsFinite(pixelScale) || pixelScale == 0)
            throw new ArgumentException($"Expected a finite, non-zero pixel scale, found {pixelScale}.", nameof(pixelScale));
        if (mean.Length == 0)
            throw new ArgumentException("Expected at least one channel mean, found none.", nameof(mean));
        if (std.Length != mean.Length)
            throw new ArgumentException($"Expected {mean.Length} standard deviations (one per channel, as for mean), found {std.Length}.", nameof(std));
        for (int c = 0; c < mean.Length; c++)
        {
            if (!float.IsFinite(mean[c]))
                throw new ArgumentException($"Expected a finite mean for channel {c}, found {mean[c]}.", nameof(mean));
            if (!(std[c] > 0) || !float.IsFinite(std[c]))
                throw new ArgumentException($"Expected a positive, finite standard deviation for channel {c}, found {std[c]}.", nameof(std));
        }
        PixelScale = pixelScale;
        Mean = (float[])mean.Clone();
        Std = (float[])std.Clone();
    }

    /// <summary>Multiplies the raw values before the mean is subtracted (e.g. 1/255).</summary>
    internal float PixelScale { get; }

    /// <summary>Per-channel mean of the scaled pixels.</summary>
    internal float[] Mean { get; }

    /// <summary>Per-channel standard deviation of the scaled pixels.</summary>
    internal float[] Std { get; }

    /// <summary>Number of channels this normalisation is for.</summary>
    internal int Channels => Mean.Length;

    /// <summary>Only scales: mean 0 and std 1 for every channel.</summary>
    internal static Normalization ScaleOnly(int channels, float pixelScale) =>
        new(pixelScale, new float[channels], Enumerable.Repeat(1f, channels).ToArray());

    /// <summary>Per-channel mean and population standard deviation of the scaled pixels of <paramref name="data"/> (std 0 becomes 1).</summary>
    internal static Normalization FromData(ImageDataset data, float pixelScale)
    {
        ArgumentNullException.ThrowIfNull(data);
        int channels = data.Channels;
        int plane = data.Height * data.Width;
        var mean = new float[channels];
        var std = new float[channels];
        var pixels = data.Pixels;
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int n = 0; n < data.Count; n++)
            {
                var span = pixels.AsSpan(n * data.ImageSize + c * plane, plane);
                foreach (float v in span) sum += v;
            }
            long count = (long)data.Count * plane;
            double m = count == 0 ? 0 : sum / count;
            double squares = 0;
            for (int n = 0; n < data.Count; n++)
            {
                var span = pixels.AsSpan(n * data.ImageSize + c * plane, plane);
                foreach (float v in span)
                {
                    double d = v - m;
                    squares += d * d;
                }
            }
            double s = count == 0 ? 0 : Math.Sqrt(squares / count) * Math.Abs(pixelScale);
            mean[c] = (float)(m * pixelScale);
            std[c] = s > 0 && double.IsFinite(s) && (float)s > 0 ? (float)s : 1f;
        }
        return new Normalization(pixelScale, mean, std);
    }

    /// <summary>The normalised value of raw pixel <paramref name="raw"/> in channel <paramref name="channel"/>.</summary>
    internal float Apply(float raw, int channel) => (raw * PixelScale - Mean[channel]) / Std[channel];
}
