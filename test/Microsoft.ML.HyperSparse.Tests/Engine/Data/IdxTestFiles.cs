using System.Buffers.Binary;
using System.IO.Compression;

namespace Microsoft.ML.HyperSparse.Tests.Engine.Data;

/// <summary>Writes small IDX files for tests.</summary>
internal static class IdxTestFiles
{
    internal static byte[] UnsignedBytes(int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = 0x08;
        bytes[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    internal static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(bytes);
        return output.ToArray();
    }

    /// <summary>n images of h×w whose pixel (i, y, x) is (i*7 + y*w + x) % 256, labels i % classes.</summary>
    internal static (byte[] images, byte[] labels) Synthetic(int n, int h, int w, int classes)
    {
        var pixels = new byte[n * h * w];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < h * w; p++) pixels[i * h * w + p] = (byte)((i * 7 + p) % 256);
        var labels = new byte[n];
        for (int i = 0; i < n; i++) labels[i] = (byte)(i % classes);
        return (UnsignedBytes([n, h, w], pixels), UnsignedBytes([n], labels));
    }
}

/// <summary>A temporary folder deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    internal TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "hs-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    internal string Path { get; }

    internal string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
