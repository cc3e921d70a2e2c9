using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Data;

/// <summary>
/// One mini-batch built by <see cref="BatchLoader"/>. The buffers are reused: the contents are valid only until the
/// enumerator moves to the next batch. Only the first <see cref="Count"/> rows are meaningful.
/// </summary>
internal sealed class Batch
{
    /// <summary>Allocates buffers for up to <paramref name="capacity"/> images of C×H×W.</summary>
    internal Batch(int capacity, int channels, int height, int width)
    {
        if (capacity <= 0) throw new ArgumentException($"Expected a positive capacity, found {capacity}.", nameof(capacity));
        Channels = channels;
        Height = height;
        Width = width;
        ImageSize = channels * height * width;
        Images = new float[(long)capacity * ImageSize];
        Labels = new long[capacity];
        Indices = new int[capacity];
    }

    /// <summary>Normalised, augmented images, Count×C×H×W at the start of the buffer.</summary>
    internal float[] Images { get; }

    /// <summary>Class index of each image.</summary>
    internal long[] Labels { get; }

    /// <summary>Index in the dataset of each image.</summary>
    internal int[] Indices { get; }

    /// <summary>Number of images in this batch (the last batch of an epoch may be short).</summary>
    internal int Count { get; set; }

    /// <summary>Size of the buffers, in images.</summary>
    internal int Capacity => Labels.Length;

    internal int Channels { get; }
    internal int Height { get; }
    internal int Width { get; }

    /// <summary>Floats per image (C·H·W).</summary>
    internal int ImageSize { get; }

    /// <summary>The images of image <paramref name="row"/> of this batch.</summary>
    internal ReadOnlySpan<float> Image(int row)
    {
        if ((uint)row >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(row), row, $"Expected 0..{Count - 1}.");
        return Images.AsSpan(row * ImageSize, ImageSize);
    }

    /// <summary>
    /// Copies the batch into new CPU tensors: images float32 [Count, C, H, W] and labels int64 [Count]. The caller
    /// disposes them; they do not share memory with the buffers.
    /// </summary>
    internal (Tensor images, Tensor labels) ToTensors()
    {
        var images = empty(new long[] { Count, Channels, Height, Width }, ScalarType.Float32);
        Tensor? labels = null;
        try
        {
            labels = empty(new long[] { Count }, ScalarType.Int64);
            if (Count > 0)
            {
                images.bytes = MemoryMarshal.AsBytes(Images.AsSpan(0, Count * ImageSize));
                labels.bytes = MemoryMarshal.AsBytes(Labels.AsSpan(0, Count));
            }
            return (images, labels);
        }
        catch
        {
            images.Dispose();
            labels?.Dispose();
            throw;
        }
    }
}
