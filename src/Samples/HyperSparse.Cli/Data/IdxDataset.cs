using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.RegularExpressions;

namespace HyperSparse.Cli.Data;

/// <summary>
/// An IDX image-classification folder (the MNIST / Fashion-MNIST layout): <c>train-images-idx3-ubyte</c>,
/// <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c>, <c>t10k-labels-idx1-ubyte</c>, each optionally gzipped.
/// </summary>
internal sealed partial class IdxFolder
{
    /// <summary>Fashion-MNIST's class names in label order, spelled so they can be folder names.</summary>
    public static readonly string[] FashionMnistClassNames =
        { "T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle-boot" };

    private IdxFolder(string path, Dictionary<(string Split, string Kind), string> files)
    {
        Path = path;
        this.files = files;
    }

    private readonly Dictionary<(string Split, string Kind), string> files;

    public string Path { get; }

    public bool HasSplit(string split) => files.ContainsKey((split, "images")) && files.ContainsKey((split, "labels"));

    /// <summary>The IDX files in <paramref name="folder"/>, or null when it holds none.</summary>
    public static IdxFolder? TryOpen(string folder)
    {
        if (!Directory.Exists(folder)) return null;
        var found = new Dictionary<(string, string), string>();
        foreach (var file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
        {
            var m = FileName().Match(System.IO.Path.GetFileName(file));
            if (!m.Success) continue;
            var split = m.Groups["split"].Value == "train" ? "train" : "test";
            found.TryAdd((split, m.Groups["kind"].Value), file);
        }
        return found.Count == 0 ? null : new IdxFolder(System.IO.Path.GetFullPath(folder), found);
    }

    /// <summary>"fashion" when the folder looks like Fashion-MNIST (its path says so), else "digits".</summary>
    public string GuessClassNames() =>
        Path.Contains("fashion", StringComparison.OrdinalIgnoreCase) ? "fashion" : "digits";

    /// <summary>Class names for <paramref name="count"/> classes under the naming scheme ("fashion" or "digits").</summary>
    public static string[] ClassNames(string scheme, int count) => scheme == "fashion" && count <= FashionMnistClassNames.Length
        ? FashionMnistClassNames[..count]
        : Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>
    /// The most pixels one image may have: 64 Mi (64 · 1024 · 1024), chosen to match the image pixel limit for decoded image
    /// files; the CLI has no shared constant for it yet. A header is only a claim, and this bounds what one image may ask for.
    /// </summary>
    internal const long MaxPixelsPerImage = 64L * 1024 * 1024;

    /// <summary>The most bytes one split's data may have: one byte array holds them (Array.MaxLength, ≈ 2 GiB).</summary>
    internal static readonly long MaxDataBytes = Array.MaxLength;

    private const int ChunkBytes = 1 << 20;

    private bool labelsChecked;

    /// <summary>Reads the first <paramref name="limit"/> images (all when null) of a split as raw 8-bit pixels.</summary>
    public IdxImages Read(string split, int? limit)
    {
        if (!HasSplit(split))
            throw new UsageException($"IDX folder '{Path}' has no complete {split} split: expected {(split == "train" ? "train" : "t10k")}-images-idx3-ubyte[.gz] and {(split == "train" ? "train" : "t10k")}-labels-idx1-ubyte[.gz].");
        if (!labelsChecked)
        {
            CheckEveryClassPresent();
            labelsChecked = true;
        }
        var (imageDims, pixels) = ReadUBytes(files[(split, "images")], limit, itemDims: 2, "image");
        var (labelDims, labels) = ReadUBytes(files[(split, "labels")], limit, itemDims: 0, "label");
        if (imageDims[0] != labelDims[0])
            throw new InvalidDataException($"IDX {split} split: {imageDims[0]} images but {labelDims[0]} labels.");
        return new IdxImages(pixels, labels, imageDims[0], imageDims[1], imageDims[2]);
    }

    /// <summary>
    /// The classes are 0..max label, so every label up to the largest must occur in the label files (train and test, read
    /// whole whatever --limit says; they are small): one stray byte of 200 among 0..9 would otherwise make a 201-class model.
    /// Names the file and row of the smallest label above the first gap.
    /// </summary>
    private void CheckEveryClassPresent()
    {
        var labelFiles = new[] { "train", "test" }.Where(HasSplit).Select(split => files[(split, "labels")])
            .Select(file => (File: file, Labels: ReadUBytes(file, null, itemDims: 0, "label").Data)).ToList();
        var max = labelFiles.Max(f => f.Labels.Length == 0 ? 0 : f.Labels.Max());
        var present = new bool[max + 1];
        foreach (var (_, labels) in labelFiles)
            foreach (var label in labels) present[label] = true;
        var gapStart = Array.IndexOf(present, false);
        if (gapStart < 0) return;
        var above = (byte)Array.IndexOf(present, true, gapStart);
        var (file, rows) = labelFiles.First(f => Array.IndexOf(f.Labels, above) >= 0);
        var missing = above - 1 == gapStart ? $"label {gapStart} never occurs" : $"labels {gapStart}..{above - 1} never occur";
        throw new UsageException($"IDX label file '{file}': expected labels 0..K−1 with every class present (K = {max + 1} from the largest label {max}), " +
                                 $"found label {above} at row {Array.IndexOf(rows, above)} while {missing}" +
                                 (labelFiles.Count > 1 ? $" in {string.Join(" or ", labelFiles.Select(f => $"'{f.File}'"))}." : "."));
    }

    /// <summary>
    /// Reads an unsigned-byte IDX file with 1 + <paramref name="itemDims"/> dimensions; <paramref name="kind"/> ("image",
    /// "label") names it in errors. What the header claims is checked before anything of its size is allocated: sizes in
    /// checked 64-bit arithmetic, an uncompressed file's length must be exactly header + data, and gzipped data is read in
    /// chunks as it arrives, so a header that over-counts fails saying what it claims and what is there.
    /// </summary>
    private static (int[] Dims, byte[] Data) ReadUBytes(string path, int? limit, int itemDims, string kind)
    {
        var name = $"IDX {kind} file '{path}'";
        using var file = File.OpenRead(path);
        Stream stream = file;
        var magic = new byte[2];
        var compressed = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        file.Position = 0;
        if (compressed) stream = new GZipStream(file, CompressionMode.Decompress);
        using var _ = stream == file ? null : stream;
        var header = new byte[4];
        ReadHeaderPart(stream, header, name, 0);
        if (header[0] != 0 || header[1] != 0)
            throw new InvalidDataException($"'{path}' is not an IDX file (it does not start with two zero bytes).");
        if (header[2] != 0x08)
            throw new InvalidDataException($"'{path}': expected unsigned-byte IDX data (type 0x08), found type 0x{header[2]:x2}.");
        if (header[3] != 1 + itemDims)
            throw new InvalidDataException($"'{path}': expected {1 + itemDims} dimensions, found {header[3]}.");
        var dims = new int[header[3]];
        var buffer = new byte[4];
        for (var d = 0; d < dims.Length; d++)
        {
            ReadHeaderPart(stream, buffer, name, 4 + 4 * d);
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(buffer);
        }
        var shape = string.Join("×", dims);
        var names = itemDims == 0 ? new[] { "labels" } : new[] { "images", "rows", "columns" };
        for (var d = 0; d < dims.Length; d++)
            if (dims[d] <= 0)
                throw new InvalidDataException($"{name}: the header says {dims[d]} {names[d]}{(d == 0 ? "" : " per image")} ({shape}); expected at least 1.");

        // Every size in 64 bits: int dimensions multiply past int.MaxValue (and 60,000 × 28 × 28 × a hostile factor wraps).
        long itemSize = 1;
        for (var d = 1; d < dims.Length; d++) itemSize *= dims[d];    // ≤ (2^31)^2 < 2^63
        if (itemSize > MaxPixelsPerImage)
            throw new InvalidDataException(Invariant($"{name}: the header says images of {string.Join("×", dims[1..])} = {itemSize:N0} pixels; expected at most {MaxPixelsPerImage:N0} per image."));
        long headerBytes = 4 + 4L * dims.Length;
        long dataBytes = dims[0] * itemSize;                           // ≤ 2^31 · 2^26 < 2^63
        var items = dims.Length == 1 ? Invariant($"{dims[0]:N0} labels") : Invariant($"{dims[0]:N0} images of {string.Join("×", dims[1..])}");
        var says = Invariant($"the header says {items}, i.e. {headerBytes + dataBytes:N0} bytes with the {headerBytes}-byte header");
        if (!compressed && file.Length != headerBytes + dataBytes)
            throw new InvalidDataException(file.Length < headerBytes + dataBytes
                ? Invariant($"{name}: {says}; the file holds {file.Length:N0} bytes — truncated.")
                : Invariant($"{name}: {says}; the file holds {file.Length:N0} bytes — {file.Length - headerBytes - dataBytes:N0} more than the header accounts for."));

        var count = limit is { } l && l < dims[0] ? l : dims[0];
        var wanted = count * itemSize;
        if (wanted > MaxDataBytes)
            throw new InvalidDataException(Invariant($"{name}: {count:N0} × {itemSize:N0} = {wanted:N0} bytes to read; expected at most {MaxDataBytes:N0} (one array). Use --limit."));
        var data = ReadData(stream, wanted, got => Invariant(
            $"{name}: {says}; the {(compressed ? "decompressed data" : "file")} ends after {headerBytes + got:N0} bytes — truncated."));
        if (compressed && count == dims[0] && stream.ReadByte() >= 0)
            throw new InvalidDataException($"{name}: {says}; the decompressed data goes on after that — more bytes than the header accounts for.");
        dims[0] = count;
        return (dims, data);
    }

    private static void ReadHeaderPart(Stream stream, byte[] buffer, string name, long offset)
    {
        var got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got < buffer.Length)
            throw new InvalidDataException($"{name}: the file ends after {offset + got} bytes, inside the header — truncated.");
    }

