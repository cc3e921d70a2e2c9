using System.Buffers.Binary;
using System.IO.Compression;

namespace Microsoft.ML.HyperSparse.Engine.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format): two zero bytes, a type code, the number of dimensions, the
/// dimensions as big-endian int32, then the data big-endian in row-major order. Files may be gzipped; that is detected
/// from the 1f 8b magic, not from the file name.
/// </summary>
internal static class IdxReader
{
    internal const byte TypeUnsignedByte = 0x08;
    internal const byte TypeSignedByte = 0x09;
    internal const byte TypeInt16 = 0x0B;
    internal const byte TypeInt32 = 0x0C;
    internal const byte TypeFloat32 = 0x0D;
    internal const byte TypeFloat64 = 0x0E;

    private const int ChunkBytes = 1 << 16;

    /// <summary>
    /// Reads an image file (N×H×W, or N×C×H×W) and its label file (N) into a dataset with raw pixel values (0..255 for
    /// unsigned bytes). <paramref name="limit"/> keeps only the first images; <paramref name="classCount"/> defaults to
    /// the largest label + 1.
    /// </summary>
    internal static ImageDataset ReadImageClassification(string imagesPath, string labelsPath, int? limit = null, int? classCount = null)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        if (limit is < 0) throw new ArgumentOutOfRangeException(nameof(limit), limit, "Expected a limit ≥ 0.");
        if (classCount is <= 0) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "Expected a positive class count.");

        var labelHeader = ReadHeaderOnly(labelsPath);
        var imageHeader = ReadHeaderOnly(imagesPath);
        if (labelHeader.Dimensions.Length != 1)
            throw new InvalidDataException(
                $"IDX label file '{labelsPath}': expected 1 dimension, found {labelHeader.Dimensions.Length} ({Describe(labelHeader.Dimensions)}).");
        if (imageHeader.Dimensions.Length is not (3 or 4))
            throw new InvalidDataException(
                $"IDX image file '{imagesPath}': expected 3 dimensions (N×H×W) or 4 (N×C×H×W), found {imageHeader.Dimensions.Length} ({Describe(imageHeader.Dimensions)}).");
        if (labelHeader.Dimensions[0] != imageHeader.Dimensions[0])
            throw new InvalidDataException(
                $"IDX files disagree on the number of items: '{imagesPath}' holds {imageHeader.Dimensions[0]} images, '{labelsPath}' holds {labelHeader.Dimensions[0]} labels.");

        var labelValues = Read(labelsPath, limit, out _);
        var pixels = Read(imagesPath, limit, out var dims);
        int n = labelValues.Length;
        var labels = new int[n];
        int maxLabel = -1;
        for (int i = 0; i < n; i++)
        {
            float value = labelValues[i];
            if (value < 0 || value != MathF.Floor(value) || value > int.MaxValue)
                throw new InvalidDataException($"IDX label file '{labelsPath}': expected non-negative integer labels, found {value} at index {i}.");
            labels[i] = (int)value;
            if (labels[i] > maxLabel) maxLabel = labels[i];
        }
        int classes = classCount ?? Math.Max(1, maxLabel + 1);
        if (maxLabel >= classes)
            throw new InvalidDataException($"IDX label file '{labelsPath}': expected labels in 0..{classes - 1}, found {maxLabel}.");

        int channels = dims.Length == 4 ? dims[1] : 1;
        int height = dims[^2];
        int width = dims[^1];
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new InvalidDataException($"IDX image file '{imagesPath}': expected positive image dimensions, found {Describe(dims)}.");
        return new ImageDataset(pixels, labels, channels, height, width, classes);
    }

    /// <summary>The type code and dimensions of an IDX file.</summary>
    internal sealed record IdxHeader(byte TypeCode, int[] Dimensions);

    /// <summary>Reads only the header of <paramref name="path"/>.</summary>
    internal static IdxHeader ReadHeaderOnly(string path)
    {
        using var stream = Open(path);
        return ReadHeader(stream, path);
    }

    /// <summary>
    /// Reads the data of <paramref name="path"/> as floats (at most <paramref name="limit"/> items along the first
    /// dimension). <paramref name="dimensions"/> receives the dimensions with the first one reduced to the items read.
    /// </summary>
    internal static float[] Read(string path, int? limit, out int[] dimensions)
    {
        using var stream = Open(path);
        var header = ReadHeader(stream, path);
        dimensions = (int[])header.Dimensions.Clone();
        if (dimensions.Length == 0) return [];
        long perItem = 1;
        for (int d = 1; d < dimensions.Length; d++) perItem *= dimensions[d];
        int items = limit is int l ? Math.Min(l, dimensions[0]) : dimensions[0];
        dimensions[0] = items;
        long elements = perItem * items;
        if (elements > Array.MaxLength)
            throw new InvalidDataException($"IDX file '{path}': {elements} elements ({Describe(dimensions)}) do not fit in one array.");

        int size = ElementSize(header.TypeCode);
        var result = new float[elements];
        var chunk = new byte[ChunkBytes - ChunkBytes % 8];
        long done = 0;
        long expectedBytes = elements * size;
        try
        {
            while (done < elements)
            {
                int want = (int)Math.Min(chunk.Length, (elements - done) * size);
                int got = 0;
                while (got < want)
                {
                    int read = stream.Read(chunk, got, want - got);
                    if (read == 0)
                        throw new InvalidDataException(
                            $"IDX file '{path}' is truncated: expected {expectedBytes} data bytes for {Describe(dimensions)}, found {done * size + got}.");
                    got += read;
                }
                Convert(header.TypeCode, chunk.AsSpan(0, want), result.AsSpan((int)done, want / size));
                done += want / size;
            }
        }
        catch (InvalidDataException ex) when (!ex.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"IDX file '{path}': the gzip data is corrupt or truncated ({ex.Message}).", ex);
        }
        return result;
    }

    private static Stream Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            Span<byte> magic = stackalloc byte[2];
            int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            file.Position = 0;
            if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
                return new BufferedStream(new GZipStream(file, CompressionMode.Decompress), 1 << 16);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static IdxHeader ReadHeader(Stream stream, string path)
    {
        Span<byte> head = stackalloc byte[4];
        ReadExact(stream, head, path, "the 4-byte magic");
        if (head[0] != 0 || head[1] != 0)
            throw new InvalidDataException(
                $"IDX file '{path}' has a bad magic: expected 00 00 <type> <ndims>, found {head[0]:x2} {head[1]:x2} {head[2]:x2} {head[3]:x2}.");
        byte type = head[2];
        if (type is not (TypeUnsignedByte or TypeSignedByte or TypeInt16 or TypeInt32 or TypeFloat32 or TypeFloat64))
            throw new InvalidDataException($"IDX file '{path}' has a bad magic: unknown data type code 0x{type:x2}.");
        int ndims = head[3];
        var dims = new int[ndims];
        Span<byte> four = stackalloc byte[4];
        for (int d = 0; d < ndims; d++)
        {
            ReadExact(stream, four, path, $"dimension {d} of {ndims}");
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(four);
            if (dims[d] < 0)
                throw new InvalidDataException($"IDX file '{path}': dimension {d} is negative ({dims[d]}).");
        }
        return new IdxHeader(type, dims);
    }

    private static void ReadExact(Stream stream, Span<byte> buffer, string path, string what)
    {
        int got;
        try
        {
            got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"IDX file '{path}': the gzip data is corrupt or truncated ({ex.Message}).", ex);
        }
        if (got < buffer.Length)
            throw new InvalidDataException($"IDX file '{path}' is truncated: it ends while reading {what}.");
    }

    private static int ElementSize(byte type) => type switch
    {
        TypeUnsignedByte or TypeSignedByte => 1,
        TypeInt16 => 2,
        TypeInt32 or TypeFloat32 => 4,
        _ => 8,
    };

    private static void Convert(byte type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (type)
        {
            case TypeUnsignedByte:
                for (int i = 0; i < destination.Length; i++) destination[i] = source[i];
                break;
            case TypeSignedByte:
                for (int i = 0; i < destination.Length; i++) destination[i] = (sbyte)source[i];
                break;
            case TypeInt16:
                for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadInt16BigEndian(source[(2 * i)..]);
                break;
            case TypeInt32:
                for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadInt32BigEndian(source[(4 * i)..]);
                break;
            case TypeFloat32:
                for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleBigEndian(source[(4 * i)..]);
                break;
            default:
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)BinaryPrimitives.ReadDoubleBigEndian(source[(8 * i)..]);
                break;
        }
    }

    private static string Describe(int[] dims) => dims.Length == 0 ? "no dimensions" : string.Join("×", dims);
}
