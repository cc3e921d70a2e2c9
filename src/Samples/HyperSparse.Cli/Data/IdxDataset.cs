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

    /// <summary>Reads the first <paramref name="limit"/> images (all when null) of a split as raw 8-bit pixels.</summary>
    public IdxImages Read(string split, int? limit)
    {
        if (!HasSplit(split))
            throw new UsageException($"IDX folder '{Path}' has no complete {split} split: expected {(split == "train" ? "train" : "t10k")}-images-idx3-ubyte[.gz] and {(split == "train" ? "train" : "t10k")}-labels-idx1-ubyte[.gz].");
        var (imageDims, pixels) = ReadUBytes(files[(split, "images")], limit, itemDims: 2);
        var (labelDims, labels) = ReadUBytes(files[(split, "labels")], limit, itemDims: 0);
        if (imageDims[0] != labelDims[0])
            throw new InvalidDataException($"IDX {split} split: {imageDims[0]} images but {labelDims[0]} labels.");
        return new IdxImages(pixels, labels, imageDims[0], imageDims[1], imageDims[2]);
    }

    /// <summary>Reads an unsigned-byte IDX file with 1 + <paramref name="itemDims"/> dimensions.</summary>
    private static (int[] Dims, byte[] Data) ReadUBytes(string path, int? limit, int itemDims)
    {
        using var file = File.OpenRead(path);
        Stream stream = file;
        var magic = new byte[2];
        file.ReadExactly(magic);
        file.Position = 0;
        if (magic[0] == 0x1f && magic[1] == 0x8b) stream = new GZipStream(file, CompressionMode.Decompress);
        using var _ = stream == file ? null : stream;
        var header = new byte[4];
        stream.ReadExactly(header);
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
            stream.ReadExactly(buffer);
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(buffer);
        }
        if (limit is { } l && l < dims[0]) dims[0] = l;
        long itemSize = 1;
        for (var d = 1; d < dims.Length; d++) itemSize *= dims[d];
        var data = new byte[dims[0] * itemSize];
        stream.ReadExactly(data);
        return (dims, data);
    }

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
