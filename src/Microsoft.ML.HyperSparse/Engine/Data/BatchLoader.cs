using System.Numerics;

namespace Microsoft.ML.HyperSparse.Engine.Data;

/// <summary>
/// Builds normalised, augmented mini-batches from an <see cref="ImageDataset"/>. The order of an epoch (a seeded
/// Fisher–Yates shuffle) and every augmentation draw come from one <see cref="Random"/> seeded from (seed, epoch),
/// so they are a pure function of (seed, epoch): a run resumed at epoch e sees exactly what an uninterrupted run sees.
/// The last, partial batch is included (PyTorch drop_last=False).
/// </summary>
internal sealed class BatchLoader
{
    private readonly ImageDataset _data;
    private readonly Augmentation _aug;
    private readonly bool _shuffle;
    private readonly int _seed;
    private readonly float[] _scale;
    private readonly float[] _offset;
    // Buffers of the last finished enumeration, reused by the next one: a new batch per epoch would be a large-object-heap
    // allocation every epoch (256 images of 28×28 are 800 KB), garbage that only a full GC returns.
    private EpochBuffers? _spare;

    private sealed record EpochBuffers(int[] Order, Batch Batch);

    /// <summary>Creates the loader; <paramref name="norm"/> must have one entry per channel of <paramref name="data"/>.</summary>
    internal BatchLoader(ImageDataset data, int batchSize, Normalization norm, Augmentation aug, bool shuffle, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(norm);
        ArgumentNullException.ThrowIfNull(aug);
        if (batchSize <= 0) throw new ArgumentException($"Expected a positive batch size, found {batchSize}.", nameof(batchSize));
        if (norm.Channels != data.Channels)
            throw new ArgumentException($"Expected a normalisation for {data.Channels} channels (as the data), found {norm.Channels}.", nameof(norm));
        _data = data;
        BatchSize = batchSize;
        Normalization = norm;
        _aug = aug;
        _shuffle = shuffle;
        _seed = seed;
        _scale = new float[data.Channels];
        _offset = new float[data.Channels];
        for (int c = 0; c < data.Channels; c++)
        {
            _scale[c] = norm.PixelScale / norm.Std[c];
            _offset[c] = -norm.Mean[c] / norm.Std[c];
        }
    }

    internal int BatchSize { get; }
    internal Normalization Normalization { get; }
    internal Augmentation Augmentation => _aug;
    internal ImageDataset Data => _data;

    /// <summary>Batches per epoch, the last one possibly partial.</summary>
    internal int NumBatches => NumberOfBatches(_data.Count, BatchSize);

    /// <summary>Batches needed for <paramref name="count"/> samples when the last, partial batch is kept.</summary>
    internal static int NumberOfBatches(int count, int batchSize)
    {
        if (count < 0) throw new ArgumentException($"Expected a count ≥ 0, found {count}.", nameof(count));
        if (batchSize <= 0) throw new ArgumentException($"Expected a positive batch size, found {batchSize}.", nameof(batchSize));
        return (int)(((long)count + batchSize - 1) / batchSize);
    }

    /// <summary>The seed of the random generator of epoch <paramref name="epoch"/> (SplitMix64 of seed and epoch).</summary>
    internal static int EpochSeed(int seed, int epoch)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)epoch) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>. Each enumeration owns one <see cref="Batch"/> whose buffers are
    /// overwritten for every item: use or copy a batch before moving on. A finished enumeration hands its buffers to the
    /// next one, so a batch is also overwritten once a later enumeration starts; enumerations running at the same time
    /// never share buffers.
    /// </summary>
    internal IEnumerable<Batch> Epoch(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "Expected an epoch ≥ 0.");
        return Enumerate(epoch);
    }

    private IEnumerable<Batch> Enumerate(int epoch)
    {
        var random = new Random(EpochSeed(_seed, epoch));
        int n = _data.Count;
        var buffers = Interlocked.Exchange(ref _spare, null)
            ?? new EpochBuffers(new int[n], new Batch(Math.Min(BatchSize, Math.Max(n, 1)), _data.Channels, _data.Height, _data.Width));
        var (order, batch) = (buffers.Order, buffers.Batch);
        try
        {
            for (int i = 0; i < n; i++) order[i] = i;
            if (_shuffle)
            {
                for (int i = n - 1; i > 0; i--)
                {
                    int j = random.Next(i + 1);
                    (order[i], order[j]) = (order[j], order[i]);
                }
            }

            int padding = _aug.CropPadding;
            int imageSize = _data.ImageSize;
            for (int start = 0; start < n; start += BatchSize)
            {
                int count = Math.Min(BatchSize, n - start);
                for (int row = 0; row < count; row++)
                {
                    int index = order[start + row];
                    int dx = padding, dy = padding;
                    if (padding > 0)
                    {
                        dy = random.Next(2 * padding + 1);
                        dx = random.Next(2 * padding + 1);
                    }
                    bool flip = _aug.HorizontalFlip && random.Next(2) == 1;
                    WriteImage(_data.Pixels.AsSpan(index * imageSize, imageSize), batch.Images.AsSpan(row * imageSize, imageSize),
                        dx - padding, dy - padding, flip);
                    batch.Labels[row] = _data.Labels[index];
                    batch.Indices[row] = index;
                }
                batch.Count = count;
                yield return batch;
            }
        }
        finally
        {
            // Runs when the enumeration ends or is abandoned (foreach disposes the enumerator).
            Volatile.Write(ref _spare, buffers);
        }
    }

    /// <summary>
    /// Writes one normalised image: output pixel (y, x) is the raw pixel (y + shiftY, x + shiftX) — 0 outside the
    /// image — and the row is then mirrored when <paramref name="flip"/>.
    /// </summary>
    internal void WriteImage(ReadOnlySpan<float> source, Span<float> destination, int shiftX, int shiftY, bool flip)
    {
        int height = _data.Height, width = _data.Width, plane = height * width;
        for (int c = 0; c < _data.Channels; c++)
        {
            float scale = _scale[c], offset = _offset[c];
            var src = source.Slice(c * plane, plane);
            var dst = destination.Slice(c * plane, plane);
            if (shiftX == 0 && shiftY == 0 && !flip)
            {
                Affine(src, dst, scale, offset);
                continue;
            }
            int x0 = Math.Max(0, -shiftX), x1 = Math.Min(width, width - shiftX);
            for (int y = 0; y < height; y++)
            {
                var dstRow = dst.Slice(y * width, width);
                int sy = y + shiftY;
                if (sy < 0 || sy >= height || x0 >= x1)
                {
                    dstRow.Fill(offset);
                    continue;
                }
                if (x0 > 0) dstRow[..x0].Fill(offset);
                if (x1 < width) dstRow[x1..].Fill(offset);
                Affine(src.Slice(sy * width + x0 + shiftX, x1 - x0), dstRow[x0..x1], scale, offset);
                if (flip) dstRow.Reverse();
            }
        }
    }

    private static void Affine(ReadOnlySpan<float> source, Span<float> destination, float scale, float offset)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && source.Length >= Vector<float>.Count)
        {
            var vScale = new Vector<float>(scale);
            var vOffset = new Vector<float>(offset);
            int last = source.Length - Vector<float>.Count;
            for (; i <= last; i += Vector<float>.Count)
                (new Vector<float>(source[i..]) * vScale + vOffset).CopyTo(destination[i..]);
        }
        for (; i < source.Length; i++) destination[i] = source[i] * scale + offset;
    }
}
