namespace Microsoft.ML.HyperSparse.Engine.Data;

/// <summary>
/// An in-memory image classification set: raw float pixels laid out N×C×H×W and one label per image.
/// The arrays passed to the constructor are kept (not copied); do not change them afterwards.
/// </summary>
internal sealed class ImageDataset
{
    /// <summary>Creates the set after checking that the dimensions, pixel count and labels agree.</summary>
    internal ImageDataset(float[] pixels, int[] labels, int channels, int height, int width, int classCount)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        RequirePositive(channels, nameof(channels));
        RequirePositive(height, nameof(height));
        RequirePositive(width, nameof(width));
        RequirePositive(classCount, nameof(classCount));
        long imageSize = (long)channels * height * width;
        if (imageSize > int.MaxValue)
            throw new ArgumentException($"Expected channels×height×width ≤ {int.MaxValue}, found {imageSize}.", nameof(channels));
        long expected = imageSize * labels.Length;
        if (pixels.LongLength != expected)
            throw new ArgumentException(
                $"Expected {expected} pixels ({labels.Length} labels × {channels}×{height}×{width}), found {pixels.LongLength}.",
                nameof(pixels));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException(
                    $"Expected every label in 0..{classCount - 1}, found {labels[i]} at index {i}.", nameof(labels));
        }

        Pixels = pixels;
        Labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassCount = classCount;
        ImageSize = (int)imageSize;
    }

    /// <summary>Raw pixel values, N×C×H×W.</summary>
    internal float[] Pixels { get; }

    /// <summary>Class index of every image, 0..ClassCount-1.</summary>
    internal int[] Labels { get; }

    internal int Channels { get; }
    internal int Height { get; }
    internal int Width { get; }
    internal int ClassCount { get; }

    /// <summary>Number of images.</summary>
    internal int Count => Labels.Length;

    /// <summary>Floats per image (C·H·W).</summary>
    internal int ImageSize { get; }

    /// <summary>A copy of the images start..start+count-1.</summary>
    internal ImageDataset Slice(int start, int count)
    {
        if (start < 0 || start > Count)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"Expected 0..{Count}, found {start}.");
        if (count < 0 || count > Count - start)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Expected 0..{Count - start}, found {count}.");
        var pixels = new float[(long)count * ImageSize];
        Array.Copy(Pixels, (long)start * ImageSize, pixels, 0, pixels.LongLength);
        var labels = new int[count];
        Array.Copy(Labels, start, labels, 0, count);
        return new ImageDataset(pixels, labels, Channels, Height, Width, ClassCount);
    }

    /// <summary>A copy of the given images, in the given order (repeats allowed).</summary>
    internal ImageDataset Subset(int[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var pixels = new float[(long)indices.Length * ImageSize];
        var labels = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if ((uint)index >= (uint)Count)
                throw new ArgumentException($"Expected every index in 0..{Count - 1}, found {index} at position {i}.", nameof(indices));
            Array.Copy(Pixels, (long)index * ImageSize, pixels, (long)i * ImageSize, ImageSize);
            labels[i] = Labels[index];
        }
        return new ImageDataset(pixels, labels, Channels, Height, Width, ClassCount);
    }

    /// <summary>
    /// The one-channel images with their plane repeated <paramref name="channels"/> times (a grayscale image as the RGB image a
    /// pretrained network expects). The size is checked in 64 bits against .NET's array limit before allocating.
    /// </summary>
    internal ImageDataset ReplicateChannels(int channels)
    {
        if (Channels != 1)
            throw new InvalidOperationException($"Expected one-channel images to replicate, found {Channels} channels.");
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Expected a positive channel count.");
        long plane = (long)Height * Width;
        long total = (long)Count * channels * plane;
        if (total > Array.MaxLength)
            throw new InvalidOperationException(
                $"{Count:N0} images of {channels}×{Height}×{Width} need {total:N0} floats, more than one array holds ({Array.MaxLength:N0}); use fewer or smaller images.");
        var pixels = new float[total];
        for (long n = 0; n < Count; n++)
            for (int c = 0; c < channels; c++)
                Array.Copy(Pixels, n * plane, pixels, (n * channels + c) * plane, plane);
        return new ImageDataset(pixels, (int[])Labels.Clone(), channels, Height, Width, ClassCount);
    }

    /// <summary>Number of images per class, indexed by class.</summary>
    internal int[] ClassCounts()
    {
        var counts = new int[ClassCount];
        foreach (int label in Labels) counts[label]++;
        return counts;
    }

    private static void RequirePositive(int value, string name)
    {
        if (value <= 0) throw new ArgumentException($"Expected a positive {name}, found {value}.", name);
    }
}
