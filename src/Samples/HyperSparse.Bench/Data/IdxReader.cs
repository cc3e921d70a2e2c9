using System.Buffers.Binary;
using System.Globalization;
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

    private const int ChunkBytes = 1 << 20;

    /// <summary>
    /// The most values <see cref="Read"/> brings into memory at once: 2^29 (2 GiB as float32), ≈ 3× CIFAR-10's 184 M and
    /// 11× Fashion-MNIST's 47 M. A header is only a claim; this bound keeps a hostile one from asking for more memory than
    /// any dataset this library trains on in memory.
    /// </summary>
    internal const long MaxValues = 1L << 29;

    /// <summary>
    /// The most pixels (C·H·W) one image may have: 64 Mi, the bound the CLI's IDX reader uses as well (chosen to match the image
    /// pixel limit for decoded image files).
    /// </summary>
    internal const long MaxPixelsPerImage = 64L * 1024 * 1024;

    /// <summary>
    /// Reads an image file (N×H×W, or N×C×H×W) and its label file (N) into a dataset with raw pixel values (0..255 for
    /// unsigned bytes). <paramref name="limit"/> keeps only the first images; <paramref name="classCount"/> defaults to
    /// the largest label + 1. Every label from 0 to the largest must occur somewhere in the label file (all of it is
    /// checked, whatever the limit): a stray byte such as 200 among 0..9 would otherwise make a 201-class model.
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
        CheckNoZeroDimension(labelsPath, "label", labelHeader.Dimensions, ["labels"]);
        CheckNoZeroDimension(imagesPath, "image", imageHeader.Dimensions,
            imageHeader.Dimensions.Length == 4 ? ["images", "channels", "rows", "columns"] : ["images", "rows", "columns"]);
        var pixelsPerImage = imageHeader.Dimensions.Skip(1).Aggregate(1L, (a, d) => a * d);   // ≤ (2^31)^3 < 2^63
        if (pixelsPerImage > MaxPixelsPerImage)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"IDX image file '{imagesPath}': the header says images of {Describe(imageHeader.Dimensions[1..])} = {pixelsPerImage:N0} pixels; expected at most {MaxPixelsPerImage:N0} per image."));
        if (labelHeader.Dimensions[0] != imageHeader.Dimensions[0])
            throw new InvalidDataException(
                $"IDX files disagree on the number of items: '{imagesPath}' holds {imageHeader.Dimensions[0]} images, '{labelsPath}' holds {labelHeader.Dimensions[0]} labels.");

        // All labels (a label file is small): the class rule is about the whole file, not the first `limit` rows.
        var labelValues = Read(labelsPath, null, out _, "label");
        var allLabels = new int[labelValues.Length];
        for (int i = 0; i < allLabels.Length; i++)
        {
            float value = labelValues[i];
            if (value < 0 || value != MathF.Floor(value) || value > int.MaxValue)
                throw new InvalidDataException($"IDX label file '{labelsPath}': expected non-negative integer labels, found {value} at index {i}.");
            allLabels[i] = (int)value;
        }
        int maxLabel = allLabels.Max();
        CheckEveryClassPresent(labelsPath, allLabels, maxLabel);
        int classes = classCount ?? maxLabel + 1;
        if (maxLabel >= classes)
            throw new InvalidDataException($"IDX label file '{labelsPath}': expected labels in 0..{classes - 1}, found {maxLabel}.");

        var pixels = Read(imagesPath, limit, out var dims, "image");
        var labels = allLabels[..dims[0]];
        int channels = dims.Length == 4 ? dims[1] : 1;
        return new ImageDataset(pixels, labels, channels, dims[^2], dims[^1], classes);
    }

    /// <summary>An IDX header with a zero dimension describes no data at all; name the file and the dimension.</summary>
    private static void CheckNoZeroDimension(string path, string kind, int[] dims, string[] names)
    {
        for (int d = 0; d < dims.Length; d++)
            if (dims[d] == 0)
                throw new InvalidDataException(d == 0
                    ? $"IDX {kind} file '{path}': the header says 0 {names[0]} ({Describe(dims)}); expected at least 1."
                    : $"IDX {kind} file '{path}': the header says 0 {names[d]} per image ({Describe(dims)}); expected at least 1.");
    }

    /// <summary>
    /// The classes are 0..max label, so every label below the largest must occur; a gap means a stray label (e.g. one
    /// byte of 200 among 0..9). Names the first gap and the smallest label above it at its first row (0-based).
    /// </summary>
    private static void CheckEveryClassPresent(string path, int[] labels, int maxLabel)
    {
        var present = new bool[maxLabel + 1];
        foreach (var label in labels) present[label] = true;
        int gapStart = Array.IndexOf(present, false);
        if (gapStart < 0) return;
        int above = Array.IndexOf(present, true, gapStart);
        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
            $"IDX label file '{path}': expected labels 0..K−1 with every class present (K = {maxLabel + 1} from the largest label {maxLabel}), " +
            $"found label {above} at row {Array.IndexOf(labels, above)} while {Labels(gapStart, above - 1)} never occur{(above - 1 == gapStart ? "s" : "")}."));
    }

    private static string Labels(int first, int last) => first == last ? $"label {first}" : $"labels {first}..{last}";

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
    /// <paramref name="kind"/> ("image", "label") names the file in errors. The header's claims are checked before
    /// anything of their size is allocated: an uncompressed file's length must be exactly header + data, and a gzipped
    /// file's data is read before it is converted, so a header that over-counts fails with what it says and what is there.
    /// </summary>
    internal static float[] Read(string path, int? limit, out int[] dimensions, string? kind = null)
    {
        using var stream = Open(path);
        var header = ReadHeader(stream, path);
        dimensions = (int[])header.Dimensions.Clone();
        if (dimensions.Length == 0) return [];
        var name = kind is null ? $"IDX file '{path}'" : $"IDX {kind} file '{path}'";
        int size = ElementSize(header.TypeCode);
        long headerBytes = 4 + 4L * dimensions.Length;
        long perItem, dataBytes;
        try
        {
            // 64-bit and checked: up to 255 dimensions of up to 2^31 − 1 each must not wrap around to a small size.
            perItem = 1;
            for (int d = 1; d < dimensions.Length; d++) perItem = checked(perItem * dimensions[d]);
            dataBytes = checked(dimensions[0] * perItem * size + headerBytes) - headerBytes;
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{name}: the header's dimensions {Describe(dimensions)} multiply beyond 2^63 bytes.");
        }
        string says = string.Create(CultureInfo.InvariantCulture,
            $"the header says {Items(kind, dimensions)}, i.e. {headerBytes + dataBytes:N0} bytes with the {headerBytes}-byte header");
        bool compressed = stream is not FileStream;
        if (!compressed)
        {
            long length = stream.Length;
            if (length < headerBytes + dataBytes)
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{name}: {says}; the file holds {length:N0} bytes — truncated."));
            if (length > headerBytes + dataBytes)
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {says}; the file holds {length:N0} bytes — {length - headerBytes - dataBytes:N0} more than the header accounts for."));
        }

        int items = limit is int l ? Math.Min(l, dimensions[0]) : dimensions[0];
        dimensions[0] = items;
        long elements = perItem * items;
        if (elements > MaxValues)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {Describe(dimensions)} = {elements:N0} values to read; expected at most {MaxValues:N0} (2 GiB as float32). Read fewer items."));

        var chunks = new List<byte[]>();
        long wanted = elements * size;
        long got = 0;
        try
        {
            // Chunks grow with the data that really arrives, so a gzipped header that over-counts allocates no more than the data.
            while (got < wanted)
            {
                var chunk = new byte[(int)Math.Min(ChunkBytes, wanted - got)];
                int filled = stream.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false);
                got += filled;
                if (filled < chunk.Length)
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"{name}: {says}; the {(compressed ? "decompressed data" : "file")} ends after {headerBytes + got:N0} bytes — truncated."));
                chunks.Add(chunk);
            }
            if (compressed && items == header.Dimensions[0] && stream.ReadByte() >= 0)
                throw new InvalidDataException($"{name}: {says}; the decompressed data goes on after that — more bytes than the header accounts for.");
        }
        catch (InvalidDataException ex) when (!ex.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{name}: the gzip data is corrupt or truncated ({ex.Message}).", ex);
        }

        var result = new float[elements];
        long done = 0;
        foreach (var chunk in chunks)
        {
            // ChunkBytes is a multiple of every element size, so no element straddles two chunks.
            Convert(header.TypeCode, chunk, result.AsSpan((int)done, chunk.Length / size));
            done += chunk.Length / size;
        }
        return result;
    }

    /// <summary>"60,000 images of 28×28", "60,000 labels", "5 items of 3×4".</summary>
    private static string Items(string? kind, int[] dims)
    {
        var noun = kind is null ? "items" : kind + "s";
        var count = dims[0].ToString("N0", CultureInfo.InvariantCulture);
        return dims.Length == 1 ? $"{count} {noun}" : $"{count} {noun} of {Describe(dims[1..])}";
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