    /// <summary>
    /// Reads <paramref name="wanted"/> bytes in chunks that grow with the data that really arrives (a gzipped file's length
    /// is unknown up front), so a header that over-counts never allocates its claim. <paramref name="truncated"/> words the
    /// error from the bytes read so far.
    /// </summary>
    private static byte[] ReadData(Stream stream, long wanted, Func<long, string> truncated)
    {
        var chunks = new List<byte[]>();
        long got = 0;
        while (got < wanted)
        {
            var chunk = new byte[(int)Math.Min(ChunkBytes, wanted - got)];
            var filled = stream.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false);
            got += filled;
            if (filled < chunk.Length) throw new InvalidDataException(truncated(got));
            chunks.Add(chunk);
        }
        if (chunks.Count == 1) return chunks[0];
        var data = new byte[wanted];
        long at = 0;
        foreach (var chunk in chunks)
        {
            chunk.CopyTo(data, at);
            at += chunk.Length;
        }
        return data;
    }

    private static string Invariant(FormattableString text) => text.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?<split>train|t10k|test)[-.](?<kind>images|labels)[-.]idx[13]-ubyte(\.gz)?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex FileName();
}

/// <summary>Grayscale images (row-major, one byte per pixel) and their integer labels.</summary>
internal sealed record IdxImages(byte[] Pixels, byte[] Labels, int Count, int Height, int Width)
{
    public int ImageSize => Height * Width;

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageSize, ImageSize);

    public int ClassCount => Labels.Length == 0 ? 0 : Labels.Max() + 1;
}
