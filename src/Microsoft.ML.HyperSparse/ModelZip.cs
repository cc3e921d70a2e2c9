using System.Buffers.Binary;
using System.IO.Compression;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// Finds ONNX models inside a zip: the <c>OnnxModel</c> entries that ML.NET's OnnxTransformer writes into a model saved with
/// <c>MLContext.Model.Save</c> (e.g. <c>TransformerChain/Transform_000/OnnxModel</c>: a 4-byte little-endian length, then
/// the ONNX bytes), and plain <c>*.onnx</c> entries of any zip.
/// </summary>
internal static class ModelZip
{
    /// <summary>Name of the entry ML.NET's OnnxTransformer saves its model bytes in.</summary>
    public const string OnnxTransformerEntry = "OnnxModel";

    /// <summary>Whether the bytes start with a zip signature (local file header, empty archive, or spanned archive).</summary>
    public static bool IsZip(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 4 && bytes[0] == (byte)'P' && bytes[1] == (byte)'K'
        && ((bytes[2], bytes[3]) is (3, 4) or (5, 6) or (7, 8));

    /// <summary>Every ONNX model in the zip, in entry order, as (entry name, ONNX bytes).</summary>
    /// <exception cref="InvalidDataException">The zip cannot be read, an entry is corrupt, or no entry holds an ONNX model.</exception>
    public static IReadOnlyList<(string Entry, byte[] Onnx)> OnnxModels(byte[] zip, string source)
    {
        ZipArchive archive;
        try
        {
            // Read mode reads the central directory here: a truncated zip fails now, before any entry is opened.
            archive = new ZipArchive(new MemoryStream(zip, writable: false), ZipArchiveMode.Read);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(
                $"Cannot inspect '{source}': expected a readable zip (an ML.NET model.zip), found a truncated or corrupt zip ({e.Message}).", e);
        }

        var models = new List<(string, byte[])>();
        var names = new List<string>();
        using (archive)
        {
            foreach (ZipArchiveEntry entry in archive.Entries)
            {
                names.Add(entry.FullName);
                bool mlnet = entry.Name == OnnxTransformerEntry;
                if (!mlnet && !entry.Name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
                    continue;
                byte[] bytes = ReadEntry(entry, source);
                models.Add((entry.FullName, mlnet ? WithoutLengthPrefix(bytes, entry.FullName, source) : bytes));
            }
        }

        if (models.Count == 0)
        {
            string listed = names.Count == 0 ? "no entries"
                : "entries " + string.Join(", ", names.Take(12).Select(n => $"'{n}'")) + (names.Count > 12 ? $" and {names.Count - 12} more" : "");
            throw new InvalidDataException(
                $"Cannot inspect '{source}': expected a zip holding an ONNX model (an ML.NET model saved with MLContext.Model.Save from a " +
                $"HyperSparse model, whose '.../{OnnxTransformerEntry}' entry holds the ONNX bytes, or a '*.onnx' entry), found {listed}.");
        }

        return models;
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, string source)
    {
        try
        {
            // The declared size is checked first and the read is bounded too (a zip bomb may declare less than it inflates to).
            if (entry.Length > HyperSparseModelInfo.MaxModelBytes)
                throw new InvalidDataException(
                    $"Cannot inspect '{source}': zip entry '{entry.FullName}': expected at most {HyperSparseModelInfo.MaxModelBytes:N0} bytes (ONNX's 2 GiB limit), found {entry.Length:N0}.");
            using Stream stream = entry.Open();
            return HyperSparseModelInfo.ReadBounded(stream, $"{source} → {entry.FullName}", entry.Length);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Cannot inspect '{source}': zip entry '{entry.FullName}' is corrupt ({e.Message}).", e);
        }
    }

    private static byte[] WithoutLengthPrefix(byte[] bytes, string entry, string source)
    {
        long declared = bytes.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(bytes) : -1;
        if (declared != bytes.Length - 4L)
            throw new InvalidDataException(
                $"Cannot inspect '{source}': zip entry '{entry}': expected ML.NET's 4-byte length followed by that many ONNX bytes, " +
                $"found {(declared < 0 ? $"{bytes.Length} bytes" : $"length {declared} with {bytes.Length - 4} bytes after it")} (truncated or corrupt).");
        return bytes[4..];
    }
}
